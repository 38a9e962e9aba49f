"""Metrics reported during training: accuracy (binary, categorical or sparse), MSE, MAE."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nnlib._registry import lookup

Array = np.ndarray


def categorical_accuracy(y_true: Array, y_pred: Array) -> float:
    """Fraction of samples whose most probable class is the true one (one-hot ``y_true``)."""
    return float(np.mean(np.argmax(y_pred, axis=-1) == np.argmax(y_true, axis=-1)))


def sparse_categorical_accuracy(y_true: Array, y_pred: Array) -> float:
    """Accuracy with integer labels ``y_true`` of shape (N,)."""
    return float(np.mean(np.argmax(y_pred, axis=-1) == np.asarray(y_true).reshape(-1)))


def binary_accuracy(y_true: Array, y_pred: Array, threshold: float = 0.5) -> float:
    """Accuracy of ``y_pred > threshold`` against 0/1 labels."""
    y_true = np.asarray(y_true).reshape(y_pred.shape)
    return float(np.mean((y_pred > threshold) == (y_true > 0.5)))


def mean_absolute_error(y_true: Array, y_pred: Array) -> float:
    """``mean |y - y_hat|``."""
    return float(np.mean(np.abs(np.asarray(y_true).reshape(y_pred.shape) - y_pred)))


def mean_squared_error(y_true: Array, y_pred: Array) -> float:
    """``mean (y - y_hat)^2``."""
    return float(np.mean((np.asarray(y_true).reshape(y_pred.shape) - y_pred) ** 2))


METRICS: dict[str, Callable[[Array, Array], float]] = {
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "binary_accuracy": binary_accuracy,
    "mae": mean_absolute_error,
    "mean_absolute_error": mean_absolute_error,
    "mse": mean_squared_error,
    "mean_squared_error": mean_squared_error,
}


def get(identifier: str | Callable, loss_name: str = "") -> tuple[str, Callable]:
    """Resolve a metric; ``'accuracy'``/``'acc'`` picks the variant that fits the loss, as Keras.

    Returns ``(name, function)``; the name is the key used in the training history.
    """
    if callable(identifier):
        return getattr(identifier, "__name__", "metric"), identifier
    if identifier in ("accuracy", "acc"):
        if "sparse" in loss_name:
            fn = sparse_categorical_accuracy
        elif "binary" in loss_name:
            fn = binary_accuracy
        else:
            fn = categorical_accuracy
        return identifier, fn
    return identifier, lookup("metric", identifier, METRICS)
