"""The PyTorch path agrees with the NumPy path: layers, activations, losses, optimizers, schedules,
callbacks, a training epoch, conversions both ways, and clear errors (float64 on the CPU; the same
checks on CUDA where there is a GPU)."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

torch = pytest.importorskip("torch")

from nnlib import callbacks, layers, losses, models, optimizers, regularizers, schedules  # noqa: E402
from nnlib import torch_backend as tb  # noqa: E402
from nnlib.torch_backend import TorchModel, load_from_torch, to_torch  # noqa: E402

HAS_CUDA = torch.cuda.is_available()
NO_CUDA = "needs a CUDA GPU: torch.cuda.is_available() is False on this machine"


def cuda_test(fn: Callable) -> Callable:
    """Mark a test ``cuda`` and skip it, saying why, where there is no GPU."""
    return pytest.mark.cuda(pytest.mark.skipif(not HAS_CUDA, reason=NO_CUDA)(fn))


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """The tests' matrices are tiny; one intra-op thread avoids OpenMP spin-waiting, which makes
    PyTorch on a shared 2-core machine up to 10x slower (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):  # NumPy's BLAS too
        yield
    torch.set_num_threads(threads)


RTOL_STEP = 1e-8  # one step, float64, CPU
RTOL_EPOCH = 1e-6  # one epoch


def assert_rel(
    actual: object, desired: object, rtol: float, what: str = "", scale: float | None = None
) -> None:
    """Equal to ``rtol`` relative to ``scale``: the largest magnitude of ``desired`` by default
    (pass the model-wide scale for quantities that are 0 up to rounding, such as the gradient of a
    bias right before batch normalization)."""
    actual, desired = np.asarray(actual, np.float64), np.asarray(desired, np.float64)
    if scale is None:
        scale = float(np.max(np.abs(desired))) if desired.size else 1.0
    np.testing.assert_allclose(
        actual, desired, rtol=rtol, atol=rtol * max(scale, 1e-300), err_msg=what
    )


def data(n: int = 16, shape: tuple[int, ...] = (6,), k: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, *shape)), rng.integers(0, k, n)


def classifier(hidden: list, input_shape=(6,), k: int = 3, optimizer="sgd", loss=None, seed=0):
    """input -> hidden layers -> Dense(k, softmax), sparse CE, float64."""
    m = models.Sequential(dtype="float64", seed=seed)
    first = True
    for layer in hidden:
        if first and layer.input_shape is None:
            layer.input_shape = tuple(input_shape)
        first = False
        m.add(layer)
    if not hidden:
        m.add(layers.Dense(k, activation="softmax", input_shape=input_shape))
    else:
        m.add(layers.Dense(k, activation="softmax"))
    m.compile(
        optimizer=optimizer, loss=loss or "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return m


def check_one_step(
    model: models.Sequential, X: np.ndarray, y: np.ndarray, rtol: float = RTOL_STEP, device="cpu"
) -> None:
    """Layer outputs, loss, gradients, then the updated weights and optimizer state agree."""
    # 1. every layer's output in training mode
    ref = copy.deepcopy(model)
    module = to_torch(copy.deepcopy(model), device=device)
    module.train()
    h, ht = X.astype(ref.dtype), torch.from_numpy(X.astype(ref.dtype)).to(device)
    for layer, sub in zip(ref.layers, module.layers, strict=True):
        h, ht = layer.forward(h, training=True), sub(ht)
        assert_rel(ht.detach().cpu().numpy(), h, rtol, f"output of {layer.name}")
    # 2. loss and gradients
    ref = copy.deepcopy(model)
    loss_np, grads_np = ref.loss_and_gradients(X, y)
    loss_t, grads_t = TorchModel(copy.deepcopy(model), device=device).loss_and_gradients(X, y)
    assert_rel(loss_t, loss_np, rtol, "loss")
    assert list(grads_t) == list(grads_np)
    scale = max(float(np.max(np.abs(g))) for g in grads_np.values())
    for key in grads_np:
        assert_rel(grads_t[key], grads_np[key], rtol, f"gradient {key}", scale)
    # 3. one update
    a, b = copy.deepcopy(model), copy.deepcopy(model)
    la = a.train_on_batch(X, y)
    lb = TorchModel(b, device=device).train_on_batch(X, y)
    assert_rel(lb, la, rtol, "train_on_batch loss")
    assert_same_weights(b, a, rtol)
    assert b.optimizer.iterations == a.optimizer.iterations
    assert list(b.optimizer.state) == list(a.optimizer.state)
    for key, st in a.optimizer.state.items():
        assert list(b.optimizer.state[key]) == list(st)
        for name, arr in st.items():
            scale = max(
                max(float(np.max(np.abs(s[name]))) for s in a.optimizer.state.values()), 1e-300
            )
            assert_rel(b.optimizer.state[key][name], arr, rtol, f"state {key}/{name}", scale)


def assert_same_weights(b: models.Sequential, a: models.Sequential, rtol: float) -> None:
    """Same weights to ``rtol`` relative to each array's scale, floored at 1e-6 of the model's
    (a bias before batch normalization has a zero gradient up to rounding and stays ~1e-18)."""
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    model_scale = max(float(np.max(np.abs(w))) for w in wa)
    for i, (x, z) in enumerate(zip(wb, wa, strict=True)):
        assert x.shape == z.shape
        scale = max(float(np.max(np.abs(z))), 1e-6 * model_scale)
        assert_rel(x, z, rtol, f"weight {i}", scale)


# --- layers and activations: one step ----------------------------------------------------------
ACTS = ["relu", "sigmoid", "tanh", "leaky_relu", "linear", "softmax"]
INITS = ["he_normal", "glorot_uniform", "glorot_normal", "he_uniform", "random_normal", "zeros"]


def _bn_frozen() -> list:
    bn = layers.BatchNormalization()
    bn.trainable = False
    return [layers.Dense(5), bn, layers.Activation("relu")]


def _dense_frozen() -> list:
    d = layers.Dense(5, activation="relu")
    d.trainable = False
    return [d, layers.Dense(4, activation="tanh")]


LAYER_CASES: dict[str, Callable[[], list]] = {
    **{
        f"dense-{act}": (
            lambda act=act, init=init: [layers.Dense(5, activation=act, kernel_initializer=init)]
        )
        for act, init in zip(ACTS, INITS, strict=True)
    },
    "dense-l1": lambda: [layers.Dense(5, "relu", kernel_regularizer=regularizers.l1(0.01))],
    "dense-l2": lambda: [layers.Dense(5, "relu", kernel_regularizer=regularizers.l2(0.01))],
    "dense-l1l2-bias": lambda: [
        layers.Dense(
            5,
            "tanh",
            bias_initializer="ones",
            kernel_regularizer=regularizers.l1_l2(0.01, 0.02),
            bias_regularizer=regularizers.l1_l2(0.03, 0.04),
        )
    ],
    "dense-no-bias": lambda: [layers.Dense(5, "relu", use_bias=False)],
    "dense-frozen": _dense_frozen,
    **{
        f"activation-{act}": (lambda act=act: [layers.Dense(5), layers.Activation(act)])
        for act in ACTS
    },
    "activation-leaky-0.2": lambda: [layers.Dense(5), layers.Activation("leaky_relu", alpha=0.2)],
    "batchnorm": lambda: [layers.Dense(5), layers.BatchNormalization(), layers.Activation("relu")],
    "batchnorm-momentum-0.9": lambda: [
        layers.Dense(5),
        layers.BatchNormalization(momentum=0.9, epsilon=1e-5),
        layers.Activation("tanh"),
    ],
    "batchnorm-frozen": _bn_frozen,
    "dropout-0": lambda: [layers.Dense(5, "relu"), layers.Dropout(0.0)],
    "reshape-flatten": lambda: [layers.Reshape((2, 3)), layers.Flatten(), layers.Dense(4, "relu")],
    "deep-mixed": lambda: [
        layers.Dense(8, "relu", kernel_regularizer=regularizers.l2(1e-3)),
        layers.BatchNormalization(),
        layers.Dropout(0.0),
        layers.Dense(6, "leaky_relu"),
        layers.Dense(5, "sigmoid"),
    ],
}


@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_layer_one_step_agrees(case: str) -> None:
    model = classifier(LAYER_CASES[case](), optimizer=optimizers.SGD(0.1, momentum=0.9))
    for layer in model.layers:  # non-trivial batch-norm statistics and scales
        if isinstance(layer, layers.BatchNormalization):
            rng = np.random.default_rng(3)
            layer.params["gamma"][:] = rng.uniform(0.5, 1.5, layer.params["gamma"].shape)
            layer.state["moving_mean"][:] = rng.normal(size=layer.state["moving_mean"].shape)
            layer.state["moving_variance"][:] = rng.uniform(
                0.5, 2, layer.state["moving_variance"].shape
            )
    X, y = data()
    check_one_step(model, X, y)


def test_flatten_images_one_step_agrees() -> None:
    model = classifier([layers.Flatten(input_shape=(4, 5)), layers.Dense(7, "relu")])
    X, y = data(shape=(4, 5))
    check_one_step(model, X, y)


def test_leaky_relu_slope_at_zero_follows_nnlib() -> None:
    z = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64, requires_grad=True)
    tb.LeakyReLU(0.1)(z).sum().backward()
    assert z.grad.tolist() == [0.1, 1.0, 1.0]  # nnlib: alpha for z < 0, 1 otherwise


# --- losses ---------------------------------------------------------------------------------------
def _loss_model(case: str) -> tuple[models.Sequential, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(16, 6))
    labels = rng.integers(0, 3, 16)
    onehot = np.eye(3)[labels]
    m = models.Sequential(dtype="float64", seed=0)
    m.add(layers.Dense(5, activation="tanh", input_shape=(6,)))
    out = {
        "cce": ("softmax", 3, losses.CategoricalCrossentropy(), onehot),
        "cce-smooth": ("softmax", 3, losses.CategoricalCrossentropy(0.1), onehot),
        "sparse": ("softmax", 3, "sparse_categorical_crossentropy", labels),
        "sparse-smooth": ("softmax", 3, losses.SparseCategoricalCrossentropy(0.2), labels),
        "bce": ("sigmoid", 1, "binary_crossentropy", labels % 2),
        "bce-smooth": ("sigmoid", 1, losses.BinaryCrossentropy(0.1), (labels % 2)[:, None]),
        "bce-multilabel": ("sigmoid", 3, "binary_crossentropy", (rng.random((16, 3)) > 0.5) * 1.0),
        "mse": ("linear", 2, "mse", rng.normal(size=(16, 2))),
        "mse-tanh": ("tanh", 2, "mean_squared_error", rng.uniform(-0.9, 0.9, (16, 2))),
        "cce-activation-layer": ("act:softmax", 3, "categorical_crossentropy", onehot),
        "bce-activation-layer": ("act:sigmoid", 1, "binary_crossentropy", labels % 2),
        "cce-on-sigmoid": ("sigmoid", 3, "categorical_crossentropy", onehot),
    }[case]
    act, units, loss, y = out
    if act.startswith("act:"):
        m.add(layers.Dense(units))
        m.add(layers.Activation(act[4:]))
    else:
        m.add(layers.Dense(units, activation=act))
    metrics = ["accuracy"] if "sparse" in case else ["accuracy", "mae", "mse"]
    m.compile(optimizer=optimizers.RMSprop(0.01), loss=loss, metrics=metrics)
    return m, X, y


LOSS_CASES = [
    "cce",
    "cce-smooth",
    "sparse",
    "sparse-smooth",
    "bce",
    "bce-smooth",
    "bce-multilabel",
    "mse",
    "mse-tanh",
    "cce-activation-layer",
    "bce-activation-layer",
    "cce-on-sigmoid",
]


@pytest.mark.parametrize("case", LOSS_CASES)
def test_loss_one_step_agrees(case: str) -> None:
    model, X, y = _loss_model(case)
    check_one_step(model, X, y)
    # evaluate (loss and metrics) agrees too
    a, b = copy.deepcopy(model), copy.deepcopy(model)
    assert_rel(TorchModel(b, device="cpu").evaluate(X, y, batch_size=5), a.evaluate(X, y), 1e-10)


def test_fused_softmax_crossentropy_matches() -> None:
    """Gradient (p - y) / N with respect to the logits; value clipped like nnlib, also when
    probabilities underflow. With ``X = I`` and ``b = 0`` the logits are ``W`` and ``dL/dW`` is
    ``dL/dz``."""
    rng = np.random.default_rng(0)
    X = np.eye(8)
    for scale in (1.0, 60.0):  # 60: some probabilities far below the 1e-7 clip
        z_np = rng.normal(size=(8, 3)) * scale
        y = np.eye(3)[rng.integers(0, 3, 8)]
        for alpha in (0.0, 0.1):
            nn_loss = losses.CategoricalCrossentropy(alpha)
            model = classifier([], input_shape=(8,), loss=nn_loss)
            assert model.fused_output()
            model.layers[0].params["W"][:] = z_np
            value, grads = TorchModel(model, device="cpu").loss_and_gradients(X, y)
            p_np = np.exp(z_np - z_np.max(1, keepdims=True))
            p_np /= p_np.sum(1, keepdims=True)
            dz = grads[(model.layers[0].name, "W")]
            assert_rel(dz, nn_loss.output_gradient(y, p_np), 1e-12)
            assert_rel(value, nn_loss(y, p_np), 1e-12)
            if alpha == 0 and scale == 1.0:  # no clipping: the exact log-sum-exp value
                exact = losses.crossentropy_from_logits(y, z_np)
                assert_rel(value, exact, 1e-12)


# --- optimizers and schedules ------------------------------------------------------------------------
OPTIMIZERS: dict[str, Callable[[], optimizers.Optimizer]] = {
    "sgd": lambda: optimizers.SGD(0.1),
    "momentum": lambda: optimizers.SGD(0.1, momentum=0.9),
    "nesterov": lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "adagrad": lambda: optimizers.Adagrad(0.05),
    "rmsprop": lambda: optimizers.RMSprop(0.01),
    "adam": lambda: optimizers.Adam(0.01),
    "adamax": lambda: optimizers.Adamax(0.01),
    "rmsprop-by-name": lambda: optimizers.get("rmsprop"),
    "nesterov-by-name": lambda: optimizers.get("nesterov"),
    "momentum-exponential-decay": lambda: optimizers.SGD(
        schedules.ExponentialDecay(0.1, 0.3), momentum=0.9
    ),
    "rmsprop-cyclical": lambda: optimizers.RMSprop(schedules.CyclicalLearningRate(1e-3, 0.05, 2)),
    "adam-cosine-restarts": lambda: optimizers.Adam(schedules.CosineDecayRestarts(0.02, 2)),
    "adagrad-inverse-time": lambda: optimizers.Adagrad(schedules.InverseTimeDecay(0.05, 0.5)),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_steps_agree(name: str) -> None:
    """One step (outputs, gradients, update), then four more steps through both paths."""
    hidden = [layers.Dense(7, "relu"), layers.BatchNormalization(), layers.Dense(5, "tanh")]
    model = classifier(hidden, optimizer=OPTIMIZERS[name]())
    X, y = data()
    check_one_step(model, X, y)
    a, b = copy.deepcopy(model), copy.deepcopy(model)
    tm = TorchModel(b, device="cpu")
    for step in range(5):
        Xs, ys = data(seed=10 + step)
        assert_rel(tm.train_on_batch(Xs, ys), a.train_on_batch(Xs, ys), RTOL_STEP)
        assert_same_weights(b, a, RTOL_STEP)
        assert b.optimizer.lr == a.optimizer.lr


def test_torch_optimizers_differ_from_pytorch_defaults_where_documented() -> None:
    """Sanity check of the mapping table: torch.optim.RMSprop is *not* nnlib's RMSprop."""
    w0 = torch.tensor([1.0, -2.0], dtype=torch.float64)
    g = torch.tensor([0.5, 1e-4], dtype=torch.float64)
    ours, theirs = w0.clone().requires_grad_(), w0.clone().requires_grad_()
    ours.grad, theirs.grad = g.clone(), g.clone()
    tb.NNLibRMSprop([ours], lr=0.01, rho=0.9, epsilon=1e-7).step()
    torch.optim.RMSprop([theirs], lr=0.01, alpha=0.9, eps=1e-7).step()
    ref = optimizers.RMSprop(0.01).step(w0.numpy(), g.numpy())
    assert_rel(ours.detach().numpy(), ref, 1e-14)
    assert not np.allclose(theirs.detach().numpy(), ref, rtol=1e-9, atol=0)


# --- a whole epoch ------------------------------------------------------------------------------
EPOCH_OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamax"]


@pytest.mark.parametrize("name", EPOCH_OPTIMIZERS)
def test_one_epoch_same_weights(name: str) -> None:
    """20-16-3 on 200 random samples, batch 32, shuffled with the model's seed: same weights."""
    X, y = data(n=200, shape=(20,))
    model = classifier([layers.Dense(16, "relu")], input_shape=(20,), optimizer=OPTIMIZERS[name]())
    a, b = copy.deepcopy(model), copy.deepcopy(model)
    ha = a.fit(X, y, epochs=1, batch_size=32, verbose=0)
    hb = TorchModel(b, device="cpu").fit(X, y, epochs=1, batch_size=32, verbose=0)
    assert_same_weights(b, a, RTOL_EPOCH)
    assert list(hb.history) == list(ha.history) == ["loss", "accuracy"]
    for key in ha.history:
        assert_rel(hb.history[key], ha.history[key], RTOL_EPOCH, key)


def test_two_epochs_with_everything_and_validation() -> None:
    X, y = data(n=200, shape=(20,))
    hidden = [
        layers.Dense(16, "relu", kernel_regularizer=regularizers.l2(1e-3)),
        layers.BatchNormalization(),
        layers.Dense(8, "tanh", kernel_regularizer=regularizers.l1(1e-4)),
    ]
    model = classifier(hidden, input_shape=(20,), optimizer=optimizers.Adam(0.01))
    a, b = copy.deepcopy(model), copy.deepcopy(model)
    kw = {"epochs": 2, "batch_size": 32, "verbose": 0, "validation_split": 0.2}
    ha = a.fit(X, y, **kw)
    hb = TorchModel(b, device="cpu").fit(X, y, **kw)
    assert_same_weights(b, a, RTOL_EPOCH)
    assert list(hb.history) == list(ha.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    for key in ha.history:
        assert_rel(hb.history[key], ha.history[key], RTOL_EPOCH, key)
    assert b.history is hb


def test_paths_can_be_mixed() -> None:
    """One epoch with NumPy then one with PyTorch equals two with NumPy (optimizer state and step
    count carry over both ways)."""
    X, y = data(n=100, shape=(20,))
    model = classifier(
        [layers.Dense(16, "relu")], input_shape=(20,), optimizer=optimizers.Adam(0.01)
    )
    a, b = copy.deepcopy(model), copy.deepcopy(model)
    a.fit(X, y, epochs=2, batch_size=32, verbose=0)
    b.fit(X, y, epochs=1, batch_size=32, verbose=0)
    TorchModel(b, device="cpu").fit(X, y, epochs=1, batch_size=32, verbose=0)
    assert b.optimizer.iterations == a.optimizer.iterations == 8
    assert_same_weights(b, a, RTOL_EPOCH)


@pytest.mark.parametrize("data_on_device", [False, True])
def test_data_movement_modes_agree(data_on_device: bool) -> None:
    X, y = data(n=100, shape=(20,))
    model = classifier([layers.Dense(16, "relu")], input_shape=(20,), optimizer="rmsprop")
    a, b = copy.deepcopy(model), copy.deepcopy(model)
    ha = a.fit(X, y, epochs=2, batch_size=16, verbose=0, validation_split=0.1)
    tm = TorchModel(b, device="cpu", data_on_device=data_on_device)
    hb = tm.fit(X, y, epochs=2, batch_size=16, verbose=0, validation_split=0.1)
    assert_same_weights(b, a, RTOL_EPOCH)
    for key in ha.history:
        assert_rel(hb.history[key], ha.history[key], RTOL_EPOCH, key)
    assert_rel(tm.evaluate(X, y), a.evaluate(X, y), 1e-10)
    assert_rel(tm.predict(X), a.predict(X), 1e-10)


# --- dropout -------------------------------------------------------------------------------------
def test_dropout_rate_zero_is_exact_and_rate_one_zeroes() -> None:
    x = torch.randn(50, 40, dtype=torch.float64)
    d = tb.TorchDropout(0.0).train()
    assert torch.equal(d(x), x)
    assert torch.count_nonzero(tb.TorchDropout(1.0).train()(x)) == 0


def test_dropout_half_statistically() -> None:
    """Rate 0.5: about half the units dropped, the rest scaled by 2, the mean kept; identity in
    evaluation; the same law as nnlib's dropout_forward."""
    gen = torch.Generator().manual_seed(0)
    d = tb.TorchDropout(0.5, generator=gen).train()
    x = torch.ones(400, 500, dtype=torch.float64)
    out = d(x).numpy()
    ref, _ = layers.dropout_forward(np.ones((400, 500)), 0.5, True, np.random.default_rng(0))
    for o in (out, ref):
        assert abs((o == 0).mean() - 0.5) < 0.01
        assert set(np.unique(o)) == {0.0, 2.0}
        assert abs(o.mean() - 1.0) < 0.02
    assert torch.equal(d.eval()(x), x)


def test_dropout_model_trains_reproducibly_and_close_to_numpy() -> None:
    X, y = data(n=200, shape=(20,))

    def run(backend: str) -> tuple[models.Sequential, dict]:
        m = classifier(
            [layers.Dense(32, "relu"), layers.Dropout(0.5)],
            input_shape=(20,),
            optimizer="adam",
            seed=7,
        )
        if backend == "torch":
            h = TorchModel(m, device="cpu").fit(X, y, epochs=5, batch_size=32, verbose=0)
        else:
            h = m.fit(X, y, epochs=5, batch_size=32, verbose=0)
        return m, h.history

    (m1, h1), (m2, h2), (_, h3) = run("torch"), run("torch"), run("numpy")
    assert_same_weights(m2, m1, 0.0)  # same seed, same masks
    assert h1 == h2
    assert h1["loss"][-1] < h1["loss"][0]
    assert abs(h1["loss"][-1] - h3["loss"][-1]) < 0.15  # different masks, same law


# --- callbacks and the History -----------------------------------------------------------------------
def test_early_stopping_restores_best_weights_like_numpy() -> None:
    X, y = data(n=120, shape=(20,))
    model = classifier(
        [layers.Dense(32, "relu")], input_shape=(20,), optimizer=optimizers.SGD(0.5, 0.9)
    )

    def cbs() -> list:
        return [callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)]

    a, b = copy.deepcopy(model), copy.deepcopy(model)
    kw = {"epochs": 30, "batch_size": 16, "verbose": 0, "validation_split": 0.25}
    ha = a.fit(X, y, callbacks=cbs(), **kw)
    hb = TorchModel(b, device="cpu").fit(X, y, callbacks=cbs(), **kw)
    assert len(ha.history["loss"]) < 30  # it did stop early
    assert len(hb.history["loss"]) == len(ha.history["loss"])
    assert_same_weights(b, a, RTOL_EPOCH)
    for key in ha.history:
        assert_rel(hb.history[key], ha.history[key], RTOL_EPOCH, key)


def test_terminate_on_nan_and_divergence_error() -> None:
    X, y = data(n=64, shape=(20,))
    X = X * 1e150
    model = classifier([layers.Dense(8, "relu")], input_shape=(20,), optimizer=optimizers.SGD(1e10))
    h = TorchModel(copy.deepcopy(model), device="cpu").fit(
        X, y, epochs=3, batch_size=16, verbose=0, callbacks=[callbacks.TerminateOnNaN()]
    )
    assert len(h.history["loss"]) == 1 and not np.isfinite(h.history["loss"][0])
    with pytest.raises(FloatingPointError, match="Lower the learning rate"):
        TorchModel(copy.deepcopy(model), device="cpu").fit(X, y, epochs=3, batch_size=16, verbose=0)


def test_progress_output_and_device_line(capsys: pytest.CaptureFixture) -> None:
    X, y = data(n=64, shape=(20,))
    model = classifier([layers.Dense(8, "relu")], input_shape=(20,))
    tm = TorchModel(model, device="auto")
    assert tm.device.type == ("cuda" if HAS_CUDA else "cpu")
    tm.fit(X, y, epochs=2, batch_size=16, verbose=1)
    out = capsys.readouterr().out
    assert f"training on {tm.device_name}" in out
    assert "Epoch 2/2" in out and "accuracy:" in out and "4/4 [" in out
    tm.fit(X, y, epochs=2, batch_size=16, verbose=2)
    out = capsys.readouterr().out
    assert out.count("\n") == 5 and "ETA" not in out  # device line + 2 x (epoch, summary)
    tm.fit(X, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_per_batch_callback_gets_every_batch() -> None:
    X, y = data(n=64, shape=(20,))
    model = classifier([layers.Dense(8, "relu")], input_shape=(20,), optimizer="adam")
    seen_a, seen_b = [], []
    a, b = copy.deepcopy(model), copy.deepcopy(model)
    a.fit(
        X,
        y,
        epochs=1,
        batch_size=16,
        verbose=0,
        callbacks=[
            callbacks.LambdaCallback(on_batch_end=lambda batch, logs: seen_a.append((batch, logs)))
        ],
    )
    TorchModel(b, device="cpu").fit(
        X,
        y,
        epochs=1,
        batch_size=16,
        verbose=0,
        callbacks=[
            callbacks.LambdaCallback(on_batch_end=lambda batch, logs: seen_b.append((batch, logs)))
        ],
    )
    assert [s[0] for s in seen_b] == [s[0] for s in seen_a] == [0, 1, 2, 3]
    for (_, la), (_, lb) in zip(seen_a, seen_b, strict=True):
        assert_rel(lb["loss"], la["loss"], RTOL_EPOCH)


# --- conversion both ways ----------------------------------------------------------------------------
def lecture_network(dtype: str = "float32", seed: int = 0) -> models.Sequential:
    network = models.Sequential(dtype=dtype, seed=seed)
    network.add(
        layers.Dense(512, activation="relu", kernel_initializer="he_normal", input_shape=(28 * 28,))
    )
    network.add(layers.Dense(512, activation="relu", kernel_initializer="he_normal"))
    network.add(layers.Dense(10, activation="softmax"))
    network.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return network


def test_lecture_network_converts_and_back() -> None:
    network = lecture_network()
    X = np.random.default_rng(0).random((64, 784), dtype=np.float32)
    module = to_torch(network, device="cpu").eval()
    assert isinstance(module, torch.nn.Module) and module.dtype == torch.float32
    assert sum(p.numel() for p in module.parameters()) == network.count_params() == 669_706
    assert module.layers[0].linear.weight.shape == (512, 784)  # torch layout (H, D)
    with torch.no_grad():
        out = module(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(out, network.predict(X), rtol=1e-5, atol=1e-7)
    back = lecture_network(seed=1)
    assert not np.allclose(back.predict(X), network.predict(X))
    load_from_torch(back, module)
    for w1, w2 in zip(back.get_weights(), network.get_weights(), strict=True):
        np.testing.assert_array_equal(w1, w2)
    np.testing.assert_array_equal(back.predict(X), network.predict(X))


def test_load_from_plain_torch_modules() -> None:
    """A hand-written nn.Sequential (Linear, BatchNorm1d) loads into the matching nnlib model."""
    nnm = classifier([layers.Dense(5), layers.BatchNormalization(), layers.Activation("relu")])
    plain = torch.nn.Sequential(
        torch.nn.Linear(6, 5), torch.nn.BatchNorm1d(5), torch.nn.ReLU(), torch.nn.Linear(5, 3)
    ).double()
    with torch.no_grad():
        plain[1].running_mean.uniform_()
    load_from_torch(nnm, plain)
    np.testing.assert_array_equal(nnm.layers[0].params["W"], plain[0].weight.detach().numpy().T)
    np.testing.assert_array_equal(nnm.layers[1].state["moving_mean"], plain[1].running_mean.numpy())
    with pytest.raises(ValueError, match="weight layers"):
        load_from_torch(nnm, torch.nn.Sequential(torch.nn.Linear(6, 3)))
    with pytest.raises(ValueError, match="shape"):
        load_from_torch(
            nnm,
            torch.nn.Sequential(
                torch.nn.Linear(6, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 3)
            ),
        )


def test_dtype_rule() -> None:
    """TorchModel converts inputs to the module's dtype; the bare module refuses with a clear
    message."""
    network = classifier([layers.Dense(5, "relu")])
    network32 = models.Sequential(dtype="float32", seed=0)
    network32.add(layers.Dense(3, activation="softmax", input_shape=(6,)))
    X, _ = data()
    tm = TorchModel(network32, device="cpu")
    np.testing.assert_array_equal(tm.predict(X), tm.predict(X.astype(np.float32)))
    assert tm.predict(X).dtype == np.float32
    module = to_torch(network32, device="cpu")
    with pytest.raises(TypeError, match=r"float32 weights but the input is torch.float64.*x.to\("):
        module(torch.from_numpy(X))
    with pytest.raises(TypeError, match="takes a torch.Tensor"):
        module(X)
    with pytest.raises(ValueError, match=r"expects inputs of shape \(N, 6\)"):
        module(torch.zeros(2, 7))
    # a float64 model run in float32 on request
    tm32 = TorchModel(network, device="cpu", dtype="float32")
    assert tm32.predict(X).dtype == np.float32
    np.testing.assert_allclose(tm32.predict(X), network.predict(X), rtol=1e-5)


# --- clear errors ------------------------------------------------------------------------------------
class Square(layers.Layer):
    def forward(self, x, training=False):
        return x * x

    def backward(self, grad_out):
        raise NotImplementedError


class MyDense(layers.Dense):  # a subclass that only renames: convertible
    pass


def test_custom_layer_gives_clear_error() -> None:
    model = classifier([layers.Dense(5), Square()])
    with pytest.raises(TypeError, match=r"Layer 'square.*' \(Square\) has no PyTorch equivalent"):
        TorchModel(model, device="cpu")
    with pytest.raises(TypeError, match="Square"):
        to_torch(model, device="cpu")
    X, y = data()
    check_one_step(classifier([MyDense(5, "relu")]), X, y)


def test_custom_activation_loss_optimizer_regularizer_give_clear_errors() -> None:
    from nnlib.activations import Activation as Act

    cube = Act("cube", lambda z: z**3, lambda da, z, a: da * 3 * z**2)
    with pytest.raises(TypeError, match="activation 'cube'"):
        to_torch(classifier([layers.Dense(5, cube)]), device="cpu")

    class Huber(losses.Loss):
        pass

    class Sign(optimizers.Optimizer):
        def update(self, w, g, state, eta):
            w -= eta * np.sign(g)

    class L3(regularizers.L1L2):
        def __call__(self, W):
            return float(np.sum(np.abs(W) ** 3))

    X, y = data()
    model = classifier([layers.Dense(5)])
    model.compile(optimizer="sgd", loss=Huber())
    with pytest.raises(TypeError, match="Loss Huber has no PyTorch equivalent"):
        TorchModel(model, device="cpu").fit(X, np.eye(3)[y], verbose=0)
    model = classifier([layers.Dense(5)], optimizer=Sign(0.1))
    with pytest.raises(TypeError, match="Optimizer Sign has no PyTorch equivalent"):
        TorchModel(model, device="cpu").fit(X, y, verbose=0)
    with pytest.raises(TypeError, match="regularizer"):
        TorchModel(classifier([layers.Dense(5, kernel_regularizer=L3())]), device="cpu")


@pytest.mark.skipif(HAS_CUDA, reason="checks the message shown when there is no GPU")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "CUDA:1"])
def test_cuda_without_gpu_says_so(device: str) -> None:
    with pytest.raises(ValueError, match=r"sees no CUDA GPU.*device='auto'.*device='cpu'"):
        TorchModel(classifier([]), device=device)


@pytest.mark.parametrize("device", ["gpu", "tpu", "cuda0", "", "cpu:x"])
def test_unknown_device_strings(device: str) -> None:
    with pytest.raises(ValueError, match=r"device|Device"):
        tb.resolve_device(device)


def test_device_arguments() -> None:
    assert tb.resolve_device("cpu") == torch.device("cpu")
    assert tb.resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert tb.resolve_device(None).type == ("cuda" if HAS_CUDA else "cpu")
    with pytest.raises(TypeError, match="device must be"):
        tb.resolve_device(0)
    if HAS_CUDA:
        with pytest.raises(ValueError, match="CUDA device"):
            tb.resolve_device(f"cuda:{torch.cuda.device_count()}")


def test_unbuilt_model_builds_on_first_fit_and_unfitted_errors() -> None:
    m = models.Sequential(dtype="float64", seed=0)
    m.add(layers.Dense(4, activation="relu"))
    m.add(layers.Dense(3, activation="softmax"))
    tm = TorchModel(m, device="cpu")
    assert tm.module is None
    with pytest.raises(RuntimeError, match="compile"):
        tm.fit(*data())
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    h = tm.fit(*data(), verbose=0)
    assert m.built and tm.module is not None and list(h.history) == ["loss"]
    with pytest.raises(ValueError, match="out of|outside the class range"):
        tm.fit(data()[0], np.full(16, 7), verbose=0)


def test_benchmark_helper_leaves_the_model_alone() -> None:
    X, y = data(n=256, shape=(20,))
    model = classifier([layers.Dense(16, "relu")], input_shape=(20,), optimizer="rmsprop")
    before = model.get_weights()
    sps = tb.benchmark_torch(model, X, y, batch_size=32, device="cpu", warmup_batches=2)
    assert sps > 0
    for w1, w2 in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(w1, w2)


# --- Fashion-MNIST: both paths from the same model definition ---------------------------------------
def test_fashion_mnist_both_paths_train_the_lecture_network() -> None:
    from nnlib import data as nndata
    from nnlib.utils import to_categorical

    try:
        (X_train, y_train), (X_test, y_test) = nndata.load_fashion_mnist(
            kind="float32", flatten=True, download=False
        )
    except nndata.DataError as err:
        pytest.skip(f"Fashion-MNIST not available: {err}")
    X_train, y_train, X_test, y_test = X_train[:5000], y_train[:5000], X_test[:2000], y_test[:2000]
    Y_train, Y_test = to_categorical(y_train), to_categorical(y_test)
    results = {}
    for backend in ("numpy", "torch"):
        network = lecture_network(seed=0)
        if backend == "numpy":
            network.fit(X_train, Y_train, epochs=1, batch_size=64, verbose=0)
        else:
            TorchModel(network, device="auto").fit(
                X_train, Y_train, epochs=1, batch_size=64, verbose=0
            )
        results[backend] = (
            network.evaluate(X_test, Y_test, batch_size=500),
            network.predict(X_test, 500),
        )
    (loss_np, acc_np), p_np = results["numpy"]
    (loss_t, acc_t), p_t = results["torch"]
    assert acc_np > 0.72 and acc_t > 0.72  # chance is 0.1; ~0.77 after these 79 steps
    assert abs(acc_np - acc_t) < 0.01  # same batches, same rules: float32 rounding only
    assert abs(loss_np - loss_t) < 1e-3 * loss_np
    assert (p_np.argmax(1) == p_t.argmax(1)).mean() > 0.99


# --- CUDA -----------------------------------------------------------------------------------------
@cuda_test
@pytest.mark.parametrize("case", ["dense-relu", "dense-l1l2-bias", "batchnorm", "deep-mixed"])
def test_cuda_layer_one_step_agrees(case: str) -> None:
    model = classifier(LAYER_CASES[case](), optimizer=optimizers.Adam(0.01))
    X, y = data()
    check_one_step(model, X, y, rtol=1e-6, device="cuda")


@cuda_test
@pytest.mark.parametrize("name", ["momentum", "rmsprop", "adam", "adamax"])
def test_cuda_one_epoch_same_weights(name: str) -> None:
    X, y = data(n=200, shape=(20,))
    model = classifier([layers.Dense(16, "relu")], input_shape=(20,), optimizer=OPTIMIZERS[name]())
    for data_on_device in (False, True):
        a, b = copy.deepcopy(model), copy.deepcopy(model)
        a.fit(X, y, epochs=1, batch_size=32, verbose=0)
        tm = TorchModel(b, device="cuda", data_on_device=data_on_device)
        assert tm.device.type == "cuda"
        tm.fit(X, y, epochs=1, batch_size=32, verbose=0)
        assert_same_weights(b, a, 1e-5)


@cuda_test
def test_cuda_short_training_run() -> None:
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(10, 784)).astype(np.float32)
    y = rng.integers(0, 10, 4096)
    X = centers[y] + 0.5 * rng.normal(size=(4096, 784)).astype(np.float32)
    network = lecture_network()
    tm = TorchModel(network, device="auto")
    assert tm.device.type == "cuda" and "cuda" in tm.device_name
    from nnlib.utils import to_categorical

    h = tm.fit(X, to_categorical(y), epochs=2, batch_size=128, verbose=0, validation_split=0.1)
    assert h.history["val_accuracy"][-1] > 0.9
    np.testing.assert_allclose(tm.predict(X[:256]), network.predict(X[:256]), rtol=1e-3, atol=1e-5)
    assert tb.benchmark_torch(network, X, to_categorical(y), 128, "cuda") > 0
