"""nnlib: the course's reference library. NumPy backprop from scratch with a Keras-like surface.

The lecture's code runs with only its imports changed::

    from nnlib import models, layers, regularizers, callbacks
    network = models.Sequential()
    network.add(layers.Dense(512, activation='relu', kernel_initializer='he_normal',
                             input_shape=(28 * 28,)))

One module per concept: activations, losses, initializers, optimizers, schedules, regularizers,
layers, models, callbacks, metrics, data, gradcheck, utils. Two more load on first use, so that
``import nnlib`` needs neither PyTorch nor scikit-learn: ``nnlib.torch_backend`` (``TorchModel``,
``to_torch``, ``load_from_torch``) and ``nnlib.estimators`` (``NNClassifier``, ``NNRegressor``).
"""

import importlib
from typing import Any

from nnlib import (
    activations,
    callbacks,
    gradcheck,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    regularizers,
    schedules,
    utils,
)
from nnlib.models import Sequential
from nnlib.utils import set_seed, to_categorical

_LAZY = {
    "data": ("nnlib.data", None),  # lazy, so that `python -m nnlib.data` runs it cleanly
    "torch_backend": ("nnlib.torch_backend", None),
    "estimators": ("nnlib.estimators", None),
    "TorchModel": ("nnlib.torch_backend", "TorchModel"),
    "to_torch": ("nnlib.torch_backend", "to_torch"),
    "load_from_torch": ("nnlib.torch_backend", "load_from_torch"),
    "NNClassifier": ("nnlib.estimators", "NNClassifier"),
    "NNRegressor": ("nnlib.estimators", "NNRegressor"),
}


def __getattr__(name: str) -> Any:
    """Import ``torch_backend``/``estimators`` (and their main names) on first access."""
    if name not in _LAZY:
        raise AttributeError(f"module 'nnlib' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = importlib.import_module(module)
    return value if attr is None else getattr(value, attr)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "NNClassifier",
    "NNRegressor",
    "Sequential",
    "TorchModel",
    "activations",
    "callbacks",
    "data",
    "gradcheck",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "regularizers",
    "estimators",
    "load_from_torch",
    "schedules",
    "set_seed",
    "to_categorical",
    "to_torch",
    "torch_backend",
    "utils",
]
__version__ = "0.1.0"
