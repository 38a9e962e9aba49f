"""nnlib's optimizers as ``torch.optim.Optimizer`` subclasses: the lecture's update rules on tensors.

Part of :mod:`nnlib.torch_backend` (see its docstring for the mapping and the differences).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from nnlib import optimizers as optimizers_
from nnlib.torch_backend.convert import _same_math

Tensor = torch.Tensor


class NNLibOptimizer(torch.optim.Optimizer):
    """Base of the optimizers that follow :mod:`nnlib.optimizers` exactly.

    ``lr`` may be a float or a schedule ``s -> eta_s`` (evaluated at nnlib's step count
    ``iterations`` before every step and written into ``param_groups[i]['lr']``). The per-parameter
    state uses nnlib's names (``'v'``, ``'G'``, ``'m'``, ``'g_avg'``, ``'u'``).

    Parameters
    ----------
    params : iterable of tensors or dicts
    lr : float or callable
    iterations : int
        Number of updates made so far (``s``), e.g. taken over from an nnlib optimizer.
    **defaults
        Hyperparameters of the subclass.
    """

    def __init__(
        self,
        params: Any,
        lr: float | Callable[[int], float],
        iterations: int = 0,
        **defaults: Any,
    ) -> None:
        self.schedule = lr if callable(lr) else None
        first = float(lr(iterations)) if callable(lr) else float(lr)
        super().__init__(params, {"lr": first, **defaults})
        self.iterations = int(iterations)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient, then ``iterations += 1``.

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the model and returns the loss (torch's convention).

        Returns
        -------
        The closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        s = self.iterations
        for group in self.param_groups:
            if self.schedule is not None:
                group["lr"] = float(self.schedule(s))
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad, self.state[p], group, s)
        self.iterations += 1
        return loss

    def _update(self, w: Tensor, g: Tensor, state: dict, group: dict, s: int) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """``torch.optim.Optimizer.state_dict`` plus ``iterations``.

        Returns
        -------
        dict
        """
        out = super().state_dict()
        out["iterations"] = self.iterations
        return out

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict`.

        Parameters
        ----------
        state_dict : dict
        """
        state_dict = dict(state_dict)
        self.iterations = int(state_dict.pop("iterations", 0))
        super().load_state_dict(state_dict)


def _zeros(state: dict, name: str, w: Tensor) -> Tensor:
    if name not in state:
        state[name] = torch.zeros_like(w, memory_format=torch.preserve_format)
    return state[name]


class NNLibSGD(NNLibOptimizer):
    """nnlib's SGD: ``w -= eta g``; momentum ``v = gamma v - eta g, w += v``; Nesterov
    ``w += gamma v - eta g``.

    Parameters
    ----------
    params : iterable
    lr : float or callable, default 0.01
    momentum : float, default 0
    nesterov : bool, default False
    iterations : int, default 0
    """

    def __init__(
        self,
        params: Any,
        lr: float | Callable[[int], float] = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        iterations: int = 0,
    ) -> None:
        super().__init__(params, lr, iterations, momentum=float(momentum), nesterov=bool(nesterov))

    def _update(self, w: Tensor, g: Tensor, state: dict, group: dict, s: int) -> None:
        eta, gamma = group["lr"], group["momentum"]
        if gamma == 0:
            w.sub_(eta * g)
            return
        v = _zeros(state, "v", w)
        v.mul_(gamma).sub_(eta * g)
        if group["nesterov"]:
            w.add_(gamma * v - eta * g)
        else:
            w.add_(v)


class NNLibAdagrad(NNLibOptimizer):
    """nnlib's Adagrad: ``G += g^2`` (from 0); ``w -= eta / sqrt(G + epsilon) * g``.

    Parameters
    ----------
    params : iterable
    lr : float or callable, default 0.001
    epsilon : float, default 1e-7
    iterations : int, default 0
    """

    def __init__(
        self,
        params: Any,
        lr: float | Callable[[int], float] = 0.001,
        epsilon: float = 1e-7,
        iterations: int = 0,
    ) -> None:
        super().__init__(params, lr, iterations, epsilon=float(epsilon))

    def _update(self, w: Tensor, g: Tensor, state: dict, group: dict, s: int) -> None:
        G = _zeros(state, "G", w)
        G.add_(g * g)
        w.sub_(group["lr"] / torch.sqrt(G + group["epsilon"]) * g)


class NNLibRMSprop(NNLibOptimizer):
    """nnlib's RMSprop: ``m = rho m + (1 - rho) g^2``; ``w -= eta g / sqrt(m + epsilon)``.

    Parameters
    ----------
    params : iterable
    lr : float or callable, default 0.001
    rho : float, default 0.9
    epsilon : float, default 1e-7
    iterations : int, default 0
    """

    def __init__(
        self,
        params: Any,
        lr: float | Callable[[int], float] = 0.001,
        rho: float = 0.9,
        epsilon: float = 1e-7,
        iterations: int = 0,
    ) -> None:
        super().__init__(params, lr, iterations, rho=float(rho), epsilon=float(epsilon))

    def _update(self, w: Tensor, g: Tensor, state: dict, group: dict, s: int) -> None:
        rho = group["rho"]
        m = _zeros(state, "m", w)
        m.mul_(rho).add_((1 - rho) * (g * g))
        w.sub_(group["lr"] * g / torch.sqrt(m + group["epsilon"]))


class NNLibAdam(NNLibOptimizer):
    """nnlib's Adam: bias-corrected averages, epsilon inside the square root.

    ``g_avg = b1 g_avg + (1 - b1) g``; ``m = b2 m + (1 - b2) g^2``; ``g_hat = g_avg / (1 - b1^s)``;
    ``m_hat = m / (1 - b2^s)``; ``w -= eta / sqrt(m_hat + epsilon) * g_hat`` (``s`` from 1).

    Parameters
    ----------
    params : iterable
    lr : float or callable, default 0.001
    beta_1, beta_2 : float, default 0.9, 0.999
    epsilon : float, default 1e-7
    iterations : int, default 0
    """

    def __init__(
        self,
        params: Any,
        lr: float | Callable[[int], float] = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        iterations: int = 0,
    ) -> None:
        super().__init__(
            params,
            lr,
            iterations,
            beta_1=float(beta_1),
            beta_2=float(beta_2),
            epsilon=float(epsilon),
        )

    def _update(self, w: Tensor, g: Tensor, state: dict, group: dict, s: int) -> None:
        b1, b2, t = group["beta_1"], group["beta_2"], s + 1
        g_avg, m = _zeros(state, "g_avg", w), _zeros(state, "m", w)
        g_avg.mul_(b1).add_((1 - b1) * g)
        m.mul_(b2).add_((1 - b2) * (g * g))
        g_hat = g_avg / (1 - b1**t)
        m_hat = m / (1 - b2**t)
        w.sub_(group["lr"] / torch.sqrt(m_hat + group["epsilon"]) * g_hat)


class NNLibAdamax(NNLibAdam):
    """nnlib's Adamax: ``u = max(b2 u, |g|)``; ``w -= eta / (u + epsilon) * g_hat``.

    Parameters as :class:`NNLibAdam`.
    """

    def _update(self, w: Tensor, g: Tensor, state: dict, group: dict, s: int) -> None:
        b1, b2, t = group["beta_1"], group["beta_2"], s + 1
        g_avg, u = _zeros(state, "g_avg", w), _zeros(state, "u", w)
        g_avg.mul_(b1).add_((1 - b1) * g)
        torch.maximum(b2 * u, g.abs(), out=u)
        g_hat = g_avg / (1 - b1**t)
        w.sub_(group["lr"] / (u + group["epsilon"]) * g_hat)


def make_torch_optimizer(optimizer: optimizers_.Optimizer, params: Any) -> NNLibOptimizer:
    """The torch optimizer that follows an nnlib optimizer: same rule, hyperparameters and step.

    Parameters
    ----------
    optimizer : nnlib Optimizer
        SGD (momentum, Nesterov), Adagrad, RMSprop, Adam or Adamax; its ``learning_rate`` may be
        a schedule. Its ``iterations`` becomes the torch optimizer's (its per-weight state is
        carried over by :class:`TorchModel`, which knows which tensor is which weight).
    params : iterable of tensors

    Returns
    -------
    NNLibOptimizer

    Raises
    ------
    TypeError
        For an optimizer with no PyTorch equivalent (a custom ``update``).
    """
    lr, it = optimizer.learning_rate, optimizer.iterations
    o = optimizer
    same = lambda cls: _same_math(o, cls, ("update", "apply_gradients", "lr"))  # noqa: E731
    if same(optimizers_.SGD):
        return NNLibSGD(params, lr, o.momentum, o.nesterov, iterations=it)
    if same(optimizers_.Adagrad):
        return NNLibAdagrad(params, lr, o.epsilon, iterations=it)
    if same(optimizers_.RMSprop):
        return NNLibRMSprop(params, lr, o.rho, o.epsilon, iterations=it)
    if same(optimizers_.Adam):
        return NNLibAdam(params, lr, o.beta_1, o.beta_2, o.epsilon, iterations=it)
    if same(optimizers_.Adamax):
        return NNLibAdamax(params, lr, o.beta_1, o.beta_2, o.epsilon, iterations=it)
    raise TypeError(
        f"Optimizer {type(optimizer).__name__} has no PyTorch equivalent; the PyTorch path "
        "supports nnlib's SGD (with momentum / Nesterov), Adagrad, RMSprop, Adam and Adamax."
    )
