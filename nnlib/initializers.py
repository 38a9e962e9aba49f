"""Weight initializers (chapter 5, "Weight initialization").

An initializer is a callable ``init(shape, rng) -> array``. For a Dense kernel ``W`` of shape
``(fan_in, fan_out)``, ``fan_in`` is the number of input units and ``fan_out`` the number of output
units, as the lecture defines them:

* Glorot / Xavier (for tanh): ``N(0, sigma)``, ``sigma = sqrt(2 / (fan_in + fan_out))``
* He (for ReLU): ``N(0, sigma)``, ``sigma = sqrt(2 / fan_in)``
* their uniform versions draw from ``U(-limit, limit)`` with the same variance, ``limit = sqrt(3) sigma``.

The normal versions sample a plain normal, as the lecture writes (Keras truncates at 2 sigma and
rescales; the chapter explains the difference).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nnlib._registry import lookup
from nnlib.utils import get_rng

Array = np.ndarray
Initializer = Callable[..., Array]


def compute_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight tensor: ``(shape[0], shape[1])`` for a Dense kernel.

    A 1-D shape (a bias) has ``fan_in = fan_out = shape[0]``; for higher ranks the leading axes are
    the receptive field, as in Keras.
    """
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng) if rng is not None else get_rng()


def zeros(shape: tuple[int, ...], rng: Any = None, dtype: Any = np.float64) -> Array:
    """All zeros (biases; for weights it keeps every unit of a layer identical: symmetry)."""
    return np.zeros(shape, dtype=dtype)


def ones(shape: tuple[int, ...], rng: Any = None, dtype: Any = np.float64) -> Array:
    """All ones (batch normalization's scale ``gamma``)."""
    return np.ones(shape, dtype=dtype)


def constant(value: float) -> Initializer:
    """An initializer that fills with ``value``."""

    def init(shape: tuple[int, ...], rng: Any = None, dtype: Any = np.float64) -> Array:
        return np.full(shape, value, dtype=dtype)

    init.__name__ = f"constant({value})"
    return init


def random_normal(stddev: float = 0.05, mean: float = 0.0) -> Initializer:
    """``N(mean, stddev)`` with a fixed ``stddev`` (Keras' default 0.05)."""

    def init(shape: tuple[int, ...], rng: Any = None, dtype: Any = np.float64) -> Array:
        return _rng(rng).normal(mean, stddev, size=shape).astype(dtype)

    init.__name__ = f"random_normal(stddev={stddev})"
    return init


def random_uniform(minval: float = -0.05, maxval: float = 0.05) -> Initializer:
    """``U(minval, maxval)``."""

    def init(shape: tuple[int, ...], rng: Any = None, dtype: Any = np.float64) -> Array:
        return _rng(rng).uniform(minval, maxval, size=shape).astype(dtype)

    init.__name__ = f"random_uniform({minval}, {maxval})"
    return init


def glorot_normal(shape: tuple[int, ...], rng: Any = None, dtype: Any = np.float64) -> Array:
    """Glorot/Xavier normal: ``N(0, sigma)``, ``sigma = sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = compute_fans(shape)
    sigma = np.sqrt(2 / (fan_in + fan_out))
    return _rng(rng).normal(0.0, sigma, size=shape).astype(dtype)


def glorot_uniform(shape: tuple[int, ...], rng: Any = None, dtype: Any = np.float64) -> Array:
    """Glorot/Xavier uniform: ``U(-limit, limit)``, ``limit = sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = compute_fans(shape)
    limit = np.sqrt(6 / (fan_in + fan_out))
    return _rng(rng).uniform(-limit, limit, size=shape).astype(dtype)


def he_normal(shape: tuple[int, ...], rng: Any = None, dtype: Any = np.float64) -> Array:
    """He normal: ``N(0, sigma)``, ``sigma = sqrt(2 / fan_in)``."""
    fan_in, _ = compute_fans(shape)
    sigma = np.sqrt(2 / fan_in)
    return _rng(rng).normal(0.0, sigma, size=shape).astype(dtype)


def he_uniform(shape: tuple[int, ...], rng: Any = None, dtype: Any = np.float64) -> Array:
    """He uniform: ``U(-limit, limit)``, ``limit = sqrt(6 / fan_in)``."""
    fan_in, _ = compute_fans(shape)
    limit = np.sqrt(6 / fan_in)
    return _rng(rng).uniform(-limit, limit, size=shape).astype(dtype)


INITIALIZERS: dict[str, Initializer] = {
    "zeros": zeros,
    "ones": ones,
    "random_normal": random_normal(),
    "random_uniform": random_uniform(),
    "glorot_normal": glorot_normal,
    "glorot_uniform": glorot_uniform,
    "xavier_normal": glorot_normal,
    "xavier_uniform": glorot_uniform,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
}


def get(identifier: str | Initializer) -> Initializer:
    """Resolve ``'he_normal'``, ``'glorot_uniform'``, ... (or a callable) to an initializer."""
    if callable(identifier):
        return identifier
    return lookup("initializer", identifier, INITIALIZERS)
