"""The CAM target: which layer's output a CAM is computed on, and the one lookup of that layer.

A target is a module's output (:class:`TargetLayer`), optionally passed through an activation
the model applies in its forward code rather than as a module. Config files and the notebook API
name targets by strings, ``"<module path>"`` or ``"relu(<module path>)"`` (:func:`split_target`);
:func:`resolve_target` turns any of the accepted forms into a :class:`TargetLayer` and is the only
place a module path is looked up, so a bad path gets the same error everywhere.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

POST_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": torch.relu}

LISTED_PATHS = 40
"""Models with more module paths than this get a shortened list in the unknown-path error."""


@dataclass(frozen=True)
class TargetLayer:
    """A CAM target: the output of ``module``, passed through ``post_activation`` (a name in
    ``POST_ACTIVATIONS``) when that is not None. The option is for an activation the model applies
    to that output in its forward code, not as a module (torchvision DenseNet: ``F.relu`` right
    after ``features.norm5``): the activations are A = act(output) and the gradients g = dy/d output,
    which is dy/dA through the model's own activation (for relu: dy/dA where A > 0, 0 where A = 0).
    The model always runs on the unmodified output, so its logits do not change. String form:
    ``"<module path>"`` or ``"relu(<module path>)"`` (``split_target``)."""

    module: nn.Module
    post_activation: str | None = None

    def __post_init__(self) -> None:
        if self.post_activation is not None and self.post_activation not in POST_ACTIVATIONS:
            raise ValueError(
                f"target_layer: post-activation {self.post_activation!r} unknown; valid: {list(POST_ACTIVATIONS)}"
            )

    def activate(self, output: Tensor) -> Tensor:
        """The activations A of a raw layer output: act(output), or output without a post-activation."""
        return output if self.post_activation is None else POST_ACTIVATIONS[self.post_activation](output)


def split_target(spec: str) -> tuple[str, str | None]:
    """A target-layer string -> (module path, post-activation): "layer4" -> ("layer4", None),
    "relu(features.norm5)" -> ("features.norm5", "relu")."""
    match = re.fullmatch(r"(\w+)\((.*)\)", spec.strip())
    return (match[2].strip(), match[1]) if match else (spec.strip(), None)


def resolve_layer(model: nn.Module, path: str) -> nn.Module:
    """The submodule at dotted ``path`` (as in ``model.named_modules()``). An unknown path raises
    ValueError naming it, with close matches and the valid paths (all of them, or for a big model
    the top level and the last 15 nested paths, i.e. the end of the last stage)."""
    if path:
        try:
            return model.get_submodule(path)
        except AttributeError:
            pass
    names = [name for name, _ in model.named_modules() if name]
    close = difflib.get_close_matches(path, names, n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    if len(names) <= LISTED_PATHS:
        listed = ", ".join(names)
    else:
        top = [name for name in names if "." not in name]
        deep = [name for name in names if "." in name][-15:]
        listed = (
            f"{', '.join(top)}; last stage: {', '.join(deep)}; "
            f"... {len(names)} modules in all, use model.named_modules() to see all"
        )
    raise ValueError(f"target_layer: {path!r} is not a module of {type(model).__name__}; {hint}valid paths: {listed}")


def resolve_target(model: nn.Module, target_layer: nn.Module | str | TargetLayer) -> TargetLayer:
    """The CAM target of ``model`` that ``target_layer`` names: a target-layer string
    (``"<module path>"`` or ``"relu(<module path>)"``, the module looked up by
    :func:`resolve_layer`), a submodule of ``model``, or a :class:`TargetLayer` of one."""
    if isinstance(target_layer, str):
        path, post_activation = split_target(target_layer)
        return TargetLayer(resolve_layer(model, path), post_activation)
    target = target_layer if isinstance(target_layer, TargetLayer) else TargetLayer(target_layer)
    if not any(module is target.module for module in model.modules()):
        raise ValueError(
            f"target_layer: the {type(target.module).__name__} given is not a submodule of {type(model).__name__}"
        )
    return target
