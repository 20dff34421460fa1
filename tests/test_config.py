"""Config validation: defaults, and errors that name the key before any job starts."""

from __future__ import annotations

import copy

import pytest
import yaml

from camrobust.cams import CAM_METHODS
from camrobust.config import ConfigError, load_config, load_schema, validate_config
from camrobust.noise import NOISES


@pytest.fixture()
def base_config() -> dict:
    with open("config.yaml") as handle:
        return yaml.safe_load(handle)


def test_default_config_is_valid_and_gets_defaults() -> None:
    config = load_config("config.yaml")
    assert config["cam_options"] == {"target": "predicted", "channel_batch_size": 64}
    assert config["metric"]["topk"] == 0.2
    assert config["datasets"]["shapes_plain"]["skip_corrupt"] is False
    assert config["statistics"]["alpha"] == 0.05


def test_schema_lists_exactly_the_registries() -> None:
    schema = load_schema()
    assert set(schema["properties"]["cams"]["items"]["enum"]) == set(CAM_METHODS)
    assert set(schema["properties"]["noises"]["propertyNames"]["enum"]) == set(NOISES)


@pytest.mark.parametrize(
    ("change", "key", "named"),
    [
        (lambda c: c["cams"].append("gradcam_typo"), "cams.3", "gradcam_typo"),
        (lambda c: c["noises"].update(fog=[1]), "noises", "fog"),
        (lambda c: c["noises"].update(gaussian_noise=[1, 6]), "noises.gaussian_noise", "6"),
        (lambda c: c["noises"].update(gaussian_noise=[0]), "noises.gaussian_noise.0", "0"),
        (lambda c: c["models"]["small_vgg"].update(arch="resnet9000"), "models.small_vgg.arch", "resnet9000"),
        (lambda c: c["datasets"]["shapes_plain"].update(kind="mnist"), "datasets.shapes_plain.kind", "mnist"),
        (
            lambda c: c["datasets"].update(folder={"kind": "imagefolder", "root": "/nonexistent/images"}),
            "datasets.folder.root",
            "/nonexistent/images",
        ),
        (lambda c: c.update(devcie="cpu"), "<top level>", "devcie"),
    ],
)
def test_bad_values_name_their_key(base_config: dict, change, key: str, named: str) -> None:
    config = copy.deepcopy(base_config)
    change(config)
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert error.value.key == key
    assert named in str(error.value)


def test_unknown_cam_message_lists_allowed_values(base_config: dict) -> None:
    config = copy.deepcopy(base_config)
    config["cams"] = ["gradcam", "nope"]
    with pytest.raises(ConfigError, match="scorecam"):
        validate_config(config)


def test_custom_params_extend_the_severity_range(base_config: dict) -> None:
    config = copy.deepcopy(base_config)
    config["noises"]["gaussian_noise"] = {
        "severities": [1, 7],
        "params": [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.5],
    }
    assert validate_config(config)["noises"]["gaussian_noise"]["severities"] == [1, 7]
