"""The plumbing of the two chapters on model selection and on regularization.

Data split, tables, training curves and the comparison with the lecture's own runs live here, so
that the code a reader sees in those chapters is the idea itself.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML, display
from myst_nb import glue

import nnlib
from nnlib import callbacks, layers, models
from nnlib.data import load_fashion_mnist

# The lecture's best validation accuracies, read from the stored outputs of the original course's
# notebook: github.com/ML-course/master, notebooks/08 - Neural Networks.ipynb, commit 9feb4bf8.
LECTURE = {
    "base 512-512": 0.8971,
    "early stopping": 0.8900,
    "256-32": 0.8930,
    "L2 0.001": 0.8648,
    "dropout": 0.8987,
    "batch norm": 0.8909,
}


def lecture_split():
    """The lecture's split: the first 10,000 training rows validate, the other 50,000 train.

    Returns ``x_train, y_train, x_val, y_val, y_int`` (one-hot targets; ``y_int`` are the integer
    labels of all 60,000 training rows, so ``y_int[:10000]`` belong to the validation set).
    """
    (x, y_int), _ = load_fashion_mnist(kind="float32", flatten=True)
    y = nnlib.to_categorical(y_int)
    return x[10000:], y[10000:], x[:10000], y[:10000], y_int


def glue_value(name, value):
    """Glue a number for the text (as a plain Python number, which the book can format)."""
    glue(name, value.item() if hasattr(value, "item") else value, display=False)


def show_table(header, rows):
    """Display a small table (a list of rows, each a list of cells)."""
    cells = lambda row, tag: "".join(f"<{tag}>{c}</{tag}>" for c in row)  # noqa: E731
    body = "".join(f"<tr>{cells(r, 'td')}</tr>" for r in rows)
    display(
        HTML(f"<table><thead><tr>{cells(header, 'th')}</tr></thead><tbody>{body}</tbody></table>")
    )


def plot_curves(runs, title, vlines=(), ylim_loss=None):
    """Loss and accuracy per epoch: dashed = training, solid = validation, one colour per run."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, (label, h) in enumerate(runs.items()):
        ep = np.arange(1, len(h["loss"]) + 1)
        for ax, key in zip(axes, ["loss", "accuracy"], strict=True):
            ax.plot(ep, h[key], "--", color=f"C{i}", label=f"{label}, training")
            ax.plot(ep, h[f"val_{key}"], "-", color=f"C{i}", label=f"{label}, validation")
    for x, text, style in vlines:
        for ax in axes:
            ax.axvline(x, color="gray", ls=style, lw=1, label=text)
    axes[0].set(xlabel="epoch", ylabel="loss (categorical cross-entropy)", title=f"{title}: loss")
    axes[1].set(xlabel="epoch", ylabel="accuracy", title=f"{title}: accuracy")
    if ylim_loss:
        axes[0].set_ylim(*ylim_loss)
    axes[1].legend(fontsize=8)
    if vlines:
        handles, labels = axes[0].get_legend_handles_labels()
        axes[0].legend(handles[-len(vlines) :], labels[-len(vlines) :], fontsize=8)
    fig.tight_layout()
    plt.show()


def build_mlp(hidden, seed=0, activation="relu", **dense_kwargs):
    """784-hidden...-10 with the slides' defaults (Glorot uniform initialization), RMSprop."""
    network = models.Sequential(seed=seed)
    for i, units in enumerate(hidden):
        kw = {"input_shape": (28 * 28,)} if i == 0 else {}
        network.add(layers.Dense(units, activation=activation, **kw, **dense_kwargs))
    network.add(layers.Dense(10, activation="softmax"))
    network.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return network


def make_trainer(x_train, y_train, x_val, y_val):
    """``train(network, epochs, patience=None, ...)``: fit with batch 512 on the lecture's split,
    with an optional ``EarlyStopping(val_loss, patience)``; returns the history dict."""

    def train(network, epochs, patience=None, x=x_train, y=y_train, extra_callbacks=(), **kw):
        cbs = list(extra_callbacks)
        if patience:
            cbs.append(callbacks.EarlyStopping(monitor="val_loss", patience=patience))
        kw.setdefault("validation_data", (x_val, y_val))
        return network.fit(
            x, y, epochs=epochs, batch_size=512, verbose=0, callbacks=cbs, **kw
        ).history

    return train


def compare_with_lecture(runs, notes=None):
    """Table of the best validation accuracy of each run next to the lecture's number.

    ``runs``: name -> (history, our setup); ``notes``: name -> text shown where the lecture has no number.
    """
    notes = notes or {}
    rows = []
    for name, (h, setup) in runs.items():
        ours = max(h["val_accuracy"])
        lec = LECTURE.get(name)
        if lec is not None:
            rows.append([name, setup, f"{ours:.4f}", f"{lec:.4f}", f"{ours - lec:+.4f}"])
        else:
            rows.append([name, setup, f"{ours:.4f}", notes.get(name, "not run"), ""])
    show_table(["variant", "our setup", "best val. accuracy (ours)", "lecture", "difference"], rows)
