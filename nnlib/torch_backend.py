"""The PyTorch path: the same ``Sequential`` trained with PyTorch, on a GPU when there is one.

An nnlib model converts to an equivalent ``torch.nn.Module`` that carries the same weights
(:func:`to_torch`) and back (:func:`load_from_torch`); :class:`TorchModel` trains it through the
familiar surface (``fit`` / ``evaluate`` / ``predict`` with the arguments of
:class:`nnlib.models.Sequential`, nnlib's callbacks, the same :class:`~nnlib.callbacks.History`)
and writes the trained weights back into the nnlib model::

    from nnlib.torch_backend import TorchModel
    tm = TorchModel(network, device='auto')  # CUDA if available, else the CPU
    history = tm.fit(train_images, train_labels, epochs=5, batch_size=128)
    test_loss, test_acc = network.evaluate(test_images, test_labels)  # the NumPy path agrees

The nnlib model stays the source of truth: every ``fit`` / ``evaluate`` / ``predict`` first copies
its weights, trainable flags and optimizer state (velocities, running averages, step count) to the
device, and ``fit`` copies them back at the end, so the two paths can be mixed freely.

The mapping
-----------
Every piece follows nnlib's formulas exactly; where PyTorch's own class computes something else,
a small torch implementation is used instead, and the difference is listed.

====================================================  ==============================================  ============================================================
nnlib                                                 PyTorch path                                    Difference from PyTorch's built-in
====================================================  ==============================================  ============================================================
``Dense``, kernel ``W`` of shape (D, H)               :class:`TorchDense`: ``nn.Linear(D, H)`` then   ``Linear.weight`` is ``W.T``, shape (H, D); the bias is
                                                      the activation                                  copied as is
``relu`` ``sigmoid`` ``tanh`` ``linear`` ``softmax``  ``nn.ReLU``, ``nn.Sigmoid``, ``nn.Tanh``,       none (``relu'(0) = 0`` in both)
                                                      ``nn.Identity``, ``nn.Softmax(dim=-1)``
``leaky_relu`` (slope ``alpha``)                      :class:`LeakyReLU` (``torch.where``)            ``nn.LeakyReLU`` takes the slope ``alpha`` at ``z = 0`` in
                                                                                                      backward; nnlib (and this module) take 1
``Activation(name)``                                  the same activation modules
``kernel/bias_regularizer`` (L1L2)                    ``l1*sum|W| + l2*sum W^2`` added to the loss    not ``weight_decay``: that adds ``2*l2*W`` to the gradient
                                                      (:meth:`TorchSequential.penalty`)               only for plain SGD, acts on every parameter, and is
                                                                                                      decoupled or rescaled by the adaptive optimizers
``Dropout(rate)``                                     :class:`TorchDropout`: inverted dropout, mask   the law of ``nn.Dropout``; masks come from a
                                                      ``(u >= rate) / (1 - rate)``                    ``torch.Generator`` seeded from the nnlib model's RNG: the
                                                                                                      same law as the NumPy path, not the same draws
``BatchNormalization`` (0.99, 1e-3, Keras)            :class:`TorchBatchNorm`: biased batch variance  ``nn.BatchNorm1d``: momentum 0.1 in the other convention
                                                      for normalizing *and* for the moving variance;  (``running = (1-m) running + m batch``), epsilon 1e-5 and an
                                                      a frozen layer runs in inference mode           *unbiased* running variance
``Flatten``, ``Reshape``                              ``nn.Flatten()``, :class:`TorchReshape`         none
``SGD`` (momentum, Nesterov)                          :class:`NNLibSGD`: ``v = gamma v - eta g``      ``torch.optim.SGD`` keeps ``b = gamma b + g`` and steps
                                                                                                      ``-eta b``: the same for a constant ``eta``, not under a
                                                                                                      schedule (the velocity then carries old learning rates)
``Adagrad``                                           :class:`NNLibAdagrad`: ``G`` starts at 0        torch: ``eta g / (sqrt(G) + eps)``, eps 1e-10 outside the
                                                                                                      root; nnlib ``eta g / sqrt(G + eps)``
``RMSprop`` (rho 0.9)                                 :class:`NNLibRMSprop`                           torch: ``alpha = 0.99`` by default, epsilon 1e-8 outside the
                                                                                                      square root
``Adam``                                              :class:`NNLibAdam`                              torch: ``eta g_hat / (sqrt(m_hat) + eps)``, eps 1e-8; nnlib:
                                                                                                      ``eta g_hat / sqrt(m_hat + eps)``, eps 1e-7
``Adamax``                                            :class:`NNLibAdamax`                            torch: ``u = max(b2 u, |g| + eps)``, step ``eta g_hat / u``;
                                                                                                      nnlib: ``u = max(b2 u, |g|)``, step ``eta g_hat / (u +
                                                                                                      eps)``
schedules (any ``s -> eta_s``)                        evaluated on the host before every step,        ``LambdaLR`` multiplies the initial rate by a factor; here
                                                      written to ``param_groups[i]['lr']``            the schedule's value is used as is, at nnlib's step ``s``
(sparse) categorical CE + softmax ``Dense``           ``F.cross_entropy`` on the logits (PyTorch's    the gradient is nnlib's fused ``(p - y) / N``; the reported
                                                      fused softmax + CE)                             value clips ``p`` to ``[1e-7, 1]`` as nnlib does (PyTorch
                                                                                                      reports the exact ``-log p``)
binary CE + sigmoid ``Dense``                         ``F.binary_cross_entropy_with_logits``          value clipped to ``[1e-7, 1 - 1e-7]`` as nnlib
CE / BCE on any other output                          clipped probabilities, the clip passing the     ``F.binary_cross_entropy`` clamps the log at -100 and zeroes
                                                      gradient through (nnlib's gradient)             the gradient where it clamps
``label_smoothing`` alpha                             targets ``(1 - alpha) y + alpha / k`` (binary:  the same as ``label_smoothing`` of ``F.cross_entropy``
                                                      ``k = 2``)
``mse``                                               ``F.mse_loss`` (mean)                           none
metrics (accuracy variants, mae, mse)                 computed and summed on the device               a custom metric function runs on the host (one copy of the
                                                                                                      predictions per batch)
callbacks (EarlyStopping, ProgbarLogger...)           nnlib's own callbacks; ``self.model`` is the    its ``get_weights`` / ``set_weights`` / ``stop_training``
                                                      :class:`TorchModel`                             act on the PyTorch weights; other attributes are the nnlib
                                                                                                      model's
====================================================  ==============================================  ============================================================

Differences in *behaviour* rather than formulas:

* Loss and metric sums stay on the device. The host reads them back (one synchronization) at most
  every ~0.1 s for the progress bar (``verbose=1``) or for ``TerminateOnNaN``, and once per epoch
  otherwise; a callback that overrides ``on_batch_end`` gets the logs after every batch (one
  synchronization per batch). A non-finite loss is therefore detected at the next read-back (the
  NumPy path detects it at the batch itself): ``TerminateOnNaN`` stops training there, otherwise
  ``FloatingPointError`` is raised as in nnlib.
* Data stays on the host; each mini-batch is gathered into a pinned buffer and copied
  asynchronously on CUDA. ``TorchModel(..., data_on_device=True)`` moves the whole training set to
  the device once instead (refused with a clear error when it would take more than half of the free
  GPU memory).
* Shuffling uses the nnlib model's generator exactly as ``Sequential.fit`` does, so with the same
  seed both paths see the same batches (dropout masks excepted: one extra draw seeds the PyTorch
  generator, only for models with dropout).
* dtype rule: :class:`TorchModel` converts inputs of any numeric dtype to the module's dtype (the
  model's dtype unless ``dtype=`` says otherwise), as ``Sequential.fit`` converts to the model's
  dtype. The bare module returned by :func:`to_torch` does not convert: a tensor of another dtype
  or on another device raises a ``TypeError`` that says how to convert it.
* Errors: a layer, activation, loss, regularizer or optimizer without a PyTorch equivalent (a
  custom subclass that changes the math) raises ``TypeError`` naming it; ``device='cuda'`` without
  CUDA, ``'cuda:3'`` on a one-GPU machine or an unknown device string raise ``ValueError`` with the
  devices that exist and the suggestion ``device='auto'`` or ``'cpu'``.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "nnlib.torch_backend needs PyTorch, which is not installed. Install it with "
        "`pip install 'how-to-train-your-neurons[torch]'` (or `pip install torch`); the NumPy "
        "path (model.fit) needs nothing more."
    ) from err

from nnlib import activations as activations_
from nnlib import layers as layers_
from nnlib import losses as losses_
from nnlib import metrics as metrics_
from nnlib import optimizers as optimizers_
from nnlib import regularizers as regularizers_
from nnlib.callbacks import Callback, History, ProgbarLogger, TerminateOnNaN
from nnlib.models import Sequential
from nnlib.utils import minibatches

Array = np.ndarray
Tensor = torch.Tensor
DeviceLike = str | torch.device | None
DTypeLike = str | np.dtype | torch.dtype | type | None

__all__ = [
    "LeakyReLU",
    "NNLibAdagrad",
    "NNLibAdam",
    "NNLibAdamax",
    "NNLibOptimizer",
    "NNLibRMSprop",
    "NNLibSGD",
    "TorchBatchNorm",
    "TorchDense",
    "TorchDropout",
    "TorchModel",
    "TorchReshape",
    "TorchSequential",
    "benchmark_torch",
    "describe_device",
    "evaluate",
    "fit",
    "load_from_torch",
    "make_torch_optimizer",
    "predict",
    "resolve_device",
    "to_torch",
]

_SYNC_INTERVAL = 0.1  # seconds between read-backs of the running loss for the progress display
_PIN_SLOTS = 4  # pinned host buffers in flight on CUDA


# ---------------------------------------------------------------------------------------------
# Devices and dtypes
# ---------------------------------------------------------------------------------------------
def resolve_device(device: DeviceLike = "auto") -> torch.device:
    """Turn ``'auto'``, ``'cpu'``, ``'cuda'``, ``'cuda:N'`` (or a ``torch.device``) into a device.

    Parameters
    ----------
    device : str, torch.device or None
        ``'auto'`` (or None) picks the first CUDA GPU when PyTorch sees one, else the CPU.

    Returns
    -------
    torch.device
        With an explicit index for CUDA (``cuda:0``).

    Raises
    ------
    ValueError
        For an unknown device string, a CUDA device when PyTorch sees no GPU (with the
        suggestion ``device='auto'`` or ``'cpu'``), or a GPU index that does not exist.
    """
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        return torch.device("cuda", torch.cuda.current_device()) if _cuda() else torch.device("cpu")
    if isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str):
        try:
            dev = torch.device(device.strip().lower())
        except (RuntimeError, ValueError):
            raise ValueError(
                f"Unknown device {device!r}. Use device='auto' (a CUDA GPU when there is one, "
                "else the CPU), 'cpu', 'cuda' or 'cuda:N'."
            ) from None
    else:
        raise TypeError(
            f"device must be a string such as 'auto', 'cpu' or 'cuda', or a torch.device; got "
            f"{type(device).__name__}: {device!r}."
        )
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type == "cuda":
        if not _cuda():
            why = (
                f"this PyTorch ({torch.__version__}) is a CPU-only build"
                if torch.version.cuda is None
                else "torch.cuda.is_available() is False: no GPU or no working driver"
            )
            raise ValueError(
                f"device={device!r} was requested, but PyTorch sees no CUDA GPU ({why}). Use "
                "device='auto' (the GPU when there is one, else the CPU) or device='cpu'."
            )
        count = torch.cuda.device_count()
        index = torch.cuda.current_device() if dev.index is None else dev.index
        if not 0 <= index < count:
            raise ValueError(
                f"device={device!r}: this machine has {count} CUDA device(s), "
                f"cuda:0..cuda:{count - 1}. Use device='auto' or one of those."
            )
        return torch.device("cuda", index)
    if dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(
                f"device={device!r} was requested, but the MPS backend is not available. Use "
                "device='auto' or device='cpu'."
            )
        return dev
    raise ValueError(
        f"Device type {dev.type!r} is not supported by the PyTorch path. Use device='auto', "
        "'cpu', 'cuda' or 'cuda:N'."
    )


def describe_device(device: torch.device) -> str:
    """A readable name for a device.

    Parameters
    ----------
    device : torch.device

    Returns
    -------
    str
        ``'cpu'``, or the CUDA device with its model: ``'cuda:0 (NVIDIA H100 80GB HBM3)'``.
    """
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def _cuda() -> bool:
    return torch.cuda.is_available()


_NP_TO_TORCH = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
_TORCH_TO_NP = {v: k for k, v in _NP_TO_TORCH.items()}


def _resolve_dtype(dtype: DTypeLike, default: np.dtype, device: torch.device) -> torch.dtype:
    if dtype is None:
        dtype = default
    if isinstance(dtype, torch.dtype):
        result = dtype
    else:
        try:
            result = _NP_TO_TORCH.get(np.dtype(dtype))
        except TypeError:
            result = None
    if result not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}.")
    if device.type == "mps" and result == torch.float64:
        raise ValueError("The MPS backend has no float64: use dtype='float32' or device='cpu'.")
    return result


# ---------------------------------------------------------------------------------------------
# Modules that follow nnlib's layers exactly
# ---------------------------------------------------------------------------------------------
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
        return torch.where(z < 0, z * self.alpha, z)

    def extra_repr(self) -> str:
        """The arguments shown by ``repr(module)``."""
        return f"alpha={self.alpha}"


class TorchDense(nn.Module):
    """nnlib's ``Dense``: an ``nn.Linear`` (weight ``W.T``), its activation, its penalties.

    Parameters
    ----------
    in_features, units : int
        ``D`` and ``H``.
    activation : nn.Module
        Applied to ``z = x W + b``.
    activation_name : str
        nnlib's name of the activation (``'softmax'`` marks the fused output).
    use_bias : bool
    kernel_l1l2, bias_l1l2 : (float, float) or None
        ``(l1, l2)`` of the regularizers, None for none.
    device, dtype
        Where and in which precision to create the weights (left uninitialized).
    """

    def __init__(
        self,
        in_features: int,
        units: int,
        activation: nn.Module,
        activation_name: str,
        use_bias: bool = True,
        kernel_l1l2: tuple[float, float] | None = None,
        bias_l1l2: tuple[float, float] | None = None,
        *,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.linear = nn.utils.skip_init(
            nn.Linear, in_features, units, bias=use_bias, device=device, dtype=dtype
        )
        self.activation = activation
        self.activation_name = activation_name
        self.kernel_l1l2 = kernel_l1l2
        self.bias_l1l2 = bias_l1l2

    def forward(self, x: Tensor) -> Tensor:
        """``a = f(x W + b)``.

        Parameters
        ----------
        x : Tensor, shape (N, D)

        Returns
        -------
        Tensor, shape (N, H)
        """
        return self.activation(self.linear(x))

    def penalty(self) -> Tensor | None:
        """The regularization term this layer adds to the loss.

        Returns
        -------
        Tensor or None
            ``l1 sum|W| + l2 sum W^2`` (plus the bias' terms); None without regularizers.
        """
        total = None
        terms = [(self.linear.weight, self.kernel_l1l2), (self.linear.bias, self.bias_l1l2)]
        for w, reg in terms:
            if reg is None or w is None:
                continue
            l1, l2 = reg
            term = l1 * w.abs().sum() + l2 * (w * w).sum()
            total = term if total is None else total + term
        return total


class TorchBatchNorm(nn.Module):
    """nnlib's (Keras') batch normalization, which ``nn.BatchNorm1d`` does not reproduce.

    Training: ``x_hat = (x - mu) / sqrt(var + eps)`` with the *biased* batch variance, and
    ``running = momentum running + (1 - momentum) batch`` for the mean and the (biased) variance.
    Inference, or ``frozen``: the running statistics instead.

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
        self.frozen = False  # nnlib: a non-trainable BN layer runs in inference mode

    def forward(self, x: Tensor) -> Tensor:
        """Normalize each feature (column) of a batch, then scale and shift.

        Parameters
        ----------
        x : Tensor, shape (N, D)

        Returns
        -------
        Tensor, shape (N, D)
        """
        if self.training and not self.frozen:
            mu = x.mean(dim=0)
            var = x.var(dim=0, correction=0)
            x_hat = (x - mu) * (1.0 / torch.sqrt(var + self.epsilon))
            with torch.no_grad():
                m = self.momentum
                self.running_mean.mul_(m).add_((1 - m) * mu)
                self.running_var.mul_(m).add_((1 - m) * var)
        else:
            x_hat = (x - self.running_mean) / torch.sqrt(self.running_var + self.epsilon)
        return self.weight * x_hat + self.bias

    def extra_repr(self) -> str:
        """The arguments shown by ``repr(module)``."""
        return f"{self.weight.shape[0]}, momentum={self.momentum}, epsilon={self.epsilon}"


class TorchDropout(nn.Module):
    """Inverted dropout as nnlib writes it: ``mask = (u >= rate) / (1 - rate)``, ``u ~ U(0, 1)``.

    Parameters
    ----------
    rate : float in [0, 1]
    generator : torch.Generator, optional
        Source of the masks (``TorchModel.fit`` seeds one from the nnlib model's RNG).
    """

    def __init__(self, rate: float, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.rate = float(rate)
        self.generator = generator

    def forward(self, x: Tensor) -> Tensor:
        """Drop and rescale in training mode; the identity otherwise.

        Parameters
        ----------
        x : Tensor

        Returns
        -------
        Tensor
            Same shape as ``x``.
        """
        if not self.training or self.rate == 0:
            return x
        if self.rate >= 1:
            return torch.zeros_like(x)
        u = torch.rand(x.shape, generator=self.generator, device=x.device, dtype=x.dtype)
        mask = (u >= self.rate).to(x.dtype) / (1 - self.rate)
        return x * mask

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

    def penalty(self) -> Tensor | None:
        """Sum of the Dense layers' regularization terms.

        Returns
        -------
        Tensor or None
            None when no layer has a regularizer.
        """
        total = None
        for layer in self.layers:
            if isinstance(layer, TorchDense):
                p = layer.penalty()
                if p is not None:
                    total = p if total is None else total + p
        return total

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


# ---------------------------------------------------------------------------------------------
# Conversion
# ---------------------------------------------------------------------------------------------
_LAYER_METHODS = ("forward", "backward", "backward_z", "penalty", "compute_output_shape")


def _same_math(obj: Any, base: type, methods: Sequence[str]) -> bool:
    """``obj`` is a ``base`` whose (sub)class overrides none of ``methods``."""
    cls = type(obj)
    if not isinstance(obj, base):
        return False
    return all(getattr(cls, m, None) is getattr(base, m, None) for m in methods)


def _torch_activation(act: activations_.Activation, where: str) -> nn.Module:
    name = act.name
    if name == "leaky_relu":
        probe = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
        alpha = -float(np.asarray(act.forward(np.array([-1.0])))[0])
        if np.allclose(np.asarray(act.forward(probe)), np.where(probe < 0, alpha * probe, probe)):
            return LeakyReLU(alpha)
    builtin = activations_.ACTIVATIONS.get(name)
    if builtin is not None and act.forward is builtin.forward:
        if name == "softmax":
            return nn.Softmax(dim=-1)
        return {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "linear": nn.Identity}[
            name
        ]()
    raise TypeError(
        f"{where}: activation {name!r} is a custom nnlib activation with no PyTorch equivalent. "
        f"The PyTorch path supports {', '.join(sorted(activations_.ACTIVATIONS))}."
    )


def _l1l2(reg: Any, where: str) -> tuple[float, float] | None:
    if reg is None:
        return None
    if _same_math(reg, regularizers_.L1L2, ("__call__", "gradient")):
        return float(reg.l1), float(reg.l2)
    raise TypeError(
        f"{where}: regularizer {reg!r} ({type(reg).__name__}) has no PyTorch equivalent; the "
        "PyTorch path supports nnlib's L1L2 (regularizers.l1, l2, l1_l2)."
    )


def _check_layer(layer: layers_.Layer) -> None:
    """Raise a clear ``TypeError`` for a layer the PyTorch path cannot convert."""
    supported = (
        layers_.Dense,
        layers_.Activation,
        layers_.Dropout,
        layers_.BatchNormalization,
        layers_.Flatten,
        layers_.Reshape,
    )
    for base in supported:
        if type(layer) is base or _same_math(layer, base, _LAYER_METHODS):
            where = f"Layer {layer.name!r} ({type(layer).__name__})"
            if isinstance(layer, layers_.Dense):
                _torch_activation(layer.activation, where)
                _l1l2(layer.kernel_regularizer, where)
                _l1l2(layer.bias_regularizer, where)
            elif isinstance(layer, layers_.Activation):
                _torch_activation(layer.activation, where)
            return
    raise TypeError(
        f"Layer {layer.name!r} ({type(layer).__name__}) has no PyTorch equivalent. The PyTorch "
        "path converts nnlib's Dense, Activation, Dropout, BatchNormalization, Flatten and Reshape "
        "(and subclasses that do not change their forward/backward). Train this model with the "
        "NumPy path, model.fit(...)."
    )


def _convert_layer(layer: layers_.Layer, device: torch.device, dtype: torch.dtype) -> nn.Module:
    _check_layer(layer)
    where = f"Layer {layer.name!r} ({type(layer).__name__})"
    if isinstance(layer, layers_.Dense):
        return TorchDense(
            layer.input_shape[0],
            layer.units,
            _torch_activation(layer.activation, where),
            layer.activation.name,
            use_bias=layer.use_bias,
            kernel_l1l2=_l1l2(layer.kernel_regularizer, where),
            bias_l1l2=_l1l2(layer.bias_regularizer, where),
            device=device,
            dtype=dtype,
        )
    if isinstance(layer, layers_.Activation):
        return _torch_activation(layer.activation, where)
    if isinstance(layer, layers_.Dropout):
        return TorchDropout(layer.rate)
    if isinstance(layer, layers_.BatchNormalization):
        return TorchBatchNorm(
            layer.input_shape[0], layer.momentum, layer.epsilon, device=device, dtype=dtype
        )
    if isinstance(layer, layers_.Flatten):
        return nn.Flatten()
    return TorchReshape(layer.output_shape)


def _weight_slots(layer: layers_.Layer, module: nn.Module) -> list[tuple[str, bool, Tensor, bool]]:
    """``(nnlib name, is trainable parameter, torch tensor, transpose)`` in ``layer.weights()`` order."""
    if isinstance(module, TorchDense | nn.Linear):
        linear = module.linear if isinstance(module, TorchDense) else module
        table = {"W": (linear.weight, True), "b": (linear.bias, False)}
    elif isinstance(module, TorchBatchNorm | nn.BatchNorm1d):
        table = {
            "gamma": (module.weight, False),
            "beta": (module.bias, False),
            "moving_mean": (module.running_mean, False),
            "moving_variance": (module.running_var, False),
        }
    else:
        table = {}
    slots = []
    for key in [*layer.params, *layer.state]:
        tensor, transpose = table[key]
        slots.append((key, key in layer.params, tensor, transpose))
    return slots


def _slots(model: Sequential, module: TorchSequential) -> list[tuple[layers_.Layer, Any]]:
    return [
        (layer, slot)
        for layer, sub in zip(model.layers, module.layers, strict=True)
        for slot in _weight_slots(layer, sub)
    ]


@torch.no_grad()
def _copy_to_torch(model: Sequential, module: TorchSequential) -> None:
    """Weights, running statistics and trainable flags, nnlib -> torch."""
    for layer, (key, is_param, tensor, transpose) in _slots(model, module):
        src = (layer.params if is_param else layer.state)[key]
        tensor.copy_(torch.from_numpy(np.ascontiguousarray(src.T if transpose else src)))
        if is_param:
            tensor.requires_grad_(bool(layer.trainable))
    for layer, sub in zip(model.layers, module.layers, strict=True):
        if isinstance(sub, TorchBatchNorm):
            sub.frozen = not layer.trainable


def _to_numpy(t: Tensor, transpose: bool, dtype: np.dtype) -> Array:
    """A host copy (never a view of the tensor: on the CPU ``.numpy()`` shares memory)."""
    arr = t.detach().to("cpu").numpy()
    return np.array(arr.T if transpose else arr, dtype=dtype, order="C", copy=True)


def to_torch(
    model: Sequential, device: DeviceLike = "auto", dtype: DTypeLike = None
) -> TorchSequential:
    """Convert a built nnlib ``Sequential`` to an equivalent ``torch.nn.Module``, same weights.

    Parameters
    ----------
    model : Sequential
        Built from Dense (any activation, initializer, L1/L2 regularizer), Activation, Dropout,
        BatchNormalization, Flatten and Reshape layers.
    device : str or torch.device, default 'auto'
        See :func:`resolve_device`.
    dtype : {None, 'float32', 'float64'} or torch.dtype
        Precision of the module; None keeps the model's.

    Returns
    -------
    TorchSequential
        In training mode (call ``.eval()`` for inference: dropout off, running statistics).

    Raises
    ------
    TypeError
        For a layer, activation or regularizer with no PyTorch equivalent.
    RuntimeError
        When the model has not been built.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"to_torch expects an nnlib Sequential, got {type(model).__name__}.")
    for layer in model.layers:
        _check_layer(layer)
    model._require_built()
    dev = resolve_device(device)
    tdtype = _resolve_dtype(dtype, model.dtype, dev)
    modules = [_convert_layer(layer, dev, tdtype) for layer in model.layers]
    module = TorchSequential(modules, [layer.name for layer in model.layers], model.input_shape)
    _copy_to_torch(model, module)
    return module


@torch.no_grad()
def load_from_torch(model: Sequential, module: nn.Module) -> None:
    """Copy a torch module's weights into the nnlib model (the inverse of :func:`to_torch`).

    Works with a :class:`TorchSequential` and with any module whose ``nn.Linear`` and batch
    normalization submodules (:class:`TorchBatchNorm` or ``nn.BatchNorm1d``), in order, match the
    model's Dense and BatchNormalization layers: ``W = Linear.weight.T``; batch normalization's
    ``weight``, ``bias``, ``running_mean``, ``running_var`` give ``gamma``, ``beta`` and the moving
    statistics. Values are cast to the model's dtype.

    Parameters
    ----------
    model : Sequential
        Built, with the same architecture.
    module : torch.nn.Module

    Raises
    ------
    ValueError
        When the weight-bearing layers or their shapes do not match.
    """
    model._require_built()
    ours = [
        layer
        for layer in model.layers
        if isinstance(layer, layers_.Dense | layers_.BatchNormalization)
    ]
    theirs = [
        m for m in module.modules() if isinstance(m, nn.Linear | TorchBatchNorm | nn.BatchNorm1d)
    ]
    if len(ours) != len(theirs):
        raise ValueError(
            f"The torch module has {len(theirs)} weight layers (Linear / batch norm) but the nnlib "
            f"model has {len(ours)} (Dense / BatchNormalization); they must match one to one."
        )
    copies = []
    for layer, sub in zip(ours, theirs, strict=True):
        dense = isinstance(layer, layers_.Dense)
        if dense != isinstance(sub, nn.Linear):
            raise ValueError(
                f"Layer {layer.name!r} ({type(layer).__name__}) faces a {type(sub).__name__} in "
                "the torch module: the weight layers must come in the same order."
            )
        for key, _, tensor, transpose in _weight_slots(layer, sub):
            if tensor is None:
                raise ValueError(f"Layer {layer.name!r} has a bias; the torch Linear has none.")
            dst = (layer.params if key in layer.params else layer.state)[key]
            src = _to_numpy(tensor, transpose, model.dtype)
            if src.shape != dst.shape:
                raise ValueError(
                    f"Layer {layer.name!r}, weight {key!r}: nnlib expects shape {dst.shape}, the "
                    f"torch module gives {src.shape}"
                    + (" (after transposing)." if transpose else ".")
                )
            copies.append((dst, src))
        if dense and not layer.use_bias and sub.bias is not None:
            raise ValueError(f"Layer {layer.name!r} has no bias; the torch Linear has one.")
    for dst, src in copies:  # only once everything matched
        np.copyto(dst, src, casting="same_kind")


# ---------------------------------------------------------------------------------------------
# Optimizers with nnlib's update rules
# ---------------------------------------------------------------------------------------------
class NNLibOptimizer(torch.optim.Optimizer):
    """Base of the optimizers that follow :mod:`nnlib.optimizers` exactly.

    ``lr`` may be a float or a schedule ``s -> eta_s`` (evaluated at nnlib's step count
    ``iterations`` before every step and written into ``param_groups[i]['lr']``). The per-parameter
    state uses nnlib's names (``'v'``, ``'G'``, ``'m'``, ``'g_avg'``, ``'u'``).

    Parameters
    ----------
    params : iterable of tensors or dicts
    lr : float or callable
    iterations : int
        Number of updates made so far (``s``), e.g. taken over from an nnlib optimizer.
    **defaults
        Hyperparameters of the subclass.
    """

    def __init__(
        self,
        params: Any,
        lr: float | Callable[[int], float],
        iterations: int = 0,
        **defaults: Any,
    ) -> None:
        self.schedule = lr if callable(lr) else None
        first = float(lr(iterations)) if callable(lr) else float(lr)
        super().__init__(params, {"lr": first, **defaults})
        self.iterations = int(iterations)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient, then ``iterations += 1``.

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the model and returns the loss (torch's convention).

        Returns
        -------
        The closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        s = self.iterations
        for group in self.param_groups:
            if self.schedule is not None:
                group["lr"] = float(self.schedule(s))
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad, self.state[p], group, s)
        self.iterations += 1
        return loss

    def _update(self, w: Tensor, g: Tensor, state: dict, group: dict, s: int) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """``torch.optim.Optimizer.state_dict`` plus ``iterations``.

        Returns
        -------
        dict
        """
        out = super().state_dict()
        out["iterations"] = self.iterations
        return out

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict`.

        Parameters
        ----------
        state_dict : dict
        """
        state_dict = dict(state_dict)
        self.iterations = int(state_dict.pop("iterations", 0))
        super().load_state_dict(state_dict)


def _zeros(state: dict, name: str, w: Tensor) -> Tensor:
    if name not in state:
        state[name] = torch.zeros_like(w, memory_format=torch.preserve_format)
    return state[name]


class NNLibSGD(NNLibOptimizer):
    """nnlib's SGD: ``w -= eta g``; momentum ``v = gamma v - eta g, w += v``; Nesterov
    ``w += gamma v - eta g``.

    Parameters
    ----------
    params : iterable
    lr : float or callable, default 0.01
    momentum : float, default 0
    nesterov : bool, default False
    iterations : int, default 0
    """

    def __init__(
        self,
        params: Any,
        lr: float | Callable[[int], float] = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        iterations: int = 0,
    ) -> None:
        super().__init__(params, lr, iterations, momentum=float(momentum), nesterov=bool(nesterov))

    def _update(self, w: Tensor, g: Tensor, state: dict, group: dict, s: int) -> None:
        eta, gamma = group["lr"], group["momentum"]
        if gamma == 0:
            w.sub_(eta * g)
            return
        v = _zeros(state, "v", w)
        v.mul_(gamma).sub_(eta * g)
        if group["nesterov"]:
            w.add_(gamma * v - eta * g)
        else:
            w.add_(v)


class NNLibAdagrad(NNLibOptimizer):
    """nnlib's Adagrad: ``G += g^2`` (from 0); ``w -= eta / sqrt(G + epsilon) * g``.

    Parameters
    ----------
    params : iterable
    lr : float or callable, default 0.001
    epsilon : float, default 1e-7
    iterations : int, default 0
    """

    def __init__(
        self,
        params: Any,
        lr: float | Callable[[int], float] = 0.001,
        epsilon: float = 1e-7,
        iterations: int = 0,
    ) -> None:
        super().__init__(params, lr, iterations, epsilon=float(epsilon))

    def _update(self, w: Tensor, g: Tensor, state: dict, group: dict, s: int) -> None:
        G = _zeros(state, "G", w)
        G.add_(g * g)
        w.sub_(group["lr"] / torch.sqrt(G + group["epsilon"]) * g)


class NNLibRMSprop(NNLibOptimizer):
    """nnlib's RMSprop: ``m = rho m + (1 - rho) g^2``; ``w -= eta g / sqrt(m + epsilon)``.

    Parameters
    ----------
    params : iterable
    lr : float or callable, default 0.001
    rho : float, default 0.9
    epsilon : float, default 1e-7
    iterations : int, default 0
    """

    def __init__(
        self,
        params: Any,
        lr: float | Callable[[int], float] = 0.001,
        rho: float = 0.9,
        epsilon: float = 1e-7,
        iterations: int = 0,
    ) -> None:
        super().__init__(params, lr, iterations, rho=float(rho), epsilon=float(epsilon))

    def _update(self, w: Tensor, g: Tensor, state: dict, group: dict, s: int) -> None:
        rho = group["rho"]
        m = _zeros(state, "m", w)
        m.mul_(rho).add_((1 - rho) * (g * g))
        w.sub_(group["lr"] * g / torch.sqrt(m + group["epsilon"]))


class NNLibAdam(NNLibOptimizer):
    """nnlib's Adam: bias-corrected averages, epsilon inside the square root.

    ``g_avg = b1 g_avg + (1 - b1) g``; ``m = b2 m + (1 - b2) g^2``; ``g_hat = g_avg / (1 - b1^s)``;
    ``m_hat = m / (1 - b2^s)``; ``w -= eta / sqrt(m_hat + epsilon) * g_hat`` (``s`` from 1).

    Parameters
    ----------
    params : iterable
    lr : float or callable, default 0.001
    beta_1, beta_2 : float, default 0.9, 0.999
    epsilon : float, default 1e-7
    iterations : int, default 0
    """

    def __init__(
        self,
        params: Any,
        lr: float | Callable[[int], float] = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        iterations: int = 0,
    ) -> None:
        super().__init__(
            params,
            lr,
            iterations,
            beta_1=float(beta_1),
            beta_2=float(beta_2),
            epsilon=float(epsilon),
        )

    def _update(self, w: Tensor, g: Tensor, state: dict, group: dict, s: int) -> None:
        b1, b2, t = group["beta_1"], group["beta_2"], s + 1
        g_avg, m = _zeros(state, "g_avg", w), _zeros(state, "m", w)
        g_avg.mul_(b1).add_((1 - b1) * g)
        m.mul_(b2).add_((1 - b2) * (g * g))
        g_hat = g_avg / (1 - b1**t)
        m_hat = m / (1 - b2**t)
        w.sub_(group["lr"] / torch.sqrt(m_hat + group["epsilon"]) * g_hat)


class NNLibAdamax(NNLibOptimizer):
    """nnlib's Adamax: ``u = max(b2 u, |g|)``; ``w -= eta / (u + epsilon) * g_hat``.

    Parameters
    ----------
    params : iterable
    lr : float or callable, default 0.001
    beta_1, beta_2 : float, default 0.9, 0.999
    epsilon : float, default 1e-7
    iterations : int, default 0
    """

    def __init__(
        self,
        params: Any,
        lr: float | Callable[[int], float] = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        iterations: int = 0,
    ) -> None:
        super().__init__(
            params,
            lr,
            iterations,
            beta_1=float(beta_1),
            beta_2=float(beta_2),
            epsilon=float(epsilon),
        )

    def _update(self, w: Tensor, g: Tensor, state: dict, group: dict, s: int) -> None:
        b1, b2, t = group["beta_1"], group["beta_2"], s + 1
        g_avg, u = _zeros(state, "g_avg", w), _zeros(state, "u", w)
        g_avg.mul_(b1).add_((1 - b1) * g)
        torch.maximum(b2 * u, g.abs(), out=u)
        g_hat = g_avg / (1 - b1**t)
        w.sub_(group["lr"] / (u + group["epsilon"]) * g_hat)


def make_torch_optimizer(optimizer: optimizers_.Optimizer, params: Any) -> NNLibOptimizer:
    """The torch optimizer that follows an nnlib optimizer: same rule, hyperparameters and step.

    Parameters
    ----------
    optimizer : nnlib Optimizer
        SGD (momentum, Nesterov), Adagrad, RMSprop, Adam or Adamax; its ``learning_rate`` may be
        a schedule. Its ``iterations`` becomes the torch optimizer's (its per-weight state is
        carried over by :class:`TorchModel`, which knows which tensor is which weight).
    params : iterable of tensors

    Returns
    -------
    NNLibOptimizer

    Raises
    ------
    TypeError
        For an optimizer with no PyTorch equivalent (a custom ``update``).
    """
    lr, it = optimizer.learning_rate, optimizer.iterations
    o = optimizer
    same = lambda cls: _same_math(o, cls, ("update", "apply_gradients", "lr"))  # noqa: E731
    if same(optimizers_.SGD):
        return NNLibSGD(params, lr, o.momentum, o.nesterov, iterations=it)
    if same(optimizers_.Adagrad):
        return NNLibAdagrad(params, lr, o.epsilon, iterations=it)
    if same(optimizers_.RMSprop):
        return NNLibRMSprop(params, lr, o.rho, o.epsilon, iterations=it)
    if same(optimizers_.Adam):
        return NNLibAdam(params, lr, o.beta_1, o.beta_2, o.epsilon, iterations=it)
    if same(optimizers_.Adamax):
        return NNLibAdamax(params, lr, o.beta_1, o.beta_2, o.epsilon, iterations=it)
    raise TypeError(
        f"Optimizer {type(optimizer).__name__} has no PyTorch equivalent; the PyTorch path "
        "supports nnlib's SGD (with momentum / Nesterov), Adagrad, RMSprop, Adam and Adamax."
    )


# ---------------------------------------------------------------------------------------------
# Losses and metrics on the device
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# Moving mini-batches to the device
# ---------------------------------------------------------------------------------------------
class _Batches:
    """Gathers the rows of a mini-batch from host arrays and moves them to the device.

    CPU: a fancy-indexed copy wrapped without a further copy. CUDA: gathered into one of a few
    pinned buffers and copied asynchronously (a buffer is reused only once its copy is done).
    ``on_device``: the arrays are moved once and indexed on the device.
    """

    def __init__(
        self,
        arrays: Sequence[Array],
        device: torch.device,
        batch_size: int,
        on_device: bool = False,
        pinned: bool | None = None,
    ) -> None:
        self.arrays = [np.ascontiguousarray(a) for a in arrays]
        self.device = device
        self.on_device = on_device
        self.pinned = device.type == "cuda" if pinned is None else pinned
        if on_device:
            need = sum(a.nbytes for a in self.arrays)
            if device.type == "cuda":
                free, _ = torch.cuda.mem_get_info(device)
                if need > free // 2:
                    raise ValueError(
                        f"data_on_device=True: the data takes {need / 2**30:.2f} GiB but "
                        f"{device} has {free / 2**30:.2f} GiB free (at most half of it is used "
                        "for data). Use data_on_device=False: mini-batches then travel from "
                        "pinned host memory."
                    )
            self.resident = [_from_numpy(a).to(device) for a in self.arrays]
        elif self.pinned:
            pin = device.type == "cuda"
            self.slots = [
                [
                    torch.empty((batch_size, *a.shape[1:]), dtype=_torch_dtype(a), pin_memory=pin)
                    for a in self.arrays
                ]
                for _ in range(_PIN_SLOTS)
            ]
            self.events: list[Any] = [None] * _PIN_SLOTS
            self.next_slot = 0

    def epoch(
        self, batch_size: int, shuffle: bool, rng: np.random.Generator | None
    ) -> Iterator[tuple[Array, list[Tensor]]]:
        """Yield ``(indices, tensors)`` per mini-batch, in :func:`nnlib.utils.minibatches` order."""
        n = len(self.arrays[0])
        batches = minibatches(n, batch_size, shuffle, rng)
        if self.on_device:
            index = list(batches)
            order = torch.from_numpy(np.concatenate(index) if index else np.zeros(0, np.int64))
            order = order.to(self.device, non_blocking=True)
            start = 0
            for idx in index:
                sel = order[start : start + len(idx)]
                start += len(idx)
                yield idx, [a.index_select(0, sel) for a in self.resident]
            return
        for idx in batches:
            yield idx, self._stage(idx)

    def _stage(self, idx: Array) -> list[Tensor]:
        if not self.pinned:
            return [torch.from_numpy(a[idx]) for a in self.arrays]
        k = self.next_slot
        self.next_slot = (k + 1) % _PIN_SLOTS
        if self.events[k] is not None:
            self.events[k].synchronize()  # the copy that last read this buffer is done
        out = []
        for buf, a in zip(self.slots[k], self.arrays, strict=True):
            host = buf[: len(idx)]
            np.take(a, idx, axis=0, out=host.numpy(), mode="clip")
            out.append(host.to(self.device, non_blocking=True, copy=True))
        if self.device.type == "cuda":
            event = torch.cuda.Event()
            event.record(torch.cuda.current_stream(self.device))
            self.events[k] = event
        return out


def _from_numpy(a: Array) -> Tensor:
    """``torch.from_numpy`` that accepts read-only arrays (never written to here) silently."""
    if a.flags.writeable:
        return torch.from_numpy(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(a)


def _torch_dtype(a: Array) -> torch.dtype:
    return torch.from_numpy(np.empty(0, dtype=a.dtype)).dtype


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------
def _overrides_batch_end(cb: Callback) -> bool:
    hook = cb.on_batch_end  # LambdaCallback sets it on the instance
    return getattr(hook, "__func__", hook) is not Callback.on_batch_end


class TorchModel:
    """Train and run an nnlib ``Sequential`` with PyTorch; the weights end up in the nnlib model.

    ``fit``, ``evaluate`` and ``predict`` take the arguments of :class:`nnlib.models.Sequential`'s
    and return the same things. Attributes the wrapper does not have are looked up on the nnlib
    model (``layers``, ``optimizer``, ``summary()``...), so nnlib's callbacks work with it.

    Parameters
    ----------
    model : Sequential
        Compiled (for fit / evaluate); built, or built on the first call from the data's shape.
    device : str or torch.device, default 'auto'
        ``'auto'``: the first CUDA GPU when there is one, else the CPU (see :func:`resolve_device`).
    dtype : {None, 'float32', 'float64'} or torch.dtype
        Precision on the device; None keeps the model's. Inputs are converted to it.
    data_on_device : bool, default False
        Move the whole training (and validation) set to the device once per ``fit`` instead of
        copying every mini-batch from pinned host memory.

    Attributes
    ----------
    device : torch.device
        The device used.
    device_name : str
        E.g. ``'cuda:0 (NVIDIA H100 80GB HBM3)'`` or ``'cpu'``; ``fit`` prints it when verbose.
    module : TorchSequential or None
        The converted network (None until the model is built).
    history : History or None
        Of the last ``fit``.
    stop_training : bool
        Set by callbacks to stop ``fit`` after the current batch.
    """

    def __init__(
        self,
        model: Sequential,
        device: DeviceLike = "auto",
        dtype: DTypeLike = None,
        data_on_device: bool = False,
    ) -> None:
        if not isinstance(model, Sequential):
            raise TypeError(f"TorchModel wraps an nnlib Sequential, got {type(model).__name__}.")
        for layer in model.layers:
            _check_layer(layer)  # fail now, not after the first epoch
        self.model = model
        self.device = resolve_device(device)
        self.device_name = describe_device(self.device)
        self.dtype = _resolve_dtype(dtype, model.dtype, self.device)
        self.np_dtype = _TORCH_TO_NP[self.dtype]
        self.data_on_device = bool(data_on_device)
        self.module: TorchSequential | None = None
        self.history: History | None = None
        self.stop_training = False
        self.torch_optimizer: NNLibOptimizer | None = None
        if model.built:
            self.module = to_torch(model, self.device, self.dtype)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "model":
            raise AttributeError(name)
        return getattr(self.model, name)

    def __repr__(self) -> str:
        return f"<TorchModel of {self.model!r} on {self.device_name}, {self.dtype}>"

    # --- keeping the two copies in step -------------------------------------------------------
    def _sync_in(self) -> TorchSequential:
        """nnlib -> torch: weights, running statistics, trainable flags."""
        if self.module is None:
            self.module = to_torch(self.model, self.device, self.dtype)
        else:
            _copy_to_torch(self.model, self.module)
        return self.module

    def _sync_out(self) -> None:
        """torch -> nnlib: weights, running statistics, optimizer state and step count."""
        if self.module is None:
            return
        self.model.set_weights(self.get_weights())
        opt, nn_opt = self.torch_optimizer, self.model.optimizer
        if opt is None or nn_opt is None:
            return
        nn_opt.iterations = opt.iterations
        for layer, (key, is_param, tensor, transpose) in _slots(self.model, self.module):
            if is_param and layer.trainable:
                nn_opt.state[f"{layer.name}/{key}"] = {
                    name: _to_numpy(t, transpose, self.model.dtype)
                    for name, t in opt.state.get(tensor, {}).items()
                }

    def _make_optimizer(self) -> NNLibOptimizer | None:
        """A torch optimizer over the trainable weights, with the nnlib optimizer's state."""
        nn_opt = self.model.optimizer
        pairs = [
            (layer, key, tensor, transpose)
            for layer, (key, is_param, tensor, transpose) in _slots(self.model, self.module)
            if is_param and layer.trainable
        ]
        if not pairs:
            return None
        opt = make_torch_optimizer(nn_opt, [t for _, _, t, _ in pairs])
        for layer, key, tensor, transpose in pairs:
            for name, arr in nn_opt.state.get(f"{layer.name}/{key}", {}).items():
                src = np.ascontiguousarray(arr.T if transpose else arr)
                opt.state[tensor][name] = torch.from_numpy(src).to(self.device, self.dtype)
        return opt

    def get_weights(self) -> list[Array]:
        """Host copies of the PyTorch weights in nnlib's ``get_weights`` order and layout.

        Returns
        -------
        list of ndarray
            Kernels as ``(D, H)``, in the nnlib model's dtype.
        """
        if self.module is None:
            return self.model.get_weights()
        return [
            _to_numpy(tensor, transpose, self.model.dtype)
            for _, (_, _, tensor, transpose) in _slots(self.model, self.module)
        ]

    @torch.no_grad()
    def set_weights(self, weights: list[Array]) -> None:
        """Load weights given in nnlib's ``get_weights`` order and layout into the PyTorch module.

        Parameters
        ----------
        weights : list of ndarray
        """
        module = self._sync_in() if self.module is None else self.module
        slots = _slots(self.model, module)
        if len(weights) != len(slots):
            raise ValueError(f"Expected {len(slots)} weight arrays, got {len(weights)}.")
        for i, ((_, (_, _, tensor, transpose)), w) in enumerate(zip(slots, weights, strict=True)):
            w = np.asarray(w)
            w = w.T if transpose else w
            if tuple(w.shape) != tuple(tensor.shape):
                shape = w.T.shape if transpose else w.shape
                raise ValueError(
                    f"Weight {i}: expected shape {_nn_shape(tensor, transpose)}, got {shape}."
                )
            tensor.copy_(torch.from_numpy(np.ascontiguousarray(w)))

    def save_weights(self, path: Any) -> None:
        """Write the PyTorch weights into the nnlib model, then ``model.save_weights(path)``.

        Parameters
        ----------
        path : str or path-like
        """
        if self.module is not None:
            self.model.set_weights(self.get_weights())
        self.model.save_weights(path)

    # --- data ---------------------------------------------------------------------------------
    def _prepare(self, x: Array, y: Array) -> tuple[Array, Array]:
        x, y = self.model._prepare(x, y)  # nnlib's checks and messages
        return x.astype(self.np_dtype, copy=False), y

    def _prepare_x(self, x: Array) -> Array:
        x = self.model._prepare_x(x)
        self.model._check_ready(x)
        return x.astype(self.np_dtype, copy=False)

    # --- one step, for tests and notebooks ------------------------------------------------------
    def _step(self, xb: Tensor, yb: Tensor, loss_fn: _Loss) -> tuple[Tensor, Tensor]:
        module, opt = self.module, self.torch_optimizer
        out, z = module.forward_with_logits(xb)
        grad_loss, value = loss_fn(yb, out, z)
        penalty = module.penalty()
        if penalty is not None:
            grad_loss = grad_loss + penalty
            value = value + penalty.detach()
        if opt is not None:
            opt.zero_grad(set_to_none=True)
        if grad_loss.requires_grad:
            grad_loss.backward()
        if opt is not None:
            opt.step()
        self.model.optimizer.iterations += 1  # callbacks may read model.optimizer.lr
        return value, out.detach()

    def train_on_batch(self, x: Array, y: Array) -> float:
        """One update on a batch, as ``Sequential.train_on_batch``.

        The updated weights and optimizer state are written back to the nnlib model.

        Parameters
        ----------
        x, y : array
            One batch, in the form ``Sequential.fit`` takes.

        Returns
        -------
        float
            The loss (with penalties) before the update.
        """
        self._require_compiled()
        x, y = self._prepare(x, y)
        module = self._sync_in()
        module.train()
        loss_fn = _Loss(self.model.loss, module)
        self.torch_optimizer = self._make_optimizer()
        self._seed_dropout()
        xb = _from_numpy(np.ascontiguousarray(x)).to(self.device)
        yb = torch.from_numpy(loss_fn.host_targets(y, self.model.output_shape, self.np_dtype))
        value, _ = self._step(xb, yb.to(self.device), loss_fn)
        self._sync_out()
        return float(value)

    def loss_and_gradients(
        self, x: Array, y: Array, training: bool = True
    ) -> tuple[float, dict[tuple[str, str], Array]]:
        """Loss and ``{(layer name, weight name): gradient}`` in nnlib's layout (no update).

        The PyTorch counterpart of ``Sequential.loss_and_gradients``. In training mode the batch
        normalization running statistics are updated, as in nnlib, and written back.

        Parameters
        ----------
        x, y : array
            One batch.
        training : bool, default True
            Training mode (batch statistics, dropout) or inference mode.

        Returns
        -------
        loss : float
        grads : dict
            ``{(layer name, 'W' / 'b' / 'gamma' / 'beta'): ndarray}`` for the trainable layers,
            kernels as ``(D, H)``.
        """
        self._require_compiled()
        x, y = self._prepare(x, y)
        module = self._sync_in()
        module.train(training)
        loss_fn = _Loss(self.model.loss, module)
        self._seed_dropout()
        xb = _from_numpy(np.ascontiguousarray(x)).to(self.device)
        yb = torch.from_numpy(loss_fn.host_targets(y, self.model.output_shape, self.np_dtype))
        out, z = module.forward_with_logits(xb)
        grad_loss, value = loss_fn(yb.to(self.device), out, z)
        penalty = module.penalty()
        if penalty is not None:
            grad_loss, value = grad_loss + penalty, value + penalty.detach()
        for p in module.parameters():
            p.grad = None
        if grad_loss.requires_grad:
            grad_loss.backward()
        grads = {}
        for layer, (key, is_param, tensor, transpose) in _slots(self.model, module):
            if is_param and layer.trainable:
                g = tensor.grad if tensor.grad is not None else torch.zeros_like(tensor)
                grads[(layer.name, key)] = _to_numpy(g, transpose, self.model.dtype)
        module.train()
        self.model.set_weights(self.get_weights())  # running statistics
        return float(value), grads

    def _require_compiled(self) -> None:
        if self.model.optimizer is None or self.model.loss is None:
            raise RuntimeError(
                "You must compile the model before training: call "
                "model.compile(optimizer='rmsprop', loss='categorical_crossentropy', "
                "metrics=['accuracy'])."
            )

    def _seed_dropout(self) -> None:
        """Seed one torch generator per dropout layer from that layer's (or the model's) RNG."""
        for layer, sub in zip(self.model.layers, self.module.layers, strict=True):
            if isinstance(sub, TorchDropout) and 0 < sub.rate < 1:
                rng = getattr(layer, "rng", None) or self.model._rng()
                gen = torch.Generator(device=self.device)
                gen.manual_seed(int(rng.integers(0, 2**63 - 1)))
                sub.generator = gen

    # --- fit / evaluate / predict ---------------------------------------------------------------
    def fit(
        self,
        x: Array,
        y: Array,
        epochs: int = 1,
        batch_size: int = 32,
        verbose: int | str = "auto",
        callbacks: list[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: tuple[Array, Array] | None = None,
        shuffle: bool = True,
        initial_epoch: int = 0,
    ) -> History:
        """Train for ``epochs`` passes over ``(x, y)``, as :meth:`nnlib.models.Sequential.fit`.

        Parameters
        ----------
        x, y : array
            Inputs ``(N, *input_shape)`` and targets in the form the loss expects.
        epochs, batch_size, verbose, callbacks, validation_split, validation_data, shuffle, initial_epoch
            As in ``Sequential.fit`` (``validation_split`` holds out the last fraction).

        Returns
        -------
        History
            ``history.history`` holds ``loss``, the metrics and their ``val_`` twins per epoch. The
            trained weights and optimizer state are in the nnlib model afterwards.
        """
        model = self.model
        self._require_compiled()
        x, y = self._prepare(x, y)
        if not 0 <= validation_split < 1:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split}.")
        if validation_split and validation_data is None:
            n_val = int(math.ceil(len(x) * validation_split))
            x, y, validation_data = x[:-n_val], y[:-n_val], (x[-n_val:], y[-n_val:])
        if validation_data is not None:
            validation_data = self._prepare(*validation_data)
        if verbose == "auto":
            verbose = 1
        if not isinstance(batch_size, int | np.integer) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        n = len(x)
        if n == 0:
            raise ValueError(
                "There are no training samples left to fit on (x is empty, or validation_split "
                "took all of them)."
            )
        steps = math.ceil(n / batch_size)

        module = self._sync_in()
        loss_fn = _Loss(model.loss, module)
        out_shape = model.output_shape
        y_dev = loss_fn.host_targets(y, out_shape, self.np_dtype)
        names = ["loss", *(name for name, _ in model.metrics)]
        dev_metrics = [_device_metric(fn) for _, fn in model.metrics]
        host_metrics = [
            (i, fn)
            for i, ((_, fn), f) in enumerate(zip(model.metrics, dev_metrics, strict=True))
            if f is None
        ]
        on_device = [0, *(1 + i for i, f in enumerate(dev_metrics) if f is not None)]
        dev_pos = torch.tensor(on_device, device=self.device)
        self.torch_optimizer = self._make_optimizer()
        self._seed_dropout()
        data = _Batches([x, y_dev], self.device, batch_size, self.data_on_device)
        val_bs = max(batch_size, 256)
        if validation_data is not None:  # staged (or moved to the device) once for all epochs
            val_data = self._eval_batches(*validation_data, val_bs, loss_fn)

        self.history = History()
        cbs: list[Callback] = [self.history, *(callbacks or [])]
        if verbose:
            cbs.append(ProgbarLogger(int(verbose), steps=steps, epochs=epochs))
            print(f"nnlib.torch_backend: training on {self.device_name} in {self.dtype}")
        nan_guards = [cb for cb in cbs if isinstance(cb, TerminateOnNaN)]
        throttled = [
            cb
            for cb in cbs
            if isinstance(cb, TerminateOnNaN) or (isinstance(cb, ProgbarLogger) and cb.verbose == 1)
        ]
        every_batch = [
            cb
            for cb in cbs
            if _overrides_batch_end(cb) and not isinstance(cb, TerminateOnNaN | ProgbarLogger)
        ]
        batch_cbs = [cb for cb in cbs if cb in throttled or cb in every_batch]
        for cb in cbs:
            cb.set_model(self)
        self.stop_training = False
        module.train()
        try:
            for cb in cbs:
                cb.on_train_begin()
            for epoch in range(initial_epoch, epochs):
                for cb in cbs:
                    cb.on_epoch_begin(epoch)
                sums = torch.zeros(len(names), dtype=torch.float64, device=self.device)
                host_sums = [0.0] * len(names)
                seen, last_sync, logs, batch = 0, time.perf_counter(), None, -1
                for batch, (idx, (xb, yb)) in enumerate(
                    data.epoch(batch_size, shuffle, model._rng())
                ):
                    value, out = self._step(xb, yb, loss_fn)
                    m = len(idx)
                    seen += m
                    parts = [value.double()]
                    parts += [f(yb, out) for f in dev_metrics if f is not None]
                    sums.index_add_(0, dev_pos, torch.stack(parts), alpha=m)
                    if host_metrics:
                        pred = out.cpu().numpy()
                        for i, fn in host_metrics:
                            host_sums[1 + i] += float(fn(y[idx], pred)) * m
                    now = time.perf_counter()
                    last = batch == steps - 1
                    if every_batch or (throttled and (last or now - last_sync >= _SYNC_INTERVAL)):
                        last_sync = now
                        logs = self._logs(names, sums, host_sums, seen)
                        self._check_finite(logs, epoch, batch, nan_guards)
                        for cb in batch_cbs:
                            cb.on_batch_end(batch, logs)
                    else:
                        logs = None
                    if self.stop_training:
                        break
                if logs is None:
                    logs = self._logs(names, sums, host_sums, seen)
                    self._check_finite(logs, epoch, batch, nan_guards)
                    if nan_guards and not math.isfinite(logs["loss"]):
                        for cb in nan_guards:
                            cb.on_batch_end(batch, logs)
                if validation_data is not None:
                    val = self._evaluate(val_data, validation_data[1], val_bs, loss_fn, names)
                    logs.update({f"val_{k}": v for k, v in zip(names, val, strict=True)})
                    module.train()
                for cb in cbs:
                    cb.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
            for cb in cbs:
                cb.on_train_end()
        finally:
            self._sync_out()
        model.history = self.history
        return self.history

    @staticmethod
    def _logs(
        names: list[str], sums: Tensor, host_sums: list[float], seen: int
    ) -> dict[str, float]:
        values = sums.tolist()  # the one synchronization
        return {k: (v + h) / max(seen, 1) for k, v, h in zip(names, values, host_sums, strict=True)}

    def _check_finite(
        self, logs: dict[str, float], epoch: int, batch: int, nan_guards: list[Callback]
    ) -> None:
        loss = logs["loss"]
        if not math.isfinite(loss) and not nan_guards:
            raise FloatingPointError(
                f"The loss became {loss} during epoch {epoch + 1} (noticed after batch "
                f"{batch + 1}: the PyTorch path reads the loss back periodically): training "
                "diverged. Lower the learning rate, normalize the inputs (e.g. X / 255), or check "
                "the data for extreme values."
            )

    def _eval_batches(self, x: Array, y: Array, batch_size: int, loss_fn: _Loss) -> _Batches:
        y_dev = loss_fn.host_targets(y, self.model.output_shape, self.np_dtype)
        return _Batches([x, y_dev], self.device, batch_size, self.data_on_device)

    @torch.no_grad()
    def _evaluate(
        self, data: _Batches, y: Array, batch_size: int, loss_fn: _Loss, names: list[str]
    ) -> list[float]:
        module = self.module
        module.eval()
        model = self.model
        dev_metrics = [_device_metric(fn) for _, fn in model.metrics]
        sums = torch.zeros(len(names), dtype=torch.float64, device=self.device)
        host_sums = [0.0] * len(names)
        for idx, (xb, yb) in data.epoch(batch_size, False, None):
            out = module(xb)
            m = len(idx)
            sums[0] += loss_fn.value(yb, out).double() * m
            pred = None
            for i, ((_, fn), f) in enumerate(zip(model.metrics, dev_metrics, strict=True)):
                if f is not None:
                    sums[1 + i] += f(yb, out) * m
                else:
                    pred = out.cpu().numpy() if pred is None else pred
                    host_sums[1 + i] += float(fn(y[idx], pred)) * m
        penalty = module.penalty()
        values = self._logs(names, sums, host_sums, len(y))
        result = list(values.values())
        if penalty is not None:
            result[0] += float(penalty)
        return result

    def evaluate(
        self, x: Array, y: Array, batch_size: int = 32, verbose: int = 0
    ) -> float | list[float]:
        """Loss (with penalties) and metrics on ``(x, y)``, as ``Sequential.evaluate``.

        Parameters
        ----------
        x, y : array
        batch_size : int, default 32
        verbose : int
            Accepted for compatibility; nothing is printed.

        Returns
        -------
        float or list of float
            The loss, or ``[loss, *metrics]`` when the model has metrics.
        """
        if self.model.loss is None:
            raise RuntimeError("Compile the model before evaluate: model.compile(..., loss=...).")
        x, y = self._prepare(x, y)
        module = self._sync_in()
        loss_fn = _Loss(self.model.loss, module)
        names = ["loss", *(name for name, _ in self.model.metrics)]
        try:
            data = self._eval_batches(x, y, batch_size, loss_fn)
            values = self._evaluate(data, y, batch_size, loss_fn, names)
        finally:
            module.train()
        return values if self.model.metrics else values[0]

    @torch.no_grad()
    def predict(self, x: Array, batch_size: int = 32, verbose: int = 0) -> Array:
        """The network's outputs for every sample, as ``Sequential.predict`` (a NumPy array).

        Parameters
        ----------
        x : array, shape (N, *input_shape)
        batch_size : int, default 32
        verbose : int
            Accepted for compatibility; nothing is printed.

        Returns
        -------
        array, shape (N, *output_shape), in the module's dtype
        """
        x = self._prepare_x(x)
        module = self._sync_in()
        module.eval()
        try:
            data = _Batches([x], self.device, batch_size)
            outs = [module(xb) for _, (xb,) in data.epoch(batch_size, False, None)]
        finally:
            module.train()
        if not outs:
            return np.empty((0, *self.model.output_shape), self.np_dtype)
        return torch.cat(outs).cpu().numpy()


def _nn_shape(tensor: Tensor, transpose: bool) -> tuple[int, ...]:
    shape = tuple(tensor.shape)
    return shape[::-1] if transpose else shape


# ---------------------------------------------------------------------------------------------
# Functional surface and the benchmark helper
# ---------------------------------------------------------------------------------------------
def fit(
    model: Sequential,
    x: Array,
    y: Array,
    epochs: int = 1,
    batch_size: int = 32,
    verbose: int | str = "auto",
    callbacks: list[Callback] | None = None,
    validation_split: float = 0.0,
    validation_data: tuple[Array, Array] | None = None,
    shuffle: bool = True,
    initial_epoch: int = 0,
    *,
    device: DeviceLike = "auto",
    dtype: DTypeLike = None,
) -> History:
    """``model.fit(...)`` through PyTorch: ``TorchModel(model, device, dtype).fit(...)``.

    Parameters
    ----------
    model : Sequential
        Compiled; receives the trained weights.
    x, y, epochs, batch_size, verbose, callbacks, validation_split, validation_data, shuffle, initial_epoch
        As in :meth:`nnlib.models.Sequential.fit`.
    device, dtype
        As in :class:`TorchModel`.

    Returns
    -------
    History
    """
    return TorchModel(model, device=device, dtype=dtype).fit(
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        verbose=verbose,
        callbacks=callbacks,
        validation_split=validation_split,
        validation_data=validation_data,
        shuffle=shuffle,
        initial_epoch=initial_epoch,
    )


def evaluate(
    model: Sequential,
    x: Array,
    y: Array,
    batch_size: int = 32,
    verbose: int = 0,
    *,
    device: DeviceLike = "auto",
    dtype: DTypeLike = None,
) -> float | list[float]:
    """``model.evaluate(...)`` through PyTorch; see :meth:`TorchModel.evaluate`.

    Parameters
    ----------
    model : Sequential
    x, y, batch_size, verbose
        As in :meth:`nnlib.models.Sequential.evaluate`.
    device, dtype
        As in :class:`TorchModel`.

    Returns
    -------
    float or list of float
    """
    return TorchModel(model, device=device, dtype=dtype).evaluate(x, y, batch_size, verbose)


def predict(
    model: Sequential,
    x: Array,
    batch_size: int = 32,
    verbose: int = 0,
    *,
    device: DeviceLike = "auto",
    dtype: DTypeLike = None,
) -> Array:
    """``model.predict(...)`` through PyTorch; see :meth:`TorchModel.predict`.

    Parameters
    ----------
    model : Sequential
    x, batch_size, verbose
        As in :meth:`nnlib.models.Sequential.predict`.
    device, dtype
        As in :class:`TorchModel`.

    Returns
    -------
    array
    """
    return TorchModel(model, device=device, dtype=dtype).predict(x, batch_size, verbose)


def benchmark_torch(
    model: Sequential,
    X: Array,
    y: Array,
    batch_size: int = 32,
    device: DeviceLike = "auto",
    *,
    epochs: int = 1,
    warmup_batches: int = 10,
) -> float:
    """Training throughput of the PyTorch path, in samples per second.

    A copy of ``model`` (compiled) is trained, so the model itself is left unchanged: first on
    ``warmup_batches`` batches (kernel selection, allocator, pinned buffers), then, timed, for
    ``epochs`` epochs over ``(X, y)`` with ``verbose=0``. The time includes what ``fit`` always does
    (input checks, copying the weights to the device and back) and ends after the device is done.

    Parameters
    ----------
    model : Sequential
        Compiled nnlib model.
    X, y : array
        Training data in the form ``model.fit`` takes.
    batch_size : int, default 32
    device : str or torch.device, default 'auto'
    epochs : int, default 1
    warmup_batches : int, default 10

    Returns
    -------
    float
        ``len(X) * epochs / seconds``.
    """
    tm = TorchModel(copy.deepcopy(model), device=device)
    if warmup_batches > 0:
        n_warm = min(len(X), warmup_batches * batch_size)
        tm.fit(X[:n_warm], y[:n_warm], epochs=1, batch_size=batch_size, verbose=0)
    _synchronize(tm.device)
    start = time.perf_counter()
    tm.fit(X, y, epochs=epochs, batch_size=batch_size, verbose=0)
    _synchronize(tm.device)
    return len(X) * epochs / (time.perf_counter() - start)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
