"""A trained network as plain data, and back: what exercise 6's ``train`` returns.

The format is made of lists, dicts, strings, numbers and NumPy arrays only, so it crosses any
boundary that carries data (the autograder's sandbox, JSON plus ``.npy``), and it can be written
by hand from a PyTorch model::

    {
        "input_shape": [784],                    # one sample, without the batch axis
        "config": [                              # the layers, in order (lecture layers)
            {"class": "Dense", "units": 256, "activation": "relu"},
            {"class": "Dense", "units": 10, "activation": "softmax"},
        ],
        "weights": [W1, b1, W2, b2],             # arrays, in Sequential.get_weights() order
    }

Layers and their keys (every key but those marked required is optional):

=====================  ==================================================================
``Dense``              ``units`` (required), ``activation`` (:data:`ACTIVATIONS`, default
                       linear), ``use_bias`` (default true). Weights: kernel ``(D, units)``
                       (PyTorch's ``nn.Linear.weight`` transposed), then bias ``(units,)``.
``Activation``         ``activation`` (required), ``alpha`` (slope of ``leaky_relu``).
``Dropout``            ``rate`` (a no-op at inference).
``BatchNormalization`` ``epsilon`` (default 1e-3), ``momentum``. Weights: gamma, beta, moving
                       mean, moving variance (PyTorch: ``weight``, ``bias``, ``running_mean``,
                       ``running_var``; give ``eps`` as ``epsilon``).
``Flatten``            none.
``Reshape``            ``target_shape`` (required).
=====================  ==================================================================

:func:`to_data` writes it from an nnlib :class:`~nnlib.models.Sequential`; :func:`from_data`
checks it (only these layers and keys, the shapes of the weights, at most :data:`MAX_PARAMS`
weights) and builds the network, ready for ``predict``.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from nnlib import layers as layers_
from nnlib.activations import ACTIVATIONS
from nnlib.models import Sequential

__all__ = ["ACTIVATIONS", "LAYERS", "MAX_PARAMS", "from_data", "get_config", "to_data"]

#: The most weights :func:`from_data` accepts (the lecture's 784-512-512-10 network has 669,706).
MAX_PARAMS = 2_000_000

#: Layer class -> (required keys, optional keys).
LAYERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Dense": (("units",), ("activation", "use_bias", "name")),
    "Activation": (("activation",), ("alpha", "name")),
    "Dropout": ((), ("rate", "name")),
    "BatchNormalization": ((), ("epsilon", "momentum", "name")),
    "Flatten": ((), ("name",)),
    "Reshape": (("target_shape",), ("name",)),
}


def _alpha(activation: Any) -> float | None:
    keywords = getattr(activation.forward, "keywords", None) or {}
    return float(keywords["alpha"]) if "alpha" in keywords else None


def get_config(model: Sequential) -> list[dict]:
    """The layers of an nnlib network as a list of plain dicts (the ``config`` of the format).

    Parameters
    ----------
    model : Sequential
        A network made of the layers in :data:`LAYERS`.

    Returns
    -------
    list of dict
        One dict per layer: ``{"class": "Dense", "units": 256, "activation": "relu", ...}``.

    Raises
    ------
    ValueError
        For a layer the format does not describe (or a leaky ReLU slope other than 0.01 inside a
        ``Dense`` layer: use an ``Activation`` layer for that).
    """
    config = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Dense":
            alpha = _alpha(layer.activation)
            if alpha is not None and alpha != 0.01:
                raise ValueError(
                    f"Layer {layer.name!r}: a Dense layer's leaky_relu has the slope 0.01 in this "
                    "format; use Dense(..., activation=None) and Activation('leaky_relu', alpha=...)."
                )
            entry = {
                "class": kind,
                "units": layer.units,
                "activation": layer.activation.name,
                "use_bias": bool(layer.use_bias),
            }
        elif kind == "Activation":
            entry = {"class": kind, "activation": layer.activation.name}
            if _alpha(layer.activation) is not None:
                entry["alpha"] = _alpha(layer.activation)
        elif kind == "Dropout":
            entry = {"class": kind, "rate": layer.rate}
        elif kind == "BatchNormalization":
            entry = {"class": kind, "epsilon": layer.epsilon, "momentum": layer.momentum}
        elif kind == "Flatten":
            entry = {"class": kind}
        elif kind == "Reshape":
            entry = {"class": kind, "target_shape": list(layer.target_shape)}
        else:
            raise ValueError(
                f"Layer {layer.name!r} ({kind}) cannot be described as plain data; "
                f"the format knows {', '.join(LAYERS)}."
            )
        config.append(entry)
    return config


def to_data(model: Sequential) -> dict:
    """A built nnlib network as plain data: ``{"input_shape", "config", "weights"}``.

    Parameters
    ----------
    model : Sequential
        A built network (its first layer has an ``input_shape``, or it was fitted).

    Returns
    -------
    dict
        ``input_shape`` (list of int), ``config`` (:func:`get_config`) and ``weights`` (copies,
        in :meth:`~nnlib.models.Sequential.get_weights` order).
    """
    model._require_built()
    return {
        "input_shape": [int(d) for d in model.input_shape],
        "config": get_config(model),
        "weights": model.get_weights(),
    }


def _fail(message: str) -> None:
    raise ValueError(f"Invalid network data: {message}")


def _int(value: Any, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        _fail(f"{what} should be an integer >= {minimum}, got {value!r:.60}")
    return int(value)


def _float(value: Any, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        _fail(f"{what} should be a number, got {value!r:.60}")
    value = float(value)
    if not low <= value <= high:
        _fail(f"{what} should be between {low} and {high}, got {value}")
    return value


def _shape(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, list | tuple) or not 1 <= len(value) <= 4:
        _fail(f"{what} should be a list of 1 to 4 integers, got {value!r:.60}")
    return tuple(
        _int(v, f"{what}[{i}]", -1 if "target" in what else 1) for i, v in enumerate(value)
    )


def _activation(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in ACTIVATIONS:
        _fail(f"{what} should be one of {sorted(ACTIVATIONS)} (or None), got {value!r:.60}")
    return value.lower()


def _layer(entry: Any, i: int) -> layers_.Layer:
    where = f"config[{i}]"
    if not isinstance(entry, Mapping):
        _fail(
            f"{where} should be a dict such as {{'class': 'Dense', 'units': 10}}, got "
            f"{type(entry).__name__}"
        )
    kind = entry.get("class")
    if kind not in LAYERS:
        _fail(f"{where}['class'] is {kind!r:.60}; the known layers are {', '.join(LAYERS)}")
    required, optional = LAYERS[kind]
    missing = [k for k in required if k not in entry]
    unknown = sorted(str(k) for k in entry if k != "class" and k not in required + optional)
    if missing or unknown:
        _fail(
            f"{where} ({kind}): "
            + "; ".join(
                ([f"missing {', '.join(missing)}"] if missing else [])
                + ([f"unknown keys {', '.join(unknown)}"] if unknown else [])
            )
            + f" (a {kind} takes {', '.join(required + optional) or 'no keys'})"
        )
    if kind == "Dense":
        use_bias = entry.get("use_bias", True)
        if not isinstance(use_bias, bool | np.bool_):
            _fail(f"{where}['use_bias'] should be true or false, got {use_bias!r:.60}")
        return layers_.Dense(
            _int(entry["units"], f"{where}['units']"),
            activation=_activation(entry.get("activation"), f"{where}['activation']"),
            use_bias=bool(use_bias),
        )
    if kind == "Activation":
        name = _activation(entry["activation"], f"{where}['activation']") or "linear"
        alpha = entry.get("alpha")
        if alpha is not None:
            alpha = _float(alpha, f"{where}['alpha']", 0.0, 1.0)
        return layers_.Activation(name, alpha=alpha)
    if kind == "Dropout":
        return layers_.Dropout(_float(entry.get("rate", 0.0), f"{where}['rate']", 0.0, 1.0))
    if kind == "BatchNormalization":
        return layers_.BatchNormalization(
            momentum=_float(entry.get("momentum", 0.99), f"{where}['momentum']", 0.0, 1.0),
            epsilon=_float(entry.get("epsilon", 1e-3), f"{where}['epsilon']", 0.0, 1.0),
        )
    if kind == "Flatten":
        return layers_.Flatten()
    return layers_.Reshape(_shape(entry["target_shape"], f"{where}['target_shape']"))


def from_data(data: Any, *, max_params: int = MAX_PARAMS, dtype: str = "float32") -> Sequential:
    """Check plain network data and build the nnlib network it describes (ready to predict).

    Parameters
    ----------
    data : dict
        ``{"input_shape": [...], "config": [...], "weights": [...]}`` (see the module docstring).
    max_params : int
        The most weights accepted.
    dtype : {'float32', 'float64'}
        Precision of the built network (the weights are cast to it).

    Returns
    -------
    Sequential
        The built network with the given weights.

    Raises
    ------
    ValueError
        Naming the first problem: not a dict, unknown keys or layers, a bad value, the wrong
        number of weight arrays, a weight of the wrong shape or not numbers, too many weights.
    """
    if not isinstance(data, Mapping):
        _fail(
            "expected a dict {'input_shape': [...], 'config': [...], 'weights': [...]}, got "
            f"{type(data).__name__}"
        )
    keys = {"input_shape", "config", "weights"}
    if set(data) != keys:
        missing, extra = sorted(keys - set(data)), sorted(str(k) for k in set(data) - keys)
        _fail(
            "the dict should have exactly the keys input_shape, config, weights"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(extra)}" if extra else "")
        )
    input_shape = _shape(data["input_shape"], "input_shape")
    config, weights = data["config"], data["weights"]
    if not isinstance(config, list | tuple) or not config:
        _fail(f"config should be a non-empty list of layer dicts, got {type(config).__name__}")
    if not isinstance(weights, list | tuple):
        _fail(f"weights should be a list of arrays, got {type(weights).__name__}")
    if len(config) > 64:
        _fail(f"config has {len(config)} layers; at most 64 are accepted")
    model = Sequential(dtype=dtype, seed=0)
    shape = input_shape
    total = 0
    for i, entry in enumerate(config):
        layer = _layer(entry, i)
        try:
            out = layer.compute_output_shape(shape)
        except ValueError as exc:
            _fail(
                f"config[{i}] cannot take inputs of shape (N, {', '.join(map(str, shape))}): {exc}"
            )
        if entry["class"] == "Dense":
            total += (shape[0] + 1) * layer.units if len(shape) == 1 else 0
        if entry["class"] == "BatchNormalization" and len(shape) == 1:
            total += 4 * shape[0]
        if total > max_params:
            _fail(f"the network has more than {max_params:,} weights")
        model.layers.append(layer)
        shape = out
    model.build(input_shape)
    targets = [(layer, w) for layer in model.layers for w in layer.weights()]
    if len(weights) != len(targets):
        _fail(
            f"the config needs {len(targets)} weight arrays "
            f"({', '.join(str(tuple(w.shape)) for _, w in targets)}), got {len(weights)}"
        )
    for i, ((layer, dst), src) in enumerate(zip(targets, weights, strict=True)):
        if isinstance(src, np.ndarray) and type(src) is not np.ndarray:
            src = np.ndarray.view(src, np.ndarray)
        try:
            arr = np.asarray(src)
        except Exception as exc:
            _fail(f"weights[{i}] is not an array of numbers ({type(src).__name__}: {exc})")
        if arr.dtype.kind not in "biuf" or arr.dtype.fields is not None:
            _fail(f"weights[{i}] should be numbers, got dtype {arr.dtype}")
        if arr.shape != dst.shape:
            _fail(
                f"weights[{i}] (layer {layer.name!r}, {type(layer).__name__}) has shape "
                f"{arr.shape}, expected {dst.shape}"
                + (
                    " (PyTorch's Linear.weight is (out, in): transpose it)"
                    if arr.shape == dst.shape[::-1] and arr.ndim == 2
                    else ""
                )
            )
        np.copyto(dst, arr, casting="unsafe")
    return model
