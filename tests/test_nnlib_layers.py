"""Layers and models: float64 gradient checks, agreement with torch autograd, train/test modes."""

import numpy as np
import pytest
import torch

from nnlib import layers, models, regularizers
from nnlib.gradcheck import check_layer_gradients, check_model_gradients

SMOOTH_TOL = 1e-7


def built(layer, input_shape, seed=0):
    layer.build(input_shape, np.float64, np.random.default_rng(seed))
    return layer


@pytest.mark.parametrize(
    "activation", ["sigmoid", "tanh", "linear", "softmax", "relu", "leaky_relu"]
)
def test_dense_layer_gradients(activation):
    layer = built(
        layers.Dense(4, activation=activation, kernel_regularizer=regularizers.l2(0.1)), (5,)
    )
    x = np.random.default_rng(1).normal(size=(6, 5))
    errors = check_layer_gradients(layer, x)
    # with ReLU the random inputs stay >1e-6 away from the kink with overwhelming probability
    z = x @ layer.params["W"] + layer.params["b"]
    assert np.abs(z).min() > 1e-5, "test data too close to the ReLU kink"
    for name, err in errors.items():
        assert err < SMOOTH_TOL, f"Dense({activation}) d{name}: relative error {err:.1e}"


def test_batchnorm_gradients_in_training_mode():
    layer = built(layers.BatchNormalization(), (4,))
    layer.params["gamma"][:] = [0.5, 1.5, -1.0, 2.0]
    layer.params["beta"][:] = [0.1, -0.2, 0.3, 0.0]
    x = np.random.default_rng(2).normal(2.0, 3.0, size=(8, 4))
    for name, err in check_layer_gradients(layer, x, training=True).items():
        assert err < SMOOTH_TOL, f"BatchNormalization d{name}: relative error {err:.1e}"


def test_batchnorm_gradients_in_inference_mode():
    layer = built(layers.BatchNormalization(), (3,))
    layer.state["moving_mean"][:] = [0.5, -1, 2]
    layer.state["moving_variance"][:] = [2, 0.5, 1]
    x = np.random.default_rng(3).normal(size=(5, 3))
    for name, err in check_layer_gradients(layer, x, training=False).items():
        assert err < SMOOTH_TOL, f"BatchNormalization (inference) d{name}: {err:.1e}"


@pytest.mark.parametrize(
    "layer, shape", [(layers.Flatten(), (2, 3)), (layers.Reshape((3, 2)), (6,))]
)
def test_reshaping_layers_pass_gradients_through(layer, shape):
    layer = built(layer, shape)
    x = np.random.default_rng(0).normal(size=(4, *shape))
    assert check_layer_gradients(layer, x)["x"] < SMOOTH_TOL


def test_batchnorm_train_vs_inference():
    layer = built(layers.BatchNormalization(momentum=0.9), (3,))
    x = np.random.default_rng(0).normal(5.0, 2.0, size=(64, 3))
    out = layer.forward(x, training=True)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1, rtol=1e-3)
    np.testing.assert_allclose(layer.state["moving_mean"], 0.1 * x.mean(axis=0))
    np.testing.assert_allclose(layer.state["moving_variance"], 0.9 + 0.1 * x.var(axis=0))
    # inference uses the moving averages, so the same batch is NOT standardized
    out_test = layer.forward(x, training=False)
    assert abs(out_test.mean()) > 1.0, "inference mode must not use batch statistics"


def test_dropout_train_vs_inference_and_edge_rates():
    x = np.ones((2000, 50))
    d = layers.Dropout(0.3, seed=0)
    out = d.forward(x, training=True)
    assert set(np.unique(out)) <= {0.0, 1 / 0.7}
    assert abs((out == 0).mean() - 0.3) < 0.01 and abs(out.mean() - 1) < 0.01
    np.testing.assert_array_equal(d.backward(np.ones_like(x)), (out != 0) / 0.7)
    np.testing.assert_array_equal(d.forward(x, training=False), x)
    np.testing.assert_array_equal(layers.Dropout(0.0).forward(x, training=True), x)
    assert np.all(layers.Dropout(1.0).forward(x, training=True) == 0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        layers.Dropout(1.5)


def test_dropout_is_reproducible_under_a_seed():
    x = np.ones((10, 10))
    a = layers.Dropout(0.5, seed=42).forward(x, training=True)
    b = layers.Dropout(0.5, seed=42).forward(x, training=True)
    np.testing.assert_array_equal(a, b)


def _mlp(dtype="float64", seed=0, **kw):
    m = models.Sequential(dtype=dtype, seed=seed)
    m.add(layers.Dense(7, activation="tanh", input_shape=(5,), **kw))
    m.add(layers.Dense(6, activation="sigmoid"))
    m.add(layers.BatchNormalization())
    m.add(layers.Dense(5, activation="leaky_relu"))
    m.add(layers.Dense(3, activation="softmax"))
    m.compile("sgd", "categorical_crossentropy")
    return m


def test_model_gradient_check_passes():
    m = _mlp(kernel_regularizer=regularizers.l1_l2(0.01, 0.01))
    x = np.random.default_rng(0).normal(size=(9, 5))
    y = np.eye(3)[np.random.default_rng(1).integers(0, 3, 9)]
    report = check_model_gradients(m, x, y, max_entries=None)
    assert report.max_error < SMOOTH_TOL, f"model gradients: {report}"
    assert report.checked > 100


def _torch_reference(m, x, y):
    """The same network in torch autograd (used only in tests)."""
    params, out = [], torch.from_numpy(x)
    for layer in m.layers:
        if isinstance(layer, layers.Dense):
            W = torch.tensor(layer.params["W"], requires_grad=True)
            b = torch.tensor(layer.params["b"], requires_grad=True)
            params += [W, b]
            z = out @ W + b
            name = layer.activation.name
            out = {
                "tanh": torch.tanh,
                "sigmoid": torch.sigmoid,
                "relu": torch.relu,
                "leaky_relu": lambda t: torch.nn.functional.leaky_relu(t, 0.01),
                "softmax": lambda t: torch.softmax(t, -1),
                "linear": lambda t: t,
            }[name](z)
        elif isinstance(layer, layers.BatchNormalization):
            g = torch.tensor(layer.params["gamma"], requires_grad=True)
            b = torch.tensor(layer.params["beta"], requires_grad=True)
            params += [g, b]
            mu, var = out.mean(0), out.var(0, unbiased=False)
            out = g * (out - mu) / torch.sqrt(var + layer.epsilon) + b
    loss = -(torch.from_numpy(y) * torch.log(out)).sum() / len(x)
    loss.backward()
    return loss.item(), [p.grad.numpy() for p in params]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loss_and_every_gradient_match_torch_autograd(seed):
    rng = np.random.default_rng(seed)
    m = _mlp(seed=seed)
    n = int(rng.integers(4, 20))
    x, y = rng.normal(size=(n, 5)), np.eye(3)[rng.integers(0, 3, n)]
    saved = [s.copy() for layer in m.layers for s in layer.state.values()]
    loss, grads = m.loss_and_gradients(x, y)
    for layer in m.layers:  # restore running stats (not used by the loss)
        for k in layer.state:
            layer.state[k][...] = saved.pop(0)
    t_loss, t_grads = _torch_reference(m, x, y)
    assert loss == pytest.approx(t_loss, rel=1e-10)
    ours = [g for layer in m.layers for g in layer.grads.values()]
    assert len(ours) == len(t_grads)
    for i, (a, b) in enumerate(zip(ours, t_grads, strict=True)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14, err_msg=f"gradient #{i}")
    assert set(grads) == {(layer.name, k) for layer in m.layers for k in layer.params}


def test_frozen_layer_is_left_unchanged_by_fit():
    m = _mlp(dtype="float32")
    m.layers[0].trainable = False
    m.layers[2].trainable = False  # batch norm: frozen means inference mode, too
    before = [w.copy() for w in m.layers[0].weights() + m.layers[2].weights()]
    other = m.layers[1].params["W"].copy()
    rng = np.random.default_rng(0)
    m.fit(rng.normal(size=(64, 5)), np.eye(3)[rng.integers(0, 3, 64)], epochs=2, verbose=0)
    for a, b in zip(before, m.layers[0].weights() + m.layers[2].weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(other, m.layers[1].params["W"]), "trainable layers must learn"
    lines = []
    m.summary(print_fn=lines.append)
    assert "Non-trainable params: 66" in lines[0]  # 5*7+7 + 4*6 (BN gamma, beta, mean, var)
