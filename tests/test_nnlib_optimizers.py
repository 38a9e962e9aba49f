"""Optimizers and schedules reproduce trajectories computed directly from the lecture's formulas."""

import math

import numpy as np
import pytest
import torch

from nnlib import optimizers, schedules

STEPS = 150


def beale_grad(w):
    """Gradient of the Beale function (the lecture's optimizer zoo)."""
    x, y = w
    t1, t2, t3 = 1.5 - x + x * y, 2.25 - x + x * y**2, 2.625 - x + x * y**3
    return np.array(
        [
            2 * t1 * (y - 1) + 2 * t2 * (y**2 - 1) + 2 * t3 * (y**3 - 1),
            2 * t1 * x + 2 * t2 * 2 * x * y + 2 * t3 * 3 * x * y**2,
        ]
    )


def quad_grad(w):
    return np.array([2.0, 20.0]) * w  # an elongated bowl


def trajectory(opt, grad, w0, steps=STEPS):
    w, path = np.array(w0, float), []
    for _ in range(steps):
        w = opt.step(w, grad(w))
        path.append(w.copy())
    return np.array(path)


# Reference implementations, written directly from the slides (independent of nnlib's code).
def ref_sgd(grad, w, eta, steps=STEPS, schedule=None):
    out = []
    for s in range(steps):
        e = schedule(s) if schedule else eta
        w = w - e * grad(w)
        out.append(w)
    return np.array(out)


def ref_momentum(grad, w, eta, gamma, nesterov=False, steps=STEPS):
    v, out = np.zeros_like(w), []
    for _ in range(steps):
        g = grad(w + gamma * v) if nesterov else grad(w)  # Nesterov: gradient at the lookahead
        v = gamma * v - eta * g
        w = w + v
        out.append(w + gamma * v if nesterov else w)  # nnlib stores the lookahead point
    return np.array(out)


def ref_adagrad(grad, w, eta, eps, steps=STEPS):
    G, out = np.zeros_like(w), []
    for _ in range(steps):
        g = grad(w)
        G = G + g**2
        w = w - eta / np.sqrt(G + eps) * g
        out.append(w)
    return np.array(out)


def ref_rmsprop(grad, w, eta, gamma, eps, steps=STEPS):
    m, out = np.zeros_like(w), []
    for _ in range(steps):
        g = grad(w)
        m = gamma * m + (1 - gamma) * g**2
        w = w - eta / np.sqrt(m + eps) * g
        out.append(w)
    return np.array(out)


def ref_adam(grad, w, eta, gamma2, gamma, eps, steps=STEPS, adamax=False):
    gm, m, out = np.zeros_like(w), np.zeros_like(w), []
    for s in range(1, steps + 1):
        g = grad(w)
        gm = gamma2 * gm + (1 - gamma2) * g
        g_hat = gm / (1 - gamma2**s)
        if adamax:
            m = np.maximum(gamma * m, np.abs(g))
            w = w - eta / (m + eps) * g_hat
        else:
            m = gamma * m + (1 - gamma) * g**2
            m_hat = m / (1 - gamma**s)
            w = w - eta / np.sqrt(m_hat + eps) * g_hat
        out.append(w)
    return np.array(out)


W0 = np.array([0.8, 1.6])  # the lecture's starting point on the Beale function
CASES = {
    "sgd": (lambda: optimizers.SGD(0.01), lambda g: ref_sgd(g, W0, 0.01)),
    "momentum": (
        lambda: optimizers.SGD(0.005, momentum=0.9),
        lambda g: ref_momentum(g, W0, 0.005, 0.9),
    ),
    "nesterov": (
        lambda: optimizers.SGD(0.005, momentum=0.9, nesterov=True),
        lambda g: ref_momentum(g, W0, 0.005, 0.9, nesterov=True),
    ),
    "adagrad": (lambda: optimizers.Adagrad(0.1), lambda g: ref_adagrad(g, W0, 0.1, 1e-7)),
    "rmsprop": (lambda: optimizers.RMSprop(0.01), lambda g: ref_rmsprop(g, W0, 0.01, 0.9, 1e-7)),
    "adam": (lambda: optimizers.Adam(0.05), lambda g: ref_adam(g, W0, 0.05, 0.9, 0.999, 1e-7)),
    "adamax": (
        lambda: optimizers.Adamax(0.05),
        lambda g: ref_adam(g, W0, 0.05, 0.9, 0.999, 1e-7, adamax=True),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("grad", [beale_grad, quad_grad], ids=["beale", "quadratic"])
def test_optimizer_follows_the_lecture_formula(name, grad):
    make, reference = CASES[name]
    ours, ref = trajectory(make(), grad, W0), reference(grad)
    assert np.all(np.isfinite(ref)), "the reference trajectory diverged: pick another rate"
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12, err_msg=f"{name} trajectory")


@pytest.mark.parametrize(
    "schedule, formula",
    [
        (schedules.ExponentialDecay(0.1, 0.01), lambda s: 0.1 * math.exp(-0.01 * s)),
        (schedules.InverseTimeDecay(0.1, 0.05), lambda s: 0.1 / (1 + 0.05 * s)),
    ],
)
def test_decay_schedules_and_sgd_with_decay(schedule, formula):
    for s in range(200):
        assert schedule(s) == pytest.approx(formula(s), rel=1e-12)
    ours = trajectory(optimizers.SGD(schedule), quad_grad, W0)
    np.testing.assert_allclose(ours, ref_sgd(quad_grad, W0, None, schedule=formula), rtol=1e-10)


def test_cyclical_learning_rate_is_triangular():
    clr = schedules.CyclicalLearningRate(0.001, 0.01, step_size=10)
    values = [clr(s) for s in range(41)]
    assert values[0] == pytest.approx(0.001) and values[10] == pytest.approx(0.01)
    assert values[20] == pytest.approx(0.001) and values[30] == pytest.approx(0.01)
    assert values[5] == pytest.approx(0.0055)
    assert max(values) <= 0.01 + 1e-15 and min(values) >= 0.001 - 1e-15


def test_warm_restarts_reset_to_the_initial_rate():
    sched = schedules.CosineDecayRestarts(0.1, first_decay_steps=10, t_mul=2.0)
    assert sched(0) == pytest.approx(0.1)
    assert sched(5) == pytest.approx(0.05)
    assert sched(10) == pytest.approx(0.1)  # first restart
    assert sched(20) == pytest.approx(0.05)  # middle of the second period (20 steps long)
    assert sched(30) == pytest.approx(0.1)  # second restart
    assert all(sched(s) <= 0.1 + 1e-15 for s in range(100))


# --- where the lecture's formula coincides with torch.optim -------------------------------------
TORCH_CASES = {
    "sgd": (lambda: optimizers.SGD(0.01), lambda p: torch.optim.SGD(p, lr=0.01)),
    "momentum": (
        lambda: optimizers.SGD(0.005, momentum=0.9),
        lambda p: torch.optim.SGD(p, lr=0.005, momentum=0.9),
    ),
    "nesterov": (
        lambda: optimizers.SGD(0.005, momentum=0.9, nesterov=True),
        lambda p: torch.optim.SGD(p, lr=0.005, momentum=0.9, nesterov=True),
    ),
    # epsilon inside vs outside the square root coincide when epsilon = 0
    "adagrad": (
        lambda: optimizers.Adagrad(0.1, epsilon=0.0),
        lambda p: torch.optim.Adagrad(p, lr=0.1, eps=0.0),
    ),
    "rmsprop": (
        lambda: optimizers.RMSprop(0.01, rho=0.9, epsilon=0.0),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=0.0),
    ),
    "adam": (
        lambda: optimizers.Adam(0.05, epsilon=0.0),
        lambda p: torch.optim.Adam(p, lr=0.05, eps=0.0),
    ),
    "adamax": (
        lambda: optimizers.Adamax(0.05, epsilon=0.0),
        lambda p: torch.optim.Adamax(p, lr=0.05, eps=0.0),
    ),
}


@pytest.mark.parametrize("name", list(TORCH_CASES))
def test_optimizer_matches_torch_where_the_formulas_coincide(name):
    make_ours, make_torch = TORCH_CASES[name]
    ours = trajectory(make_ours(), beale_grad, W0, steps=100)
    w = torch.tensor(W0, dtype=torch.float64, requires_grad=True)
    opt = make_torch([w])
    theirs = []
    for _ in range(100):
        opt.zero_grad()
        w.grad = torch.from_numpy(beale_grad(w.detach().numpy()))
        opt.step()
        theirs.append(w.detach().numpy().copy())
    np.testing.assert_allclose(ours, np.array(theirs), rtol=1e-9, err_msg=f"{name} vs torch.optim")


def test_optimizer_validation():
    with pytest.raises(ValueError, match="learning_rate must be positive"):
        optimizers.SGD(-1)
    with pytest.raises(ValueError, match="Known optimizers: adagrad, adam"):
        optimizers.get("adamw2")
    assert isinstance(optimizers.get("rmsprop"), optimizers.RMSprop)
