"""A network split at a target layer with torch.fx: a head x -> (layer output, context) and a tail
(layer output, context) -> logits, so that edits of the layer output need only the tail.

The context is what the tail reads that was computed from the input before the layer: a residual
block's identity branch, a ViT block's residual input. Values that do not depend on the input
(parameters, buffers, constants) are recomputed inside the tail instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import Tensor, fx, nn


class Unsplittable(ValueError):
    """The model cannot be split at the layer; the message says why."""


class _LeafTracer(fx.Tracer):
    """torch.fx's default tracer, with the target layer kept as one call_module node."""

    def __init__(self, leaf: nn.Module) -> None:
        super().__init__()
        self.leaf = leaf

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return m is self.leaf or super().is_leaf_module(m, module_qualified_name)


def _descendants(graph: fx.Graph, roots: Iterable[fx.Node]) -> set[fx.Node]:
    """The roots and every node that reads one of them, directly or not (graph order is topological)."""
    found = set(roots)
    for node in graph.nodes:
        if any(arg in found for arg in node.all_input_nodes):
            found.add(node)
    return found


def _copy(graph: fx.Graph, nodes: Iterable[fx.Node], env: dict[fx.Node, fx.Node]) -> None:
    for node in nodes:
        env[node] = graph.node_copy(node, lambda arg: env[arg])


@dataclass(frozen=True)
class Split:
    """``head(x) -> (output, *context)`` and ``tail(output, *context) -> logits``, sharing the
    model's modules and parameters: tail(*head(x)) runs the model's own operations on x."""

    head: fx.GraphModule
    tail: fx.GraphModule

    def run(self, inputs: Tensor) -> tuple[Tensor, Callable[[Tensor], Tensor]]:
        """For ONE input (1, ...): its layer output and ``edited -> logits``, the tail on a batch
        (B, ...) of layer outputs with the context repeated B times (copies: the tail may write in place)."""
        output, *context = self.head(inputs)
        if not isinstance(output, Tensor):
            raise Unsplittable(f"the target layer returns {type(output).__name__}, not a tensor")
        for value in context:
            if not isinstance(value, Tensor) or value.ndim == 0 or len(value) != 1:
                kind = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
                raise Unsplittable(f"the tail reads a value without a batch axis of 1 ({kind})")

        def tail(edited: Tensor) -> Tensor:
            rows = len(edited)
            return self.tail(edited, *(value.repeat(rows, *[1] * (value.ndim - 1)) for value in context))

        return output, tail


def split_at(model: nn.Module, layer: nn.Module) -> Split:
    """Split ``model`` (one tensor input) at ``layer``, which its forward must call exactly once;
    raises ``Unsplittable`` for TorchScript, code torch.fx cannot trace (data-dependent control
    flow), a layer hidden inside a module torch.fx keeps whole, or logits that do not depend on it."""
    if isinstance(model, torch.jit.ScriptModule):
        raise Unsplittable("it is a TorchScript module")
    tracer = _LeafTracer(layer)
    try:
        graph = tracer.trace(model)
    except Exception as error:  # torch.fx raises TraceError, TypeError, NotImplementedError, ...
        raise Unsplittable(f"torch.fx cannot trace it ({type(error).__name__}: {error})") from None
    inputs = [node for node in graph.nodes if node.op == "placeholder"]
    calls = [
        node for node in graph.nodes if node.op == "call_module" and model.get_submodule(str(node.target)) is layer
    ]
    if len(inputs) != 1:
        raise Unsplittable(f"its forward takes {len(inputs)} inputs, not one")
    if len(calls) != 1:
        raise Unsplittable(f"the traced forward calls the target layer {len(calls)} times, not once")
    (layer_node,) = calls
    after = _descendants(graph, [layer_node])
    (output,) = [node for node in graph.nodes if node.op == "output"]
    if output not in after:
        raise Unsplittable("its output does not depend on the target layer")
    varying = _descendants(graph, inputs)
    before = [node for node in graph.nodes if node not in after]
    context = [node for node in before if node in varying and any(user in after for user in node.users)]

    head_graph, env = fx.Graph(), dict[fx.Node, fx.Node]()
    _copy(head_graph, [*before, layer_node], env)
    head_graph.output((env[layer_node], *(env[node] for node in context)))

    tail_graph, env = fx.Graph(), dict[fx.Node, fx.Node]()
    env[layer_node] = tail_graph.placeholder("layer_output")
    for i, node in enumerate(context):
        env[node] = tail_graph.placeholder(f"context_{i}")
    fixed = [node for node in before if node not in varying]
    _copy(tail_graph, fixed + [node for node in graph.nodes if node in after and node is not layer_node], env)
    return Split(_module(tracer.root, head_graph), _module(tracer.root, tail_graph))


def _module(root: nn.Module, graph: fx.Graph) -> fx.GraphModule:
    module = fx.GraphModule(root, graph)
    module.graph.eliminate_dead_code()
    module.recompile()
    return module
