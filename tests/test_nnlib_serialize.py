"""Tests of nnlib.serialize: a network as plain data (exercise 6's contract) and back."""

from __future__ import annotations

import numpy as np
import pytest

from nnlib import layers, models, serialize


def _network() -> models.Sequential:
    net = models.Sequential(seed=0)
    net.add(layers.Reshape((784,), input_shape=(28, 28)))
    net.add(layers.Dense(32, activation="relu", input_shape=None))
    net.add(layers.BatchNormalization(epsilon=1e-5))
    net.add(layers.Dropout(0.3))
    net.add(layers.Dense(16, use_bias=False))
    net.add(layers.Activation("leaky_relu", alpha=0.2))
    net.add(layers.Dense(10, activation="softmax"))
    rng = np.random.default_rng(1)
    net.set_weights(
        [rng.uniform(0.5, 1.5, size=w.shape).astype(np.float32) for w in net.get_weights()]
    )
    return net


def test_round_trip_gives_the_same_predictions() -> None:
    net = _network()
    data = serialize.to_data(net)
    assert data["input_shape"] == [28, 28]
    assert [c["class"] for c in data["config"]] == [
        "Reshape",
        "Dense",
        "BatchNormalization",
        "Dropout",
        "Dense",
        "Activation",
        "Dense",
    ]
    assert data["config"][5] == {"class": "Activation", "activation": "leaky_relu", "alpha": 0.2}
    assert all(type(w) is np.ndarray for w in data["weights"])
    back = serialize.from_data(data)
    x = np.random.default_rng(2).random((5, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(back.predict(x), net.predict(x), rtol=1e-6)


def test_plain_python_and_pytorch_layout() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    hidden, out = torch.nn.Linear(784, 8), torch.nn.Linear(8, 10)
    model = torch.nn.Sequential(hidden, torch.nn.ReLU(), out)
    data = {
        "input_shape": [784],
        "config": [
            {"class": "Dense", "units": 8, "activation": "relu"},
            {"class": "Dense", "units": 10},
        ],
        "weights": [
            hidden.weight.detach().numpy().T,
            hidden.bias.detach().numpy(),
            out.weight.detach().numpy().T,
            out.bias.detach().numpy(),
        ],
    }
    x = np.random.default_rng(0).random((4, 784), dtype=np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(serialize.from_data(data).predict(x), want, rtol=1e-5, atol=1e-6)
    data["weights"][0] = data["weights"][0].T
    with pytest.raises(ValueError, match="transpose"):
        serialize.from_data(data)


def _good() -> dict:
    return {
        "input_shape": [4],
        "config": [{"class": "Dense", "units": 3, "activation": "softmax"}],
        "weights": [np.zeros((4, 3)), np.zeros(3)],
    }


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: [1, 2, 3], "expected a dict"),
        (lambda d: {**d, "extra": 1}, "unknown extra"),
        (lambda d: {k: v for k, v in d.items() if k != "weights"}, "missing weights"),
        (lambda d: {**d, "config": []}, "non-empty list"),
        (lambda d: {**d, "config": [{"class": "Conv2D", "filters": 3}]}, "known layers"),
        (lambda d: {**d, "config": [{"class": "Dense"}]}, "missing units"),
        (lambda d: {**d, "config": [{"class": "Dense", "units": 3, "x": 1}]}, "unknown keys x"),
        (lambda d: {**d, "config": [{"class": "Dense", "units": -3}]}, "integer >= 1"),
        (lambda d: {**d, "config": [{"class": "Dense", "units": 3, "activation": "gelu"}]}, "gelu"),
        (lambda d: {**d, "weights": d["weights"][:1]}, "needs 2 weight arrays"),
        (lambda d: {**d, "weights": [np.zeros((4, 2)), np.zeros(3)]}, "expected \\(4, 3\\)"),
        (lambda d: {**d, "weights": [np.full((4, 3), "a"), np.zeros(3)]}, "should be numbers"),
        (lambda d: {**d, "input_shape": [4, 0]}, "integer >= 1"),
        (lambda d: {**d, "input_shape": [28, 28]}, "cannot take inputs"),
        (
            lambda d: {
                **d,
                "config": [{"class": "Dense", "units": 10**6}, {"class": "Dense", "units": 10**6}],
            },
            "more than",
        ),
    ],
)
def test_bad_data_is_refused_with_a_clear_message(change, message) -> None:
    assert serialize.from_data(_good()).predict(np.zeros((2, 4))).shape == (2, 3)
    with pytest.raises(ValueError, match=message):
        serialize.from_data(change(_good()))
