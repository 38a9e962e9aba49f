"""Small utilities: seeding, one-hot encoding, normalization, mini-batches, input validation."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

Array = np.ndarray
_RNG = np.random.default_rng()


def set_seed(seed: int | None) -> None:
    """Seed nnlib's global random generator (initializers, dropout masks, shuffling).

    Like ``keras.utils.set_random_seed``: call it once before building a model to make a run
    reproducible.
    """
    global _RNG
    _RNG = np.random.default_rng(seed)


def get_rng() -> np.random.Generator:
    """The global random generator that :func:`set_seed` seeds."""
    return _RNG


def to_categorical(y: Array, num_classes: int | None = None, dtype: str = "float32") -> Array:
    """One-hot encode integer labels: class ``4`` of 10 becomes ``[0,0,0,0,1,0,0,0,0,0]``.

    Parameters
    ----------
    y : array of int, shape (N,)
        Labels in ``0..num_classes-1``.
    num_classes : int, optional
        Number of classes; ``max(y) + 1`` by default.

    Returns
    -------
    array, shape (N, num_classes)
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"to_categorical expects labels of shape (N,), got {y.shape}.")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if np.any(y != np.round(y)):
            raise ValueError("to_categorical expects integer labels, got non-integer values.")
        y = y.astype(np.int64)
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"Labels must lie in 0..{num_classes - 1}; found {y.min()}..{y.max()}.")
    out = np.zeros((y.shape[0], num_classes), dtype=dtype)
    out[np.arange(y.shape[0]), y] = 1
    return out


def normalize(x: Array, max_value: float = 255.0, dtype: str = "float32") -> Array:
    """Min-max scale pixel values to [0, 1]: ``x.astype('float32') / 255`` as in the lecture."""
    return np.asarray(x).astype(dtype) / max_value


def standardize(
    x: Array, mean: Array | None = None, std: Array | None = None, eps: float = 1e-7
) -> tuple[Array, Array, Array]:
    """Standardize features to mean 0 and standard deviation 1.

    Returns ``(x_std, mean, std)``; pass the training set's ``mean`` and ``std`` to transform the
    test set with the same statistics.
    """
    x = np.asarray(x, dtype=np.float64 if np.asarray(x).dtype == np.float64 else np.float32)
    mean = x.mean(axis=0) if mean is None else mean
    std = x.std(axis=0) if std is None else std
    return (x - mean) / (std + eps), mean, std


def minibatches(
    n: int, batch_size: int, shuffle: bool = True, rng: np.random.Generator | None = None
) -> Iterator[Array]:
    """Yield index arrays of mini-batches that cover ``range(n)`` once (one epoch).

    The last batch is smaller when ``batch_size`` does not divide ``n``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}.")
    order = (rng or get_rng()).permutation(n) if shuffle else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def check_array(x: Array, name: str = "x", dtype: object = None) -> Array:
    """Validate a numeric input: convert to an array, refuse NaN and inf with a clear message."""
    try:
        arr = np.asarray(x) if dtype is None else np.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a numeric array: {err}") from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}.")
    # fast path: a float64 sum is finite when every entry is (and costs no temporary array)
    if (
        np.issubdtype(arr.dtype, np.floating)
        and not np.isfinite(arr.sum(dtype=np.float64))
        and not np.all(np.isfinite(arr))
    ):
        n_nan, n_inf = int(np.isnan(arr).sum()), int(np.isinf(arr).sum())
        raise ValueError(
            f"{name} contains {n_nan} NaN and {n_inf} infinite values; clean or impute them "
            "before training."
        )
    return arr
