"""Optimizers (chapter 6), with the update rules as the lecture writes them.

Notation: ``w`` a weight array, ``g = dL/dw`` its gradient at step ``s``, ``eta`` the learning
rate (a float or a schedule ``eta(s)``), ``epsilon`` the small constant that avoids division by 0.
Every optimizer updates the weights **in place** and keeps its per-weight state (velocity, running
averages) in ``self.state[key]``. The updates use only operators and functions of the Python array
API standard (``xp = array_namespace(w)``), so the same lines update NumPy arrays here and torch
tensors on the PyTorch path (:mod:`nnlib.torch_backend`).

Differences from Keras and PyTorch, explained in the chapter:

* Momentum: the lecture's velocity ``v = gamma v - eta g`` (Keras' form). PyTorch accumulates
  ``b = gamma b + g`` and steps ``-eta b``: identical for a constant learning rate.
* Nesterov: the lecture evaluates the gradient at the lookahead point ``w + gamma v``. Storing the
  lookahead point as the weights turns this into ``v = gamma v - eta g; w = w + gamma v - eta g``
  (the form Keras and PyTorch use); the gradients and velocities are the same, and the stored
  weights are the slide's lookahead points ``w + gamma v``.
* Adagrad, RMSProp, Adam: the lecture puts ``epsilon`` inside the square root,
  ``eta / sqrt(G + epsilon)``, and so do Keras' Adagrad and RMSprop; PyTorch (all three) and
  Keras' Adam put it outside, ``eta / (sqrt(G) + epsilon)``. Keras' Adagrad also starts ``G`` at
  0.1; PyTorch's RMSprop uses ``gamma = 0.99``.
* Adam's bias correction divides by ``1 - gamma^s`` (the slide omits the power ``s``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from nnlib._registry import lookup
from nnlib.schedules import Schedule

Array = np.ndarray


class Optimizer:
    """Base class: holds the learning rate (or schedule), the step count and the state.

    Parameters
    ----------
    learning_rate : float or Schedule
        ``eta``, or a schedule ``eta(s)`` evaluated at the step ``s`` (0 for the first update).
    """

    def __init__(self, learning_rate: float | Schedule = 0.01) -> None:
        if not callable(learning_rate) and not float(learning_rate) > 0:
            raise ValueError(f"learning_rate must be positive, got {learning_rate}.")
        self.learning_rate = learning_rate
        self.iterations = 0  # s: number of updates made so far
        self.state: dict[Any, dict[str, Array]] = {}

    @property
    def lr(self) -> float:
        """The learning rate ``eta_s`` for the next update."""
        if callable(self.learning_rate):
            return float(self.learning_rate(self.iterations))
        return float(self.learning_rate)

    def apply_gradients(self, params_and_grads: list[tuple[Any, Array, Array]]) -> None:
        """Update every ``(key, w, g)`` in place, then count one step."""
        eta = self.lr
        for key, w, g in params_and_grads:
            if key not in self.state:
                self.state[key] = {}
            self.update(w, g, self.state[key], eta)
        self.iterations += 1

    def step(self, w: Array, g: Array, key: Any = "w") -> Array:
        """Functional form for a single array (used to trace trajectories): returns the new ``w``."""
        w = np.array(w, dtype=np.float64)
        self.apply_gradients([(key, w, np.asarray(g, dtype=np.float64))])
        return w

    def update(self, w: Array, g: Array, state: dict[str, Array], eta: float) -> None:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k not in ("state", "iterations")}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _zeros(state: dict[str, Array], name: str, w: Array) -> Array:
    if name not in state:
        state[name] = array_namespace(w).zeros_like(w)
    return state[name]


def _average_squares(m: Array, gamma: float, g: Array) -> None:
    """``m = gamma m + (1 - gamma) g^2`` in place, with one temporary the size of ``g``."""
    sq = g * g
    sq *= 1 - gamma
    m *= gamma
    m += sq


def _adaptive_step(w: Array, eta: float, g: Array, v: Array, epsilon: float) -> None:
    """``w = w - eta / sqrt(v + epsilon) * g`` in place, with one temporary the size of ``w``.

    The formula's arithmetic step by step with in-place operators (the array API has them, so
    tensors take the same path). The one-line form allocates four arrays the size of ``w`` per
    update; their page faults and memory traffic made the update 4 times slower, about a third of
    a training step (``benchmarks/bench_nnlib.py``).
    """
    step = v + epsilon
    step **= 0.5  # sqrt(v + epsilon)
    step **= -1  # 1 / sqrt(v + epsilon)
    step *= g
    step *= eta
    w -= step


class SGD(Optimizer):
    """Mini-batch SGD, optionally with (Nesterov) momentum.

    * plain:    ``w = w - eta g``
    * momentum: ``v = gamma v - eta g``;  ``w = w + v``
    * Nesterov: ``v = gamma v - eta g(w + gamma v)``;  stored as ``w = w + gamma v - eta g``
    """

    def __init__(
        self,
        learning_rate: float | Schedule = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(learning_rate)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}.")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def update(self, w: Array, g: Array, state: dict[str, Array], eta: float) -> None:
        gamma = self.momentum
        if gamma == 0:
            w -= eta * g
            return
        v = _zeros(state, "v", w)
        v *= gamma
        v -= eta * g  # v = gamma v - eta g
        if self.nesterov:
            w += gamma * v - eta * g  # lookahead form of the Nesterov update
        else:
            w += v  # w = w + v


class Adagrad(Optimizer):
    """``G = G + g^2``;  ``w = w - eta / sqrt(G + epsilon) * g``."""

    def __init__(self, learning_rate: float | Schedule = 0.001, epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate)
        self.epsilon = float(epsilon)

    def update(self, w: Array, g: Array, state: dict[str, Array], eta: float) -> None:
        G = _zeros(state, "G", w)
        G += g * g  # G = sum of squared gradients
        _adaptive_step(w, eta, g, G, self.epsilon)  # w = w - eta / sqrt(G + epsilon) * g


class RMSprop(Optimizer):
    """``m = gamma m + (1 - gamma) g^2``;  ``w = w - eta / sqrt(m + epsilon) * g``."""

    def __init__(
        self, learning_rate: float | Schedule = 0.001, rho: float = 0.9, epsilon: float = 1e-7
    ) -> None:
        super().__init__(learning_rate)
        if not 0 <= rho < 1:
            raise ValueError(f"rho must be in [0, 1), got {rho}.")
        self.rho = float(rho)  # the lecture's gamma
        self.epsilon = float(epsilon)

    def update(self, w: Array, g: Array, state: dict[str, Array], eta: float) -> None:
        gamma, m = self.rho, _zeros(state, "m", w)
        _average_squares(m, gamma, g)  # m = gamma m + (1 - gamma) g^2
        _adaptive_step(w, eta, g, m, self.epsilon)  # w = w - eta / sqrt(m + epsilon) * g


class Adam(Optimizer):
    """RMSProp + momentum, with bias correction.

    In the lecture's symbols (``gamma_2 = beta_1`` for the gradients, ``gamma = beta_2`` for the
    squared gradients):
    ``g_avg = gamma_2 g_avg + (1 - gamma_2) g``;  ``m = gamma m + (1 - gamma) g^2``;
    ``g_hat = g_avg / (1 - gamma_2^s)``;  ``m_hat = m / (1 - gamma^s)``;
    ``w = w - eta / sqrt(m_hat + epsilon) * g_hat``.
    """

    def __init__(
        self,
        learning_rate: float | Schedule = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
    ) -> None:
        super().__init__(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def update(self, w: Array, g: Array, state: dict[str, Array], eta: float) -> None:
        gamma_2, gamma, s = self.beta_1, self.beta_2, self.iterations + 1
        g_avg, m = _zeros(state, "g_avg", w), _zeros(state, "m", w)
        g_avg *= gamma_2
        g_avg += (1 - gamma_2) * g  # moving average of the gradients (momentum)
        _average_squares(m, gamma, g)  # moving average of the squared gradients (RMSProp)
        g_hat = g_avg / (1 - gamma_2**s)  # bias corrections
        m_hat = m / (1 - gamma**s)
        # w = w - eta / sqrt(m_hat + epsilon) * g_hat
        _adaptive_step(w, eta, g_hat, m_hat, self.epsilon)


class Adamax(Adam):
    """Adam with a max instead of the squared-gradient average (same hyperparameters).

    ``u = max(gamma u, |g|)``;  ``w = w - eta / (u + epsilon) * g_hat`` with ``g_hat`` as in Adam
    (``epsilon`` only guards against ``u = 0``).
    """

    def update(self, w: Array, g: Array, state: dict[str, Array], eta: float) -> None:
        xp, gamma_2, gamma, s = array_namespace(w), self.beta_1, self.beta_2, self.iterations + 1
        g_avg, u = _zeros(state, "g_avg", w), _zeros(state, "u", w)
        g_avg *= gamma_2
        g_avg += (1 - gamma_2) * g
        u[...] = xp.maximum(gamma * u, abs(g))  # u = max(gamma u, |g|)
        g_hat = g_avg / (1 - gamma_2**s)
        w -= eta / (u + self.epsilon) * g_hat


OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": SGD,
    "momentum": functools.partial(SGD, momentum=0.9),
    "nesterov": functools.partial(SGD, momentum=0.9, nesterov=True),
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamax": Adamax,
}


def get(identifier: str | Optimizer, learning_rate: float | Schedule | None = None) -> Optimizer:
    """Resolve ``'rmsprop'``, ``'adam'``, ``'sgd'``, ... (Keras' defaults) or return an optimizer.

    Parameters
    ----------
    identifier : str or Optimizer
        A name from :data:`OPTIMIZERS` or an optimizer (returned unchanged).
    learning_rate : float or Schedule, optional
        Replaces the default learning rate of a named optimizer.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    factory = lookup("optimizer", identifier, OPTIMIZERS)
    return factory() if learning_rate is None else factory(learning_rate)
