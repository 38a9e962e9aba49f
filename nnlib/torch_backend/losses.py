"""Losses and metrics on the device, with nnlib's clipping and fused gradients.

Part of :mod:`nnlib.torch_backend` (see its docstring for the mapping and the differences).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from nnlib import losses as losses_
from nnlib import metrics as metrics_
from nnlib.torch_backend.convert import _same_math
from nnlib.torch_backend.modules import TorchDense, TorchSequential

Array = np.ndarray
Tensor = torch.Tensor


class _ClipPassGradient(torch.autograd.Function):
    """``clamp(p, lo, hi)`` whose gradient is 1 everywhere (nnlib differentiates the clipped
    expression as if the clip were the identity)."""

    @staticmethod
    def forward(ctx: Any, p: Tensor, lo: float, hi: float) -> Tensor:
        return p.clamp(lo, hi)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        return grad, None, None


class _Loss:
    """nnlib's loss on tensors: ``(targets, output, logits) -> (loss to differentiate, value)``."""

    def __init__(self, loss: losses_.Loss, module: TorchSequential) -> None:
        kinds = [
            (losses_.SparseCategoricalCrossentropy, "sparse"),
            (losses_.CategoricalCrossentropy, "categorical"),
            (losses_.BinaryCrossentropy, "binary"),
            (losses_.MeanSquaredError, "mse"),
        ]
        methods = ("__call__", "gradient", "output_gradient", "targets")
        self.kind = next((k for cls, k in kinds if type(loss) is cls), None)
        if self.kind is None:
            self.kind = next((k for cls, k in kinds if _same_math(loss, cls, methods)), None)
        if self.kind is None:
            raise TypeError(
                f"Loss {type(loss).__name__} has no PyTorch equivalent; the PyTorch path supports "
                "categorical_crossentropy, sparse_categorical_crossentropy, binary_crossentropy "
                "and mse."
            )
        self.alpha = float(loss.label_smoothing)
        last = module.layers[-1]
        self.fused = isinstance(last, TorchDense) and last.activation_name == loss.partner

    def host_targets(self, y: Array, out_shape: tuple[int, ...], dtype: np.dtype) -> Array:
        """Labels as they travel to the device: int64 class indices or floats like the output."""
        y = np.asarray(y)
        if self.kind == "sparse":
            return np.ascontiguousarray(y.reshape(len(y)), dtype=np.int64)
        if self.kind == "binary" and y.ndim == 1 and out_shape == (1,):
            y = y[:, None]
        return np.ascontiguousarray(y, dtype=dtype)

    def targets(self, y: Tensor, out: Tensor) -> Tensor:
        """Smoothed one-hot targets with the output's shape and dtype (nnlib's ``targets``)."""
        if self.kind == "sparse":
            y = torch.zeros_like(out).scatter_(1, y.reshape(-1, 1), 1.0)
        if not self.alpha:
            return y
        if self.kind == "binary":
            return y * (1 - self.alpha) + 0.5 * self.alpha
        return (1 - self.alpha) * y + self.alpha / out.shape[-1]

    def value(self, y: Tensor, out: Tensor) -> Tensor:
        """The loss as nnlib reports it (probabilities clipped to ``[1e-7, 1]``), no gradient."""
        with torch.no_grad():
            return self._formula(self.targets(y, out), out, clip=lambda p, lo, hi: p.clamp(lo, hi))

    def _formula(self, t: Tensor, out: Tensor, clip: Callable) -> Tensor:
        eps = losses_.EPSILON
        if self.kind in ("sparse", "categorical"):
            return -(t * torch.log(clip(out, eps, 1.0))).sum() / out.shape[0]
        if self.kind == "binary":
            p = clip(out, eps, 1 - eps)
            return -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).mean()
        return F.mse_loss(out, t)

    def __call__(self, y: Tensor, out: Tensor, z: Tensor | None) -> tuple[Tensor, Tensor]:
        if self.fused and z is not None:
            if self.kind == "sparse":
                grad_loss = F.cross_entropy(z, y, label_smoothing=self.alpha)
            elif self.kind == "categorical":
                grad_loss = F.cross_entropy(z, self.targets(y, out))
            else:
                grad_loss = F.binary_cross_entropy_with_logits(z, self.targets(y, out))
            return grad_loss, self.value(y, out)
        loss = self._formula(self.targets(y, out), out, clip=_ClipPassGradient.apply)
        return loss, loss.detach()


def _device_metric(fn: Callable) -> Callable[[Tensor, Tensor], Tensor] | None:
    """A tensor version of a built-in nnlib metric (None for a custom function)."""
    if fn is metrics_.categorical_accuracy:
        return lambda y, p: (p.argmax(-1) == y.argmax(-1)).double().mean()
    if fn is metrics_.sparse_categorical_accuracy:
        return lambda y, p: (p.argmax(-1) == y.reshape(-1)).double().mean()
    if fn is metrics_.binary_accuracy:
        return lambda y, p: ((p > 0.5) == (y.reshape(p.shape) > 0.5)).double().mean()
    if fn is metrics_.mean_absolute_error:
        return lambda y, p: (y.reshape(p.shape) - p).abs().mean().double()
    if fn is metrics_.mean_squared_error:
        return lambda y, p: ((y.reshape(p.shape) - p) ** 2).mean().double()
    return None
