"""The ``torch.nn`` modules that carry nnlib's layers (same weights, same formulas).

Part of :mod:`nnlib.torch_backend` (see its docstring for the mapping and the differences).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from nnlib import activations, layers

Tensor = torch.Tensor


class LeakyReLU(nn.Module):
    """``alpha z`` for ``z < 0``, ``z`` otherwise, with slope 1 at ``z = 0`` as in nnlib.

    Parameters
    ----------
    alpha : float
        Slope for negative inputs.
    """

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, z: Tensor) -> Tensor:
        """Apply the activation element-wise.

        Parameters
        ----------
        z : Tensor

        Returns
        -------
        Tensor
            Same shape as ``z``.
        """
        return activations.leaky_relu(z, self.alpha)

    def extra_repr(self) -> str:
        """The arguments shown by ``repr(module)``."""
        return f"alpha={self.alpha}"


class TorchDense(nn.Module):
    """nnlib's ``Dense``: an ``nn.Linear`` (weight ``W.T``, shape (H, D)) and its activation.

    Parameters
    ----------
    in_features, units : int
        ``D`` and ``H``.
    activation : nn.Module
        Applied to ``z = x W + b``.
    use_bias : bool
    device, dtype
        Where and in which precision to create the weights (left uninitialized).
    """

    def __init__(
        self,
        in_features: int,
        units: int,
        activation: nn.Module,
        use_bias: bool = True,
        *,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.linear = nn.utils.skip_init(
            nn.Linear, in_features, units, bias=use_bias, device=device, dtype=dtype
        )
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        """``a = f(x W + b)``: (N, D) -> (N, H)."""
        return self.activation(self.linear(x))


class TorchBatchNorm(nn.Module):
    """nnlib's (Keras') batch normalization: :func:`nnlib.layers.batchnorm_forward` on tensors.

    ``nn.BatchNorm1d`` differs (momentum 0.1 in the other convention, epsilon 1e-5, an unbiased
    running variance). A ``frozen`` layer (nnlib: not trainable) runs in inference mode.

    Parameters
    ----------
    num_features : int
    momentum : float, default 0.99
    epsilon : float, default 1e-3
    device, dtype
        Where and in which precision to create the weights.
    """

    def __init__(
        self,
        num_features: int,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        *,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.ones(num_features, **kw))  # gamma
        self.bias = nn.Parameter(torch.zeros(num_features, **kw))  # beta
        self.register_buffer("running_mean", torch.zeros(num_features, **kw))
        self.register_buffer("running_var", torch.ones(num_features, **kw))
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.frozen = False

    def forward(self, x: Tensor) -> Tensor:
        """Normalize each feature of a batch (N, D), then scale and shift: (N, D)."""
        out, _ = layers.batchnorm_forward(
            x,
            self.weight,
            self.bias,
            self.running_mean,
            self.running_var,
            self.momentum,
            self.epsilon,
            self.training and not self.frozen,
        )
        self.running_mean.detach_()  # the moving averages are statistics, not part of the graph
        self.running_var.detach_()
        return out

    def extra_repr(self) -> str:
        """The arguments shown by ``repr(module)``."""
        return f"{self.weight.shape[0]}, momentum={self.momentum}, epsilon={self.epsilon}"


class TorchDropout(nn.Module):
    """nnlib's inverted dropout, :func:`nnlib.layers.dropout_forward`, with masks drawn by torch.

    Parameters
    ----------
    rate : float in [0, 1]
    generator : torch.Generator, optional
        Source of the masks (``TorchModel`` seeds one from the nnlib model's RNG).
    """

    def __init__(self, rate: float, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.rate = float(rate)
        self.generator = generator

    def forward(self, x: Tensor) -> Tensor:
        """Drop and rescale in training mode; the identity otherwise (same shape as ``x``)."""
        out, _ = layers.dropout_forward(x, self.rate, self.training, self._uniform)
        return out

    def _uniform(self, x: Tensor) -> Tensor:
        return torch.rand(x.shape, generator=self.generator, device=x.device, dtype=x.dtype)

    def extra_repr(self) -> str:
        """The arguments shown by ``repr(module)``."""
        return f"rate={self.rate}"


class TorchReshape(nn.Module):
    """Reshape each sample to ``target_shape`` (nnlib's ``Reshape``)."""

    def __init__(self, target_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.target_shape = tuple(int(d) for d in target_shape)

    def forward(self, x: Tensor) -> Tensor:
        """Reshape every sample.

        Parameters
        ----------
        x : Tensor, shape (N, ...)

        Returns
        -------
        Tensor, shape (N, *target_shape)
        """
        return x.reshape((x.shape[0], *self.target_shape))

    def extra_repr(self) -> str:
        """The arguments shown by ``repr(module)``."""
        return f"target_shape={self.target_shape}"


class TorchSequential(nn.Module):
    """The converted network: one module per nnlib layer, in ``layers`` (an ``nn.ModuleList``).

    ``forward(x)`` gives what nnlib's ``predict`` gives (probabilities for a softmax output).
    Inputs must already be tensors of the module's dtype on its device (a clear ``TypeError``
    otherwise); :class:`TorchModel` takes NumPy arrays and converts them.

    Attributes
    ----------
    layer_names : list of str
        The nnlib layer names, one per module.
    input_shape : tuple of int
        Shape of one sample.
    """

    def __init__(
        self, modules: Sequence[nn.Module], layer_names: Sequence[str], input_shape: tuple[int, ...]
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(modules)
        self.layer_names = list(layer_names)
        self.input_shape = tuple(input_shape)

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the weights.

        Returns
        -------
        torch.dtype
        """
        for t in self._tensors():
            return t.dtype
        return torch.get_default_dtype()

    @property
    def device(self) -> torch.device:
        """The device of the weights.

        Returns
        -------
        torch.device
        """
        for t in self._tensors():
            return t.device
        return torch.device("cpu")

    def _tensors(self) -> Iterator[Tensor]:
        yield from self.parameters()
        yield from self.buffers()

    def forward(self, x: Tensor) -> Tensor:
        """The network's output, as nnlib's ``predict`` (probabilities for a softmax output).

        Parameters
        ----------
        x : Tensor, shape (N, *input_shape)
            In the module's dtype, on its device.

        Returns
        -------
        Tensor, shape (N, *output_shape)
        """
        return self.forward_with_logits(x)[0]

    def forward_with_logits(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """The output and, when the last layer is a Dense, its pre-activation ``z`` (the logits).

        The logits feed PyTorch's fused softmax + cross-entropy.

        Parameters
        ----------
        x : Tensor, shape (N, *input_shape)

        Returns
        -------
        output : Tensor, shape (N, *output_shape)
        logits : Tensor or None
            ``z`` of the last Dense layer; None when the last layer is not a Dense.
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
        """Raise a ``TypeError`` / ``ValueError`` that says how to fix a wrong input.

        Parameters
        ----------
        x : object
            Must be a tensor of the module's dtype, on its device, of shape
            ``(N, *input_shape)``.
        """
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
            raise ValueError(
                f"The network expects inputs of shape (N, {', '.join(map(str, self.input_shape))}), "
                f"got {tuple(x.shape)}."
            )
