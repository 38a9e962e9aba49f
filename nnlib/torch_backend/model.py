""":class:`TorchModel`: ``fit`` / ``evaluate`` / ``predict`` of an nnlib model on PyTorch; the functional surface and the benchmark helper.

Part of :mod:`nnlib.torch_backend` (see its docstring for the mapping and the differences).
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any

import numpy as np
import torch

from nnlib.callbacks import Callback, History, ProgbarLogger, TerminateOnNaN
from nnlib.models import Sequential
from nnlib.torch_backend.batches import _Batches, _from_numpy
from nnlib.torch_backend.convert import _check_layer, _copy_to_torch, _slots, _to_numpy, to_torch
from nnlib.torch_backend.devices import (
    _TORCH_TO_NP,
    DeviceLike,
    DTypeLike,
    _resolve_dtype,
    describe_device,
    resolve_device,
)
from nnlib.torch_backend.losses import _device_metric, _Loss
from nnlib.torch_backend.modules import TorchDropout, TorchSequential
from nnlib.torch_backend.optimizers import NNLibOptimizer, make_torch_optimizer

Array = np.ndarray
Tensor = torch.Tensor

_SYNC_INTERVAL = 0.1  # seconds between read-backs of the running loss for the progress display


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
