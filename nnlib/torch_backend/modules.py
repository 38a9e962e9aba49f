"""The ``torch.nn`` modules that carry nnlib's layers: the same weights, and nnlib's own formulas
(``leaky_relu``, ``batchnorm_forward``, ``dropout_forward``) applied to tensors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from nnlib import activations, layers

Tensor = torch.Tensor


class LeakyReLU(nn.Module):
    """nnlib's ``leaky_relu``: ``alpha z`` for ``z < 0``, else ``z`` (slope 1 at ``z = 0``)."""

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, z: Tensor) -> Tensor:
        """Element-wise, any shape."""
        return activations.leaky_relu(z, self.alpha)


class TorchDense(nn.Module):
    """nnlib's ``Dense``: ``nn.Linear(D, H)`` (weight ``W.T``, shape (H, D)), then ``activation``.

    ``**kw`` (``device``, ``dtype``) go to ``nn.Linear``; the weights are left uninitialized.
    """

    def __init__(
        self, D: int, H: int, activation: nn.Module, use_bias: bool = True, **kw: Any
    ) -> None:
        super().__init__()
        self.linear = nn.utils.skip_init(nn.Linear, D, H, bias=use_bias, **kw)
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        """``a = f(x W + b)``: (N, D) -> (N, H)."""
        return self.activation(self.linear(x))


class TorchBatchNorm(nn.Module):
    """nnlib's (Keras') batch normalization: :func:`nnlib.layers.batchnorm_forward` on tensors.

    ``nn.BatchNorm1d`` differs (momentum 0.1 in the other convention, epsilon 1e-5, an unbiased
    running variance). A ``frozen`` layer (nnlib: not trainable) runs in inference mode. ``**kw``:
    ``device``, ``dtype``.
    """

    def __init__(self, D: int, momentum: float = 0.99, epsilon: float = 1e-3, **kw: Any) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(D, **kw))  # gamma, (D,)
        self.bias = nn.Parameter(torch.zeros(D, **kw))  # beta
        self.register_buffer("running_mean", torch.zeros(D, **kw))
        self.register_buffer("running_var", torch.ones(D, **kw))
        self.momentum, self.epsilon, self.frozen = float(momentum), float(epsilon), False

    def forward(self, x: Tensor) -> Tensor:
        """Normalize each feature of a batch, then scale and shift: (N, D) -> (N, D)."""
        stats = (self.running_mean, self.running_var, self.momentum, self.epsilon)
        training = self.training and not self.frozen
        out, _ = layers.batchnorm_forward(x, self.weight, self.bias, *stats, training)
        self.running_mean.detach_()  # moving averages: statistics, not part of the graph
        self.running_var.detach_()
        return out


class TorchDropout(nn.Module):
    """nnlib's inverted dropout, :func:`nnlib.layers.dropout_forward`, with ``u ~ U(0, 1)`` drawn
    by torch from ``generator`` (``TorchModel`` seeds one from the nnlib model's RNG)."""

    def __init__(self, rate: float, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.rate, self.generator = float(rate), generator

    def forward(self, x: Tensor) -> Tensor:
        """Drop and rescale in training mode, else the identity (same shape as ``x``)."""
        return layers.dropout_forward(x, self.rate, self.training, self._uniform)[0]

    def _uniform(self, x: Tensor) -> Tensor:
        return torch.rand(x.shape, generator=self.generator, device=x.device, dtype=x.dtype)


class TorchSequential(nn.Module):
    """The converted network: one module per nnlib layer, in ``layers`` (an ``nn.ModuleList``).

    ``forward(x)`` gives what nnlib's ``predict`` gives (probabilities for a softmax output).
    Inputs must already be tensors of the module's dtype on its device (a clear ``TypeError``
    otherwise); :class:`TorchModel` takes NumPy arrays. ``input_shape``: the shape of one sample.
    """

    def __init__(self, modules: Sequence[nn.Module], input_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(modules)
        self.input_shape = tuple(input_shape)

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the weights."""
        return next(self.parameters(), torch.empty(0)).dtype

    @property
    def device(self) -> torch.device:
        """The device of the weights."""
        return next(self.parameters(), torch.empty(0)).device

    def forward(self, x: Tensor) -> Tensor:
        """(N, *input_shape) -> (N, *output_shape), in the module's dtype, on its device."""
        return self.forward_with_logits(x)[0]

    def forward_with_logits(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """The output and, when the last layer is a Dense, its pre-activation ``z`` (N, H).

        ``z`` is where the gradient of a fused output loss (softmax + cross-entropy) enters.
        """
        self.check_input(x)
        for layer in self.layers[:-1]:
            x = layer(x)
        last = self.layers[-1]
        if isinstance(last, TorchDense):
            z = last.linear(x)
            return last.activation(z), z
        return last(x), None

    def check_input(self, x: Any) -> None:
        """Raise a ``TypeError`` / ``ValueError`` that says how to fix a wrong input ``x``."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(
                f"The converted network takes a torch.Tensor, got {type(x).__name__}. Use "
                "torch.from_numpy(x), or TorchModel(model).predict(x) which takes NumPy arrays."
            )
        dtype, device = self.dtype, self.device
        if x.dtype != dtype:
            raise TypeError(
                f"The network holds {dtype} weights but the input is {x.dtype}. Convert it with "
                f"x.to({dtype}) (TorchModel converts NumPy inputs for you), or convert the model "
                f"with to_torch(model, dtype=...) in the input's precision."
            )
        if x.device != device:
            raise TypeError(
                f"The network is on {device} but the input is on {x.device}: move it with "
                f"x.to('{device}')."
            )
        if tuple(x.shape[1:]) != self.input_shape:
            shape = ", ".join(map(str, self.input_shape))
            raise ValueError(
                f"The network expects inputs of shape (N, {shape}), got {tuple(x.shape)}."
            )
