"""Config validation: defaults, and errors that name the key before any job starts."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from camrobust import cams, datasets, models, noise, plots, registry
from camrobust.config import ConfigError, load_config, load_schema, validate_config
from tests.workflow import REPO


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


def test_schema_lists_exactly_the_registry() -> None:
    schema = load_schema()
    entries = schema["properties"]
    assert entries["cams"]["items"]["enum"] == list(registry.CAM_METHODS)
    assert entries["noises"]["propertyNames"]["enum"] == list(registry.NOISES)
    assert entries["datasets"]["additionalProperties"]["properties"]["kind"]["enum"] == list(registry.DATASET_KINDS)
    assert entries["models"]["additionalProperties"]["properties"]["kind"]["enum"] == list(registry.MODEL_KINDS)


def test_implementations_match_the_registry() -> None:
    assert tuple(cams.GRADIENT_METHODS) == registry.GRADIENT_CAMS
    assert tuple(cams.MODEL_METHODS) == registry.MODEL_CAMS
    assert tuple(noise.NOISES) == registry.NOISES
    assert noise.PIXEL_NOISES == registry.PIXEL_NOISES and noise.ATTACKS == registry.ATTACKS
    assert {len(spec.params) for spec in noise.NOISES.values()} == {registry.SEVERITY_LEVELS}
    assert set(models.DEFAULT_TARGET_LAYERS) == set(registry.ARCHS)
    assert datasets.DATASET_KINDS is registry.DATASET_KINDS
    assert plots.CANONICAL_CAMS == registry.CAM_METHODS and plots.CANONICAL_NOISES == registry.NOISES


def test_planning_imports_neither_torch_nor_torchvision(tmp_path: Path) -> None:
    """A dry run of the default config, with torch and torchvision replaced by modules that fail on import."""
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    for name in ("torch", "torchvision"):
        (blocked / f"{name}.py").write_text(f"raise ImportError('planning imported {name}')\n")
    path = os.pathsep.join([str(blocked), str(REPO / "src"), os.environ.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--dry-run", "--cores", "1", "--directory", str(tmp_path)]
        + ["--snakefile", str(REPO / "Snakefile"), "--configfile", str(REPO / "config.yaml")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "planning imported" not in output
    assert "stage_evaluation_images" in output and "extract_features" in output


@pytest.mark.parametrize(
    ("change", "key", "suggestion"),
    [
        (lambda c: c["datasets"]["shapes_plain"].update(n_image=5), "datasets.shapes_plain.n_image", "n_images"),
        (lambda c: c["models"]["small_resnet"].update(epoch=3), "models.small_resnet.epoch", "epochs"),
        (lambda c: c["segmentation"].update(methd="slic"), "segmentation.methd", "method"),
        (
            lambda c: c["noises"].update(gaussian_noise={"severities": [1], "param": [0.1]}),
            "noises.gaussian_noise.param",
            "params",
        ),
        (lambda c: c.update(metrc={}), "metrc", "metric"),
        (lambda c: c.update(cams=["gradcm"]), "cams.0", "gradcam"),
        (lambda c: c["noises"].update(gausian_noise=[1]), "noises", "gaussian_noise"),
    ],
)
def test_typos_are_refused_with_the_closest_key(base_config: dict, change, key: str, suggestion: str) -> None:
    config = copy.deepcopy(base_config)
    change(config)
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    assert error.value.key == key
    assert f"did you mean {suggestion!r}?" in str(error.value)


@pytest.mark.parametrize(
    ("change", "key", "named"),
    [
        (lambda c: c["cams"].insert(0, "gradcam_typo"), "cams.0", "gradcam_typo"),
        (lambda c: c["noises"].update(haze=[1]), "noises", "haze"),
        (lambda c: c["noises"].update(gaussian_noise=[1, 6]), "noises.gaussian_noise", "6"),
        (lambda c: c["noises"].update(gaussian_noise=[0]), "noises.gaussian_noise.0", "0"),
        (lambda c: c["models"]["small_resnet"].update(arch="resnet9000"), "models.small_resnet.arch", "resnet9000"),
        (lambda c: c["datasets"]["shapes_plain"].update(kind="mnist"), "datasets.shapes_plain.kind", "mnist"),
        (
            lambda c: c["datasets"].update(folder={"kind": "imagefolder", "root": "/nonexistent/images"}),
            "datasets.folder.root",
            "/nonexistent/images",
        ),
        (lambda c: c.update(devcie="cpu"), "devcie", "device"),
        (lambda c: c["noises"].update(explanation_attack=[1, 6]), "noises.explanation_attack", "6"),
        (
            lambda c: c["noises"].update(explanation_attack={"severities": [1, 2], "params": [0.01, 2.0]}),
            "noises.explanation_attack.params",
            "[2.0] out of range",
        ),
        (lambda c: c.update(explanation_attack={"steps": 0}), "explanation_attack.steps", "0"),
        (lambda c: c.update(explanation_attack={"step_size": 0}), "explanation_attack.step_size", "0"),
        (
            lambda c: c.update(explanation_attack={"transfer_source": "scorecam"}),
            "explanation_attack.transfer_source",
            "scorecam",
        ),
        (lambda c: c.update(randomisation={"n_images": 0}), "randomisation.n_images", "0"),
        (
            lambda c: c.update(randomisation={"stages": {"resnet": ["fc"]}}),
            "randomisation.stages.resnet",
            "small_resnet",
        ),
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
