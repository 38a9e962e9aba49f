"""``Sequential``: a stack of layers with Keras' ``compile`` / ``fit`` / ``evaluate`` / ``predict``.

One training step (chapter 3, "mini-batch SGD") is: forward pass -> loss -> backward pass through
the layers in reverse -> optimizer update of every trainable weight (:meth:`Sequential.train_step`).
``fit`` / ``evaluate`` / ``predict`` own everything around the steps (epochs, batches, callbacks,
History, progress, validation, metrics); a :class:`Backend` runs the steps: the model itself with
NumPy, or :class:`nnlib.torch_backend.TorchModel` with PyTorch.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from nnlib import losses as losses_
from nnlib import metrics as metrics_
from nnlib import optimizers as optimizers_
from nnlib.callbacks import Callback, History, ProgbarLogger, TerminateOnNaN
from nnlib.layers import Dense, Layer
from nnlib.utils import check_array, get_rng, minibatches

Array = np.ndarray


class Backend(Protocol):
    """What runs the steps of ``fit`` / ``evaluate`` / ``predict``, which own the loop (epochs,
    batches, callbacks, History, progress, validation, metrics): the model itself with NumPy, or
    :class:`nnlib.torch_backend.TorchModel` with PyTorch."""

    def sync_in(self) -> None: ...  # weights and optimizer state to where the steps run
    def sync_out(self) -> None: ...  # and back into the nnlib model
    def stage(self, x: Array, y: Array) -> tuple[Any, Any]: ...  # the training data, indexable
    def train_step(self, x: Any, y: Any) -> tuple[float, Array]: ...  # (loss, y_pred on the host)
    def predict_step(self, x: Array) -> Array: ...


class Sequential:
    """A linear stack of layers.

    Parameters
    ----------
    layers : list of Layer, optional
        Layers to add in order (or use :meth:`add`).
    name : str, default 'sequential'
    dtype : {'float32', 'float64'}
        Precision of the weights and computations (float64 for gradient checks).
    seed : int, optional
        Seeds this model's own generator (initial weights, shuffling, dropout); otherwise nnlib's
        global one (:func:`nnlib.utils.set_seed`).

    Examples
    --------
    >>> from nnlib import models, layers
    >>> network = models.Sequential()
    >>> network.add(layers.Dense(512, activation='relu', input_shape=(28 * 28,)))
    >>> network.add(layers.Dense(10, activation='softmax'))
    >>> network.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])
    """

    def __init__(
        self,
        layers: list[Layer] | None = None,
        name: str = "sequential",
        dtype: str = "float32",
        seed: int | None = None,
    ) -> None:
        self.name = name
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}.")
        self.rng = np.random.default_rng(seed) if seed is not None else None
        self.layers: list[Layer] = []
        self.built = False
        self.input_shape: tuple[int, ...] | None = None
        self.optimizer: optimizers_.Optimizer | None = None
        self.loss: losses_.Loss | None = None
        self.metrics: list[tuple[str, Any]] = []
        self.stop_training = False
        self.history: History | None = None
        for layer in layers or []:
            self.add(layer)

    # --- building -----------------------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        """Append a layer; the first layer's ``input_shape`` builds the model right away."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects an nnlib layer, got {type(layer).__name__}.")
        if self.built and layer.input_shape is None:
            layer.build(self.layers[-1].output_shape, self.dtype, self._rng())
            self._adopt_rng(layer)
        self.layers.append(layer)
        if not self.built and self.layers[0].input_shape is not None:
            self.build(self.layers[0].input_shape)
        elif self.built and not layer.built:
            layer.build(self.layers[-2].output_shape, self.dtype, self._rng())

    def build(self, input_shape: tuple[int, ...]) -> None:
        """Create every layer's weights for samples of shape ``input_shape`` (no batch axis)."""
        shape = tuple(input_shape)
        self.input_shape = shape
        for layer in self.layers:
            if layer.built and layer.input_shape != shape:
                raise ValueError(
                    f"Layer {layer.name!r} was built for inputs (N, {layer.input_shape}) but "
                    f"receives (N, {shape}) from the previous layer."
                )
            if not layer.built:
                layer.build(shape, self.dtype, self._rng())
            self._adopt_rng(layer)
            shape = layer.output_shape
        self.built = True

    def _rng(self) -> np.random.Generator:
        return self.rng if self.rng is not None else get_rng()

    def _adopt_rng(self, layer: Layer) -> None:
        if self.rng is not None and getattr(layer, "rng", "absent") is None:
            layer.rng = self.rng

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        return self.layers[-1].output_shape if self.built else None

    # --- compiling ----------------------------------------------------------------------------
    def compile(
        self,
        optimizer: str | optimizers_.Optimizer = "rmsprop",
        loss: str | losses_.Loss | None = None,
        metrics: list[Any] | None = None,
    ) -> None:
        """Choose the optimizer, the loss and the metrics to report.

        Parameters
        ----------
        optimizer : str or Optimizer
            ``'rmsprop'``, ``'adam'``, ``'sgd'``, ... or an instance such as ``RMSprop(1e-3)``.
        loss : str or Loss
            ``'categorical_crossentropy'``, ``'sparse_categorical_crossentropy'``,
            ``'binary_crossentropy'``, ``'mse'``.
        metrics : list, optional
            E.g. ``['accuracy']``.
        """
        if loss is None:
            raise ValueError(
                "compile needs a loss, e.g. loss='categorical_crossentropy' (one-hot labels), "
                "'sparse_categorical_crossentropy' (integer labels), 'binary_crossentropy' or 'mse'."
            )
        self.optimizer = optimizers_.get(optimizer)
        self.loss = losses_.get(loss)
        self.metrics = [metrics_.get(m, self.loss.name) for m in (metrics or [])]

    # --- the math of one step -----------------------------------------------------------------
    def forward(self, x: Array, training: bool = False) -> Array:
        """Pass a batch through every layer: ``(N, *input_shape) -> (N, *output_shape)``."""
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, y: Array, y_pred: Array) -> None:
        """Backpropagate, ``grad = layer.backward(grad)`` over the layers in reverse; fills ``layer.grads``.

        The loss' gradient ``dL/dy_hat`` enters at the top. When the output activation is the loss'
        partner (softmax with categorical cross-entropy, sigmoid with binary cross-entropy), the two
        are one fused output loss, as CS231n's ``softmax_loss``: its gradient with respect to the
        last layer's pre-activation, ``dL/dz = (y_hat - y) / N``, enters below that activation. The
        loop ends at the first layer with trainable weights, which skips ``dL/dx`` (nothing below
        needs a gradient).
        """
        stop, top = self._first_trainable(), len(self.layers) - 1
        if self.fused_output():
            grad = self.layers[top].backward_z(self.loss.output_gradient(y, y_pred), top > stop)
        else:
            grad = self.layers[top].backward(self.loss.gradient(y, y_pred), top > stop)
        for i in reversed(range(stop, top)):
            grad = self.layers[i].backward(grad, i > stop)

    def fused_output(self) -> bool:
        """Whether the output activation and the loss form one fused output loss."""
        last = self.layers[-1]
        return isinstance(last, Dense) and last.activation.name == self.loss.partner

    def _first_trainable(self) -> int:
        for i, layer in enumerate(self.layers):
            if layer.params and layer.trainable:
                return i
        return len(self.layers)

    def penalty(self) -> float:
        """Sum of the layers' regularization terms (added to the loss)."""
        return sum(layer.penalty() for layer in self.layers)

    def compute_loss(self, y: Array, y_pred: Array) -> float:
        """Data loss plus regularization penalties."""
        return self.loss(y, y_pred) + self.penalty()

    def loss_and_gradients(self, x: Array, y: Array, training: bool = True) -> tuple[float, dict]:
        """Loss of a batch and ``{(layer name, parameter name): gradient}`` (no update)."""
        self._check_ready(x)
        y_pred = self.forward(x, training)
        loss = self.compute_loss(y, y_pred)
        self.backward(y, y_pred)
        grads = {
            (layer.name, k): g
            for layer in self.layers
            if layer.trainable
            for k, g in layer.grads.items()
        }
        return loss, grads

    def train_step(self, x: Array, y: Array) -> tuple[float, Array]:
        """One SGD step on a batch: forward, loss, backward, update.

        Returns
        -------
        loss : float
            With penalties, before the update.
        y_pred : array, shape (N, *output_shape)
            The predictions the loss was computed from (for the metrics).
        """
        y_pred = self.forward(x, training=True)
        loss = self.compute_loss(y, y_pred)
        self.backward(y, y_pred)
        self.optimizer.apply_gradients(self.trainable_weights_and_grads())
        return loss, y_pred

    def predict_step(self, x: Array) -> Array:
        """Outputs for one batch in inference mode: ``(N, *input_shape) -> (N, *output_shape)``."""
        return self.forward(x)

    def stage(self, x: Array, y: Array) -> tuple[Array, Array]:
        """The training data as :meth:`train_step` takes it (NumPy: unchanged)."""
        return x, y

    def sync_in(self) -> None:
        """Move weights and optimizer state to where the steps run (NumPy: nothing to move)."""

    def sync_out(self) -> None:
        """Move them back into this model (NumPy: nothing to move)."""

    def train_on_batch(self, x: Array, y: Array, backend: Backend | None = None) -> float:
        """One SGD step on a batch: forward, loss, backward, update. Returns the loss."""
        run = self if backend is None else backend
        run.sync_in()
        try:
            return run.train_step(*run.stage(x, y))[0]
        finally:
            run.sync_out()

    def trainable_weights_and_grads(self) -> list[tuple[str, Array, Array]]:
        """``(key, w, dL/dw)`` for every weight that the optimizer updates (frozen layers excluded)."""
        return [
            (f"{layer.name}/{k}", w, layer.grads[k])
            for layer in self.layers
            if layer.trainable
            for k, w in layer.params.items()
        ]

    # --- training and inference ---------------------------------------------------------------
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
        backend: Backend | None = None,
    ) -> History:
        """Train for ``epochs`` passes over ``(x, y)`` in mini-batches of ``batch_size``.

        Returns a :class:`History` whose ``history`` dict holds ``loss``, each metric, and their
        ``val_`` twins per epoch. ``validation_split`` holds out the *last* fraction of the data
        (before shuffling), as Keras does. ``backend`` runs the steps (None: this model, with
        NumPy; :class:`nnlib.torch_backend.TorchModel` passes itself); at the end of every epoch
        the weights are back in this model, where the callbacks and the validation see them.
        """
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
        self.history = History()
        cbs = [self.history, *(callbacks or [])]
        if verbose:
            cbs.append(ProgbarLogger(int(verbose), steps=steps, epochs=epochs))
        stop_on_nan = any(isinstance(cb, TerminateOnNaN) for cb in cbs)
        for cb in cbs:
            cb.set_model(self)
        self.stop_training = False
        for cb in cbs:
            cb.on_train_begin()
        run = self if backend is None else backend
        xs, ys = run.stage(x, y)  # the data where the steps run
        for epoch in range(initial_epoch, epochs):
            for cb in cbs:
                cb.on_epoch_begin(epoch)
            sums = {"loss": 0.0, **{name: 0.0 for name, _ in self.metrics}}
            seen = 0
            run.sync_in()
            try:
                for batch, idx in enumerate(minibatches(n, batch_size, shuffle, self._rng())):
                    yb = ys[idx]
                    loss, y_pred = run.train_step(xs[idx], yb)
                    if not math.isfinite(loss) and not stop_on_nan:
                        raise FloatingPointError(
                            f"The loss became {loss} at epoch {epoch + 1}, batch {batch + 1}: "
                            "training diverged. Lower the learning rate, normalize the inputs "
                            "(e.g. X / 255), or check the data for extreme values."
                        )
                    m = len(idx)
                    seen += m
                    sums["loss"] += loss * m
                    y_true = yb if run is self else y[idx]  # on the host for the metrics
                    for name, fn in self.metrics:
                        sums[name] += fn(y_true, y_pred) * m
                    logs = {k: v / seen for k, v in sums.items()}
                    for cb in cbs:
                        cb.on_batch_end(
                            batch, {**logs, "loss": loss} if not math.isfinite(loss) else logs
                        )
                    if self.stop_training:
                        break
            finally:
                run.sync_out()
            if validation_data is not None:
                val = self.evaluate(*validation_data, max(batch_size, 256), backend=backend)
                val = val if isinstance(val, list) else [val]
                logs.update({"val_loss": val[0]})
                logs.update(
                    {f"val_{name}": v for (name, _), v in zip(self.metrics, val[1:], strict=True)}
                )
            for cb in cbs:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for cb in cbs:
            cb.on_train_end()
        return self.history

    def predict(
        self, x: Array, batch_size: int = 32, verbose: int = 0, backend: Backend | None = None
    ) -> Array:
        """Outputs of the network (e.g. class probabilities) for every sample, in batches."""
        x = self._prepare_x(x)
        self._check_ready(x, need_compile=False)
        run = self if backend is None else backend
        outs = [run.predict_step(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(outs) if outs else np.empty((0, *self.output_shape), self.dtype)

    def evaluate(
        self,
        x: Array,
        y: Array,
        batch_size: int = 32,
        verbose: int = 0,
        backend: Backend | None = None,
    ) -> float | list[float]:
        """Loss (with penalties) and metrics on ``(x, y)``: ``test_loss, test_acc = evaluate(...)``."""
        if self.loss is None:
            raise RuntimeError("Compile the model before evaluate: model.compile(..., loss=...).")
        x, y = self._prepare(x, y)
        y_pred = self.predict(x, batch_size, backend=backend)
        loss = self.compute_loss(y, y_pred)
        if not self.metrics:
            return loss
        return [loss, *(fn(y, y_pred) for _, fn in self.metrics)]

    # --- validation ---------------------------------------------------------------------------
    def _prepare_x(self, x: Array) -> Array:
        return check_array(x, "x").astype(self.dtype, copy=False)

    def _prepare(self, x: Array, y: Array) -> tuple[Array, Array]:
        x = self._prepare_x(x)
        y = check_array(y, "y")
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)}; they must match.")
        self._check_ready(x)
        out = self.output_shape
        if self.loss is not None:
            probe = np.zeros((min(len(y), 1), *out), self.dtype)
            self.loss.targets(y[:1], probe)  # raises a clear error for wrong label shapes/ranges
            if isinstance(self.loss, losses_.SparseCategoricalCrossentropy):
                losses_.sparse_to_one_hot(y, out[-1])  # every label in range
        return x, y

    def _check_ready(self, x: Array, need_compile: bool = False) -> None:
        if not self.layers:
            raise RuntimeError(
                "The model has no layers: add some with model.add(layers.Dense(...))."
            )
        if not self.built:
            self.build(x.shape[1:])
        if x.shape[1:] != self.input_shape:
            raise ValueError(
                f"Model {self.name!r} expects inputs of shape (N, "
                f"{', '.join(map(str, self.input_shape))}), got {x.shape}; the first layer is "
                f"{self.layers[0].name!r}."
                + (
                    f" Reshape the data: X.reshape((len(X), {', '.join(map(str, self.input_shape))}))."
                    if np.prod(x.shape[1:]) == np.prod(self.input_shape)
                    else ""
                )
            )

    # --- weights --------------------------------------------------------------------------------
    def count_params(self) -> int:
        """Total number of weights (669,706 for the lecture's 784-512-512-10 network)."""
        self._require_built()
        return sum(layer.count_params() for layer in self.layers)

    def get_weights(self) -> list[Array]:
        """Copies of every layer's weights, in order (kernel, bias, ... per layer)."""
        return [w.copy() for layer in self.layers for w in layer.weights()]

    def set_weights(self, weights: list[Array]) -> None:
        """Load weights in :meth:`get_weights` order (copied in place; shapes must match)."""
        self._require_built()
        targets = [w for layer in self.layers for w in layer.weights()]
        if len(weights) != len(targets):
            raise ValueError(f"Expected {len(targets)} weight arrays, got {len(weights)}.")
        for i, (dst, src) in enumerate(zip(targets, weights, strict=True)):
            src = np.asarray(src)
            if src.shape != dst.shape:
                raise ValueError(f"Weight {i}: expected shape {dst.shape}, got {src.shape}.")
            np.copyto(dst, src, casting="same_kind")

    def _weight_names(self) -> list[str]:
        return [
            f"{i:03d}_{type(layer).__name__.lower()}/{k}"
            for i, layer in enumerate(self.layers)
            for k in [*layer.params, *layer.state]
        ]

    def save_weights(self, path: str | Path) -> None:
        """Save the weights to an ``.npz`` file (keys by position and type: ``000_dense/W``, ...)."""
        self._require_built()
        path = Path(path)
        if path.suffix != ".npz":
            path = (
                path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
            )
        np.savez(path, **dict(zip(self._weight_names(), self.get_weights(), strict=True)))

    def load_weights(self, path: str | Path) -> None:
        """Load weights saved by :meth:`save_weights` into this (same-architecture) model."""
        self._require_built()
        with np.load(path, allow_pickle=False) as data:
            names = self._weight_names()
            missing = [n for n in names if n not in data.files]
            if missing or len(data.files) != len(names):
                raise ValueError(
                    f"{path} does not match this model's architecture: it holds {sorted(data.files)}, "
                    f"the model needs {names}."
                )
            self.set_weights([data[n] for n in names])

    def _require_compiled(self) -> None:
        if self.optimizer is None or self.loss is None:
            raise RuntimeError(
                "You must compile the model before training: call "
                "model.compile(optimizer='rmsprop', loss='categorical_crossentropy', "
                "metrics=['accuracy'])."
            )

    def _require_built(self) -> None:
        if not self.built:
            raise RuntimeError(
                f"Model {self.name!r} has not been built yet: give the first layer an input_shape, "
                "call model.build(input_shape) or fit it on data first."
            )

    def summary(self, print_fn: Any = print) -> None:
        """Print the familiar table: each layer's output shape and number of parameters."""
        self._require_built()
        rows = [
            (
                f"{layer.name} ({type(layer).__name__})",
                _shape(layer.output_shape),
                layer.count_params(),
            )
            for layer in self.layers
        ]
        total = self.count_params()
        trainable = sum(
            sum(p.size for p in layer.params.values()) for layer in self.layers if layer.trainable
        )
        line, thick = "_" * 65, "=" * 65
        out = [
            f'Model: "{self.name}"',
            line,
            f" {'Layer (type)':<27}{'Output Shape':<26}Param #",
            thick,
        ]
        for i, (name, shape, count) in enumerate(rows):
            out.append(f" {name:<27}{shape:<26}{count}")
            out.append(line if i < len(rows) - 1 else thick)
        out += [
            f"Total params: {total:,}",
            f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}",
            line,
        ]
        print_fn("\n".join(out))

    def __repr__(self) -> str:
        return f"<Sequential {self.name!r}: {' -> '.join(layer.name for layer in self.layers)}>"


def _shape(shape: tuple[int, ...]) -> str:
    """Keras' way of printing an output shape: ``(None, 512)``."""
    return "(" + ", ".join(["None", *map(str, shape)]) + ")"
