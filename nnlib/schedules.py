"""Learning-rate schedules (chapter 6, "SGD with learning rate schedules").

A schedule maps the step ``s`` (the number of updates made so far) to a learning rate ``eta_s``.
Pass one as ``learning_rate`` to any optimizer.
"""

from __future__ import annotations

import math


class Schedule:
    """Base class: ``schedule(s) -> eta_s``."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class ExponentialDecay(Schedule):
    """``eta_s = eta_0 * exp(-k s)``.

    The slide writes the recursion ``eta_{s+1} = eta_s e^{-k s}``; its intended closed form (and
    Keras' ``ExponentialDecay`` with ``decay_rate = e^{-k}``) is this one.
    """

    def __init__(self, initial_learning_rate: float, decay_rate: float) -> None:
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_rate = float(decay_rate)

    def __call__(self, step: int) -> float:
        return self.initial_learning_rate * math.exp(-self.decay_rate * step)


class InverseTimeDecay(Schedule):
    """``eta_s = eta_0 / (1 + k s)``."""

    def __init__(self, initial_learning_rate: float, decay_rate: float) -> None:
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_rate = float(decay_rate)

    def __call__(self, step: int) -> float:
        return self.initial_learning_rate / (1 + self.decay_rate * step)


class CyclicalLearningRate(Schedule):
    """Triangular cyclical learning rate (Smith, 2017).

    The rate climbs linearly from ``base_learning_rate`` to ``max_learning_rate`` over ``step_size``
    steps and back down over the next ``step_size``, then repeats:
    ``cycle = floor(1 + s / (2 step_size))``, ``x = |s / step_size - 2 cycle + 1|``,
    ``eta_s = base + (max - base) * max(0, 1 - x)``.
    """

    def __init__(self, base_learning_rate: float, max_learning_rate: float, step_size: int) -> None:
        if step_size < 1:
            raise ValueError(f"step_size must be >= 1, got {step_size}.")
        self.base_learning_rate = float(base_learning_rate)
        self.max_learning_rate = float(max_learning_rate)
        self.step_size = int(step_size)

    def __call__(self, step: int) -> float:
        cycle = math.floor(1 + step / (2 * self.step_size))
        x = abs(step / self.step_size - 2 * cycle + 1)
        return self.base_learning_rate + (self.max_learning_rate - self.base_learning_rate) * max(
            0.0, 1 - x
        )


class CosineDecayRestarts(Schedule):
    """Warm restarts (SGDR, Loshchilov & Hutter 2017): cosine annealing, then reset.

    Within a period of ``T_i`` steps, ``eta = eta_min + (eta_0 - eta_min) (1 + cos(pi t / T_i)) / 2``
    where ``t`` counts the steps since the last restart; the first period is ``first_decay_steps``
    and each next one is ``t_mul`` times longer.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        first_decay_steps: int,
        t_mul: float = 2.0,
        min_learning_rate: float = 0.0,
    ) -> None:
        if first_decay_steps < 1:
            raise ValueError(f"first_decay_steps must be >= 1, got {first_decay_steps}.")
        self.initial_learning_rate = float(initial_learning_rate)
        self.first_decay_steps = int(first_decay_steps)
        self.t_mul = float(t_mul)
        self.min_learning_rate = float(min_learning_rate)

    def __call__(self, step: int) -> float:
        t, period = float(step), float(self.first_decay_steps)
        while t >= period:  # find the current period and the position inside it
            t -= period
            period *= self.t_mul
        cos = 0.5 * (1 + math.cos(math.pi * t / period))
        return self.min_learning_rate + (self.initial_learning_rate - self.min_learning_rate) * cos


SCHEDULES = {
    "exponential": ExponentialDecay,
    "inverse_time": InverseTimeDecay,
    "cyclical": CyclicalLearningRate,
    "cosine_restarts": CosineDecayRestarts,
}
