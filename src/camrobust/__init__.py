"""camrobust: how robust are Class Activation Maps to input noise."""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import TYPE_CHECKING, Any

from camrobust.plugins import register_cam

if TYPE_CHECKING:
    from camrobust.notebook import Evaluation, evaluate
    from camrobust.stages.get_model import load_model

__all__ = ["Evaluation", "evaluate", "load_model", "register_cam"]
__version__ = importlib.metadata.version("camrobust")

_NOTEBOOK_API = {
    "evaluate": "camrobust.notebook",
    "Evaluation": "camrobust.notebook",
    "load_model": "camrobust.stages.get_model",
}


def __getattr__(name: str) -> Any:
    """The notebook API, imported on first use, so that ``import camrobust`` stays light."""
    if name in _NOTEBOOK_API:
        return getattr(importlib.import_module(_NOTEBOOK_API[name]), name)
    raise AttributeError(f"module 'camrobust' has no attribute {name!r}")
