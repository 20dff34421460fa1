"""The model card: what a model is and how to feed it, stored as JSON beside its weights, and
its page in the report."""

from __future__ import annotations

import html
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from camrobust.registry import MODEL_KINDS


@dataclass
class ModelCard:
    """What a model is and how to feed it; stored as JSON next to its checkpoint."""

    arch: str
    source: str
    num_classes: int
    target_layer: str
    input_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    class_names: list[str]
    accuracy: dict[str, float] = field(default_factory=dict)
    weights: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    factory: str | None = None
    """``"module:attr"`` building the model, for source "python"."""

    @property
    def channels(self) -> int:
        """Input channels: 3 (RGB), or 1 (the luminance) for a single mean/std value."""
        return len(self.mean)

    def __post_init__(self) -> None:
        if self.source not in MODEL_KINDS:
            raise ValueError(f"source: {self.source!r} unknown; allowed: {', '.join(MODEL_KINDS)}")
        self.mean = tuple(float(v) for v in self.mean)
        self.std = tuple(float(v) for v in self.std)

    def to_json(self, path: str | os.PathLike[str]) -> None:
        """Write the card as indented, key-sorted JSON."""
        Path(path).write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> ModelCard:
        """Read a card written by :meth:`to_json`."""
        return cls(**json.loads(Path(path).read_text()))


def card_page(card: ModelCard, title: str) -> str:
    """The card as a small HTML page for the report: its warnings first (in red), then what the
    model is, how it is fed and its accuracy beside the chance level."""
    rows = {
        "architecture": f"{card.arch} ({card.source}{', ' + card.weights if card.weights else ''})",
        "target layer": card.target_layer,
        "input": f"{card.input_size} px, {card.channels} channel(s), mean {list(card.mean)}, std {list(card.std)}",
        "classes": f"{card.num_classes}: {', '.join(card.class_names)}",
        **{f"accuracy ({split})": f"{value:.3f}" for split, value in sorted(card.accuracy.items())},
        "chance level": f"{1 / max(len(card.class_names), 1):.3f}",
    }
    warnings = "".join(
        f'<p style="color:#b71c1c;font-weight:bold">Warning: {html.escape(text)}</p>\n'
        for text in card.extra.get("warnings", [])
    )
    table = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>\n" for k, v in rows.items())
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>\n'
        f'<body style="font-family:sans-serif">\n<h2>{html.escape(title)}</h2>\n{warnings}'
        f'<table style="text-align:left">\n{table}</table>\n</body></html>\n'
    )
