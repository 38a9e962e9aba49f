"""Activations, losses, initializers, regularizers: values, stability and float64 gradient checks."""

import warnings

import numpy as np
import pytest

from nnlib import activations, initializers, losses, regularizers
from nnlib.gradcheck import numerical_gradient, relative_error

SMOOTH_TOL = 1e-7  # REFERENCE.md: smooth functions give 1e-7 or less in float64


def rng(seed=0):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax"])
def test_activation_backward_matches_centered_differences(name):
    act = activations.get(name)
    z = rng().normal(size=(6, 5)) * 2
    if name in ("relu", "leaky_relu"):  # keep every point away from the kink at 0
        z = np.where(np.abs(z) < 1e-3, 0.5, z)
    R = rng(1).normal(size=z.shape)  # upstream gradient dL/da

    def f():
        return float(np.sum(act.forward(z) * R))

    a = act.forward(z)
    analytic = act.backward(R, z, a)
    err = relative_error(analytic, numerical_gradient(f, z)).max()
    assert err < SMOOTH_TOL, f"{name}: backward disagrees with centered differences ({err:.1e})"


@pytest.mark.parametrize(
    "f, df",
    [
        (activations.sigmoid, activations.sigmoid_derivative),
        (activations.tanh, activations.tanh_derivative),
        (activations.relu, activations.relu_derivative),
        (activations.leaky_relu, activations.leaky_relu_derivative),
        (activations.linear, activations.linear_derivative),
    ],
)
def test_derivative_functions_match_numerical(f, df):
    z = np.linspace(-4, 4, 41) + 0.013  # avoids z = 0 exactly
    h = 1e-6
    numeric = (f(z + h) - f(z - h)) / (2 * h)
    np.testing.assert_allclose(df(z), numeric, rtol=1e-6, atol=1e-9)


def test_activations_are_stable_for_huge_inputs():
    z = np.array([[-1000.0, -30.0, 0.0, 30.0, 1000.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning fails the test
        s = activations.sigmoid(z)
        p = activations.softmax(z)
        t = activations.tanh(z)
    assert np.all(np.isfinite(s)) and s[0, 0] == 0.0 and s[0, -1] == 1.0
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    assert p[0, -1] == pytest.approx(1.0) and np.all(np.isfinite(t))


def test_softmax_is_shift_invariant_and_uses_the_last_axis():
    z = rng().normal(size=(4, 3))
    np.testing.assert_allclose(activations.softmax(z), activations.softmax(z + 100.0))
    np.testing.assert_allclose(activations.softmax(z).sum(axis=1), np.ones(4))


def test_leaky_relu_slope_is_configurable():
    assert activations.leaky_relu(np.array(-2.0)) == pytest.approx(-0.02)
    act = activations.get("leaky_relu", alpha=0.2)
    assert act.forward(np.array([-1.0]))[0] == pytest.approx(-0.2)


def test_unknown_identifier_lists_the_known_ones():
    with pytest.raises(ValueError, match="relu.*sigmoid"):
        activations.get("rleu")
    with pytest.raises(ValueError, match="Known initializers"):
        initializers.get("he_norm")


# --- losses -------------------------------------------------------------------------------------
def _probs(n=5, k=4, seed=0):
    z = rng(seed).normal(size=(n, k))
    return activations.softmax(z)


def _one_hot(n=5, k=4, seed=1):
    y = np.zeros((n, k))
    y[np.arange(n), rng(seed).integers(0, k, n)] = 1
    return y


@pytest.mark.parametrize(
    "loss, y, p",
    [
        (losses.CategoricalCrossentropy(), _one_hot(), _probs()),
        (losses.CategoricalCrossentropy(label_smoothing=0.1), _one_hot(), _probs()),
        (losses.MeanSquaredError(), rng(2).normal(size=(5, 3)), rng(3).normal(size=(5, 3))),
        (
            losses.BinaryCrossentropy(),
            rng(4).integers(0, 2, (6, 1)).astype(float),
            rng(5).uniform(0.05, 0.95, (6, 1)),
        ),
    ],
)
def test_loss_gradient_matches_centered_differences(loss, y, p):
    p = p.copy()
    err = relative_error(loss.gradient(y, p), numerical_gradient(lambda: loss(y, p), p)).max()
    assert err < SMOOTH_TOL, f"{loss!r}: gradient off by {err:.1e}"


def test_sparse_and_categorical_crossentropy_agree():
    p = _probs()
    labels = rng(1).integers(0, 4, 5)
    one_hot = np.eye(4)[labels]
    assert losses.sparse_categorical_crossentropy(labels, p) == pytest.approx(
        losses.categorical_crossentropy(one_hot, p)
    )


def test_fused_softmax_crossentropy_gradient_equals_the_chain_rule():
    z = rng().normal(size=(5, 4))
    y = _one_hot()
    a = activations.softmax(z)
    loss = losses.CategoricalCrossentropy()
    chained = activations.softmax_backward(loss.gradient(y, a), a)
    np.testing.assert_allclose(loss.output_gradient(y, a), chained, rtol=1e-10)
    np.testing.assert_allclose(loss.output_gradient(y, a), (a - y) / 5)


def test_crossentropy_from_logits_is_stable_and_matches():
    y = _one_hot(2, 3)
    z = np.array([[1000.0, 0.0, -1000.0], [0.1, 0.2, 0.3]])
    value = losses.crossentropy_from_logits(y, z)
    assert np.isfinite(value)
    z_small = np.array([[1.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
    assert losses.crossentropy_from_logits(y, z_small) == pytest.approx(
        losses.categorical_crossentropy(y, activations.softmax(z_small))
    )


def test_label_smoothing_formula():
    y = np.eye(4)[[0, 3]]
    np.testing.assert_allclose(losses.smooth_labels(y, 0.1), 0.9 * y + 0.1 / 4)


def test_loss_errors_explain_shape_and_label_problems():
    p = _probs(3, 10)
    with pytest.raises(ValueError, match=r"\(3,\).*\(3, 10\).*to_categorical"):
        losses.categorical_crossentropy(np.array([1, 2, 3]), p)
    with pytest.raises(ValueError, match="Label 12 is outside the class range 0..9"):
        losses.sparse_categorical_crossentropy(np.array([1, 12, 3]), p)


# --- initializers ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, expected_std",
    [
        ("glorot_normal", np.sqrt(2 / (400 + 300))),
        ("glorot_uniform", np.sqrt(2 / (400 + 300))),
        ("he_normal", np.sqrt(2 / 400)),
        ("he_uniform", np.sqrt(2 / 400)),
    ],
)
def test_initializer_statistics(name, expected_std):
    W = initializers.get(name)((400, 300), np.random.default_rng(0))
    assert abs(W.mean()) < 3 * expected_std / np.sqrt(W.size) * 3
    assert W.std() == pytest.approx(expected_std, rel=0.01), f"{name}: std {W.std():.4f}"
    if name.endswith("uniform"):
        assert np.abs(W).max() <= np.sqrt(3) * expected_std


def test_initializers_are_seeded_and_reproducible():
    a = initializers.he_normal((20, 10), np.random.default_rng(7))
    b = initializers.he_normal((20, 10), np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert initializers.compute_fans((784, 512)) == (784, 512)
    assert np.all(initializers.get("zeros")((3, 2)) == 0)
    assert np.all(initializers.constant(0.5)((3,)) == 0.5)


# --- regularizers ------------------------------------------------------------------------------
def test_regularizer_penalty_and_gradient():
    W = rng().normal(size=(4, 3))
    reg = regularizers.l1_l2(0.01, 0.001)
    assert reg(W) == pytest.approx(0.01 * np.abs(W).sum() + 0.001 * (W**2).sum())
    err = relative_error(reg.gradient(W), numerical_gradient(lambda: reg(W), W)).max()
    assert err < SMOOTH_TOL
    with pytest.raises(ValueError, match=">= 0"):
        regularizers.l2(-1)
