"""Equal settings give equal rule params: key order, defaults, number spellings, other stages' settings."""

from __future__ import annotations

import copy
import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from camrobust import datasets
from camrobust.canonical import canonical, model_settings, staging_settings
from camrobust.config import ConfigError, validate_config
from tests.workflow import REPO


@pytest.fixture()
def tiny() -> dict:
    return yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())


def test_canonical_forms_of_reordered_mappings_have_one_repr() -> None:
    """Snakemake records repr(value) of each param: a dict's key order and an OrderedDict (a JSON
    config file) would change it."""
    spec = {"kind": "shapes", "segmentation": {"method": "slic", "params": {"n_segments": 50, "compactness": 10}}}
    text = '{"segmentation": {"params": {"compactness": 10, "n_segments": 50}, "method": "slic"}, "kind": "shapes"}'
    reordered = json.loads(text, object_pairs_hook=OrderedDict)
    assert repr(spec) != repr(reordered)
    assert repr(canonical(spec)) == repr(canonical(reordered))
    assert repr(canonical(reordered)) == (
        "{'kind': 'shapes', 'segmentation': {'method': 'slic', 'params': {'compactness': 10, 'n_segments': 50}}}"
    )
    assert canonical([{"b": 1, "a": [{"d": None, "c": 2.5}]}]) == [{"a": [{"c": 2.5, "d": None}], "b": 1}]
    assert repr(canonical([{"b": 1, "a": 2}])) == "[{'a': 2, 'b': 1}]"


@pytest.mark.parametrize(
    ("section", "key", "spellings", "value"),
    [
        ("metric", "rbo_p", [0.9, "9e-1", "0.90", "+9.0E-1"], 0.9),
        ("metric", "topk", [1, 1.0, "1e0"], 1.0),
        ("statistics", "alpha", [0.05, "5e-2", "5.0e-2"], 0.05),
        ("metric", "n_bootstrap", [1000, 1000.0], 1000),
        ("report", "overlay_images", [4, 4.0], 4),
    ],
)
def test_numbers_get_the_spelling_of_their_schema_type(
    tiny: dict, section: str, key: str, spellings: list, value: float
) -> None:
    for spelling in spellings:
        config = copy.deepcopy(tiny)
        config.setdefault(section, {})[key] = spelling
        filled = validate_config(config)[section][key]
        assert filled == value and type(filled) is type(value), spelling


def test_numbers_inside_datasets_and_models_get_their_schema_type(tiny: dict) -> None:
    config = copy.deepcopy(tiny)
    config["datasets"]["tiny"].update(n_images=12.0, image_size=32.0)
    config["models"]["vgg"].update(epochs=2.0, lr="1e-2", preprocessing={"mean": [0, 0.5, 1], "std": [1, 1, 1]})
    config["noises"]["gaussian_noise"] = {"severities": [1.0, 5.0], "params": [0.1, 0.2, 0.3, 0.4, 1]}
    filled = validate_config(config)
    assert filled["datasets"]["tiny"]["n_images"] == 12 and type(filled["datasets"]["tiny"]["image_size"]) is int
    model = filled["models"]["vgg"]
    assert (model["epochs"], model["lr"]) == (2, 0.01) and type(model["epochs"]) is int
    assert repr(model["preprocessing"]) == "{'mean': [0.0, 0.5, 1.0], 'std': [1.0, 1.0, 1.0], 'channels': 3}"
    assert (
        repr(filled["noises"]["gaussian_noise"]) == "{'severities': [1, 5], 'params': [0.1, 0.2, 0.3, 0.4, 1]}"
    )  # params: untyped
    config["models"]["vgg"]["preprocessing"]["channels"] = 3.0
    assert repr(validate_config(config)["models"]["vgg"]["preprocessing"]["channels"]) == "3"


def test_strings_stay_strings_where_the_schema_wants_no_float(tiny: dict) -> None:
    config = copy.deepcopy(tiny)
    config["metric"]["n_bootstrap"] = "1e3"
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert error.value.key == "metric.n_bootstrap" and "'1e3' is not of type 'integer'" in str(error.value)


def test_every_dataset_gets_its_segmentation_written_out(tiny: dict) -> None:
    """Left out, given for the whole config, or given for the dataset: one setting."""
    quickshift = {"method": "quickshift"}
    left_out = validate_config(tiny)
    global_one = validate_config({**copy.deepcopy(tiny), "segmentation": {"method": "quickshift"}})
    own = copy.deepcopy(tiny)
    own["datasets"]["tiny"]["segmentation"] = {}
    for filled in (left_out, global_one, validate_config(own)):
        assert filled["datasets"]["tiny"]["segmentation"] == quickshift == filled["segmentation"]
    slic = {"method": "slic", "params": {"n_segments": 40}}
    config = {**copy.deepcopy(tiny), "segmentation": slic}
    config["datasets"]["other"] = {**tiny["datasets"]["tiny"], "segmentation": {"method": "quickshift"}}
    filled = validate_config(config)
    assert filled["datasets"]["tiny"]["segmentation"] == slic
    assert filled["datasets"]["other"]["segmentation"] == quickshift


def test_staging_and_model_settings_leave_out_the_settings_of_other_stages(tiny: dict) -> None:
    config = copy.deepcopy(tiny)
    config["models"]["vgg"]["datasets"] = ["tiny"]
    filled = validate_config(config)
    spec = filled["datasets"]["tiny"]
    assert staging_settings(spec, "eval") == {
        "image_size": 32,
        "kind": "shapes",
        "n_images": 12,
        "skip_corrupt": False,
        "variant": "plain",
    }
    assert staging_settings(spec, "train") == {**staging_settings(spec, "eval"), "n_train": 240}
    assert list(staging_settings(spec, "train")) == sorted(staging_settings(spec, "train"))
    assert repr(model_settings(filled["models"]["vgg"])) == (
        "{'arch': 'small_vgg', 'epochs': 2, 'kind': 'trained', 'weights': None}"
    )


def _folder(root: Path, per_class: int) -> Path:
    for label in ("ash", "elm", "oak"):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.full((20, 20, 3), 40 * i + 10 * len(label), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i}.png")
    return root


@pytest.mark.parametrize("kind", ["shapes", "imagefolder"])
def test_the_evaluation_images_do_not_depend_on_n_train(tmp_path: Path, kind: str) -> None:
    """Why the evaluation split's params leave ``n_train`` out."""
    spec = {"kind": kind, "n_images": 6, "image_size": 16, "variant": "plain"}
    if kind == "imagefolder":
        spec = {"kind": kind, "n_images": 6, "image_size": 16, "root": str(_folder(tmp_path / "images", 5))}
    staged = [datasets.stage_dataset({**spec, "n_train": n}, "eval", seed=0) for n in (3, 9)]
    assert staged[0].ids == staged[1].ids and len(staged[0].ids) == 6
    assert np.array_equal(staged[0].images, staged[1].images)
    train = [datasets.stage_dataset({**spec, "n_train": n}, "train", seed=0) for n in (3, 9)]
    assert (len(train[0].ids), len(train[1].ids)) == (3, 9)
