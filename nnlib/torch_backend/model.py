""":class:`TorchModel`: the PyTorch step engine behind ``Sequential.fit`` / ``evaluate`` / ``predict``.

The loop (epochs, batches, callbacks, History, progress, validation, metrics) is nnlib's own:
:meth:`TorchModel.fit` calls ``model.fit(..., backend=self)``, which asks this class only for the
steps (:meth:`~TorchModel.train_step`, :meth:`~TorchModel.predict_step`) and for the transfers of
data, weights and optimizer state (:meth:`~TorchModel.stage`, :meth:`~TorchModel.sync_in`,
:meth:`~TorchModel.sync_out`). A step runs the converted module forward, takes ``dL/dy_hat`` (or
the fused ``dL/dz``) from nnlib's loss and the penalties' gradients from nnlib's regularizers on
tensors, lets autograd carry the gradient through the module, and updates the weights with the
nnlib optimizer's own ``update`` on tensors.
"""

from __future__ import annotations

import copy
import inspect
import time
from typing import Any

import numpy as np
import torch

from nnlib.callbacks import History
from nnlib.layers import Dense
from nnlib.models import Sequential
from nnlib.torch_backend.convert import (
    _check_layer,
    _check_portable,
    _copy_to_torch,
    _slots,
    _to_numpy,
    to_torch,
)
from nnlib.torch_backend.devices import (
    _TORCH_TO_NP,
    DeviceLike,
    DTypeLike,
    _resolve_dtype,
    describe_device,
    resolve_device,
)
from nnlib.torch_backend.modules import TorchDropout, TorchSequential

Array = np.ndarray
Tensor = torch.Tensor


class TorchModel:
    """Train and run an nnlib ``Sequential`` with PyTorch; the weights end up in the nnlib model.

    ``fit``, ``evaluate``, ``predict`` and ``train_on_batch`` are the nnlib model's own, run with
    this object as their ``backend``: same arguments, same results. Attributes the wrapper does not
    have are looked up on the nnlib model (``layers``, ``optimizer``, ``summary()``...).

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

    Attributes
    ----------
    device : torch.device
    device_name : str
        E.g. ``'cuda:0 (NVIDIA H100 80GB HBM3)'`` or ``'cpu'``; ``fit`` prints it when verbose.
    module : TorchSequential or None
        The converted network (None until the model is built).
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
            _check_layer(layer)
        self.model = model
        self.device = resolve_device(device)
        self.device_name = describe_device(self.device)
        self.dtype = _resolve_dtype(dtype, model.dtype, self.device)
        self.np_dtype = _TORCH_TO_NP[self.dtype]
        self.data_on_device = bool(data_on_device)
        self.module: TorchSequential | None = None
        if model.built:
            self.module = to_torch(model, self.device, self.dtype)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "model":
            raise AttributeError(name)
        return getattr(self.model, name)

    def __repr__(self) -> str:
        return f"<TorchModel of {self.model!r} on {self.device_name}, {self.dtype}>"

    # --- the public surface: nnlib's loop with this backend -------------------------------------
    def fit(self, x: Array, y: Array, *args: Any, **kwargs: Any) -> History:
        """:meth:`nnlib.models.Sequential.fit` (same arguments) with the steps run by PyTorch.

        Returns
        -------
        History
            The trained weights and optimizer state are in the nnlib model afterwards.
        """
        self._check_compiled()
        if self.model.built:
            self._weights_in()
        bound = inspect.signature(Sequential.fit).bind(self.model, x, y, *args, **kwargs)
        if bound.arguments.get("verbose", "auto"):
            print(f"nnlib.torch_backend: training on {self.device_name} in {self.dtype}")
        return self.model.fit(x, y, *args, **kwargs, backend=self)

    def evaluate(
        self, x: Array, y: Array, batch_size: int = 32, verbose: int = 0
    ) -> float | list[float]:
        """:meth:`nnlib.models.Sequential.evaluate` with the forward passes run by PyTorch."""
        if self.model.loss is None:
            raise RuntimeError("Compile the model before evaluate: model.compile(..., loss=...).")
        x, y = self.model._prepare(x, y)
        self._weights_in()
        return self.model.evaluate(x, y, batch_size, verbose, backend=self)

    def predict(self, x: Array, batch_size: int = 32, verbose: int = 0) -> Array:
        """:meth:`nnlib.models.Sequential.predict` run by PyTorch (in the module's dtype)."""
        self.model._check_ready(self.model._prepare_x(x))
        self._weights_in()
        return self.model.predict(x, batch_size, verbose, backend=self)

    def train_on_batch(self, x: Array, y: Array) -> float:
        """One update on a batch, as ``Sequential.train_on_batch``; returns the loss."""
        self._check_compiled()
        x, y = self.model._prepare(x, y)
        return self.model.train_on_batch(x, y, backend=self)

    def loss_and_gradients(
        self, x: Array, y: Array, training: bool = True
    ) -> tuple[float, dict[tuple[str, str], Array]]:
        """Loss and ``{(layer name, weight name): gradient}`` in nnlib's layout, no update.

        The PyTorch counterpart of ``Sequential.loss_and_gradients``; in training mode the batch
        normalization running statistics are updated and written back, as in nnlib.
        """
        self._check_compiled()
        x, y = self.model._prepare(x, y)
        self.sync_in()
        try:
            xs, ys = self.stage(x, y)
            loss, _ = self._gradients(self._tensor(xs), self._tensor(ys), training)
            grads = {
                (layer.name, key): _to_numpy(tensor.grad, transpose, self.model.dtype)
                for layer, (key, is_param, tensor, transpose) in _slots(self.model, self.module)
                if is_param and layer.trainable
            }
        finally:
            self.sync_out()
        return loss, grads

    # --- the backend: transfers ---------------------------------------------------------------
    def sync_in(self) -> None:
        """nnlib -> device: weights, running statistics, trainable flags, optimizer state."""
        self._weights_in()
        self._seed_dropout()
        opt = self.model.optimizer
        for key, _, transpose in self._trainable():
            state = opt.state.get(key, {})
            for name, arr in state.items():
                if isinstance(arr, np.ndarray):
                    state[name] = self._tensor(np.ascontiguousarray(arr.T if transpose else arr))

    def sync_out(self) -> None:
        """Device -> nnlib: weights, running statistics and optimizer state (as NumPy arrays)."""
        self.model.set_weights(self.get_weights())
        opt = self.model.optimizer
        for key, _, transpose in self._trainable():
            state = opt.state.get(key, {})
            for name, t in state.items():
                if isinstance(t, Tensor):
                    state[name] = _to_numpy(t, transpose, self.model.dtype)

    def stage(self, x: Array, y: Array) -> tuple[Any, Any]:
        """Inputs in the module's dtype and the loss' targets (one-hot, smoothed), on the device
        when ``data_on_device``, else on the host (indexed there, one batch moved per step)."""
        out = self.model.output_shape
        t = self.model.loss.targets(y, np.empty((len(y), *out), self.np_dtype))
        x = np.ascontiguousarray(x, dtype=self.np_dtype)
        if self.data_on_device:
            return self._tensor(x), self._tensor(t)
        return x, t

    def _weights_in(self) -> None:
        if self.module is None:
            self.module = to_torch(self.model, self.device, self.dtype)
        else:
            _copy_to_torch(self.model, self.module)

    def _trainable(self) -> list[tuple[str, Tensor, bool]]:
        """``(optimizer key, tensor, transposed)`` of every weight the optimizer updates."""
        return [
            (f"{layer.name}/{key}", tensor, transpose)
            for layer, (key, is_param, tensor, transpose) in _slots(self.model, self.module)
            if is_param and layer.trainable
        ]

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

    # --- the backend: steps -------------------------------------------------------------------
    def train_step(self, x: Array | Tensor, y: Array | Tensor) -> tuple[float, Array]:
        """Forward, loss, gradients, then the nnlib optimizer's update on the tensors.

        Returns
        -------
        loss : float
            With penalties, before the update.
        y_pred : ndarray, shape (N, *output_shape)
        """
        loss, out = self._gradients(self._tensor(x), self._tensor(y))
        with torch.no_grad():
            self.model.optimizer.apply_gradients(
                [(key, w, w.grad) for key, w, _ in self._trainable()]
            )
        return loss, out.cpu().numpy()

    @torch.no_grad()
    def predict_step(self, x: Array) -> Array:
        """The module's output for one batch, in inference mode, as a NumPy array."""
        self.module.eval()
        try:
            return self.module(self._tensor(x)).cpu().numpy()
        finally:
            self.module.train()

    def _gradients(self, x: Tensor, y: Tensor, training: bool = True) -> tuple[float, Tensor]:
        """Fill ``.grad`` of every trainable tensor; return the loss (with penalties) and output.

        The gradient enters where nnlib's backward starts: ``dL/dz`` of the last Dense for a fused
        output loss (softmax + cross-entropy), ``dL/dy_hat`` otherwise; autograd takes it down
        through the module; the regularizers add their own gradients.
        """
        model, loss_fn = self.model, self.model.loss
        self.module.train(training)
        out, z = self.module.forward_with_logits(x)
        self.module.train()
        with torch.no_grad():
            loss = float(loss_fn.value(y, out))
            fused = model.fused_output() and z is not None
            seed = loss_fn.fused_grad(y, out) if fused else loss_fn.grad(y, out)
        for w in self.module.parameters():
            w.grad = None
        top = z if fused else out
        if top.requires_grad:
            top.backward(seed)
        with torch.no_grad():
            for _, w, _ in self._trainable():
                if w.grad is None:
                    w.grad = torch.zeros_like(w)
            for layer, w, reg in self._regularized():
                loss += reg(w)
                if layer.trainable:
                    w.grad += reg.gradient(w)
        return loss, out.detach()

    def _regularized(self) -> list[tuple[Dense, Tensor, Any]]:
        """``(layer, tensor, regularizer)`` for every regularized weight."""
        out = []
        for layer, sub in zip(self.model.layers, self.module.layers, strict=True):
            if isinstance(layer, Dense):
                for reg, w in [
                    (layer.kernel_regularizer, sub.linear.weight),
                    (layer.bias_regularizer, sub.linear.bias),
                ]:
                    if reg is not None and w is not None:
                        out.append((layer, w, reg))
        return out

    def _check_compiled(self) -> None:
        model = self.model
        if model.optimizer is None or model.loss is None:
            raise RuntimeError(
                "You must compile the model before training: call "
                "model.compile(optimizer='rmsprop', loss='categorical_crossentropy', "
                "metrics=['accuracy'])."
            )
        _check_portable(model.loss, "Loss", ("value", "grad", "fused_grad"))
        _check_portable(model.optimizer, "Optimizer", ("update", "apply_gradients"))

    # --- weights ------------------------------------------------------------------------------
    def get_weights(self) -> list[Array]:
        """Host copies of the PyTorch weights in nnlib's ``get_weights`` order and layout."""
        if self.module is None:
            return self.model.get_weights()
        return [
            _to_numpy(tensor, transpose, self.model.dtype)
            for _, (_, _, tensor, transpose) in _slots(self.model, self.module)
        ]

    def set_weights(self, weights: list[Array]) -> None:
        """Load weights in nnlib's ``get_weights`` order and layout (into both copies)."""
        self.model.set_weights(weights)
        self._weights_in()

    def save_weights(self, path: Any) -> None:
        """``model.save_weights(path)`` with the PyTorch weights."""
        if self.module is not None:
            self.model.set_weights(self.get_weights())
        self.model.save_weights(path)


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

    A copy of ``model`` is trained, so the model itself is left unchanged: first on
    ``warmup_batches`` batches, then, timed, for ``epochs`` epochs over ``(X, y)`` with
    ``verbose=0``; the time ends after the device is done.

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
