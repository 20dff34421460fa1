"""CAM and noise plugins: config checks before any job, and checks on what a plugin returns."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import yaml

from camrobust import plugins
from camrobust.config import ConfigError, validate_config
from camrobust.seeding import image_generator
from tests import byo_plugins


@pytest.fixture()
def tiny_config() -> dict:
    with open("tests/configs/tiny.yaml") as handle:
        return yaml.safe_load(handle)


def with_plugins(config: dict, cam: dict | None = None, noise: dict | None = None) -> dict:
    config = copy.deepcopy(config)
    config["cam_plugins"] = {
        "poscam": cam or {"function": "tests.byo_plugins:positive_gradient_cam", "uses": "features"}
    }
    config["noise_plugins"] = {"salt": noise or {"function": "tests.byo_plugins:salt", "params": [0.05, 0.1, 0.2]}}
    config["cams"] = [*config["cams"], "poscam"]
    config["noises"]["salt"] = [1, 3]
    return config


def test_plugin_names_are_valid_cams_and_noises(tiny_config: dict) -> None:
    filled = validate_config(with_plugins(tiny_config))
    assert filled["cams"][-1] == "poscam" and filled["noises"]["salt"] == [1, 3]


@pytest.mark.parametrize(
    ("change", "key", "named"),
    [
        (lambda c: c["noises"].update(salt=[4]), "noises.salt", "1..3"),
        (lambda c: c["cam_plugins"]["poscam"].update(uses="gradients"), "cam_plugins.poscam.uses", "features"),
        (
            lambda c: c["cam_plugins"]["poscam"].update(function="no_such_package.cams:f"),
            "cam_plugins.poscam.function",
            "no_such_package.cams",
        ),
        (
            lambda c: c["cam_plugins"]["poscam"].update(function="tests.byo_plugins:missing"),
            "cam_plugins.poscam.function",
            "defines no 'missing'",
        ),
        (
            lambda c: c["noise_plugins"]["salt"].update(function="tests.byo_plugins"),
            "noise_plugins.salt.function",
            "module:attr",
        ),
        (lambda c: c["cam_plugins"].update(gradcam=c["cam_plugins"]["poscam"]), "cam_plugins.gradcam", "built-in"),
        (lambda c: c["noise_plugins"].update(fog=c["noise_plugins"]["salt"]), "noise_plugins.fog", "built-in"),
        (lambda c: c.update(cams=["gradcam", "poscan"]), "cams.1", "poscam"),
    ],
)
def test_bad_plugin_config_names_its_key(tiny_config: dict, change, key: str, named: str) -> None:
    config = with_plugins(tiny_config)
    change(config)
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert error.value.key == key
    assert named in str(error.value)


def test_noise_plugin_gets_each_images_own_generator() -> None:
    images = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    ids = ["a", "b", "c"]
    noisy = plugins.perturb(byo_plugins.salt, images, "salt", 2, 0.3, 7, ids, namespace="tiny")
    for i, image_id in enumerate(ids):
        expected = byo_plugins.salt(images[i], 0.3, image_generator("tiny", "salt", 2, image_id, 7))
        np.testing.assert_array_equal(noisy[i], expected)
    alone = plugins.perturb(byo_plugins.salt, images[1:2], "salt", 2, 0.3, 7, ids[1:2], namespace="tiny")
    np.testing.assert_array_equal(alone[0], noisy[1])


def test_noise_plugin_output_is_checked() -> None:
    images = np.zeros((1, 4, 4, 3), dtype=np.uint8)
    with pytest.raises(
        ValueError, match=r"noise plugin 'bad'.*uint8 array of shape \(H, W, 3\) = \(4, 4, 3\), got float32"
    ):
        plugins.perturb(byo_plugins.wrong_dtype_noise, images, "bad", 1, 0.1, 0, ["x"])


def test_features_plugin_output_is_checked() -> None:
    a = torch.rand(2, 3, 4, 5)
    plugin = plugins.CamPlugin("flat", byo_plugins.wrong_shape_cam, "features")
    with pytest.raises(ValueError, match=r"CAM plugin 'flat'.*\(N, h, w\) = \(2, 4, 5\), got torch.float32 \(2, 5\)"):
        plugins.features_cam(plugin, a, a)
    good = plugins.CamPlugin("poscam", byo_plugins.positive_gradient_cam, "features")
    raw = plugins.features_cam(good, a, a)
    assert torch.equal(raw, (a.mean((2, 3), keepdim=True) * a).sum(1))  # same operations: bitwise equal


def test_register_cam_refuses_builtins_and_unknown_uses() -> None:
    with pytest.raises(ValueError, match="'gradcam' is a built-in"):
        plugins.register_cam("gradcam", byo_plugins.positive_gradient_cam)
    with pytest.raises(ValueError, match=r"uses must be one of \['features', 'model'\]"):
        plugins.register_cam("poscam", byo_plugins.positive_gradient_cam, uses="pixels")
    assert plugins.registered_cam("poscam") is None


def test_register_cam_from_the_package() -> None:
    import camrobust

    camrobust.register_cam("poscam_registered", byo_plugins.positive_gradient_cam)
    plugin = plugins.registered_cam("poscam_registered")
    assert plugin == plugins.CamPlugin("poscam_registered", byo_plugins.positive_gradient_cam, "features")


def test_a_config_entry_registers_its_plugin_for_the_sanity_stages() -> None:
    from camrobust.core.maps import register_cam_plugin

    entry = {"function": "tests.byo_plugins:activation_norm_cam", "uses": "model"}
    register_cam_plugin("normcam_entry", entry)
    plugin = plugins.registered_cam("normcam_entry")
    assert plugin == plugins.CamPlugin("normcam_entry", byo_plugins.activation_norm_cam, "model")
