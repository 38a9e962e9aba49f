"""How fast is nnlib? One epoch of the lecture's network on Fashion-MNIST, three ways, one run.

    python benchmarks/bench_nnlib.py [--slices 10] [--epochs-memory 3] [--subset N]

Trains 784-512-512-10 (ReLU, He init, softmax, RMSprop, categorical cross-entropy, float32) for
one epoch with:

1. nnlib's ``Sequential.fit``;
2. a minimal hand-written NumPy loop: the same math, no framework;
3. PyTorch on the CPU: the same architecture, optimizer and batch size;
4. (where CUDA exists) the same model on the GPU through nnlib's PyTorch path
   (:func:`nnlib.torch_backend.benchmark_torch`).

at batch sizes 32 and 128, and prints samples per second and the ratios measured in this run.
The three train their epoch in interleaved slices (see :func:`one_epoch_interleaved`), so that a
noisy machine slows all of them alike: compare ratios, not absolute numbers, across runs. Targets: nnlib >= 0.9x
the hand-written loop and >= 1.0x PyTorch CPU. It also measures the peak memory (max RSS) of a
3-epoch ``fit`` in a fresh process; target < 1.5 GB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Any

import numpy as np

from nnlib import layers, models, optimizers
from nnlib.data import load_fashion_mnist
from nnlib.utils import set_seed, to_categorical


def lecture_network(seed: int = 0) -> models.Sequential:
    m = models.Sequential(seed=seed)
    m.add(layers.Dense(512, activation="relu", kernel_initializer="he_normal", input_shape=(784,)))
    m.add(layers.Dense(512, activation="relu", kernel_initializer="he_normal"))
    m.add(layers.Dense(10, activation="softmax"))
    m.compile(optimizers.RMSprop(0.001), "categorical_crossentropy", metrics=["accuracy"])
    return m


class NNLibTrainer:
    """nnlib's ``Sequential.fit`` on each slice of the epoch."""

    def __init__(self, batch_size: int) -> None:
        self.model, self.batch_size = lecture_network(), batch_size

    def train(self, X: np.ndarray, Y: np.ndarray) -> None:
        self.model.fit(X, Y, epochs=1, batch_size=self.batch_size, verbose=0)


class NumpyLoop:
    """The same training with nothing but NumPy: forward, fused softmax-CE gradient, RMSprop."""

    def __init__(self, batch_size: int) -> None:
        self.rng = np.random.default_rng(0)
        sizes = [784, 512, 512, 10]
        self.W = [
            (self.rng.standard_normal((a, b)) * np.sqrt(2 / a)).astype(np.float32)
            for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        ]
        self.b = [np.zeros(n, np.float32) for n in sizes[1:]]
        self.m = [np.zeros_like(p) for p in self.W + self.b]
        self.batch_size = batch_size

    def train(self, X: np.ndarray, Y: np.ndarray) -> None:
        W, b, eta, gamma, eps = self.W, self.b, 0.001, 0.9, 1e-7
        order = self.rng.permutation(len(X))
        for start in range(0, len(X), self.batch_size):
            idx = order[start : start + self.batch_size]
            x, y = X[idx], Y[idx]
            a0 = x
            a1 = np.maximum(a0 @ W[0] + b[0], 0)
            a2 = np.maximum(a1 @ W[1] + b[1], 0)
            z3 = a2 @ W[2] + b[2]
            e = np.exp(z3 - z3.max(axis=1, keepdims=True))
            p = e / e.sum(axis=1, keepdims=True)
            d3 = (p - y) / len(x)
            d2 = (d3 @ W[2].T) * (a2 > 0)
            d1 = (d2 @ W[1].T) * (a1 > 0)
            grads = [a0.T @ d1, a1.T @ d2, a2.T @ d3, d1.sum(0), d2.sum(0), d3.sum(0)]
            for w, g, mm in zip(W + b, grads, self.m, strict=True):
                mm *= gamma
                mm += (1 - gamma) * (g * g)
                w -= eta * g / np.sqrt(mm + eps)


class TorchTrainer:
    """PyTorch: the same architecture, optimizer (RMSprop with rho 0.9, eps 1e-7) and batches."""

    def __init__(self, batch_size: int) -> None:
        import torch

        torch.manual_seed(0)
        self.torch, self.batch_size = torch, batch_size
        self.net = torch.nn.Sequential(
            torch.nn.Linear(784, 512), torch.nn.ReLU(),
            torch.nn.Linear(512, 512), torch.nn.ReLU(),
            torch.nn.Linear(512, 10),
        )  # fmt: skip
        self.opt = torch.optim.RMSprop(self.net.parameters(), lr=0.001, alpha=0.9, eps=1e-7)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.gen = torch.Generator().manual_seed(0)

    def train(self, X: np.ndarray, Y: np.ndarray) -> None:
        torch = self.torch
        x_all, y_all = torch.from_numpy(X), torch.from_numpy(Y.argmax(1))
        order = torch.randperm(len(X), generator=self.gen)
        for start in range(0, len(X), self.batch_size):
            idx = order[start : start + self.batch_size]
            x, y = x_all[idx], y_all[idx]
            self.opt.zero_grad(set_to_none=True)
            loss = self.loss_fn(self.net(x), y)
            loss.backward()
            self.opt.step()


def one_epoch_interleaved(
    trainers: dict[str, Any], X: np.ndarray, Y: np.ndarray, slices: int
) -> dict[str, float]:
    """Samples per second of each trainer over one epoch, trained slice by slice in turn.

    The epoch is cut into ``slices`` parts; every trainer trains on part 1, then every trainer on
    part 2 (in a rotated order), and so on, with a short untimed pause at each switch (OpenBLAS and
    OpenMP worker threads spin for a while after their last task and would slow the next library
    down). Each trainer sees the whole epoch once, and a busy or throttled period of the machine
    falls on all of them alike: their ratios are robust, their absolute speeds are not.
    """
    seconds = dict.fromkeys(trainers, 0.0)
    names = list(trainers)
    bounds = np.linspace(0, len(X), slices + 1).astype(int)
    for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        for name in names[k % len(names) :] + names[: k % len(names)]:
            time.sleep(0.3)  # let the previous library's spinning BLAS/OpenMP threads go idle
            t = time.perf_counter()
            trainers[name].train(X[lo:hi], Y[lo:hi])
            seconds[name] += time.perf_counter() - t
    return {name: len(X) / sec for name, sec in seconds.items()}


def peak_memory_of_fit(epochs: int) -> float:
    """Max RSS (GB) of a fresh process that loads the data and runs ``fit`` for ``epochs``."""
    code = (
        "import resource; from benchmarks.bench_nnlib import *; "
        "(X, y), _ = load_fashion_mnist(kind='float32', flatten=True); "
        f"lecture_network().fit(X, to_categorical(y), epochs={epochs}, batch_size=32, verbose=0); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip().splitlines()[-1]) / 1024**2  # KiB -> GiB


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", type=int, default=60_000, help="training images per epoch")
    parser.add_argument("--epochs-memory", type=int, default=3)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument(
        "--slices", type=int, default=10, help="the epoch is trained in this many interleaved parts"
    )
    args = parser.parse_args(argv)
    (X, y), _ = load_fashion_mnist(kind="float32", flatten=True)
    X, Y = X[: args.subset], to_categorical(y[: args.subset])
    set_seed(0)
    try:
        import torch

        has_cuda = torch.cuda.is_available()
        print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, CUDA {has_cuda}")
    except ImportError:  # pragma: no cover
        torch, has_cuda = None, False
    print(f"numpy {np.__version__}; {len(X)} samples per epoch, float32\n")
    print(f"{'batch':>5}  {'nnlib':>10}  {'numpy loop':>10}  {'torch cpu':>10}  "
          f"{'nnlib/loop':>10}  {'nnlib/torch':>11}" + ("  torch gpu" if has_cuda else ""))  # fmt: skip
    verdicts = []
    for batch_size in (32, 128):
        trainers: dict[str, Any] = {
            "nnlib": NNLibTrainer(batch_size),
            "loop": NumpyLoop(batch_size),
        }
        if torch is not None:
            trainers["torch"] = TorchTrainer(batch_size)
        for t in trainers.values():  # warm up (allocator, BLAS threads, torch's kernels)
            t.train(X[: 4 * batch_size], Y[: 4 * batch_size])
        speed = one_epoch_interleaved(trainers, X, Y, args.slices)
        ours, loop, tcpu = speed["nnlib"], speed["loop"], speed.get("torch", float("nan"))
        row = (
            f"{batch_size:>5}  {ours:>10,.0f}  {loop:>10,.0f}  {tcpu:>10,.0f}  "
            f"{ours / loop:>10.2f}  {ours / tcpu:>11.2f}"
        )
        if has_cuda:  # the same model through nnlib's PyTorch path (TorchModel) on the GPU
            from nnlib.torch_backend import benchmark_torch

            row += f"  {benchmark_torch(lecture_network(), X, Y, batch_size, 'cuda'):>9,.0f}"
        print(row + "   (samples/s)")
        verdicts.append((batch_size, ours / loop >= 0.9, ours / tcpu >= 1.0))
    for batch_size, ok_loop, ok_torch in verdicts:
        print(
            f"batch {batch_size}: nnlib >= 0.9x loop: {'yes' if ok_loop else 'NO'}; "
            f"nnlib >= 1.0x torch CPU: {'yes' if ok_torch else 'NO'}"
        )
    if not args.skip_memory:
        gb = peak_memory_of_fit(args.epochs_memory)
        print(f"peak memory of a {args.epochs_memory}-epoch fit: {gb:.2f} GB "
              f"(target < 1.5 GB: {'yes' if gb < 1.5 else 'NO'})")  # fmt: skip


if __name__ == "__main__":
    main()
