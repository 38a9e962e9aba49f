"""Training throughput of the PyTorch path: the lecture's network on the CPU and, if present, a GPU.

The network is the lecture's 784-512-512-10 (ReLU, softmax, RMSprop, categorical cross-entropy) on
Fashion-MNIST (random images of the same shape when the data set is not installed). For batch
sizes 32 and 128 it prints samples per second of nnlib's NumPy ``fit``, of the PyTorch path on the
CPU and on CUDA when there is a GPU, and the ratios::

    python benchmarks/bench_gpu.py                 # 10,000 images, batch 32 and 128
    python benchmarks/bench_gpu.py --n 60000 --no-numpy

``benchmarks/bench_nnlib.py`` imports :func:`nnlib.torch_backend.benchmark_torch` for its own
PyTorch-on-GPU row; this script is the standalone version with the CPU/GPU comparison.
"""

from __future__ import annotations

import argparse
import copy
import platform
import sys
import time
from collections.abc import Sequence

import numpy as np

from nnlib import layers, models
from nnlib.utils import to_categorical

Array = np.ndarray


def lecture_network(seed: int = 0) -> models.Sequential:
    """The lecture's network, compiled as in the lecture.

    Parameters
    ----------
    seed : int
        Seed of the initial weights and the shuffling.

    Returns
    -------
    Sequential
    """
    network = models.Sequential(seed=seed)
    network.add(
        layers.Dense(512, activation="relu", kernel_initializer="he_normal", input_shape=(784,))
    )
    network.add(layers.Dense(512, activation="relu", kernel_initializer="he_normal"))
    network.add(layers.Dense(10, activation="softmax"))
    network.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return network


def load_data(n: int) -> tuple[Array, Array, str]:
    """Training images (flattened, in [0, 1]) with one-hot labels.

    Parameters
    ----------
    n : int
        Number of images.

    Returns
    -------
    X : ndarray, shape (n, 784)
    Y : ndarray, shape (n, 10)
    source : str
        Fashion-MNIST, or random images when the data set is not installed.
    """
    from nnlib import data

    try:
        (X, y), _ = data.load_fashion_mnist(kind="float32", flatten=True, download=False)
        source = "Fashion-MNIST"
    except data.DataError:
        rng = np.random.default_rng(0)
        X = rng.random((n, 784), dtype=np.float32)
        y = rng.integers(0, 10, n)
        source = "random images (Fashion-MNIST not installed)"
    X, y = X[:n], y[:n]
    return X, to_categorical(y, 10), source


def benchmark_numpy(
    model: models.Sequential, X: Array, y: Array, batch_size: int, warmup_batches: int = 10
) -> float:
    """Samples per second of nnlib's own ``fit`` (on a copy of ``model``), after a warm-up.

    Parameters
    ----------
    model : Sequential
        Compiled; left unchanged.
    X, y : ndarray
    batch_size : int
    warmup_batches : int

    Returns
    -------
    float
    """
    m = copy.deepcopy(model)
    n_warm = min(len(X), warmup_batches * batch_size)
    m.fit(X[:n_warm], y[:n_warm], epochs=1, batch_size=batch_size, verbose=0)
    start = time.perf_counter()
    m.fit(X, y, epochs=1, batch_size=batch_size, verbose=0)
    return len(X) / (time.perf_counter() - start)


def run(
    n: int = 10_000,
    batch_sizes: Sequence[int] = (32, 128),
    with_numpy: bool = True,
    devices: Sequence[str] | None = None,
) -> list[dict[str, float]]:
    """Measure every configuration; one dict per batch size (samples per second by column).

    Parameters
    ----------
    n : int
        Number of training images (one epoch is timed).
    batch_sizes : sequence of int
    with_numpy : bool
        Include nnlib's NumPy ``fit`` as the reference column.
    devices : sequence of str, optional
        PyTorch devices; default ``['cpu']`` plus ``'cuda'`` when a GPU is present.

    Returns
    -------
    list of dict
        Keys ``batch_size``, ``numpy``, ``torch-cpu``, ``torch-cuda`` (those measured).
    """
    import torch

    from nnlib.torch_backend import benchmark_torch, describe_device, resolve_device

    if devices is None:
        devices = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    X, Y, source = load_data(n)
    print(f"Data: {len(X):,} {source}; network 784-512-512-10, RMSprop, one epoch per cell")
    print(f"Python {platform.python_version()}, torch {torch.__version__}, ", end="")
    print(f"{torch.get_num_threads()} CPU threads; devices: ", end="")
    print(", ".join(describe_device(resolve_device(d)) for d in devices))
    network = lecture_network()
    rows = []
    for bs in batch_sizes:
        row: dict[str, float] = {"batch_size": bs}
        if with_numpy:
            row["numpy"] = benchmark_numpy(network, X, Y, bs)
        for dev in devices:
            row[f"torch-{resolve_device(dev).type}"] = benchmark_torch(network, X, Y, bs, dev)
        rows.append(row)
    return rows


def report(rows: list[dict[str, float]]) -> str:
    """A table of samples per second, then the ratios.

    Parameters
    ----------
    rows : list of dict
        What :func:`run` returns.

    Returns
    -------
    str
    """
    cols = [k for k in rows[0] if k != "batch_size"]
    lines = [f"{'batch':>6} " + "".join(f"{c + ' (samples/s)':>24}" for c in cols)]
    for row in rows:
        lines.append(f"{row['batch_size']:>6} " + "".join(f"{row[c]:>24,.0f}" for c in cols))
    ratios = [("torch-cuda", "torch-cpu"), ("torch-cpu", "numpy"), ("torch-cuda", "numpy")]
    for a, b in ratios:
        if a in cols and b in cols:
            per = ", ".join(f"batch {r['batch_size']}: {r[a] / r[b]:.1f}x" for r in rows)
            lines.append(f"{a} / {b}: {per}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python benchmarks/bench_gpu.py [--n N] [--batch-sizes 32 128] ...``.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="training images (default 10000)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--no-numpy", action="store_true", help="skip nnlib's NumPy fit")
    parser.add_argument("--devices", nargs="+", help="PyTorch devices (default: cpu and cuda)")
    args = parser.parse_args(argv)
    try:
        import torch  # noqa: F401
    except ImportError:
        print("PyTorch is not installed: pip install torch", file=sys.stderr)
        return 1
    rows = run(args.n, args.batch_sizes, not args.no_numpy, args.devices)
    print(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
