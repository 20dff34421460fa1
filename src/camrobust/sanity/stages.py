"""The stages of a cascading model randomisation and how a stage's parameters are redrawn.

A *stage* is a module of the model named by its path. Derived stages are the model's top-level
children that hold parameters and run in its forward, from the logits down: the reverse of the
order in which one forward first calls them. For torchvision's ResNet that is fc, layer4,
layer3, layer2, layer1, bn1, conv1; for camrobust's SmallResNet fc, layer3, layer2, layer1,
stem; for SmallVGG classifier, features. A model whose parameters all sit in one child (a
wrapper around the real network) is read through that child. Parameters the model holds itself,
outside any child (ViT's class token), belong to no derived stage and stay trained.

Re-initialisation (:func:`reset_stage`) is seeded by (seed, stage path, module path) alone, so
the randomised weights depend neither on the images nor on the device.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from camrobust.seeding import derive_seed

Reinitialise = Callable[[nn.Module, str, int], None]
"""``(stage module, stage path, seed) -> None``: redraw the stage's parameters in place."""

_SEED_MASK = 0x7FFF_FFFF_FFFF_FFFF


def _holds_parameters(module: nn.Module) -> bool:
    return next(module.parameters(), None) is not None


def _call_order(model: nn.Module, prefix: str, parent: nn.Module, example: Tensor) -> list[str]:
    """Paths of ``parent``'s children that hold parameters, in the order one forward of
    ``example`` first calls them; children the forward never calls are left out."""
    order: list[str] = []
    handles = []
    for name, child in parent.named_children():
        if _holds_parameters(child):
            path = f"{prefix}{name}"

            def seen(_module: nn.Module, _args: object, _out: object, path: str = path) -> None:
                if path not in order:
                    order.append(path)

            handles.append(child.register_forward_hook(seen))
    try:
        with torch.no_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    return order


def _stage_hint(model: nn.Module) -> str:
    """A stage list to suggest: the last modules that hold parameters of their own, logits first."""
    own = [name for name, m in model.named_modules() if name and next(m.parameters(recurse=False), None) is not None]
    return repr(own[::-1][:4])


def randomisation_stages(model: nn.Module, example: Tensor, stages: Sequence[str] | None = None) -> list[str]:
    """Stage paths from the logits down: ``stages`` checked, or derived from ``model``.

    Derived: the top-level children that hold parameters, in reverse order of their first call
    during one forward of ``example`` (one input, (1,3,H,W), is enough); while only one child
    holds parameters, its children instead. Fewer than 2 stages is a ValueError that says how to
    give them. Given: each path must name a module of ``model`` (``model.named_modules()``)
    holding parameters, each once."""
    if stages is not None:
        return _checked_stages(model, list(stages))
    order = _call_order(model, "", model, example[:1])
    while len(order) == 1:
        inner = _call_order(model, f"{order[0]}.", model.get_submodule(order[0]), example[:1])
        if not inner:
            break
        order = inner
    if len(order) < 2:
        found = ", ".join(order) if order else "none"
        raise ValueError(
            f"stages: cannot derive randomisation stages of {type(model).__name__}: fewer than 2 of its "
            f"top-level modules hold parameters and run in its forward (found: {found}); give the stages "
            f"as module paths from the logits down (model.named_modules()), e.g. stages={_stage_hint(model)}"
        )
    return order[::-1]


def _checked_stages(model: nn.Module, stages: list[str]) -> list[str]:
    names = [name for name, _ in model.named_modules() if name]
    if not stages:
        raise ValueError("stages: empty; give module paths from the logits down, or None to derive them")
    for path in stages:
        if path not in names:
            close = difflib.get_close_matches(path, names, n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            top = ", ".join(name for name in names if "." not in name)
            raise ValueError(
                f"stages: {path!r} is not a module of {type(model).__name__}; {hint}its top-level modules: "
                f"{top} (all paths: model.named_modules())"
            )
        if not _holds_parameters(model.get_submodule(path)):
            raise ValueError(f"stages: {path!r} holds no parameters; randomising it would change nothing")
    repeated = sorted({path for path in stages if stages.count(path) > 1})
    if repeated:
        raise ValueError(f"stages: {repeated} given more than once")
    return stages


def reset_stage(stage: nn.Module, path: str, seed: int) -> None:
    """Redraw every parameter of ``stage`` in place, seeded, on any device with the same values.

    For each module m of the stage (the stage itself included, ``named_modules`` order):

    - m defines ``reset_parameters`` (Conv, Linear, BatchNorm, LayerNorm, ...): a CPU copy of m
      runs its own ``reset_parameters()`` under torch's global generator seeded with
      ``derive_seed(seed, "randomisation", path, module path)`` (inside ``torch.random.fork_rng``,
      so the caller's random state is untouched), and m's own parameters and buffers take the
      copy's values. That is PyTorch's default initialisation: Kaiming-uniform weights for
      Conv/Linear; BatchNorm gets gamma = 1, beta = 0, running mean 0 and variance 1 (it loses
      its learned normalisation, as in Quantus' MPRT);
    - m holds parameters of its own but has no ``reset_parameters`` (ViT's position embedding):
      each such tensor is redrawn from N(mu, sigma), mu and sigma the trained tensor's own mean
      and (population) standard deviation, from a CPU generator seeded with
      ``derive_seed(seed, "randomisation", path, module path, parameter name)``.

    Buffers of modules without ``reset_parameters`` are kept."""
    for name, module in stage.named_modules():
        key = (seed, "randomisation", path, name)
        reset = getattr(module, "reset_parameters", None)
        if callable(reset):
            twin = copy.deepcopy(module).cpu()
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(derive_seed(*key) & _SEED_MASK)
                twin.reset_parameters()
            own = [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]
            fresh = dict([*twin.named_parameters(recurse=False), *twin.named_buffers(recurse=False)])
            with torch.no_grad():
                for tensor_name, tensor in own:
                    tensor.copy_(fresh[tensor_name])
            continue
        for tensor_name, parameter in module.named_parameters(recurse=False):
            generator = torch.Generator().manual_seed(derive_seed(*key, tensor_name) & _SEED_MASK)
            trained = parameter.detach().to("cpu", torch.float64)
            draw = torch.empty(parameter.shape, dtype=torch.float64).normal_(generator=generator)
            with torch.no_grad():
                parameter.copy_(trained.mean() + trained.std(unbiased=False) * draw)
