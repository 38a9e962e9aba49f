"""An nnlib ``Sequential`` as a ``torch.nn.Module`` and back (:func:`to_torch`, :func:`load_from_torch`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from nnlib import activations as activations_
from nnlib import layers as layers_
from nnlib import losses as losses_
from nnlib import optimizers as optimizers_
from nnlib.models import Sequential
from nnlib.torch_backend.devices import DeviceLike, DTypeLike, _resolve_dtype, resolve_device

# isort: off
from nnlib.torch_backend.modules import LeakyReLU, TorchBatchNorm, TorchDense, TorchDropout
from nnlib.torch_backend.modules import TorchSequential
# isort: on

Array = np.ndarray
Tensor = torch.Tensor
Slot = tuple[str, bool, Tensor, bool]  # (nnlib weight name, is a parameter, tensor, transposed)

_LAYERS = {  # nnlib layer -> its module, from (layer, torch activation, device and dtype)
    layers_.Dense: lambda d, act, kw: TorchDense(d.input_shape[0], d.units, act, d.use_bias, **kw),
    layers_.Activation: lambda a, act, kw: act,
    layers_.Dropout: lambda d, act, kw: TorchDropout(d.rate),
    layers_.BatchNormalization: lambda b, act, kw: TorchBatchNorm(
        b.input_shape[0], b.momentum, b.epsilon, **kw
    ),
    layers_.Flatten: lambda f, act, kw: nn.Flatten(),
    layers_.Reshape: lambda r, act, kw: nn.Sequential(
        nn.Flatten(), nn.Unflatten(1, r.output_shape)
    ),
}
_LAYER_METHODS = ("forward", "backward", "backward_z", "penalty", "compute_output_shape")
_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "linear": nn.Identity}
_ABSTRACT = {losses_.Loss.value, losses_.Loss.grad, optimizers_.Optimizer.update}


def _check_portable(obj: Any, kind: str, methods: Sequence[str]) -> None:
    """Refuse an object whose ``methods`` are not nnlib's own (array API code that runs on
    tensors): one defined outside nnlib, or left abstract, is NumPy code we cannot vouch for."""
    for name in methods:
        fn = getattr(type(obj), name, None)
        if fn is None or fn in _ABSTRACT or not fn.__module__.startswith("nnlib."):
            raise TypeError(
                f"{kind} {type(obj).__name__} has no PyTorch equivalent: its {name!r} is not "
                "nnlib's (the PyTorch path runs nnlib's own math, written with the array API, on "
                "tensors). Train this model with the NumPy path, model.fit(...)."
            )


def _torch_activation(act: activations_.Activation, where: str) -> nn.Module:
    builtin = activations_.ACTIVATIONS.get(act.name)
    if act.name == "leaky_relu" and getattr(act.forward, "func", None) is activations_.leaky_relu:
        return LeakyReLU(act.forward.keywords["alpha"])
    if builtin is not None and act.forward is builtin.forward:
        return nn.Softmax(dim=-1) if act.name == "softmax" else _ACTIVATIONS[act.name]()
    raise TypeError(
        f"{where}: activation {act.name!r} is a custom nnlib activation with no PyTorch "
        f"equivalent. The PyTorch path supports {', '.join(sorted(activations_.ACTIVATIONS))}."
    )


def _base(layer: layers_.Layer) -> type:
    """The nnlib layer class whose conversion ``layer`` takes; a clear ``TypeError`` if none."""
    for base in _LAYERS:
        same = all(getattr(type(layer), m, 0) is getattr(base, m, 0) for m in _LAYER_METHODS)
        if isinstance(layer, base) and same:
            return base
    raise TypeError(
        f"Layer {layer.name!r} ({type(layer).__name__}) has no PyTorch equivalent. The PyTorch "
        "path converts nnlib's Dense, Activation, Dropout, BatchNormalization, Flatten and Reshape "
        "(and subclasses that do not change their forward/backward). Train this model with the "
        "NumPy path, model.fit(...)."
    )


def _convert_layer(layer: layers_.Layer, **kw: Any) -> nn.Module:
    """The module of one layer; raises a clear ``TypeError`` for what has no equivalent."""
    base, where = _base(layer), f"Layer {layer.name!r} ({type(layer).__name__})"
    act = getattr(layer, "activation", None)
    act = None if act is None else _torch_activation(act, where)
    for reg in [getattr(layer, f"{k}_regularizer", None) for k in ("kernel", "bias")]:
        if reg is not None:
            _check_portable(reg, f"{where}: regularizer", ("__call__", "gradient"))
    return _LAYERS[base](layer, act, kw)


def _weight_slots(layer: layers_.Layer, module: nn.Module) -> list[Slot]:
    """The layer's weights in ``layer.weights()`` order, each with its tensor in ``module``."""
    linear = module.linear if isinstance(module, TorchDense) else module
    table = {
        "W": (getattr(linear, "weight", None), True),
        "b": (getattr(linear, "bias", None), False),
        "gamma": (getattr(module, "weight", None), False),
        "beta": (getattr(module, "bias", None), False),
        "moving_mean": (getattr(module, "running_mean", None), False),
        "moving_variance": (getattr(module, "running_var", None), False),
    }
    return [(key, key in layer.params, *table[key]) for key in [*layer.params, *layer.state]]


def _slots(model: Sequential, module: TorchSequential) -> list[tuple[layers_.Layer, Slot]]:
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
        Built from Dense (built-in activations, any initializer, L1/L2 regularizers), Activation,
        Dropout, BatchNormalization, Flatten and Reshape layers; else a clear ``TypeError``.
    device : str or torch.device, default 'auto'
        See :func:`resolve_device`.
    dtype : {None, 'float32', 'float64'} or torch.dtype
        Precision of the module; None keeps the model's.

    Returns
    -------
    TorchSequential
        In training mode (call ``.eval()`` for inference: dropout off, running statistics).
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"to_torch expects an nnlib Sequential, got {type(model).__name__}.")
    for layer in model.layers:
        _base(layer)
    model._require_built()
    dev = resolve_device(device)
    kw = {"device": dev, "dtype": _resolve_dtype(dtype, model.dtype, dev)}
    modules = [_convert_layer(layer, **kw) for layer in model.layers]
    module = TorchSequential(modules, model.input_shape)
    _copy_to_torch(model, module)
    return module


@torch.no_grad()
def load_from_torch(model: Sequential, module: nn.Module) -> None:
    """Copy a torch module's weights into the built nnlib model (the inverse of :func:`to_torch`).

    ``module`` is a :class:`TorchSequential` or any module whose ``nn.Linear`` and batch
    normalization submodules (:class:`TorchBatchNorm`, ``nn.BatchNorm1d``) match the model's Dense
    and BatchNormalization layers in order: ``W = Linear.weight.T``; ``weight``, ``bias``,
    ``running_mean``, ``running_var`` give ``gamma``, ``beta`` and the moving statistics (cast to
    the model's dtype). Raises ``ValueError`` when the layers or the shapes do not match.
    """
    model._require_built()
    ours = [m for m in model.layers if isinstance(m, layers_.Dense | layers_.BatchNormalization)]
    theirs = [
        m for m in module.modules() if isinstance(m, nn.Linear | TorchBatchNorm | nn.BatchNorm1d)
    ]
    pairs = list(zip(ours, theirs, strict=False))
    if len(ours) != len(theirs) or any(
        isinstance(layer, layers_.Dense) != isinstance(sub, nn.Linear) for layer, sub in pairs
    ):
        raise ValueError(
            f"The torch module's weight layers (Linear / batch norm: {len(theirs)}) must match the "
            f"nnlib model's (Dense / BatchNormalization: {len(ours)}) one to one, in order."
        )
    copies = []
    for layer, sub in pairs:
        slots = _weight_slots(layer, sub)
        if isinstance(layer, layers_.Dense) and (sub.bias is None) == layer.use_bias:
            raise ValueError(f"Layer {layer.name!r}: use_bias={layer.use_bias}, not the Linear's.")
        for key, _, tensor, transpose in slots:
            dst = (layer.params if key in layer.params else layer.state)[key]
            src = _to_numpy(tensor, transpose, model.dtype)
            if src.shape != dst.shape:
                raise ValueError(
                    f"Layer {layer.name!r}, weight {key!r}: nnlib expects shape {dst.shape}, the "
                    f"torch module gives {src.shape}" + (" (transposed)." if transpose else ".")
                )
            copies.append((dst, src))
    for dst, src in copies:  # only once everything matched
        np.copyto(dst, src, casting="same_kind")
