"""Loss functions and their gradients (chapters 3, 4 and 7).

Every loss is the mean over the batch of a per-sample loss (Keras' convention), so its gradient
carries a ``1 / N``. ``gradient(y_true, y_pred)`` is ``dL/dy_pred``; ``output_gradient`` is the
fused gradient ``dL/dz`` with respect to the *logits* of the output layer when the output
activation is the loss' natural partner (softmax with cross-entropy, sigmoid with binary
cross-entropy), which simplifies to ``(y_pred - y_true) / N`` and avoids dividing by tiny
probabilities.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from nnlib._registry import lookup

Array = np.ndarray
EPSILON = 1e-7  # probabilities are clipped to [EPSILON, 1 - EPSILON] before taking logs (as Keras)


def smooth_labels(y: Array, alpha: float) -> Array:
    """Label smoothing ``y_smooth = (1 - alpha) y + alpha / k`` for one-hot ``y`` of shape (N, k)."""
    if not 0 <= alpha <= 1:
        raise ValueError(f"label_smoothing must be in [0, 1], got {alpha}.")
    k = y.shape[-1]
    return (1 - alpha) * y + alpha / k


def _size(a: Array) -> int:
    """Number of entries ``N k`` (``a.size`` is a method in torch)."""
    return math.prod(a.shape)


def _check_same_shape(name: str, y_true: Array, y_pred: Array) -> None:
    if y_true.shape != y_pred.shape:
        hint = ""
        if y_true.ndim == 1 and y_pred.ndim == 2:
            hint = (
                " Labels look integer-encoded: one-hot encode them with "
                "nnlib.utils.to_categorical, or use loss='sparse_categorical_crossentropy'."
            )
        raise ValueError(
            f"{name}: y_true has shape {y_true.shape} but the predictions have shape "
            f"{y_pred.shape}; they must match.{hint}"
        )


def sparse_to_one_hot(y: Array, k: int) -> Array:
    """Integer labels ``(N,)`` -> one-hot ``(N, k)``, with a clear error for labels out of range."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"Integer labels must have shape (N,), got {y.shape}.")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError("Integer labels must be whole numbers (got non-integer values).")
        y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= k):
        bad = y[(y < 0) | (y >= k)][0]
        raise ValueError(
            f"Label {bad} is outside the class range 0..{k - 1} (the output layer has {k} units)."
        )
    out = np.zeros((y.shape[0], k))
    out[np.arange(y.shape[0]), y] = 1.0
    return out


def _clip(xp: Any, p: Array, lo: float, hi: float) -> Array:
    """``p`` clipped to ``[lo, hi]`` (``xp.clip`` through array-api-compat costs about 15 times
    more on NumPy, a few per cent of a training step at batch 32)."""
    return xp.minimum(xp.maximum(p, lo), hi)


class Loss:
    """Base of the losses: ``loss(y_true, y_pred) -> float`` and ``gradient -> dL/dy_pred``.

    The math is in three methods on the targets ``y`` (one-hot, smoothed, shaped like ``y_pred``,
    from :meth:`targets`), written with the Python array API so that they run on NumPy arrays and,
    on the PyTorch path, on torch tensors: :meth:`value` ``L``, :meth:`grad` ``dL/dy_pred`` and
    :meth:`fused_grad` ``dL/dz`` through the partner activation. A new loss defines those.

    Parameters
    ----------
    label_smoothing : float, default 0
        ``alpha`` in ``y_smooth = (1 - alpha) y + alpha / k`` (classification losses only).
    """

    name = "loss"
    partner: str | None = None  # the output activation whose fused gradient is (y_pred - y) / N

    def __init__(self, label_smoothing: float = 0.0) -> None:
        self.label_smoothing = float(label_smoothing)

    def targets(self, y_true: Array, y_pred: Array) -> Array:
        """The (smoothed, one-hot) targets that the loss compares ``y_pred`` with (NumPy)."""
        y = np.asarray(y_true, dtype=y_pred.dtype)
        _check_same_shape(self.name, y, y_pred)
        if self.label_smoothing:
            y = smooth_labels(y, self.label_smoothing)
        return y

    def __call__(self, y_true: Array, y_pred: Array) -> float:
        return float(self.value(self.targets(y_true, y_pred), y_pred))

    def gradient(self, y_true: Array, y_pred: Array) -> Array:
        """``dL/dy_pred``, shaped like ``y_pred``."""
        return self.grad(self.targets(y_true, y_pred), y_pred)

    def output_gradient(self, y_true: Array, y_pred: Array) -> Array:
        """Fused ``dL/dz`` for the partner activation: ``(y_pred - y) / N`` (chapter 3)."""
        return self.fused_grad(self.targets(y_true, y_pred), y_pred)

    def value(self, y: Array, y_pred: Array) -> Array:
        """The loss, a 0-d array, for targets ``y`` and predictions ``y_pred`` of shape (N, k)."""
        raise NotImplementedError

    def grad(self, y: Array, y_pred: Array) -> Array:
        """``dL/dy_pred`` (N, k) for targets ``y``."""
        raise NotImplementedError

    def fused_grad(self, y: Array, y_pred: Array) -> Array:
        """``dL/dz`` (N, k) through the partner activation: ``(y_pred - y) / N``."""
        return (y_pred - y) / y_pred.shape[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(label_smoothing={self.label_smoothing})"


class MeanSquaredError(Loss):
    """``L = 1/N sum_n 1/k sum_i (y_ni - y_hat_ni)^2`` (regression, linear output)."""

    name = "mean_squared_error"

    def value(self, y: Array, y_pred: Array) -> Array:
        xp = array_namespace(y_pred)
        return xp.mean((y_pred - y) ** 2)

    def grad(self, y: Array, y_pred: Array) -> Array:
        return 2 * (y_pred - y) / _size(y_pred)  # dL/dy_hat = 2 (y_hat - y) / (N k)


class BinaryCrossentropy(Loss):
    """``L = -1/N sum [y log y_hat + (1 - y) log(1 - y_hat)]`` (one sigmoid output per label)."""

    name = "binary_crossentropy"
    partner = "sigmoid"

    def targets(self, y_true: Array, y_pred: Array) -> Array:
        y = np.asarray(y_true, dtype=y_pred.dtype)
        if y.ndim == 1 and y_pred.ndim == 2 and y_pred.shape[1] == 1:
            y = y[:, None]
        _check_same_shape(self.name, y, y_pred)
        if self.label_smoothing:  # binary: k = 2 classes per output
            y = y * (1 - self.label_smoothing) + 0.5 * self.label_smoothing
        return y

    def value(self, y: Array, y_pred: Array) -> Array:
        xp = array_namespace(y_pred)
        p = _clip(xp, y_pred, EPSILON, 1 - EPSILON)
        return -xp.mean(y * xp.log(p) + (1 - y) * xp.log(1 - p))

    def grad(self, y: Array, y_pred: Array) -> Array:
        p = _clip(array_namespace(y_pred), y_pred, EPSILON, 1 - EPSILON)
        return (p - y) / (p * (1 - p)) / _size(y_pred)

    def fused_grad(self, y: Array, y_pred: Array) -> Array:
        return (y_pred - y) / _size(y_pred)


class CategoricalCrossentropy(Loss):
    """``L = -1/N sum_n sum_i y_ni log y_hat_ni`` with one-hot ``y`` (softmax output)."""

    name = "categorical_crossentropy"
    partner = "softmax"

    def value(self, y: Array, y_pred: Array) -> Array:
        xp = array_namespace(y_pred)
        return -xp.sum(y * xp.log(_clip(xp, y_pred, EPSILON, 1.0))) / y_pred.shape[0]

    def grad(self, y: Array, y_pred: Array) -> Array:
        return -y / _clip(array_namespace(y_pred), y_pred, EPSILON, 1.0) / y_pred.shape[0]


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical cross-entropy with integer labels ``y`` of shape (N,) in ``0..k-1``."""

    name = "sparse_categorical_crossentropy"

    def targets(self, y_true: Array, y_pred: Array) -> Array:
        one_hot = sparse_to_one_hot(y_true, y_pred.shape[-1]).astype(y_pred.dtype)
        return super().targets(one_hot, y_pred)


def crossentropy_from_logits(y_true: Array, z: Array) -> float:
    """Categorical cross-entropy of ``softmax(z)`` computed with log-sum-exp (never ``log(0)``).

    ``log softmax(z)_i = z_i - max(z) - log sum_j exp(z_j - max(z))``.
    """
    z = np.asarray(z)
    zmax = z.max(axis=-1, keepdims=True)
    log_p = z - zmax - np.log(np.sum(np.exp(z - zmax), axis=-1, keepdims=True))
    return float(-np.sum(np.asarray(y_true) * log_p) / z.shape[0])


LOSSES: dict[str, type[Loss]] = {
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}


def get(identifier: str | Loss) -> Loss:
    """Resolve ``'categorical_crossentropy'``, ``'mse'``, ... (or a :class:`Loss`) to a loss."""
    if isinstance(identifier, Loss):
        return identifier
    return lookup("loss", identifier, LOSSES)()


# Functional forms, as in ``keras.losses``.
def mean_squared_error(y_true: Array, y_pred: Array) -> float:
    """Mean squared error; see :class:`MeanSquaredError`."""
    return MeanSquaredError()(y_true, np.asarray(y_pred))


def binary_crossentropy(y_true: Array, y_pred: Array) -> float:
    """Binary cross-entropy; see :class:`BinaryCrossentropy`."""
    return BinaryCrossentropy()(y_true, np.asarray(y_pred))


def categorical_crossentropy(y_true: Array, y_pred: Array, label_smoothing: float = 0.0) -> float:
    """Categorical cross-entropy; see :class:`CategoricalCrossentropy`."""
    return CategoricalCrossentropy(label_smoothing)(y_true, np.asarray(y_pred))


def sparse_categorical_crossentropy(y_true: Array, y_pred: Array) -> float:
    """Sparse categorical cross-entropy; see :class:`SparseCategoricalCrossentropy`."""
    return SparseCategoricalCrossentropy()(y_true, np.asarray(y_pred))
