"""Gradient checking: compare backprop's gradients with centered differences (chapter 3).

``dL/dw ~ (L(w + h) - L(w - h)) / (2h)`` in float64 with ``h ~ 1e-5``; the relative error
``|a - n| / max(|a|, |n|, tiny)`` should be below 1e-7 for smooth functions. A centered difference
that straddles a kink (ReLU at 0) is not a derivative: such points are detected (the ReLU pattern
differs between ``w + h`` and ``w - h``) and skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Array = np.ndarray
TINY = 1e-12


def relative_error(analytic: Array, numeric: Array, tiny: float = TINY) -> Array:
    """Element-wise ``|a - n| / max(|a|, |n|, tiny)``."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    return np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), tiny)


def numerical_gradient(f: Callable[[], float], x: Array, h: float = 1e-5) -> Array:
    """Centered-difference gradient of the scalar ``f()`` with respect to the array ``x``.

    ``x`` is perturbed in place, one element at a time, and restored.
    """
    if x.dtype != np.float64:
        raise TypeError(f"Gradient checks need float64 arrays, got {x.dtype}.")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        plus = f()
        flat[i] = old - h
        minus = f()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * h)
    return grad


@dataclass
class GradCheckReport:
    """Result of :func:`check_model_gradients`.

    Attributes
    ----------
    max_error : float
        Worst relative error over every checked entry.
    where : tuple
        ``(layer name, parameter name, index)`` of the worst entry.
    errors : dict
        Worst relative error per ``(layer, parameter)``.
    checked, skipped_kinks : int
        Entries compared, and entries skipped because the difference straddled a kink.
    """

    max_error: float = 0.0
    where: tuple = ()
    errors: dict = field(default_factory=dict)
    checked: int = 0
    skipped_kinks: int = 0

    def __str__(self) -> str:
        lines = [
            f"worst relative error {self.max_error:.2e} at {self.where} "
            f"({self.checked} entries checked, {self.skipped_kinks} skipped at kinks)"
        ]
        lines += [f"  {k[0]}/{k[1]}: {v:.2e}" for k, v in self.errors.items()]
        return "\n".join(lines)


def _kinks(model: Any) -> bytes:
    masks = [
        m
        for layer in model.layers
        if hasattr(layer, "kink_mask") and (m := layer.kink_mask()) is not None
    ]
    return b"".join(np.packbits(m).tobytes() for m in masks)


def check_model_gradients(
    model: Any,
    x: Array,
    y: Array,
    h: float = 1e-5,
    max_entries: int | None = 200,
    seed: int = 0,
) -> GradCheckReport:
    """Check every trainable parameter's gradient of a float64 model on a batch ``(x, y)``.

    Runs in inference mode for dropout (``training=False``) so the loss is deterministic, but with
    batch statistics for batch normalization. ``max_entries`` random entries per parameter are
    checked (all when None).
    """
    if model.dtype != np.float64:
        raise TypeError(
            "Gradient checks need float64: build the model with Sequential(dtype='float64')."
        )
    x = np.asarray(x, np.float64)
    rng = np.random.default_rng(seed)

    def forward(training_bn: bool) -> Array:
        out = x
        for layer in model.layers:
            is_bn = type(layer).__name__ == "BatchNormalization"
            if is_bn:  # use batch statistics without touching the running averages
                saved = {k: v.copy() for k, v in layer.state.items()}
                out = layer.forward(out, training=training_bn)
                for k, v in saved.items():
                    layer.state[k][...] = v
            else:
                out = layer.forward(out, training=False)
        return out

    def loss() -> float:
        return model.compute_loss(y, forward(True))

    y_pred = forward(True)
    model.backward(y, y_pred)
    analytic = {
        (layer.name, k): layer.grads[k].copy()
        for layer in model.layers
        if layer.trainable
        for k in layer.params
    }
    report = GradCheckReport()
    for layer in model.layers:
        if not layer.trainable:
            continue
        for k, w in layer.params.items():
            flat, a = w.reshape(-1), analytic[(layer.name, k)].reshape(-1)
            idx = np.arange(flat.size)
            if max_entries is not None and flat.size > max_entries:
                idx = rng.choice(flat.size, max_entries, replace=False)
            worst = 0.0
            for i in idx:
                old = flat[i]
                flat[i] = old + h
                plus, kp = loss(), _kinks(model)
                flat[i] = old - h
                minus, km = loss(), _kinks(model)
                flat[i] = old
                if kp != km:
                    report.skipped_kinks += 1
                    continue
                err = float(relative_error(a[i], (plus - minus) / (2 * h)))
                report.checked += 1
                if err > worst:
                    worst = err
                if err > report.max_error:
                    report.max_error = err
                    report.where = (layer.name, k, np.unravel_index(i, w.shape))
            report.errors[(layer.name, k)] = worst
    return report


def check_layer_gradients(
    layer: Any, x: Array, h: float = 1e-5, training: bool = True, seed: int = 0
) -> dict[str, float]:
    """Check a single layer: ``dL/dx`` and ``dL/dparam`` for ``L = sum(forward(x) * R) + penalty``.

    ``R`` is a fixed random upstream gradient. Returns the worst relative error per name
    (``'x'`` and each parameter). The layer must be built with float64 parameters.
    """
    x = np.array(x, dtype=np.float64)
    R = np.random.default_rng(seed).standard_normal(layer.forward(x, training).shape)
    state = {k: v.copy() for k, v in layer.state.items()}

    def f() -> float:
        out = layer.forward(x, training)
        for k, v in state.items():
            layer.state[k][...] = v
        return float(np.sum(out * R)) + layer.penalty()

    f()
    dx = layer.backward(R)
    grads = {k: g.copy() for k, g in layer.grads.items()}
    results = {"x": float(relative_error(dx, numerical_gradient(f, x, h)).max())}
    for k, w in layer.params.items():
        results[k] = float(relative_error(grads[k], numerical_gradient(f, w, h)).max())
    return results
