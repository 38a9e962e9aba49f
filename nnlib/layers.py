"""Layers: forward and backward side by side, the cache explicit (chapters 2, 3 and 8).

Each layer has a pair of plain functions (``dense_forward`` / ``dense_backward``, ...) that do the
math on arrays, and a small class that owns the parameters and the cache and that ``Sequential``
stacks. Shapes: ``N`` samples in a batch, ``D`` input features, ``H`` output units.

A layer exposes ``forward(x, training) -> out``, ``backward(grad_out) -> grad_in``, its parameters
``params`` and their gradients ``grads`` by name (``'W'``, ``'b'``, ``'gamma'``, ``'beta'``), and
``trainable``: set it to False to freeze the layer (transfer learning), and ``fit`` leaves its
weights unchanged.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from nnlib import activations as activations_
from nnlib import initializers, regularizers
from nnlib.utils import get_rng

Array = np.ndarray
Shape = tuple[int, ...]
_NAME_COUNTERS: dict[str, itertools.count] = defaultdict(itertools.count)


# ---------------------------------------------------------------------------------------------
# The math: functional forward/backward pairs
# ---------------------------------------------------------------------------------------------
def dense_forward(x: Array, W: Array, b: Array) -> tuple[Array, tuple[Array, Array]]:
    """Affine map of a batch: ``z = x W + b``.

    Parameters
    ----------
    x : (N, D) inputs, one row per sample
    W : (D, H) weights, ``W[i, j]`` connects input ``i`` to unit ``j``
    b : (H,) biases, broadcast over the ``N`` rows

    Returns
    -------
    z : (N, H) pre-activations
    cache : (x, W), what the backward pass needs
    """
    z = x @ W
    z += b
    return z, (x, W)


def dense_backward(dz: Array, cache: tuple[Array, Array]) -> tuple[Array, Array, Array]:
    """Gradients of ``z = x W + b`` given ``dz = dL/dz`` of shape (N, H).

    ``dL/dW = x^T delta`` (D, H);  ``dL/db = sum_n delta_n`` (H,);  ``dL/dx = delta W^T`` (N, D),
    where ``delta = dz`` already carries the ``1/N`` of the mean loss.
    """
    x, W = cache
    dW = x.T @ dz
    db = dz.sum(axis=0)
    dx = dz @ W.T
    return dx, dW, db


def dropout_forward(
    x: Array, rate: float, training: bool, rng: np.random.Generator | Callable | None = None
) -> tuple[Array, Array | None]:
    """Inverted dropout: zero a fraction ``rate`` of the activations and scale the rest up.

    ``mask = (u >= rate) / (1 - rate)`` with ``u ~ U(0, 1)``; ``out = x * mask`` in training, and
    ``out = x`` at test time. Scaling up by ``1 / (1 - rate)`` while training keeps the expected
    activation equal to the test-time one, which is the lecture's "scale down at test time" moved
    to training time. ``rng`` is a NumPy generator, or a function ``u = rng(x)`` that draws ``u``
    shaped like ``x`` (the PyTorch path passes one that draws a torch tensor on the device).
    """
    if not training or rate == 0:
        return x, None
    xp = array_namespace(x)
    if rate >= 1:
        return xp.zeros_like(x), xp.zeros_like(x)
    if callable(rng):
        u = rng(x)
    else:
        dtype = np.float64 if x.dtype == np.float64 else np.float32
        u = (rng or get_rng()).random(x.shape, dtype=dtype)
    mask = xp.astype(u >= rate, x.dtype) / (1 - rate)
    return x * mask, mask


def dropout_backward(dout: Array, mask: Array | None) -> Array:
    """``dL/dx = dL/dout * mask`` (dropped units pass no gradient)."""
    return dout if mask is None else dout * mask


def batchnorm_forward(
    x: Array,
    gamma: Array,
    beta: Array,
    running_mean: Array,
    running_var: Array,
    momentum: float,
    eps: float,
    training: bool,
) -> tuple[Array, tuple | None]:
    """Batch normalization of ``x`` (N, D) per feature.

    Training: ``mu = mean_n x``, ``var = mean_n (x - mu)^2``, ``x_hat = (x - mu) / sqrt(var + eps)``,
    ``out = gamma x_hat + beta``; the running statistics are updated in place as exponential moving
    averages ``running = momentum running + (1 - momentum) batch`` (Keras' convention).
    Inference: the same with ``mu, var`` replaced by the running statistics. Written with the
    Python array API: the PyTorch path runs it on tensors.
    """
    xp = array_namespace(x)
    if not training:
        x_hat = (x - running_mean) / xp.sqrt(running_var + eps)
        return gamma * x_hat + beta, None
    mu = xp.mean(x, axis=0)
    var = xp.var(x, axis=0)
    inv_std = 1.0 / xp.sqrt(var + eps)
    x_hat = (x - mu) * inv_std
    running_mean *= momentum
    running_mean += (1 - momentum) * mu
    running_var *= momentum
    running_var += (1 - momentum) * var
    return gamma * x_hat + beta, (x_hat, gamma, inv_std)


def batchnorm_backward(dout: Array, cache: tuple) -> tuple[Array, Array, Array]:
    """Gradients of batch normalization in training mode.

    ``dbeta = sum dout``, ``dgamma = sum dout * x_hat`` and, because ``mu`` and ``var`` depend on
    every sample of the batch,
    ``dx = inv_std / N * (N dx_hat - sum dx_hat - x_hat sum(dx_hat * x_hat))`` with
    ``dx_hat = dout * gamma``.
    """
    x_hat, gamma, inv_std = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dx = (inv_std / n) * (n * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0))
    return dx, dgamma, dbeta


# ---------------------------------------------------------------------------------------------
# The layers
# ---------------------------------------------------------------------------------------------
class Layer:
    """What every layer has: a name, parameters and gradients by name, ``trainable``, a shape."""

    def __init__(self, name: str | None = None, input_shape: Shape | None = None) -> None:
        kind = _snake(type(self).__name__)
        if name is None:
            n = next(_NAME_COUNTERS[kind])
            name = kind if n == 0 else f"{kind}_{n}"
        self.name = name
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        self.state: dict[str, Array] = {}  # non-trainable weights (batch norm's running stats)
        self.trainable = True
        self.built = False
        self.output_shape: Shape | None = None

    def build(self, input_shape: Shape, dtype: Any = np.float32, rng: Any = None) -> None:
        """Create the parameters for inputs of shape ``(N, *input_shape)``."""
        self.input_shape = tuple(input_shape)
        self.output_shape = self.compute_output_shape(self.input_shape)
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def forward(self, x: Array, training: bool = False) -> Array:
        raise NotImplementedError

    def backward(self, grad_out: Array, need_dx: bool = True) -> Array:
        """``dL/dout`` -> ``dL/dx`` (filling ``grads``); ``need_dx=False`` allows skipping ``dL/dx``."""
        raise NotImplementedError

    def __call__(self, x: Array, training: bool = False) -> Array:
        return self.forward(x, training)

    def count_params(self) -> int:
        """Number of weights (trainable and not), as in Keras' summary."""
        return sum(p.size for p in self.params.values()) + sum(s.size for s in self.state.values())

    def penalty(self) -> float:
        """Regularization term this layer adds to the loss (0 without regularizers)."""
        return 0.0

    def weights(self) -> list[Array]:
        """Parameters then state, in Keras' ``get_weights`` order."""
        return list(self.params.values()) + list(self.state.values())

    def _check_input(self, x: Array) -> None:
        if self.input_shape is not None and x.shape[1:] != self.input_shape:
            raise ValueError(
                f"Layer {self.name!r} ({type(self).__name__}) expects input of shape "
                f"(N, {', '.join(map(str, self.input_shape))}), got {x.shape}."
                + _shape_hint(x.shape, self.input_shape)
            )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class Dense(Layer):
    """Fully connected layer: ``a = f(x W + b)``.

    Parameters
    ----------
    units : int
        Number of output units ``H``.
    activation : str or None
        ``'relu'``, ``'sigmoid'``, ``'tanh'``, ``'leaky_relu'``, ``'softmax'``, ``'linear'``/None.
    use_bias : bool
    kernel_initializer, bias_initializer : str or callable
        Default ``'glorot_uniform'`` and ``'zeros'`` (Keras' defaults).
    kernel_regularizer, bias_regularizer : regularizer or None
        E.g. ``regularizers.l2(0.001)``.
    input_shape : tuple, optional
        ``(D,)`` for the first layer; ``input_dim=D`` is accepted too.
    """

    def __init__(
        self,
        units: int,
        activation: str | None = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        input_shape: Shape | None = None,
        input_dim: int | None = None,
        name: str | None = None,
    ) -> None:
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        super().__init__(name, input_shape)
        if not isinstance(units, int | np.integer) or units < 1:
            raise ValueError(f"Dense units must be a positive integer, got {units!r}.")
        self.units = int(units)
        self.activation = activations_.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.cache: tuple | None = None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 1:
            raise ValueError(
                f"Dense layer {self.name!r} expects flat inputs (N, D), got input shape "
                f"(N, {', '.join(map(str, input_shape))}). Add layers.Flatten() before it or "
                "reshape the data, e.g. X.reshape((len(X), -1))."
            )
        return (self.units,)

    def build(self, input_shape: Shape, dtype: Any = np.float32, rng: Any = None) -> None:
        super().build(input_shape, dtype, rng)
        fan_in = self.input_shape[0]
        self.params["W"] = self.kernel_initializer((fan_in, self.units), rng, dtype).astype(dtype)
        if self.use_bias:
            self.params["b"] = self.bias_initializer((self.units,), rng, dtype).astype(dtype)

    def forward(self, x: Array, training: bool = False) -> Array:
        """``x``: (N, D) -> ``a``: (N, H)."""
        self._check_input(x)
        W = self.params["W"]
        b = self.params["b"] if self.use_bias else np.zeros(self.units, W.dtype)
        z, cache = dense_forward(x, W, b)
        a = self.activation.forward(z)
        self.cache = (cache, z, a)
        return a

    def backward(self, grad_out: Array, need_dx: bool = True) -> Array | None:
        """``grad_out = dL/da`` (N, H) -> ``dL/dx`` (N, D); stores ``grads['W']``, ``grads['b']``.

        ``dL/dz = dL/da * f'(z)`` first (the activation's backward), then the affine part.
        ``need_dx=False`` skips ``dL/dx`` (the first layer's inputs need no gradient).
        """
        _, z, a = self._cache()
        return self.backward_z(self.activation.backward(grad_out, z, a), need_dx)

    def backward_z(self, dz: Array, need_dx: bool = True) -> Array | None:
        """Backward from ``dz = dL/dz`` (used when the loss gives the fused output gradient)."""
        cache, _, _ = self._cache()
        if not self.trainable:  # frozen: only the gradient for the layers below
            return dz @ self.params["W"].T if need_dx else None
        if need_dx:
            dx, dW, db = dense_backward(dz, cache)
        else:
            dx, dW, db = None, cache[0].T @ dz, dz.sum(axis=0)
        self.grads["W"] = dW
        if self.use_bias:
            self.grads["b"] = db
        for k, reg in self.regularized():
            self.grads[k] += reg.gradient(self.params[k])  # d penalty / dw
        return dx

    def kink_mask(self) -> Array | None:
        """Signs of the pre-activations for activations with a kink (used by gradient checks)."""
        if self.activation.name in ("relu", "leaky_relu") and self.cache is not None:
            return self.cache[1] > 0
        return None

    def regularized(self) -> list[tuple[str, Any]]:
        """``(weight name, regularizer)`` of each regularized weight (``'W'``, ``'b'``)."""
        bias = self.bias_regularizer if self.use_bias else None
        return [
            (k, reg) for k, reg in (("W", self.kernel_regularizer), ("b", bias)) if reg is not None
        ]

    def penalty(self) -> float:
        return sum((reg(self.params[k]) for k, reg in self.regularized()), 0.0)

    def _cache(self) -> tuple:
        if self.cache is None:
            raise RuntimeError(f"Layer {self.name!r}: call forward before backward.")
        return self.cache


class Activation(Layer):
    """An activation on its own: ``a = f(z)`` (e.g. after BatchNormalization)."""

    def __init__(
        self, activation: str, alpha: float | None = None, name: str | None = None, **kw: Any
    ) -> None:
        super().__init__(name, kw.get("input_shape"))
        self.activation = activations_.get(activation, alpha=alpha)
        self.cache: tuple | None = None

    def forward(self, x: Array, training: bool = False) -> Array:
        a = self.activation.forward(x)
        self.cache = (x, a)
        return a

    def backward(self, grad_out: Array, need_dx: bool = True) -> Array:
        z, a = self.cache
        return self.activation.backward(grad_out, z, a)

    def kink_mask(self) -> Array | None:
        if self.activation.name in ("relu", "leaky_relu") and self.cache is not None:
            return self.cache[0] > 0
        return None


class Dropout(Layer):
    """Inverted dropout with rate ``rate`` (fraction of activations set to 0 while training).

    Parameters
    ----------
    rate : float in [0, 1]
    seed : int, optional
        Seed of this layer's own generator (otherwise nnlib's global one, see ``set_seed``).
    """

    def __init__(self, rate: float, seed: int | None = None, name: str | None = None) -> None:
        super().__init__(name)
        if not 0 <= rate <= 1:
            raise ValueError(f"Dropout rate must be in [0, 1], got {rate}.")
        self.rate = float(rate)
        self.rng = np.random.default_rng(seed) if seed is not None else None
        self.mask: Array | None = None

    def forward(self, x: Array, training: bool = False) -> Array:
        out, self.mask = dropout_forward(x, self.rate, training, self.rng)
        return out

    def backward(self, grad_out: Array, need_dx: bool = True) -> Array:
        return dropout_backward(grad_out, self.mask)


class BatchNormalization(Layer):
    """Normalize each feature over the batch, then scale by ``gamma`` and shift by ``beta``.

    Parameters
    ----------
    momentum : float, default 0.99
        Of the exponential moving averages used at inference (Keras' default).
    epsilon : float, default 1e-3
        Added to the variance (Keras' default).
    """

    def __init__(
        self, momentum: float = 0.99, epsilon: float = 1e-3, name: str | None = None
    ) -> None:
        super().__init__(name)
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.cache: tuple | None = None

    def build(self, input_shape: Shape, dtype: Any = np.float32, rng: Any = None) -> None:
        super().build(input_shape, dtype, rng)
        if len(input_shape) != 1:
            raise ValueError(
                f"BatchNormalization {self.name!r} supports flat inputs (N, D); got "
                f"(N, {', '.join(map(str, input_shape))})."
            )
        d = input_shape[0]
        self.params["gamma"] = np.ones(d, dtype)
        self.params["beta"] = np.zeros(d, dtype)
        self.state["moving_mean"] = np.zeros(d, dtype)
        self.state["moving_variance"] = np.ones(d, dtype)

    def forward(self, x: Array, training: bool = False) -> Array:
        self._check_input(x)
        training = training and self.trainable  # a frozen BN layer runs in inference mode
        out, self.cache = batchnorm_forward(
            x,
            self.params["gamma"],
            self.params["beta"],
            self.state["moving_mean"],
            self.state["moving_variance"],
            self.momentum,
            self.epsilon,
            training,
        )
        self.cache = (training, self.cache if training else x)
        return out

    def backward(self, grad_out: Array, need_dx: bool = True) -> Array:
        if self.cache is None:
            raise RuntimeError(f"Layer {self.name!r}: call forward before backward.")
        training, cache = self.cache
        if not training:  # inference: an affine map with fixed statistics
            x = cache
            inv_std = 1.0 / np.sqrt(self.state["moving_variance"] + self.epsilon)
            x_hat = (x - self.state["moving_mean"]) * inv_std
            self.grads["gamma"] = (grad_out * x_hat).sum(axis=0)
            self.grads["beta"] = grad_out.sum(axis=0)
            return grad_out * self.params["gamma"] * inv_std
        dx, self.grads["gamma"], self.grads["beta"] = batchnorm_backward(grad_out, cache)
        return dx


class Flatten(Layer):
    """Reshape (N, d1, d2, ...) images to (N, d1 * d2 * ...) vectors for Dense layers."""

    def __init__(self, input_shape: Shape | None = None, name: str | None = None) -> None:
        super().__init__(name, input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (int(np.prod(input_shape)),)

    def forward(self, x: Array, training: bool = False) -> Array:
        self._check_input(x)
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_out: Array, need_dx: bool = True) -> Array:
        return grad_out.reshape((grad_out.shape[0], *self.input_shape))


class Reshape(Layer):
    """Reshape each sample to ``target_shape`` (one dimension may be -1)."""

    def __init__(
        self, target_shape: Shape, input_shape: Shape | None = None, name: str | None = None
    ) -> None:
        super().__init__(name, input_shape)
        self.target_shape = tuple(target_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        size = int(np.prod(input_shape))
        try:
            return np.empty((size,), dtype=np.bool_).reshape(self.target_shape).shape
        except ValueError:
            raise ValueError(
                f"Reshape {self.name!r} cannot turn inputs of shape {input_shape} ({size} values) "
                f"into {self.target_shape}."
            ) from None

    def forward(self, x: Array, training: bool = False) -> Array:
        self._check_input(x)
        return x.reshape((x.shape[0], *self.output_shape))

    def backward(self, grad_out: Array, need_dx: bool = True) -> Array:
        return grad_out.reshape((grad_out.shape[0], *self.input_shape))


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def _shape_hint(got: Shape, expected: Shape) -> str:
    if int(np.prod(got[1:])) == int(np.prod(expected)):
        return (
            f" The sizes agree: reshape the data with X.reshape((len(X), "
            f"{', '.join(map(str, expected))})) or add layers.Flatten()."
        )
    return ""
