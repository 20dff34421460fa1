"""The alternative settings of the metric that ``metric.sensitivity`` asks for. No heavy imports:
the Snakefile plans the sensitivity jobs with it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PARAMETERS: tuple[str, ...] = ("rbo_p", "segmentation")


@dataclass(frozen=True)
class Setting:
    """One alternative setting of the metric: ``parameter`` rbo_p (a float) or segmentation (a method)."""

    parameter: str
    value: float | str

    @property
    def name(self) -> str:
        """The setting's name in tables: ``rbo_p=0.8``, ``segmentation=slic``."""
        value = f"{self.value:g}" if isinstance(self.value, float) else self.value
        return f"{self.parameter}={value}"

    @classmethod
    def parse(cls, name: str) -> Setting:
        """The setting of a :attr:`name`."""
        parameter, _, value = name.partition("=")
        if parameter not in PARAMETERS or not value:
            raise ValueError(f"not a sensitivity setting: {name!r}; expected rbo_p=<p> or segmentation=<method>")
        return cls(parameter, float(value) if parameter == "rbo_p" else value)


def settings(sensitivity: Mapping[str, Sequence[float | str]], *, rbo_p: float, segmentation: str) -> list[Setting]:
    """The settings of ``metric.sensitivity`` other than the main ones (``rbo_p`` and a dataset's
    ``segmentation`` method), in the config's order."""
    chosen = [Setting("rbo_p", float(p)) for p in sensitivity.get("rbo_p", []) if float(p) != rbo_p]
    chosen += [Setting("segmentation", str(m)) for m in sensitivity.get("segmentation", []) if m != segmentation]
    return chosen
