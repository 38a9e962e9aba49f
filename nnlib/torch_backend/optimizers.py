"""nnlib's optimizers as ``torch.optim.Optimizer``, for hand-written PyTorch loops: the same
``update`` applied to tensors (:class:`TorchModel` calls the nnlib optimizer directly)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from nnlib import optimizers as optimizers_


class NNLibOptimizer(torch.optim.Optimizer):
    """A ``torch.optim.Optimizer`` over ``params`` that steps with ``optimizer``'s ``update``
    (an nnlib optimizer: its rule, learning rate or schedule, step count; state keyed by tensor)."""

    def __init__(self, params: Any, optimizer: optimizers_.Optimizer) -> None:
        super().__init__(params, {})
        self.nnlib = optimizer

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient (one nnlib step)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        params = [p for group in self.param_groups for p in group["params"] if p.grad is not None]
        self.nnlib.apply_gradients([(p, p, p.grad) for p in params])
        return loss


def _named(rule: type[optimizers_.Optimizer]) -> type[NNLibOptimizer]:
    """``NNLibRMSprop(params, lr, **hyperparameters)`` and the like, for each nnlib rule."""

    def __init__(self: NNLibOptimizer, params: Any, lr: Any = None, **kwargs: Any) -> None:
        NNLibOptimizer.__init__(self, params, rule(*([] if lr is None else [lr]), **kwargs))

    doc = f"nnlib's :class:`~nnlib.optimizers.{rule.__name__}` as a torch optimizer."
    return type(f"NNLib{rule.__name__}", (NNLibOptimizer,), {"__init__": __init__, "__doc__": doc})


NNLibSGD = _named(optimizers_.SGD)
NNLibAdagrad = _named(optimizers_.Adagrad)
NNLibRMSprop = _named(optimizers_.RMSprop)
NNLibAdam = _named(optimizers_.Adam)
NNLibAdamax = _named(optimizers_.Adamax)
