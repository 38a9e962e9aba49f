"""nnlib's scikit-learn estimators: scikit-learn's own estimator checks, grid and random search on a
Fashion-MNIST subset, the two backends agreeing, labels of any type, model_fn, pickling."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from nnlib import layers, models, optimizers
from nnlib.estimators import NNClassifier, NNRegressor

try:
    import torch
except ImportError:  # the NumPy backend needs no PyTorch
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
SMALL = {"hidden_layer_sizes": (16,), "epochs": 5, "learning_rate": 0.01, "random_state": 0}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny networks: one BLAS / PyTorch thread avoids OpenMP spin-waiting, which makes shared
    2-core machines several times slower (restored afterwards)."""
    threads = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    if torch is not None:
        torch.set_num_threads(threads)


# --- scikit-learn's estimator checks ---------------------------------------------------------
def _instances() -> list:
    ests = [NNClassifier(**SMALL), NNRegressor(**SMALL)]
    if torch is not None:
        ests += [
            NNClassifier(**SMALL, backend="torch", device="cpu"),
            NNClassifier(**SMALL, backend="torch", device="cpu", dtype="float64"),
            NNRegressor(**SMALL, backend="torch", device="cpu", dtype="float64"),
        ]
    return ests


def expected_failed_checks(estimator: object) -> dict[str, str]:
    """The checks that cannot hold for a network, each with the reason."""
    if getattr(estimator, "backend", None) == "torch" and estimator.dtype == "float32":
        return {
            "check_methods_subset_invariance": (
                "PyTorch's float32 CPU matrix products block the computation differently for "
                "different numbers of rows, so a sample's probabilities differ in the 7th digit "
                "(> the check's atol=1e-7) between a subset and the full batch. The same estimator "
                "in float64, and the NumPy backend in float32, pass."
            )
        }
    return {}


@parametrize_with_checks(_instances(), expected_failed_checks=expected_failed_checks)
def test_sklearn_estimator_checks(estimator: object, check: Callable) -> None:
    check(estimator)


# --- Fashion-MNIST subset ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fmnist() -> tuple[np.ndarray, ...]:
    from nnlib import data as nndata

    try:
        (X, y), (Xt, yt) = nndata.load_fashion_mnist(kind="float32", flatten=True, download=False)
    except nndata.DataError as err:
        pytest.skip(f"Fashion-MNIST not available: {err}")
    rng = np.random.default_rng(0)
    train, test = rng.choice(len(X), 1000, replace=False), rng.choice(len(Xt), 500, replace=False)
    return X[train], y[train], Xt[test], yt[test]


def test_grid_search_on_fashion_mnist_picks_sensible_parameters(fmnist) -> None:
    X, y, Xt, yt = fmnist
    grid = {"hidden_layer_sizes": [(16,), (64,)], "learning_rate": [1e-5, 1e-3]}
    search = GridSearchCV(NNClassifier(epochs=3, random_state=0), grid, cv=2)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    # 1e-5 barely moves the weights in 3 epochs of 16 steps; 1e-3 learns
    assert search.best_params_["learning_rate"] == 1e-3
    assert search.best_score_ > 0.65
    assert search.best_estimator_.score(Xt, yt) > 0.65
    slow = search.cv_results_["param_learning_rate"] == 1e-5
    assert search.cv_results_["mean_test_score"][slow].max() < search.best_score_


def test_random_search_on_fashion_mnist(fmnist) -> None:
    X, y, Xt, yt = fmnist
    space = {
        "hidden_layer_sizes": [(32,), (64,), (32, 32)],
        "learning_rate": [3e-4, 1e-3, 3e-3],
        "optimizer": ["rmsprop", "adam"],
        "dropout": [0.0, 0.2],
    }
    search = RandomizedSearchCV(
        NNClassifier(epochs=2, random_state=0), space, n_iter=3, cv=2, random_state=0
    )
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 3
    assert search.best_score_ > 0.6 and search.score(Xt, yt) > 0.6
    again = RandomizedSearchCV(
        NNClassifier(epochs=2, random_state=0), space, n_iter=3, cv=2, random_state=0
    ).fit(X, y)
    np.testing.assert_array_equal(
        again.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"]
    )


def test_images_and_string_labels(fmnist) -> None:
    from nnlib.data import CLASS_NAMES

    X, y, Xt, yt = fmnist
    names = np.array(CLASS_NAMES)[y]
    clf = NNClassifier(hidden_layer_sizes=(32,), epochs=2, random_state=0)
    clf.fit(X.reshape(-1, 28, 28), names)  # images are flattened
    assert clf.n_features_in_ == 784
    assert list(clf.classes_) == sorted(CLASS_NAMES)
    pred = clf.predict(Xt.reshape(-1, 28, 28))
    assert pred.dtype == names.dtype and set(pred) <= set(CLASS_NAMES)
    assert (pred == np.array(CLASS_NAMES)[yt]).mean() > 0.6
    proba = clf.predict_proba(Xt)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert clf.history_["loss"][-1] < clf.history_["loss"][0]


@needs_torch
def test_backends_agree(fmnist) -> None:
    """Same data and seed: same initial network, same batches, same updates (float64)."""
    X, y, Xt, _ = fmnist
    kw = {"hidden_layer_sizes": (32, 16), "epochs": 2, "dtype": "float64", "random_state": 3}
    kw.update(validation_split=0.2, l2=1e-4, batch_normalization=True, optimizer="adam")
    a = NNClassifier(**kw, backend="numpy").fit(X[:400], y[:400])
    b = NNClassifier(**kw, backend="torch", device="cpu").fit(X[:400], y[:400])
    assert b.device_ == "cpu"
    for key in a.history_:
        np.testing.assert_allclose(b.history_[key], a.history_[key], rtol=1e-7)
    for wa, wb in zip(a.model_.get_weights(), b.model_.get_weights(), strict=True):
        np.testing.assert_allclose(wb, wa, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(b.predict_proba(Xt), a.predict_proba(Xt), rtol=1e-6, atol=1e-9)
    # regression too
    r = np.random.default_rng(0)
    Xr = r.normal(size=(300, 5))
    yr = Xr @ r.normal(size=5) + np.sin(Xr[:, 0])
    kw = {"hidden_layer_sizes": (16,), "epochs": 3, "dtype": "float64", "random_state": 0}
    ra = NNRegressor(**kw).fit(Xr, yr)
    rb = NNRegressor(**kw, backend="torch", device="cpu").fit(Xr, yr)
    np.testing.assert_allclose(rb.predict(Xr), ra.predict(Xr), rtol=1e-6, atol=1e-9)


# --- conventions ---------------------------------------------------------------------------------
def test_defaults_are_the_lectures_network() -> None:
    clf = NNClassifier()
    p = clf.get_params()
    assert p["hidden_layer_sizes"] == (512, 512) and p["optimizer"] == "rmsprop"
    assert p["kernel_initializer"] == "he_normal" and p["learning_rate"] == 0.001
    X = np.random.default_rng(0).random((40, 784), dtype=np.float32)
    y = np.arange(40) % 10
    clf.set_params(epochs=1).fit(X, y)
    assert clf.model_.count_params() == 669_706
    assert [type(layer).__name__ for layer in clf.model_.layers] == ["Dense"] * 3


def test_clone_is_deterministic_and_unfitted() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(120, 6)), rng.integers(0, 3, 120)
    clf = NNClassifier(**SMALL, dropout=0.3).fit(X, y)
    twin = clone(clf)
    assert not hasattr(twin, "model_") and twin.get_params() == clf.get_params()
    np.testing.assert_array_equal(twin.fit(X, y).predict_proba(X), clf.predict_proba(X))
    other = clone(clf).set_params(random_state=1).fit(X, y)
    assert not np.allclose(other.predict_proba(X), clf.predict_proba(X))


def test_regressor_learns_and_multioutput() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4))
    Y = np.c_[1000 * (X[:, 0] + 0.5 * X[:, 1] ** 2), X[:, 2] - X[:, 3]]  # very different scales
    reg = make_pipeline(
        StandardScaler(),
        NNRegressor(hidden_layer_sizes=(32,), epochs=20, learning_rate=3e-3, random_state=0),
    )
    reg.fit(X, Y)
    assert reg.predict(X).shape == (400, 2)
    assert reg.score(X, Y) > 0.9
    one = NNRegressor(hidden_layer_sizes=(32,), epochs=20, learning_rate=3e-3, random_state=0).fit(
        X, Y[:, 0]
    )
    assert one.predict(X).shape == (400,) and one.score(X, Y[:, 0]) > 0.9


def test_model_fn_hook_like_make_model() -> None:
    seen = {}

    def make_model(hp: dict) -> models.Sequential:
        seen.update(hp)
        m = models.Sequential(seed=hp["seed"])
        m.add(
            layers.Dense(
                hp["hidden_layer_sizes"][0], activation="tanh", input_shape=hp["input_shape"]
            )
        )
        m.add(layers.Dense(hp["n_outputs"], activation="softmax"))
        m.compile(optimizer=optimizers.Adam(hp["learning_rate"]), loss="categorical_crossentropy")
        return m

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(150, 5)), np.array(["a", "b", "c"])[rng.integers(0, 3, 150)]
    X[y == "a", 0] += 3
    clf = NNClassifier(
        model_fn=make_model, hidden_layer_sizes=(24,), epochs=10, learning_rate=0.01, random_state=0
    )
    clf.fit(X, y)  # categorical_crossentropy: the estimator one-hot encodes
    assert (
        seen["input_shape"] == (5,) and seen["n_outputs"] == 3 and seen["task"] == "classification"
    )
    assert clf.model_.layers[0].units == 24 and clf.score(X, y) > 0.6
    grid = GridSearchCV(clf, {"hidden_layer_sizes": [(4,), (24,)]}, cv=2).fit(X, y)
    assert grid.best_estimator_.model_.layers[0].units in (4, 24)

    def binary(hp: dict) -> models.Sequential:
        m = models.Sequential(seed=hp["seed"])
        m.add(layers.Dense(1, activation="sigmoid", input_shape=hp["input_shape"]))
        m.compile(optimizer=optimizers.Adam(0.05), loss="binary_crossentropy")
        return m

    yb = np.where(X[:, 0] > 1, "yes", "no")
    bclf = NNClassifier(model_fn=binary, epochs=20, random_state=0).fit(X, yb)
    assert bclf.predict_proba(X).shape == (150, 2) and bclf.score(X, yb) > 0.8
    with pytest.raises(ValueError, match="compiled"):
        NNClassifier(model_fn=lambda hp: models.Sequential()).fit(X, y)


def test_early_stopping_and_validation_split() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 6)), rng.integers(0, 2, 200)  # noise: validation loss rises
    clf = NNClassifier(
        hidden_layer_sizes=(64,),
        epochs=50,
        learning_rate=0.01,
        validation_split=0.3,
        early_stopping=2,
        random_state=0,
    )
    clf.fit(X, y)
    assert list(clf.history_) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert clf.n_iter_ < 50


def test_pickle_round_trip() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 6)), rng.integers(0, 3, 60)
    clf = NNClassifier(**SMALL, batch_normalization=True).fit(X, y)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    assert hasattr(clf, "model_")  # pickling leaves the original alone


def test_bad_parameters_fail_at_fit_with_clear_messages() -> None:
    X, y = np.zeros((10, 3)), np.arange(10) % 2
    bad = {
        "backend": "jax",
        "epochs": 0,
        "dropout": 1.0,
        "optimizer": "lbfgs",
        "hidden_layer_sizes": (16, -1),
        "early_stopping": -1,
        "validation_split": 1.0,
    }
    for name, value in bad.items():
        clf = NNClassifier(**{name: value})  # the constructor never validates
        with pytest.raises(ValueError, match=name if name != "optimizer" else "Unknown optimizer"):
            clf.fit(X, y)
    if torch is not None and not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device='auto'"):
            NNClassifier(backend="torch", device="cuda", epochs=1).fit(X, y)
