"""Mini-batches from host arrays to the device (pinned buffers and asynchronous copies on CUDA).

Part of :mod:`nnlib.torch_backend` (see its docstring for the mapping and the differences).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from nnlib.utils import minibatches

Array = np.ndarray
Tensor = torch.Tensor

_PIN_SLOTS = 4  # pinned host buffers in flight on CUDA


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
