"""Weight penalties (chapter 8, "Weight regularization").

A regularizer adds ``penalty(W)`` to the loss and ``gradient(W)`` to ``dL/dW``:

* L1: ``l1 * sum |W|``,        gradient ``l1 * sign(W)``   (drives many weights to exactly 0)
* L2: ``l2 * sum W^2``,        gradient ``2 * l2 * W``     (many small weights; "weight decay")

as in Keras (no factor 1/2 in front of the L2 sum). Both are written with the Python array API, so
they apply to torch tensors on the PyTorch path as well.
"""

from __future__ import annotations

import numpy as np
from array_api_compat import array_namespace

from nnlib._registry import lookup

Array = np.ndarray


class L1L2:
    """``penalty(W) = l1 * sum|W| + l2 * sum W^2``.

    Parameters
    ----------
    l1, l2 : float
        Strengths of the two penalties (non-negative).
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        if l1 < 0 or l2 < 0:
            raise ValueError(f"Regularization strengths must be >= 0, got l1={l1}, l2={l2}.")
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, W: Array) -> float:
        """The penalty added to the loss."""
        xp = array_namespace(W)
        return float(self.l1 * xp.sum(xp.abs(W)) + self.l2 * xp.sum(W * W))

    def gradient(self, W: Array) -> Array:
        """``d penalty / dW = l1 sign(W) + 2 l2 W``, added to the kernel's gradient."""
        return self.l1 * array_namespace(W).sign(W) + 2 * self.l2 * W

    def __repr__(self) -> str:
        return f"L1L2(l1={self.l1}, l2={self.l2})"


def l1(l1: float = 0.01) -> L1L2:
    """L1 penalty ``l1 * sum|W|`` (Keras' ``regularizers.l1``)."""
    return L1L2(l1=l1)


def l2(l2: float = 0.01) -> L1L2:
    """L2 penalty ``l2 * sum W^2`` (Keras' ``regularizers.l2``)."""
    return L1L2(l2=l2)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    """Both penalties (Keras' ``regularizers.l1_l2``)."""
    return L1L2(l1=l1, l2=l2)


REGULARIZERS = {"l1": l1, "l2": l2, "l1_l2": l1_l2}


def get(identifier: str | L1L2 | None) -> L1L2 | None:
    """Resolve ``'l1'``, ``'l2'``, ``'l1_l2'`` (default strength 0.01), a regularizer, or None."""
    if identifier is None or isinstance(identifier, L1L2):
        return identifier
    return lookup("regularizer", identifier, REGULARIZERS)()
