"""nnlib: the course's reference library. NumPy backprop from scratch with a Keras-like surface.

The lecture's code runs with only its imports changed::

    from nnlib import models, layers, regularizers, callbacks
    network = models.Sequential()
    network.add(layers.Dense(512, activation='relu', kernel_initializer='he_normal',
                             input_shape=(28 * 28,)))

One module per concept: activations, losses, initializers, optimizers, schedules, regularizers,
layers, models, callbacks, metrics, data, gradcheck, utils.
"""

from nnlib import (
    activations,
    callbacks,
    data,
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

__all__ = [
    "Sequential",
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
    "schedules",
    "set_seed",
    "to_categorical",
    "utils",
]
__version__ = "0.1.0"
