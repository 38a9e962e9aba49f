"""scikit-learn estimators around nnlib networks: grid search, random search, pipelines (chapter 9).

:class:`NNClassifier` and :class:`NNRegressor` follow scikit-learn's conventions: the constructor
only stores its arguments, ``fit`` validates the data, builds a fresh network and trains it, and the
fitted state lives in attributes ending with ``_`` (``model_``, ``classes_``, ``n_features_in_``,
``history_``...). So they can be cloned, put in a ``Pipeline`` and tuned::

    from sklearn.model_selection import GridSearchCV
    from nnlib.estimators import NNClassifier

    search = GridSearchCV(NNClassifier(epochs=3, random_state=0),
                          {'hidden_layer_sizes': [(64,), (256,)], 'learning_rate': [1e-3, 1e-2]},
                          cv=3)
    search.fit(X_train / 255, y_train)   # labels of any type: ints, strings...

The network is the lecture's: ``Dense`` layers of ``hidden_layer_sizes`` units (optionally each
followed by ``BatchNormalization`` and ``Dropout``), then a softmax output (classifier) or a linear
one (regressor). The lecture's ``make_model(hp)`` idea is the ``model_fn`` parameter: a function
that receives the hyperparameters as a dict and returns a compiled ``Sequential``.

``backend='torch'`` trains (and predicts) through :mod:`nnlib.torch_backend`, on the GPU when
there is one (``device='auto'``); ``backend='numpy'`` uses nnlib's own ``fit``. With the same
``random_state`` both backends build the same initial network and see the same mini-batches.

Inputs are not rescaled: divide pixel values by 255 (or use a ``StandardScaler`` in a pipeline).
Images of shape ``(N, 28, 28)`` are flattened to ``(N, 784)``.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from nnlib import layers, losses, optimizers, regularizers
from nnlib.callbacks import EarlyStopping
from nnlib.models import Sequential

Array = np.ndarray

__all__ = ["NNClassifier", "NNRegressor"]


class _NNBase(BaseEstimator):
    """What the classifier and the regressor share: validation, building, training, pickling."""

    _task = "base"

    # --- hyperparameters --------------------------------------------------------------------
    def _check_params(self) -> None:
        """Validate the hyperparameters at fit time (the constructor never raises)."""
        if self.backend not in ("numpy", "torch"):
            raise ValueError(f"backend must be 'numpy' or 'torch', got {self.backend!r}.")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}.")
        if self.l2 < 0:
            raise ValueError(f"l2 must be >= 0, got {self.l2!r}.")
        if not 0 <= self.validation_split < 1:
            raise ValueError(f"validation_split must be in [0, 1), got {self.validation_split!r}.")
        es = self.early_stopping
        if es is not None and (not isinstance(es, numbers.Integral) or es < 0):
            raise ValueError(
                f"early_stopping must be None or a patience (a number of epochs >= 0), got {es!r}."
            )
        if self.model_fn is not None and not callable(self.model_fn):
            raise TypeError(f"model_fn must be callable or None, got {self.model_fn!r}.")
        self._hidden_sizes()
        self._optimizer()

    def _hidden_sizes(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            sizes = (sizes,)
        try:
            sizes = tuple(sizes)
        except TypeError:
            raise ValueError(
                f"hidden_layer_sizes must be a sequence of positive integers, got {sizes!r}."
            ) from None
        if not all(isinstance(u, numbers.Integral) and u >= 1 for u in sizes):
            raise ValueError(
                f"hidden_layer_sizes must be a sequence of positive integers, got {sizes!r}."
            )
        return tuple(int(u) for u in sizes)

    def _optimizer(self) -> optimizers.Optimizer:
        if isinstance(self.optimizer, optimizers.Optimizer):
            return copy.deepcopy(self.optimizer)  # never train the parameter itself
        return optimizers.get(str(self.optimizer), self.learning_rate)

    def _hp(self, n_features: int, n_outputs: int, seed: int) -> dict[str, Any]:
        hp = {k: v for k, v in self.get_params(deep=False).items() if k != "model_fn"}
        hp.update(
            input_shape=(n_features,),
            n_outputs=n_outputs,
            seed=seed,
            task=self._task,
            optimizer_instance=self._optimizer(),
        )
        return hp

    # --- the network ------------------------------------------------------------------------
    def _build(self, n_features: int, n_outputs: int, seed: int) -> Sequential:
        """The default network, or ``model_fn(hp)``."""
        if self.model_fn is not None:
            model = self.model_fn(self._hp(n_features, n_outputs, seed))
            if not isinstance(model, Sequential):
                raise TypeError(
                    f"model_fn must return an nnlib Sequential, got {type(model).__name__}."
                )
            if model.optimizer is None or model.loss is None:
                raise ValueError(
                    "model_fn must return a compiled model: call model.compile(optimizer=..., "
                    "loss=...) before returning it."
                )
            if not model.built:
                model.build((n_features,))
            return model
        model = Sequential(dtype=self.dtype, seed=seed)
        first = {"input_shape": (n_features,)}
        reg = regularizers.l2(self.l2) if self.l2 else None
        for units in self._hidden_sizes():
            common = {"kernel_initializer": self.kernel_initializer, "kernel_regularizer": reg}
            if self.batch_normalization:
                model.add(layers.Dense(units, use_bias=False, **common, **first))
                model.add(layers.BatchNormalization())
                model.add(layers.Activation(self.activation))
            else:
                model.add(layers.Dense(units, activation=self.activation, **common, **first))
            if self.dropout:
                model.add(layers.Dropout(self.dropout))
            first = {}
        model.add(layers.Dense(n_outputs, activation=self._output_activation, **first))
        model.compile(optimizer=self._optimizer(), loss=self._loss(), metrics=self._metrics)
        return model

    # --- data ---------------------------------------------------------------------------------
    @staticmethod
    def _flatten(X: Any) -> Any:
        """Images ``(N, 28, 28)`` (any array with more than 2 axes) -> ``(N, 784)``."""
        if not sp.issparse(X) and getattr(X, "ndim", 2) > 2:
            X = np.asarray(X)
            return X.reshape(X.shape[0], -1)
        return X

    def _validate_X(self, X: Any) -> Array:
        return validate_data(self, self._flatten(X), reset=False, dtype=(np.float32, np.float64))

    # --- training -------------------------------------------------------------------------
    def _train(self, X: Array, y: Array, n_outputs: int) -> None:
        self._check_params()
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        model = self._build(X.shape[1], n_outputs, seed)
        y = self._encode_targets(y)  # the label format can depend on model_fn's loss
        if self.validation_split:  # hold out a random part, not the last rows
            order = np.random.default_rng(seed).permutation(len(X))
            X, y = X[order], y[order]
        cbs = []
        if self.early_stopping is not None:
            monitor = "val_loss" if self.validation_split else "loss"
            cbs.append(
                EarlyStopping(monitor, patience=self.early_stopping, restore_best_weights=True)
            )
        kw = {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "verbose": self.verbose,
            "callbacks": cbs,
            "validation_split": self.validation_split,
        }
        if self.backend == "torch":
            from nnlib.torch_backend import TorchModel

            trainer = TorchModel(model, device=self.device)
            history = trainer.fit(X, y, **kw)
            self.device_ = str(trainer.device)
        else:
            history = model.fit(X, y, **kw)
            self.device_ = "cpu"
        self.model_ = model
        self.history_ = history.history
        self.n_iter_ = len(history.epoch)

    def _raw_predict(self, X: Array) -> Array:
        batch = max(int(self.batch_size), 256)
        if self.backend == "torch":
            from nnlib.torch_backend import TorchModel

            return TorchModel(self.model_, device=self.device).predict(X, batch_size=batch)
        return self.model_.predict(X, batch_size=batch)

    def _encode_targets(self, y: Array) -> Array:
        return y

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True  # images are flattened
        return tags


class NNClassifier(ClassifierMixin, _NNBase):
    """A neural-network classifier (softmax output, cross-entropy) trained with nnlib.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (512, 512)
        Units of each hidden ``Dense`` layer (``()`` gives multinomial logistic regression).
    activation : str, default 'relu'
        Of the hidden layers: ``'relu'``, ``'tanh'``, ``'sigmoid'``, ``'leaky_relu'``...
    kernel_initializer : str, default 'he_normal'
        Of the hidden layers (the output layer uses Keras' default, ``'glorot_uniform'``).
    optimizer : str or nnlib Optimizer, default 'rmsprop'
        ``'sgd'``, ``'momentum'``, ``'nesterov'``, ``'adagrad'``, ``'rmsprop'``, ``'adam'``,
        ``'adamax'`` with ``learning_rate``; an optimizer instance is used as given (a copy of it).
    learning_rate : float or nnlib Schedule, default 0.001
    dropout : float, default 0.0
        Rate of a ``Dropout`` layer after each hidden layer (none when 0).
    l2 : float, default 0.0
        L2 penalty ``l2 * sum W^2`` on every hidden kernel.
    batch_normalization : bool, default False
        ``Dense`` (no bias) -> ``BatchNormalization`` -> activation in each hidden layer.
    batch_size : int, default 32
    epochs : int, default 3
    validation_split : float, default 0.0
        Fraction of the training data (drawn at random with ``random_state``) held out to compute
        ``val_loss`` and ``val_accuracy`` in ``history_``.
    early_stopping : int or None, default None
        Patience in epochs: stop when ``val_loss`` (or ``loss`` without ``validation_split``) has
        not improved for that many epochs and restore the best weights.
    label_smoothing : float, default 0.0
    backend : {'numpy', 'torch'}, default 'numpy'
        ``'torch'`` trains and predicts through :mod:`nnlib.torch_backend`.
    device : str, default 'auto'
        For ``backend='torch'``: ``'auto'`` (CUDA if available, else CPU), ``'cpu'``, ``'cuda'``.
    dtype : {'float32', 'float64'}, default 'float32'
        Precision of the network.
    random_state : int, RandomState or None, default None
        Seeds the initial weights, the shuffling, dropout and the validation split: an int makes
        ``fit`` reproducible.
    verbose : int, default 0
        Passed to ``fit`` (1: progress bar, 2: one line per epoch).
    model_fn : callable or None, default None
        ``model_fn(hp) -> compiled Sequential`` replaces the default network (the lecture's
        ``make_model(hp)``). ``hp`` holds this estimator's parameters and ``input_shape``,
        ``n_outputs`` (number of classes), ``seed`` (pass it to ``Sequential(seed=...)`` for
        reproducibility), ``task`` and ``optimizer_instance`` (a fresh optimizer built from
        ``optimizer`` and ``learning_rate``). The loss decides the label format: sparse
        categorical cross-entropy (integer classes), categorical cross-entropy (one-hot) or, for
        two classes and one sigmoid unit, binary cross-entropy.

    Attributes
    ----------
    classes_ : ndarray
        The class labels (any type), sorted; outputs follow this order.
    n_features_in_ : int
    model_ : Sequential
        The trained network.
    history_ : dict
        ``loss``, ``accuracy`` (and ``val_`` twins) per epoch.
    n_iter_ : int
        Epochs run.
    device_ : str
        Device used for training.
    """

    _task = "classification"
    _output_activation = "softmax"
    _metrics = ("accuracy",)

    def __init__(
        self,
        hidden_layer_sizes: Sequence[int] = (512, 512),
        activation: str = "relu",
        kernel_initializer: str = "he_normal",
        optimizer: str | optimizers.Optimizer = "rmsprop",
        learning_rate: Any = 0.001,
        dropout: float = 0.0,
        l2: float = 0.0,
        batch_normalization: bool = False,
        batch_size: int = 32,
        epochs: int = 3,
        validation_split: float = 0.0,
        early_stopping: int | None = None,
        label_smoothing: float = 0.0,
        backend: str = "numpy",
        device: str = "auto",
        dtype: str = "float32",
        random_state: Any = None,
        verbose: int = 0,
        model_fn: Callable[[dict], Sequential] | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.kernel_initializer = kernel_initializer
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.dropout = dropout
        self.l2 = l2
        self.batch_normalization = batch_normalization
        self.batch_size = batch_size
        self.epochs = epochs
        self.validation_split = validation_split
        self.early_stopping = early_stopping
        self.label_smoothing = label_smoothing
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.model_fn = model_fn

    def _loss(self) -> losses.Loss:
        return losses.SparseCategoricalCrossentropy(self.label_smoothing)

    def fit(self, X: Any, y: Any) -> NNClassifier:
        """Build a fresh network and train it on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, height, width)
        y : array-like of shape (n_samples,)
            Class labels of any type.

        Returns
        -------
        self
        """
        X, y = validate_data(self, self._flatten(X), y, dtype=(np.float32, np.float64))
        check_classification_targets(y)
        self.label_encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.label_encoder_.classes_
        self._train(X, self.label_encoder_.transform(y), len(self.classes_))
        return self

    def _build(self, n_features: int, n_outputs: int, seed: int) -> Sequential:
        model = super()._build(n_features, n_outputs, seed)
        loss, out = model.loss, model.output_shape
        if isinstance(loss, losses.SparseCategoricalCrossentropy):
            fmt = "sparse"
        elif isinstance(loss, losses.CategoricalCrossentropy):
            fmt = "onehot"
        elif isinstance(loss, losses.BinaryCrossentropy) and out == (1,) and n_outputs <= 2:
            fmt = "binary"
        else:
            raise ValueError(
                f"The classifier's network must end in {n_outputs} units with "
                "(sparse_)categorical_crossentropy, or in 1 sigmoid unit with binary_crossentropy "
                f"for two classes; got output shape {out} and loss {loss!r}."
            )
        if fmt != "binary" and out != (n_outputs,):
            raise ValueError(
                f"The network has output shape {out} but there are {n_outputs} classes."
            )
        self._label_format_ = fmt
        return model

    def _encode_targets(self, codes: Array) -> Array:
        if self._label_format_ == "onehot":
            return np.eye(len(self.classes_), dtype=np.float32)[codes]
        if self._label_format_ == "binary":
            return codes.astype(np.float32)
        return codes

    def predict_proba(self, X: Any) -> Array:
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, height, width)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        proba = self._raw_predict(self._validate_X(X)).astype(np.float64)
        if self._label_format_ == "binary":
            p = proba[:, 0]
            proba = np.stack([1 - p, p], axis=1)[:, : len(self.classes_)]
        return proba

    def predict(self, X: Any) -> Array:
        """The most probable class of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, height, width)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)  # checks that the estimator is fitted
        return self.classes_[np.argmax(proba, axis=1)]


class NNRegressor(RegressorMixin, _NNBase):
    """A neural-network regressor (linear output, mean squared error) trained with nnlib.

    The targets are standardized for training (``target_scaling=True``) and predictions mapped
    back, so the default learning rate suits targets of any scale.

    Parameters
    ----------
    hidden_layer_sizes, activation, kernel_initializer, optimizer, learning_rate, dropout, l2, batch_normalization, batch_size, epochs, validation_split, early_stopping, backend, device, dtype, random_state, verbose
        As in :class:`NNClassifier`.
    target_scaling : bool, default True
        Train on ``(y - mean) / std`` and predict ``mean + std * output``.
    model_fn : callable or None, default None
        ``model_fn(hp) -> compiled Sequential`` with ``hp['n_outputs']`` linear outputs and a
        regression loss (``'mse'``); see :class:`NNClassifier`.

    Attributes
    ----------
    n_features_in_ : int
    model_ : Sequential
    history_ : dict
    n_iter_ : int
    device_ : str
    y_mean_, y_scale_ : ndarray
        The target standardization (0 and 1 without ``target_scaling``).
    """

    _task = "regression"
    _output_activation = "linear"
    _metrics = ()

    def __init__(
        self,
        hidden_layer_sizes: Sequence[int] = (512, 512),
        activation: str = "relu",
        kernel_initializer: str = "he_normal",
        optimizer: str | optimizers.Optimizer = "rmsprop",
        learning_rate: Any = 0.001,
        dropout: float = 0.0,
        l2: float = 0.0,
        batch_normalization: bool = False,
        batch_size: int = 32,
        epochs: int = 3,
        validation_split: float = 0.0,
        early_stopping: int | None = None,
        target_scaling: bool = True,
        backend: str = "numpy",
        device: str = "auto",
        dtype: str = "float32",
        random_state: Any = None,
        verbose: int = 0,
        model_fn: Callable[[dict], Sequential] | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.kernel_initializer = kernel_initializer
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.dropout = dropout
        self.l2 = l2
        self.batch_normalization = batch_normalization
        self.batch_size = batch_size
        self.epochs = epochs
        self.validation_split = validation_split
        self.early_stopping = early_stopping
        self.target_scaling = target_scaling
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.model_fn = model_fn

    def _loss(self) -> losses.Loss:
        return losses.MeanSquaredError()

    def fit(self, X: Any, y: Any) -> NNRegressor:
        """Build a fresh network and train it on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, height, width)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self
        """
        X, y = validate_data(
            self,
            self._flatten(X),
            y,
            dtype=(np.float32, np.float64),
            y_numeric=True,
            multi_output=True,
        )
        y = np.asarray(y, dtype=np.float64)
        self._y_ndim_ = y.ndim
        y2 = y.reshape(len(y), -1)
        if self.target_scaling:
            self.y_mean_ = y2.mean(axis=0)
            std = y2.std(axis=0)
            self.y_scale_ = np.where(std > 0, std, 1.0)
        else:
            self.y_mean_, self.y_scale_ = np.zeros(y2.shape[1]), np.ones(y2.shape[1])
        self._train(X, (y2 - self.y_mean_) / self.y_scale_, y2.shape[1])
        return self

    def predict(self, X: Any) -> Array:
        """Predicted targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, height, width)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs), as ``y`` in ``fit``
        """
        check_is_fitted(self)
        out = self._raw_predict(self._validate_X(X)).astype(np.float64)
        out = out * self.y_scale_ + self.y_mean_
        return out[:, 0] if self._y_ndim_ == 1 else out

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
