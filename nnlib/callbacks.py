"""Callbacks that ``fit`` calls at the start and end of training, epochs and batches (chapter 8).

``History`` records the logs, ``EarlyStopping`` stops when a monitored quantity stops improving
(optionally restoring the best weights), ``ProgbarLogger`` shows progress, ``TerminateOnNaN``
stops cleanly on a non-finite loss.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import numpy as np


class Callback:
    """Base class: override any of the ``on_*`` hooks. ``self.model`` is the model being fit."""

    model: Any = None

    def set_model(self, model: Any) -> None:
        self.model = model

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_batch_end(self, batch: int, logs: dict | None = None) -> None: ...


class History(Callback):
    """``history.history`` maps ``'loss'``, metrics and their ``'val_'`` twins to per-epoch lists."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : str, default 'val_loss'
    min_delta : float
        An improvement smaller than this does not count.
    patience : int
        Epochs without improvement before stopping.
    mode : {'auto', 'min', 'max'}
        'auto' minimizes losses and maximizes accuracies.
    restore_best_weights : bool
        At the end, put back the weights of the best epoch.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        mode: str = "auto",
        restore_best_weights: bool = False,
        verbose: int = 0,
    ) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}.")
        self.monitor, self.min_delta, self.patience = monitor, abs(min_delta), int(patience)
        if mode == "auto":
            mode = "max" if ("acc" in monitor or "auc" in monitor) else "min"
        self.mode = mode
        self.restore_best_weights = restore_best_weights
        self.verbose = verbose
        self.best_weights: list[np.ndarray] | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.wait = 0
        self.stopped_epoch: int | None = None
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0
        self.best_weights = None

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self.monitor not in logs:
            raise KeyError(
                f"EarlyStopping monitors {self.monitor!r}, which is not in the logs "
                f"({sorted(logs)}). Pass validation_data or validation_split to fit for 'val_' "
                "quantities."
            )
        value = logs[self.monitor]
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
        if self.verbose and self.stopped_epoch is not None:
            print(
                f"Epoch {self.stopped_epoch + 1}: early stopping "
                f"(best {self.monitor} {self.best:.4f} at epoch {self.best_epoch + 1})"
            )


class TerminateOnNaN(Callback):
    """Stop training (instead of raising) when the loss becomes NaN or infinite."""

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            print(f"Batch {batch}: invalid loss {loss}, terminating training")
            self.model.stop_training = True


class ProgbarLogger(Callback):
    """Keras-style progress: a bar redrawn in place (at most ~10 times a second) per epoch.

    ``verbose=1``: the bar; ``verbose=2``: one line per epoch (best in logs and built books).
    """

    def __init__(self, verbose: int = 1, steps: int | None = None, epochs: int = 1) -> None:
        self.verbose, self.steps, self.epochs = verbose, steps, epochs
        self.stream = sys.stdout

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.start = self.last_draw = time.perf_counter()
        if self.verbose:
            print(f"Epoch {epoch + 1}/{self.epochs}", file=self.stream)

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.verbose != 1:
            return
        now = time.perf_counter()
        if now - self.last_draw < 0.1 and batch + 1 < (self.steps or 0):
            return
        self.last_draw = now
        self.stream.write("\r" + self._line(batch + 1, now - self.start, logs or {}, final=False))
        self.stream.flush()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not self.verbose:
            return
        elapsed = time.perf_counter() - self.start
        line = self._line(self.steps or 0, elapsed, logs or {}, final=True)
        self.stream.write(("\r" if self.verbose == 1 else "") + line + "\n")
        self.stream.flush()

    def _line(self, done: int, elapsed: float, logs: dict, final: bool) -> str:
        steps = self.steps or done
        width = 30
        filled = int(width * done / max(steps, 1))
        bar = "=" * max(filled - 1, 0) + (">" if filled < width else "=") + "." * (width - filled)
        metrics = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items() if k not in ("batch",))
        per_step = elapsed / max(done, 1)
        timing = (
            f"{elapsed:.0f}s {per_step * 1e3:.0f}ms/step"
            if final
            else f"ETA: {per_step * (steps - done):.0f}s"
        )
        return f"{done}/{steps} [{bar}] - {timing}" + (f" - {metrics}" if metrics else "")


class LambdaCallback(Callback):
    """Build a callback from functions, e.g. ``LambdaCallback(on_epoch_end=lambda e, logs: ...)``."""

    def __init__(self, **hooks: Any) -> None:
        for name, fn in hooks.items():
            if not name.startswith("on_"):
                raise ValueError(f"Unknown hook {name!r}; hooks are on_train_begin, ...")
            setattr(self, name, fn)
