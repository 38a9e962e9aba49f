"""Activation functions and their derivatives (chapter 4, "Activation functions").

Each activation ``f`` comes with a ``backward`` that turns the gradient of the loss with respect to
the activation, ``da = dL/da``, into the gradient with respect to the pre-activation,
``dz = dL/dz = da * f'(z)`` (eq. 4.x in the chapter). The functions are element-wise, except
softmax, whose Jacobian couples the outputs of one sample.

All functions accept arrays of any shape and are numerically stable: no overflow for large ``|z|``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from array_api_compat import array_namespace, is_array_api_obj

from nnlib._registry import lookup

Array = np.ndarray


def sigmoid(z: Array) -> Array:
    """Logistic function ``sigma(z) = 1 / (1 + exp(-z))``, stable for any ``z``.

    With ``e = exp(-|z|)`` (in (0, 1], so it cannot overflow): ``sigma(z) = 1 / (1 + e)`` for
    ``z >= 0`` and ``e / (1 + e)`` for ``z < 0``, both accurate to the last bits in the tails.
    """
    z = np.asarray(z)
    if z.dtype.kind != "f":
        z = z.astype(np.float64)
    e = np.exp(-np.abs(z))
    r = 1 / (1 + e)  # sigma(|z|)
    return r * (e + (z >= 0) * (1 - e))  # r for z >= 0, e * r for z < 0 (no slow np.where)


def sigmoid_derivative(z: Array) -> Array:
    """``sigma'(z) = sigma(z) (1 - sigma(z))``."""
    s = sigmoid(z)
    return s * (1 - s)


def tanh(z: Array) -> Array:
    """Hyperbolic tangent, ``tanh(z) = 2 / (1 + exp(-2z)) - 1 = 2 sigma(2z) - 1``."""
    return np.tanh(z)


def tanh_derivative(z: Array) -> Array:
    """``tanh'(z) = 1 - tanh(z)^2``."""
    t = np.tanh(z)
    return 1 - t * t


def relu(z: Array) -> Array:
    """Rectified linear unit ``max(0, z)``."""
    return np.maximum(z, 0)


def relu_derivative(z: Array) -> Array:
    """``relu'(z) = 1 if z > 0 else 0`` (we take 0 at the kink ``z = 0``, as Keras and PyTorch do)."""
    return (np.asarray(z) > 0).astype(np.result_type(z, np.float32))


def leaky_relu(z: Array, alpha: float = 0.01) -> Array:
    """Leaky ReLU: ``alpha * z`` for ``z < 0``, ``z`` otherwise (slope ``alpha = 0.01`` in the lecture).

    Written with the array API (the PyTorch path applies it to tensors).
    """
    z = z if is_array_api_obj(z) else np.asarray(z)
    return array_namespace(z).where(z < 0, alpha * z, z)


def leaky_relu_derivative(z: Array, alpha: float = 0.01) -> Array:
    """``alpha`` for ``z < 0``, ``1`` otherwise."""
    z = np.asarray(z)
    return np.where(z < 0, alpha, 1.0).astype(np.result_type(z, np.float32))


def linear(z: Array) -> Array:
    """Identity: no activation (regression outputs)."""
    return np.asarray(z)


def linear_derivative(z: Array) -> Array:
    """Derivative of the identity: ones."""
    return np.ones_like(z)


def softmax(z: Array, axis: int = -1) -> Array:
    """``softmax(z)_i = exp(z_i) / sum_j exp(z_j)`` over ``axis``, shifted by the max for stability.

    Subtracting ``max_j z_j`` leaves the result unchanged (it cancels between numerator and
    denominator) but keeps every exponent ``<= 0``, so ``exp`` cannot overflow.
    """
    z = np.asarray(z)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(da: Array, a: Array, axis: int = -1) -> Array:
    """Vector-Jacobian product of softmax: ``dz = a * (da - sum(da * a))`` per sample.

    The Jacobian is ``d a_i / d z_j = a_i (delta_ij - a_j)``; multiplying it by ``da`` gives this
    one-liner without ever forming the ``k x k`` matrix.
    """
    return a * (da - np.sum(da * a, axis=axis, keepdims=True))


class Activation(NamedTuple):
    """An activation ``f`` and the map from ``da`` to ``dz`` used by backprop.

    Attributes
    ----------
    name : str
        The string identifier (``'relu'``...).
    forward : callable
        ``a = f(z)``.
    backward : callable
        ``dz = backward(da, z, a)``: the gradient with respect to ``z`` given the gradient with
        respect to ``a`` (``da * f'(z)`` for element-wise activations).
    """

    name: str
    forward: Callable[[Array], Array]
    backward: Callable[[Array, Array, Array], Array]


# Backward maps ``dz = backward(da, z, a)``: module-level functions (not lambdas), so that models
# pickle (joblib, scikit-learn's clone and parallel search).
def _sigmoid_backward(da: Array, z: Array, a: Array) -> Array:
    return da * a * (1 - a)  # sigma'(z) = sigma(z) (1 - sigma(z)), reusing the forward output


def _tanh_backward(da: Array, z: Array, a: Array) -> Array:
    return da * (1 - a * a)  # tanh'(z) = 1 - tanh(z)^2


def _relu_backward(da: Array, z: Array, a: Array) -> Array:
    return da * (z > 0)  # relu'(z) = 1 for z > 0, else 0


def _leaky_relu_backward(da: Array, z: Array, a: Array, alpha: float = 0.01) -> Array:
    return da * leaky_relu_derivative(z, alpha)


def _linear_backward(da: Array, z: Array, a: Array) -> Array:
    return da


def _softmax_backward(da: Array, z: Array, a: Array) -> Array:
    return softmax_backward(da, a)


def _leaky(alpha: float) -> Activation:
    return Activation(
        "leaky_relu",
        functools.partial(leaky_relu, alpha=alpha),
        functools.partial(_leaky_relu_backward, alpha=alpha),
    )


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", sigmoid, _sigmoid_backward),
    "tanh": Activation("tanh", tanh, _tanh_backward),
    "relu": Activation("relu", relu, _relu_backward),
    "leaky_relu": _leaky(0.01),
    "linear": Activation("linear", linear, _linear_backward),
    "softmax": Activation("softmax", softmax, _softmax_backward),
}


def get(identifier: str | Activation | None, *, alpha: float | None = None) -> Activation:
    """Resolve ``'relu'``, ``'tanh'``, ... (or ``None`` for linear) to an :class:`Activation`.

    Parameters
    ----------
    identifier : str, Activation or None
        A name from :data:`ACTIVATIONS` or an :class:`Activation` (returned unchanged).
    alpha : float, optional
        Slope of ``'leaky_relu'`` for negative inputs (default 0.01).
    """
    if isinstance(identifier, Activation):
        return identifier
    if identifier is None:
        identifier = "linear"
    if identifier == "leaky_relu" and alpha is not None:
        return _leaky(alpha)
    return lookup("activation", identifier, ACTIVATIONS)
