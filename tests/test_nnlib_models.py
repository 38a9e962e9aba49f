"""Sequential: the lecture's code runs on nnlib, the Keras surface behaves, bad input is explained."""

import numpy as np
import pytest

from nnlib import callbacks, layers, models, optimizers, regularizers
from nnlib.data import load_fashion_mnist
from nnlib.utils import set_seed, to_categorical


def lecture_network():
    """The lecture's code, verbatim except for the imports."""
    network = models.Sequential()
    network.add(
        layers.Dense(512, activation="relu", kernel_initializer="he_normal", input_shape=(28 * 28,))
    )
    network.add(layers.Dense(512, activation="relu", kernel_initializer="he_normal"))
    network.add(layers.Dense(10, activation="softmax"))
    return network


def small_data(n=256, d=784, k=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d)).astype("float32")
    y = rng.integers(0, k, n)
    return X, y


def test_summary_reports_the_lectures_parameter_counts():
    network = lecture_network()
    lines = []
    network.summary(print_fn=lines.append)
    text = lines[0]
    for count in ("401920", "262656", "5130", "Total params: 669,706", "Trainable params: 669,706"):
        assert count in text, f"summary() lacks {count!r}:\n{text}"
    assert "(None, 512)" in text and "Non-trainable params: 0" in text
    assert network.count_params() == 669_706


def test_lecture_snippets_run_unchanged_but_for_imports():
    X, y = small_data()
    # "Preprocessing" slide
    X = (X * 255).astype("uint8")
    X = X.astype("float32") / 255
    X = X.reshape((256, 28 * 28))
    y = to_categorical(y)
    X_train, y_train, X_test, y_test = X[:200], y[:200], X[200:], y[200:]
    network = lecture_network()
    network.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    history = network.fit(X_train, y_train, epochs=3, batch_size=32, verbose=0)
    network.predict(X_test)
    test_loss, test_acc = network.evaluate(X_test, y_test)
    assert set(history.history) == {"loss", "accuracy"} and len(history.history["loss"]) == 3
    assert 0 <= test_acc <= 1 and np.isfinite(test_loss)
    # "Early stopping" slide
    model = lecture_network()
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    earlystop = callbacks.EarlyStopping(monitor="val_loss", patience=3)
    model.fit(
        X_train,
        y_train,
        epochs=25,
        batch_size=512,
        callbacks=[earlystop],
        verbose=0,
        validation_data=(X_test, y_test),
    )
    # "Weight regularization", "Dropout layers" and "Batch normalization" slides
    network = models.Sequential()
    network.add(
        layers.Dense(
            256,
            activation="relu",
            kernel_regularizer=regularizers.l2(0.001),
            input_shape=(28 * 28,),
        )
    )
    network.add(layers.Dense(128, activation="relu", kernel_regularizer=regularizers.l2(0.001)))
    network.add(layers.Dense(256, activation="relu", input_shape=(28 * 28,)))
    network = models.Sequential()
    network.add(layers.Dense(256, activation="relu", input_shape=(28 * 28,)))
    network.add(layers.Dropout(0.5))
    network.add(layers.Dense(32, activation="relu"))
    network.add(layers.Dropout(0.5))
    network.add(layers.Dense(10, activation="softmax"))
    network = models.Sequential()
    network.add(layers.Dense(512, activation="relu", input_shape=(28 * 28,)))
    network.add(layers.BatchNormalization())
    network.add(layers.Dropout(0.5))
    network.add(layers.Dense(256, activation="relu"))
    network.add(layers.BatchNormalization())
    network.add(layers.Dropout(0.5))
    network.add(layers.Dense(10, activation="softmax"))
    network.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    network.fit(X_train, y_train, epochs=1, batch_size=32, verbose=0)


def test_history_has_validation_twins_and_validation_split_takes_the_last_rows():
    X, y = small_data(100)
    m = models.Sequential(
        [
            layers.Dense(8, activation="relu", input_shape=(784,)),
            layers.Dense(10, activation="softmax"),
        ],
        seed=0,
    )
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    h = m.fit(X, y, epochs=2, batch_size=16, validation_split=0.2, verbose=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    val_loss, _ = m.evaluate(X[80:], y[80:])
    assert h.history["val_loss"][-1] == pytest.approx(val_loss, rel=1e-5)


def test_training_is_reproducible_under_a_seed():
    X, y = small_data(64)

    def run():
        set_seed(123)
        m = lecture_network()
        m.add(layers.Dropout(0.2))
        m.compile("rmsprop", "sparse_categorical_crossentropy")
        m.fit(X, y, epochs=1, batch_size=16, verbose=0)
        return m.get_weights()

    for a, b in zip(run(), run(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_restores_the_best_weights():
    X, y = small_data(200)
    m = models.Sequential(
        [
            layers.Dense(64, activation="relu", input_shape=(784,)),
            layers.Dense(10, activation="softmax"),
        ],
        seed=0,
    )
    m.compile(optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    snapshots = callbacks.LambdaCallback(on_epoch_end=lambda e, logs: None)
    stop = callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    h = m.fit(X[:150], y[:150], epochs=30, batch_size=32, validation_data=(X[150:], y[150:]),
              callbacks=[stop, snapshots], verbose=0)  # fmt: skip
    assert len(h.history["loss"]) < 30, "random labels must overfit and stop early"
    best = min(h.history["val_loss"])
    assert m.evaluate(X[150:], y[150:]) == pytest.approx(best, rel=1e-5)
    assert stop.best_epoch == int(np.argmin(h.history["val_loss"]))


def test_save_and_load_weights(tmp_path):
    a, b = lecture_network(), lecture_network()
    a.save_weights(tmp_path / "w.npz")
    b.load_weights(tmp_path / "w.npz")
    for x, y in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)
    other = models.Sequential([layers.Dense(3, input_shape=(784,))])
    with pytest.raises(ValueError, match="does not match this model's architecture"):
        other.load_weights(tmp_path / "w.npz")


def test_progress_bar_prints_keras_style_lines(capsys):
    X, y = small_data(64)
    m = lecture_network()
    m.compile("rmsprop", "sparse_categorical_crossentropy", metrics=["accuracy"])
    m.fit(X, y, epochs=2, batch_size=32)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "2/2 [====" in out and "accuracy:" in out


# --- bad input ------------------------------------------------------------------------------------
def test_shape_mismatch_names_the_layer_and_both_shapes():
    network = lecture_network()
    network.compile("rmsprop", "categorical_crossentropy")
    images = np.zeros((4, 28, 28), "float32")
    with pytest.raises(ValueError, match=r"\(N, 784\).*\(4, 28, 28\).*'dense.*reshape"):
        network.predict(images)
    layer = layers.Dense(3, input_shape=(5,))
    layer.build((5,))
    with pytest.raises(
        ValueError,
        match=r"Layer 'dense\S*' \(Dense\) expects input of shape \(N, 5\), got \(2, 4\)",
    ):
        layer.forward(np.zeros((2, 4), "float32"))


def test_labels_must_fit_the_output_layer():
    X, y = small_data(8)
    network = lecture_network()
    network.compile("rmsprop", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="Label 10 is outside the class range 0..9"):
        network.fit(X, np.where(y == 0, 10, y), verbose=0)
    network.compile("rmsprop", "categorical_crossentropy")
    with pytest.raises(ValueError, match="to_categorical"):
        network.fit(X, y, verbose=0)


def test_nan_and_inf_inputs_are_refused():
    X, y = small_data(8)
    X[0, 0] = np.nan
    X[1, 1] = np.inf
    network = lecture_network()
    network.compile("rmsprop", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="x contains 1 NaN and 1 infinite"):
        network.fit(X, y, verbose=0)


def test_fit_before_compile_and_unknown_identifiers():
    X, y = small_data(8)
    with pytest.raises(RuntimeError, match="compile the model before training"):
        lecture_network().fit(X, y)
    with pytest.raises(ValueError, match="Unknown optimizer 'rmsprob'.*rmsprop"):
        lecture_network().compile(optimizer="rmsprob", loss="mse")
    with pytest.raises(ValueError, match="Unknown activation 'rectifier'"):
        layers.Dense(3, activation="rectifier")
    with pytest.raises(ValueError, match="compile needs a loss"):
        lecture_network().compile(optimizer="sgd")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_diverging_training_stops_with_epoch_and_batch():
    X, y = small_data(64)

    def linear_model():
        m = models.Sequential([layers.Dense(10, input_shape=(784,))], seed=0)
        m.compile(optimizers.SGD(10.0), "mse")  # far too large a step: the loss explodes
        return m

    with pytest.raises(
        FloatingPointError,
        match=r"epoch \d+, batch \d+: training diverged.*Lower the learning rate",
    ):
        linear_model().fit(X, to_categorical(y), batch_size=8, epochs=3, verbose=0)
    h = linear_model().fit(X, to_categorical(y), batch_size=8, epochs=3, verbose=0,
                           callbacks=[callbacks.TerminateOnNaN()])  # fmt: skip
    assert len(h.history["loss"]) < 3, "TerminateOnNaN stops training at the bad batch"
    assert not np.isfinite(h.history["loss"][-1])


# --- the lecture's result on real data ------------------------------------------------------------
@pytest.mark.slow
def test_lecture_recipe_reaches_085_on_fashion_mnist():
    (X_train, y_train), (X_test, y_test) = load_fashion_mnist(kind="float32", flatten=True)
    set_seed(0)
    network = lecture_network()
    network.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    network.fit(X_train, to_categorical(y_train), epochs=3, batch_size=32, verbose=0)
    test_loss, test_acc = network.evaluate(X_test, to_categorical(y_test))
    assert test_acc >= 0.85, f"test accuracy {test_acc:.4f} < 0.85 (lecture: 0.8636-0.8843)"


def test_import_nnlib_needs_neither_torch_nor_sklearn_until_used():
    import subprocess
    import sys

    code = (
        "import sys, nnlib; heavy = {'torch', 'sklearn'} & set(sys.modules); "
        "assert not heavy, f'import nnlib imported {heavy}'; "
        "from nnlib import NNClassifier, TorchModel, to_torch; "
        "assert nnlib.torch_backend.TorchModel is TorchModel"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_a_trained_model_pickles_and_predicts_the_same():
    import pickle

    m = models.Sequential(seed=0)
    m.add(layers.Dense(8, activation="leaky_relu", input_shape=(4,)))
    m.add(layers.Dropout(0.2))
    m.add(layers.BatchNormalization())
    m.add(layers.Dense(3, activation="softmax"))
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    X, y = np.random.default_rng(0).random((20, 4)), np.arange(20) % 3
    m.fit(X, y, epochs=2, verbose=0)
    clone = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(clone.predict(X), m.predict(X), err_msg="pickled model differs")
    clone.fit(X, y, epochs=1, verbose=0)  # and it keeps training (optimizer state included)
