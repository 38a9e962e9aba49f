"""Devices and dtypes: ``device="auto"`` resolved to CUDA or the CPU, with clear errors."""

from __future__ import annotations

import numpy as np
import torch

DeviceLike = str | torch.device | None
DTypeLike = str | np.dtype | torch.dtype | type | None


def resolve_device(device: DeviceLike = "auto") -> torch.device:
    """Turn ``'auto'`` (or None: the first CUDA GPU if any, else the CPU), ``'cpu'``, ``'cuda'``,
    ``'cuda:N'`` or a ``torch.device`` into a device (CUDA with an explicit index).

    Raises ``ValueError`` for an unknown device string, a CUDA device when PyTorch sees no GPU
    (suggesting ``device='auto'`` or ``'cpu'``) or a GPU index that does not exist.
    """
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        cuda = torch.cuda.is_available()
        return torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
    dev = device
    if isinstance(device, str):
        try:
            dev = torch.device(device.strip().lower())
        except (RuntimeError, ValueError):
            raise ValueError(
                f"Unknown device {device!r}. Use device='auto' (a CUDA GPU when there is one, "
                "else the CPU), 'cpu', 'cuda' or 'cuda:N'."
            ) from None
    elif not isinstance(device, torch.device):
        raise TypeError(
            f"device must be a string such as 'auto', 'cpu' or 'cuda', or a torch.device; got "
            f"{type(device).__name__}: {device!r}."
        )
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = f"this PyTorch ({torch.__version__}) is a CPU-only build"
            why = build if torch.version.cuda is None else "no GPU, or no working driver"
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
    if dev.type == "mps" and torch.backends.mps.is_available():
        return dev
    raise ValueError(
        f"Device {device!r} is not available to the PyTorch path. Use device='auto', 'cpu', "
        "'cuda' or 'cuda:N' (or 'mps' on a Mac where PyTorch has the MPS backend)."
    )


def describe_device(device: torch.device) -> str:
    """``'cpu'``, or the CUDA device with its model: ``'cuda:0 (NVIDIA H100 80GB HBM3)'``."""
    cuda = device.type == "cuda"
    return f"{device} ({torch.cuda.get_device_name(device)})" if cuda else str(device)


_NP_TO_TORCH = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
_TORCH_TO_NP = {v: k for k, v in _NP_TO_TORCH.items()}


def _resolve_dtype(dtype: DTypeLike, default: np.dtype, device: torch.device) -> torch.dtype:
    dtype = default if dtype is None else dtype
    try:
        result = dtype if isinstance(dtype, torch.dtype) else _NP_TO_TORCH.get(np.dtype(dtype))
    except TypeError:
        result = None
    if result not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}.")
    if device.type == "mps" and result == torch.float64:
        raise ValueError("The MPS backend has no float64: use dtype='float32' or device='cpu'.")
    return result
