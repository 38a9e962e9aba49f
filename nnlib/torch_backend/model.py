""":class:`TorchModel`: the PyTorch backend of ``Sequential.fit`` / ``evaluate`` / ``predict``,
which own the loop and ask it for the steps and the transfers (:class:`nnlib.models.Backend`)."""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
import torch

from nnlib.callbacks import History
from nnlib.layers import Dense
from nnlib.models import Sequential

# isort: off
from nnlib.torch_backend.convert import _base, _check_portable, _copy_to_torch, _slots, _to_numpy
from nnlib.torch_backend.convert import _weight_slots, to_torch
from nnlib.torch_backend.devices import _TORCH_TO_NP, DeviceLike, DTypeLike, _resolve_dtype
from nnlib.torch_backend.devices import describe_device, resolve_device
from nnlib.torch_backend.modules import TorchDropout, TorchSequential
# isort: on

Array = np.ndarray
Tensor = torch.Tensor


class TorchModel:
    """Train and run an nnlib ``Sequential`` with PyTorch; the weights end up in the nnlib model.

    ``fit``, ``evaluate``, ``predict`` and ``train_on_batch`` are the nnlib model's own, run with
    this object as their ``backend``: same arguments, same results. Other attributes are the nnlib
    model's (``layers``, ``get_weights()``, ``summary()``...).

    Parameters
    ----------
    model : Sequential
        Compiled (for fit / evaluate); built, or built on the first call from the data's shape.
    device : str or torch.device, default 'auto'
        ``'auto'``: the first CUDA GPU when there is one, else the CPU (see :func:`resolve_device`).
    dtype : {None, 'float32', 'float64'} or torch.dtype
        Precision on the device; None keeps the model's. Inputs are converted to it.
    data_on_device : bool, default False
        Move the whole training set to the device once per ``fit`` instead of every mini-batch.

    Attributes: ``device``, ``device_name`` (e.g. ``'cuda:0 (NVIDIA H100 80GB HBM3)'``; ``fit``
    prints it when verbose) and ``module``, the converted network (None until the model is built).
    """

    def __init__(
        self,
        model: Sequential,
        device: DeviceLike = "auto",
        dtype: DTypeLike = None,
        data_on_device: bool = False,
    ) -> None:
        if not isinstance(model, Sequential):
            raise TypeError(f"TorchModel expects an nnlib Sequential, got {type(model).__name__}.")
        for layer in model.layers:
            _base(layer)
        self.model, self.data_on_device = model, bool(data_on_device)
        self.device = resolve_device(device)
        self.device_name = describe_device(self.device)
        self.dtype = _resolve_dtype(dtype, model.dtype, self.device)
        self.np_dtype = _TORCH_TO_NP[self.dtype]
        self.module: TorchSequential | None = None
        if model.built:
            self.module = to_torch(model, self.device, self.dtype)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "model":
            raise AttributeError(name)
        return getattr(self.model, name)

    def __repr__(self) -> str:
        return f"<TorchModel of {self.model!r} on {self.device_name}, {self.dtype}>"

    # --- the public surface: nnlib's own, with this backend -----------------------------------
    def fit(self, x: Array, y: Array, **kwargs: Any) -> History:
        """:meth:`nnlib.models.Sequential.fit` (same keyword arguments and History) on PyTorch."""
        self._check_compiled()
        if kwargs.get("verbose", "auto"):
            print(f"nnlib.torch_backend: training on {self.device_name} in {self.dtype}")
        return self.model.fit(x, y, **kwargs, backend=self)

    def evaluate(
        self, x: Array, y: Array, batch_size: int = 32, verbose: int = 0
    ) -> float | list[float]:
        """:meth:`nnlib.models.Sequential.evaluate`, forward passes on PyTorch."""
        self._weights_in(x)
        return self.model.evaluate(x, y, batch_size, verbose, backend=self)

    def predict(self, x: Array, batch_size: int = 32, verbose: int = 0) -> Array:
        """:meth:`nnlib.models.Sequential.predict` on PyTorch, in the module's dtype."""
        self._weights_in(x)
        return self.model.predict(x, batch_size, verbose, backend=self)

    def train_on_batch(self, x: Array, y: Array) -> float:
        """:meth:`nnlib.models.Sequential.train_on_batch` (one update) on PyTorch."""
        self._check_compiled()
        return self.model.train_on_batch(*self.model._prepare(x, y), backend=self)

    def loss_and_gradients(
        self, x: Array, y: Array, training: bool = True
    ) -> tuple[float, dict[tuple[str, str], Array]]:
        """:meth:`nnlib.models.Sequential.loss_and_gradients` on PyTorch: the loss and
        ``{(layer name, weight name): gradient}`` in nnlib's layout, no update."""
        self._check_compiled()
        x, y = self.model._prepare(x, y)
        self.sync_in()
        try:
            loss, _ = self._gradients(*map(self._tensor, self.stage(x, y)), training)
            dtype = self.model.dtype  # keys "layer/weight" -> (layer, weight): weights have no "/"
            grads = {
                tuple(k.rsplit("/", 1)): _to_numpy(t.grad, tr, dtype)
                for k, t, tr in self._trainable()
            }
        finally:
            self.sync_out()
        return loss, grads

    # --- the backend: transfers ---------------------------------------------------------------
    def sync_in(self) -> None:
        """nnlib -> device: weights, running statistics, trainable flags, optimizer state."""
        self._weights_in()
        self._seed_dropout()
        for state, transpose in self._optimizer_state():
            for name, a in state.items():
                state[name] = self._tensor(np.ascontiguousarray(a.T if transpose else a))

    def sync_out(self) -> None:
        """Device -> nnlib: weights, running statistics and optimizer state."""
        dtype, slots = self.model.dtype, _slots(self.model, self.module)
        self.model.set_weights([_to_numpy(t, tr, dtype) for _, (_, _, t, tr) in slots])
        for state, transpose in self._optimizer_state():
            for name, t in state.items():
                state[name] = _to_numpy(t, transpose, dtype)

    def stage(self, x: Array, y: Array) -> tuple[Any, Any]:
        """Inputs in the module's dtype and the loss' targets (one-hot, smoothed): on the device
        with ``data_on_device``, else on the host (then one batch moves per step)."""
        t = self.model.loss.targets(y, np.empty((len(y), *self.model.output_shape), self.np_dtype))
        x = np.ascontiguousarray(x, dtype=self.np_dtype)
        return (self._tensor(x), self._tensor(t)) if self.data_on_device else (x, t)

    def _weights_in(self, x: Array | None = None) -> None:
        if x is not None:
            self.model._check_ready(self.model._prepare_x(x))  # builds an unbuilt model
        if self.module is None:
            self.module = to_torch(self.model, self.device, self.dtype)
        else:
            _copy_to_torch(self.model, self.module)

    def _trainable(self) -> list[tuple[str, Tensor, bool]]:
        """``(optimizer key, tensor, transposed)`` of every weight the optimizer updates."""
        return [
            (f"{layer.name}/{key}", t, transpose)
            for layer, (key, is_param, t, transpose) in _slots(self.model, self.module)
            if is_param and layer.trainable
        ]

    def _optimizer_state(self) -> list[tuple[dict, bool]]:
        """The optimizer's state of each weight (names to arrays), and whether it is transposed."""
        state = self.model.optimizer.state
        return [(state[key], tr) for key, _, tr in self._trainable() if key in state]

    def _tensor(self, a: Array | Tensor) -> Tensor:
        if isinstance(a, np.ndarray):
            a = torch.from_numpy(a if a.flags.writeable else a.copy())
        return a.to(self.device, self.dtype)

    def _seed_dropout(self) -> None:
        """Seed one torch generator per dropout layer from that layer's (or the model's) RNG."""
        for layer, sub in zip(self.model.layers, self.module.layers, strict=True):
            if isinstance(sub, TorchDropout) and 0 < sub.rate < 1 and sub.generator is None:
                rng = getattr(layer, "rng", None) or self.model._rng()
                sub.generator = torch.Generator(device=self.device)
                sub.generator.manual_seed(int(rng.integers(0, 2**63 - 1)))

    def _check_compiled(self) -> None:
        self.model._require_compiled()
        _check_portable(self.model.loss, "Loss", ("value", "grad", "fused_grad", "__call__"))
        _check_portable(self.model.optimizer, "Optimizer", ("update", "apply_gradients"))

    # --- the backend: steps -------------------------------------------------------------------
    def train_step(self, x: Array | Tensor, y: Array | Tensor) -> tuple[float, Array]:
        """Forward, loss, gradients, then the nnlib optimizer's update on the tensors.

        Returns the loss (with penalties, before the update) and the predictions (N, *output_shape)
        as a NumPy array.
        """
        loss, out = self._gradients(self._tensor(x), self._tensor(y))
        with torch.no_grad():
            self.model.optimizer.apply_gradients([(k, w, w.grad) for k, w, _ in self._trainable()])
        return loss, out.cpu().numpy()

    @torch.no_grad()
    def predict_step(self, x: Array) -> Array:
        """The module's output for one batch (N, *input_shape), in inference mode, on the host."""
        self.module.eval()
        try:
            return self.module(self._tensor(x)).cpu().numpy()
        finally:
            self.module.train()

    def _gradients(self, x: Tensor, y: Tensor, training: bool = True) -> tuple[float, Tensor]:
        """Fill ``.grad`` of every trainable tensor; return the loss (with penalties) and output.

        The gradient enters where nnlib's backward starts: ``dL/dz`` of the last Dense for a fused
        output loss (softmax + cross-entropy), else ``dL/dy_hat``.
        """
        loss_fn = self.model.loss
        self.module.train(training)
        out, z = self.module.forward_with_logits(x)
        self.module.train()
        fused = self.model.fused_output() and z is not None
        with torch.no_grad():
            loss = float(loss_fn.value(y, out))
            seed = loss_fn.fused_grad(y, out) if fused else loss_fn.grad(y, out)
        for w in self.module.parameters():
            w.grad = None
        if (z if fused else out).requires_grad:
            (z if fused else out).backward(seed)
        with torch.no_grad():
            for _, w, _ in self._trainable():
                w.grad = torch.zeros_like(w) if w.grad is None else w.grad
            for layer, sub in zip(self.model.layers, self.module.layers, strict=True):
                tensors = {key: t for key, _, t, _ in _weight_slots(layer, sub)}
                for key, reg in layer.regularized() if isinstance(layer, Dense) else []:
                    loss += reg(tensors[key])  # the penalties, as in Dense.penalty and backward
                    if layer.trainable:
                        tensors[key].grad += reg.gradient(tensors[key])
        return loss, out.detach()


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
    """Training throughput of the PyTorch path in samples per second (``len(X) * epochs / s``):
    a copy of the compiled ``model`` (left unchanged) trains on ``warmup_batches`` batches, then,
    timed until the device is done, ``epochs`` epochs over ``(X, y)``."""
    tm = TorchModel(copy.deepcopy(model), device=device)
    n_warm = min(len(X), warmup_batches * batch_size)
    if n_warm > 0:
        tm.fit(X[:n_warm], y[:n_warm], epochs=1, batch_size=batch_size, verbose=0)
    sync = torch.cuda.synchronize if tm.device.type == "cuda" else lambda: None
    sync()
    start = time.perf_counter()
    tm.fit(X, y, epochs=epochs, batch_size=batch_size, verbose=0)
    sync()
    return len(X) * epochs / (time.perf_counter() - start)
