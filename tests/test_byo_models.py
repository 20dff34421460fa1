"""Models of kind python, 1-channel preprocessing, ImageFolder class order, below-chance warning."""

from __future__ import annotations

import copy
import html
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from camrobust import datasets, models, noise
from camrobust.config import ConfigError, validate_config
from camrobust.io.images import write_images
from camrobust.logs import job_log
from camrobust.stages import get_model, report
from tests import byo_plugins
from tests.test_models import Payload


def test_python_factory_with_weights_and_luminance_input(tmp_path: Path) -> None:
    trained = byo_plugins.grey_cnn()
    with torch.no_grad():
        trained[0].bias.fill_(0.5)
    torch.save(trained.state_dict(), tmp_path / "weights.pt")
    model = models.build_python_model("tests.byo_plugins:grey_cnn", tmp_path / "weights.pt")
    assert torch.equal(model[0].bias, torch.full((4,), 0.5))
    images = np.random.default_rng(0).integers(0, 256, (2, 5, 5, 3), dtype=np.uint8)
    x = models.to_model_input(images, [0.5], [0.25])
    grey = images.astype(np.float64) / 255 @ np.asarray(noise.GREY_WEIGHTS)
    # float32: a few roundings of values <= 1 (2^-24 each, at most 8 of them), then / std
    np.testing.assert_allclose(x[:, 0].numpy(), (grey - 0.5) / 0.25, rtol=0, atol=8 * 2.0**-24 / 0.25)
    assert x.shape == (2, 1, 5, 5) and model(x).shape == (2, 3)
    result = noise.attack(model, images, "fgsm", 3, 0, ["a", "b"], mean=[0.5], std=[0.25])
    assert result.images.shape == images.shape and np.abs(result.images.astype(int) - images).max() <= 4


def test_python_factory_weights_are_read_as_checkpoints_are(tmp_path: Path) -> None:
    """The same safe reading and the same errors as load_checkpoint."""
    torch.save({"model": byo_plugins.grey_cnn().state_dict(), "payload": Payload()}, tmp_path / "unsafe.pt")
    with pytest.raises(models.UnsafeCheckpointError, match="holds pickled objects other than tensors"):
        models.build_python_model("tests.byo_plugins:grey_cnn", tmp_path / "unsafe.pt")
    torch.save({"weight": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(
        models.CheckpointError, match=r"weights .*other\.pt do not fit the model of 'tests.byo_plugins:grey_cnn'"
    ):
        models.build_python_model("tests.byo_plugins:grey_cnn", tmp_path / "other.pt")


def test_python_factory_that_returns_no_module() -> None:
    with pytest.raises(ValueError, match=r"factory: 'builtins:dict' returned dict, not a torch.nn.Module"):
        models.build_python_model("builtins:dict")


def tiny_config() -> dict:
    with open("tests/configs/tiny.yaml") as handle:
        return yaml.safe_load(handle)


@pytest.mark.parametrize(
    ("model", "key", "named"),
    [
        ({"kind": "python", "target_layer": "0"}, "models.vgg.factory", "required"),
        (
            {"kind": "python", "factory": "tests.byo_plugins:nothing", "target_layer": "0"},
            "models.vgg.factory",
            "defines no 'nothing'",
        ),
        ({"kind": "python", "factory": "tests.byo_plugins:grey_cnn"}, "models.vgg.target_layer", "required"),
        (
            {"kind": "python", "factory": "tests.byo_plugins:grey_cnn", "target_layer": "0"},
            "models.vgg.preprocessing",
            "required",
        ),
        ({"kind": "trained"}, "models.vgg.arch", "small_vgg"),
        (
            {"kind": "trained", "arch": "small_vgg", "preprocessing": {"mean": [0.5], "std": [0.5, 0.5, 0.5]}},
            "models.vgg.preprocessing.mean",
            "expected 3 value(s)",
        ),
    ],
)
def test_bad_model_config_names_its_key(model: dict, key: str, named: str) -> None:
    config = tiny_config()
    config["models"]["vgg"] = model
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert error.value.key == key and named in str(error.value)


def test_python_model_config_is_valid() -> None:
    config = tiny_config()
    config["models"]["vgg"] = {
        "kind": "python",
        "factory": "tests.byo_plugins:grey_cnn",
        "target_layer": "0",
        "preprocessing": {"mean": [0.5], "std": [0.25], "channels": 1},
    }
    assert validate_config(config)["models"]["vgg"]["preprocessing"]["channels"] == 1


def image_folder(root: Path) -> Path:
    for name in ("cat", "dog", "owl"):
        (root / name).mkdir(parents=True)
        Image.fromarray(np.full((8, 8, 3), 40, np.uint8)).save(root / name / "a.png")
    return root


def test_imagefolder_class_order(tmp_path: Path) -> None:
    root = image_folder(tmp_path / "images")
    files, labels, names = datasets.list_image_folder(root, ["owl", "cat", "dog"])
    assert names == ["owl", "cat", "dog"] and [f.parent.name for f in files] == names
    assert labels.tolist() == [0, 1, 2]
    config = copy.deepcopy(tiny_config())
    config["datasets"]["tiny"] = {"kind": "imagefolder", "root": str(root), "classes": ["owl", "cat", "cow"]}
    config["models"]["vgg"] = {"kind": "torchvision", "arch": "resnet18"}
    with pytest.raises(ConfigError, match=r"datasets.tiny.classes.*\['cat', 'dog', 'owl'\]"):
        validate_config(config)


def test_below_chance_warning_names_class_order() -> None:
    assert models.below_chance_warning(0.34, ["a", "b", "c"]) is None
    message = models.below_chance_warning(0.0, ["b", "a", "c"])
    assert message is not None
    assert "0.000, below chance (0.333 for 3 classes)" in message and "class order" in message


def grey_eval_store(path: Path, model: torch.nn.Module, shift: int) -> list[int]:
    """12 random images labelled with the model's luminance predictions, class indices + ``shift`` (mod 3)."""
    images = np.random.default_rng(1).integers(0, 256, (12, 8, 8, 3), dtype=np.uint8)
    with torch.no_grad():
        predicted = model(models.to_model_input(images, [0.5], [0.25])).argmax(1).numpy()
    labels = (predicted + shift) % 3
    write_images(
        datasets.ImageSet(images, labels.astype(np.int64), [f"i{k}" for k in range(12)], ["owl", "cat", "dog"]),
        path,
    )
    return predicted.tolist()


def model_files(root: Path) -> dict[str, Path | None]:
    """The stores and outputs of a get-model job without training images."""
    return {
        "train_store": None,
        "eval_store": root / "eval.zarr",
        "weights_out": root / "w.pt",
        "card_out": root / "card.json",
    }


PYTHON_MODEL = {
    "kind": "python",
    "factory": "tests.byo_plugins:grey_cnn",
    "target_layer": "0",
    "preprocessing": {"mean": [0.5], "std": [0.25], "channels": 1},
}


def test_prepare_model_builds_a_python_model_with_its_weights_and_preprocessing(tmp_path: Path) -> None:
    trained = byo_plugins.grey_cnn()
    with torch.no_grad():
        trained[-1].bias.copy_(torch.tensor([0.0, 0.3, -0.3]))
    torch.save(trained.state_dict(), tmp_path / "mine.pt")
    grey_eval_store(tmp_path / "eval.zarr", trained, shift=0)
    spec = {**PYTHON_MODEL, "weights": str(tmp_path / "mine.pt")}
    with job_log(tmp_path / "job.log"):
        card = get_model.prepare_model(spec=spec, seed=0, **model_files(tmp_path))
    stored = models.ModelCard.from_json(tmp_path / "card.json")
    assert stored == card
    assert (card.source, card.arch, card.factory, card.channels) == ("python", "python", PYTHON_MODEL["factory"], 1)
    assert (card.mean, card.std, card.input_size, card.num_classes) == ((0.5,), (0.25,), 8, 3)
    assert card.accuracy["eval"] == 1.0 and "warnings" not in card.extra
    assert "below chance" not in (tmp_path / "job.log").read_text()
    reloaded = models.load_model(card, tmp_path / "w.pt")
    assert torch.equal(reloaded[-1].bias, trained[-1].bias)


def test_prepare_model_warns_of_a_permuted_class_order(tmp_path: Path) -> None:
    grey_eval_store(tmp_path / "eval.zarr", byo_plugins.grey_cnn(), shift=1)
    with job_log(tmp_path / "job.log"):
        card = get_model.prepare_model(spec=PYTHON_MODEL, seed=0, **model_files(tmp_path))
    expected = models.below_chance_warning(0.0, ["owl", "cat", "dog"])
    assert card.accuracy["eval"] == 0.0 and expected is not None
    assert models.ModelCard.from_json(tmp_path / "card.json").extra["warnings"] == [expected]
    assert f"WARNING {expected}" in (tmp_path / "job.log").read_text()
    report.write_model_card(
        card_path=tmp_path / "card.json", title="eval / grey: model card", out=tmp_path / "model_card.html"
    )
    page = (tmp_path / "model_card.html").read_text()
    assert f"Warning: {html.escape(expected)}</p>" in page
    assert "<th>accuracy (eval)</th><td>0.000</td>" in page and "<th>chance level</th><td>0.333</td>" in page
