"""Conversion of an nnlib ``Sequential`` to a ``torch.nn.Module`` and back (:func:`to_torch`, :func:`load_from_torch`).

Part of :mod:`nnlib.torch_backend` (see its docstring for the mapping and the differences).
"""

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
from nnlib.torch_backend.modules import (
    LeakyReLU,
    TorchBatchNorm,
    TorchDense,
    TorchDropout,
    TorchReshape,
    TorchSequential,
)

Array = np.ndarray
Tensor = torch.Tensor


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


_ABSTRACT = {losses_.Loss.value, losses_.Loss.grad, optimizers_.Optimizer.update}


def _check_portable(obj: Any, kind: str, methods: Sequence[str]) -> None:
    """Refuse an object whose math the PyTorch path cannot run on tensors.

    The PyTorch path calls nnlib's own methods on tensors; those are written with the Python array
    API. A method defined outside nnlib (or left abstract) is NumPy code we cannot vouch for.
    """
    for name in methods:
        fn = getattr(type(obj), name, None)
        if fn is None or fn in _ABSTRACT or not fn.__module__.startswith("nnlib."):
            raise TypeError(
                f"{kind} {type(obj).__name__} has no PyTorch equivalent: its {name!r} is not "
                "nnlib's (the PyTorch path runs nnlib's own math, written with the array API, on "
                "tensors). Train this model with the NumPy path, model.fit(...)."
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
                for reg in (layer.kernel_regularizer, layer.bias_regularizer):
                    if reg is not None:
                        _check_portable(reg, f"{where}: regularizer", ("__call__", "gradient"))
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
        activation = _torch_activation(layer.activation, where)
        return TorchDense(
            layer.input_shape[0],
            layer.units,
            activation,
            layer.use_bias,
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
