"""The noise catalogue is read from the registry: each entry's function carries its severity table,
so adding a built-in noise is one decorated function and one registry line."""

from __future__ import annotations

import importlib
import textwrap
from pathlib import Path

import pytest
import torch

from camrobust import registry
from camrobust.noise import ATTACKS, NOISES, PIXEL_NOISES, noise_type
from camrobust.noise.severity import SeverityTable, positive, severity_table
from tests.package_copy import copy_package, run_with_copy


def test_catalogue_is_the_registry_in_order() -> None:
    assert tuple(NOISES) == registry.NOISES
    assert PIXEL_NOISES == registry.PIXEL_NOISES and ATTACKS == registry.ATTACKS
    for entry in registry.NOISE_TYPES:
        spec = NOISES[entry.name]
        module = importlib.import_module(f"camrobust.noise.{entry.family}")
        assert spec.fn is getattr(module, entry.name) and spec.fn.__module__ == module.__name__
        assert spec.kind == entry.kind
        table = severity_table(spec.fn)
        assert (spec.params, spec.rule, spec.valid) == (table.params, table.rule, table.valid)
        assert len(spec.params) == registry.SEVERITY_LEVELS and all(map(spec.valid, spec.params))


def test_noise_type_refuses_a_table_that_breaks_its_rule() -> None:
    def blank(x: torch.Tensor, c: float, generators: object) -> torch.Tensor:
        return x

    with pytest.raises(ValueError, match="4 severities in its table; expected 5"):
        noise_type(params=(1, 2, 3, 4))(blank)
    with pytest.raises(ValueError, match=r"table values \[0\] break its rule: c > 0"):
        noise_type(params=(1, 2, 3, 4, 0), rule="c > 0", valid=positive)(blank)
    with pytest.raises(TypeError, match="has no severity table; decorate it with @noise_type"):
        severity_table(blank)
    assert severity_table(noise_type(params=(1, 2, 3, 4, 5))(blank)) == SeverityTable((1, 2, 3, 4, 5))


NEW_NOISE = '''

@noise_type(params=(0.1, 0.2, 0.3, 0.5, 1.0), rule="c in [0, 1]", valid=probability)
def inversion(x: Tensor, c: float, generators: Generators) -> Tensor:
    """Blend towards the negative image: ``x + c (1 - 2 x)``; c 1 is the negative."""
    return x + c * (1 - 2 * x)
'''

CHECKS = """
import copy, yaml
import numpy as np
import camrobust.noise
from camrobust import registry
from camrobust.config import ConfigError, validate_config

spec = camrobust.noise.NOISES["inversion"]
assert spec.kind == "pixel" and spec.params == (0.1, 0.2, 0.3, 0.5, 1.0) and spec.rule == "c in [0, 1]"
assert camrobust.noise.PIXEL_NOISES[-1] == "inversion" and registry.noise("inversion").label == "inversion"

config = yaml.safe_load(open("config.yaml"))
config["noises"] = {"inversion": [1, 5]}
assert validate_config(copy.deepcopy(config))["noises"] == {"inversion": [1, 5]}
try:
    validate_config({**config, "noises": {"inversions": [1]}})
    raise SystemExit("an unregistered noise was accepted")
except ConfigError:
    pass

images = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
negative = camrobust.noise.perturb(images, "inversion", 5, seed=0, ids=["a", "b"])
assert np.array_equal(negative, 255 - images)
try:
    camrobust.noise.perturb(images, "inversion", 1, 0, ["a", "b"], params=1.5)
    raise SystemExit("a parameter breaking the rule was accepted")
except ValueError as error:
    assert "expected c in [0, 1]" in str(error)
print("inversion ok")
"""


def test_adding_a_noise_is_one_function_and_one_registry_line(tmp_path: Path) -> None:
    source_root = copy_package(tmp_path)
    package = source_root / "camrobust"
    sensor = package / "noise" / "sensor.py"
    sensor.write_text(sensor.read_text() + textwrap.dedent(NEW_NOISE))  # ONE function, with its table
    registry_file = package / "registry.py"
    last = '    Noise("pgd", "PGD", "attack", "attacks"),\n'
    assert registry_file.read_text().count(last) == 1
    registry_file.write_text(
        registry_file.read_text().replace(last, last + '    Noise("inversion", "inversion", "pixel", "sensor"),\n')
    )  # ONE registry line
    assert "inversion ok" in run_with_copy(source_root, CHECKS).stdout
    assert "inversion" not in registry.NOISES and "inversion" not in NOISES  # the source tree is untouched
