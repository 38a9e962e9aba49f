"""The PyTorch path: the same ``Sequential`` trained with PyTorch, on a GPU when there is one.

An nnlib model converts to an equivalent ``torch.nn.Module`` that carries the same weights
(:func:`to_torch`) and back (:func:`load_from_torch`); :class:`TorchModel` trains it through the
familiar surface (``fit`` / ``evaluate`` / ``predict`` with the arguments of
:class:`nnlib.models.Sequential`, nnlib's callbacks, the same :class:`~nnlib.callbacks.History`)
and writes the trained weights back into the nnlib model::

    from nnlib.torch_backend import TorchModel
    tm = TorchModel(network, device='auto')  # CUDA if available, else the CPU
    history = tm.fit(train_images, train_labels, epochs=5, batch_size=128)
    test_loss, test_acc = network.evaluate(test_images, test_labels)  # the NumPy path agrees

The nnlib model stays the source of truth: every ``fit`` / ``evaluate`` / ``predict`` first copies
its weights, trainable flags and optimizer state (velocities, running averages, step count) to the
device, and ``fit`` copies them back at the end, so the two paths can be mixed freely.

The mapping
-----------
Every piece follows nnlib's formulas exactly; where PyTorch's own class computes something else,
a small torch implementation is used instead, and the difference is listed.

====================================================  ==============================================  ============================================================
nnlib                                                 PyTorch path                                    Difference from PyTorch's built-in
====================================================  ==============================================  ============================================================
``Dense``, kernel ``W`` of shape (D, H)               :class:`TorchDense`: ``nn.Linear(D, H)`` then   ``Linear.weight`` is ``W.T``, shape (H, D); the bias is
                                                      the activation                                  copied as is
``relu`` ``sigmoid`` ``tanh`` ``linear`` ``softmax``  ``nn.ReLU``, ``nn.Sigmoid``, ``nn.Tanh``,       none (``relu'(0) = 0`` in both)
                                                      ``nn.Identity``, ``nn.Softmax(dim=-1)``
``leaky_relu`` (slope ``alpha``)                      :class:`LeakyReLU` (``torch.where``)            ``nn.LeakyReLU`` takes the slope ``alpha`` at ``z = 0`` in
                                                                                                      backward; nnlib (and this module) take 1
``Activation(name)``                                  the same activation modules
``kernel/bias_regularizer`` (L1L2)                    ``l1*sum|W| + l2*sum W^2`` added to the loss    not ``weight_decay``: that adds ``2*l2*W`` to the gradient
                                                      (:meth:`TorchSequential.penalty`)               only for plain SGD, acts on every parameter, and is
                                                                                                      decoupled or rescaled by the adaptive optimizers
``Dropout(rate)``                                     :class:`TorchDropout`: inverted dropout, mask   the law of ``nn.Dropout``; masks come from a
                                                      ``(u >= rate) / (1 - rate)``                    ``torch.Generator`` seeded from the nnlib model's RNG: the
                                                                                                      same law as the NumPy path, not the same draws
``BatchNormalization`` (0.99, 1e-3, Keras)            :class:`TorchBatchNorm`: biased batch variance  ``nn.BatchNorm1d``: momentum 0.1 in the other convention
                                                      for normalizing *and* for the moving variance;  (``running = (1-m) running + m batch``), epsilon 1e-5 and an
                                                      a frozen layer runs in inference mode           *unbiased* running variance
``Flatten``, ``Reshape``                              ``nn.Flatten()``, :class:`TorchReshape`         none
``SGD`` (momentum, Nesterov)                          :class:`NNLibSGD`: ``v = gamma v - eta g``      ``torch.optim.SGD`` keeps ``b = gamma b + g`` and steps
                                                                                                      ``-eta b``: the same for a constant ``eta``, not under a
                                                                                                      schedule (the velocity then carries old learning rates)
``Adagrad``                                           :class:`NNLibAdagrad`: ``G`` starts at 0        torch: ``eta g / (sqrt(G) + eps)``, eps 1e-10 outside the
                                                                                                      root; nnlib ``eta g / sqrt(G + eps)``
``RMSprop`` (rho 0.9)                                 :class:`NNLibRMSprop`                           torch: ``alpha = 0.99`` by default, epsilon 1e-8 outside the
                                                                                                      square root
``Adam``                                              :class:`NNLibAdam`                              torch: ``eta g_hat / (sqrt(m_hat) + eps)``, eps 1e-8; nnlib:
                                                                                                      ``eta g_hat / sqrt(m_hat + eps)``, eps 1e-7
``Adamax``                                            :class:`NNLibAdamax`                            torch: ``u = max(b2 u, |g| + eps)``, step ``eta g_hat / u``;
                                                                                                      nnlib: ``u = max(b2 u, |g|)``, step ``eta g_hat / (u +
                                                                                                      eps)``
schedules (any ``s -> eta_s``)                        evaluated on the host before every step,        ``LambdaLR`` multiplies the initial rate by a factor; here
                                                      written to ``param_groups[i]['lr']``            the schedule's value is used as is, at nnlib's step ``s``
(sparse) categorical CE + softmax ``Dense``           ``F.cross_entropy`` on the logits (PyTorch's    the gradient is nnlib's fused ``(p - y) / N``; the reported
                                                      fused softmax + CE)                             value clips ``p`` to ``[1e-7, 1]`` as nnlib does (PyTorch
                                                                                                      reports the exact ``-log p``)
binary CE + sigmoid ``Dense``                         ``F.binary_cross_entropy_with_logits``          value clipped to ``[1e-7, 1 - 1e-7]`` as nnlib
CE / BCE on any other output                          clipped probabilities, the clip passing the     ``F.binary_cross_entropy`` clamps the log at -100 and zeroes
                                                      gradient through (nnlib's gradient)             the gradient where it clamps
``label_smoothing`` alpha                             targets ``(1 - alpha) y + alpha / k`` (binary:  the same as ``label_smoothing`` of ``F.cross_entropy``
                                                      ``k = 2``)
``mse``                                               ``F.mse_loss`` (mean)                           none
metrics (accuracy variants, mae, mse)                 computed and summed on the device               a custom metric function runs on the host (one copy of the
                                                                                                      predictions per batch)
callbacks (EarlyStopping, ProgbarLogger...)           nnlib's own callbacks; ``self.model`` is the    its ``get_weights`` / ``set_weights`` / ``stop_training``
                                                      :class:`TorchModel`                             act on the PyTorch weights; other attributes are the nnlib
                                                                                                      model's
====================================================  ==============================================  ============================================================

Differences in *behaviour* rather than formulas:

* Loss and metric sums stay on the device. The host reads them back (one synchronization) at most
  every ~0.1 s for the progress bar (``verbose=1``) or for ``TerminateOnNaN``, and once per epoch
  otherwise; a callback that overrides ``on_batch_end`` gets the logs after every batch (one
  synchronization per batch). A non-finite loss is therefore detected at the next read-back (the
  NumPy path detects it at the batch itself): ``TerminateOnNaN`` stops training there, otherwise
  ``FloatingPointError`` is raised as in nnlib.
* Data stays on the host; each mini-batch is gathered into a pinned buffer and copied
  asynchronously on CUDA. ``TorchModel(..., data_on_device=True)`` moves the whole training set to
  the device once instead (refused with a clear error when it would take more than half of the free
  GPU memory).
* Shuffling uses the nnlib model's generator exactly as ``Sequential.fit`` does, so with the same
  seed both paths see the same batches (dropout masks excepted: one extra draw seeds the PyTorch
  generator, only for models with dropout).
* dtype rule: :class:`TorchModel` converts inputs of any numeric dtype to the module's dtype (the
  model's dtype unless ``dtype=`` says otherwise), as ``Sequential.fit`` converts to the model's
  dtype. The bare module returned by :func:`to_torch` does not convert: a tensor of another dtype
  or on another device raises a ``TypeError`` that says how to convert it.
* Errors: a layer, activation, loss, regularizer or optimizer without a PyTorch equivalent (a
  custom subclass that changes the math) raises ``TypeError`` naming it; ``device='cuda'`` without
  CUDA, ``'cuda:3'`` on a one-GPU machine or an unknown device string raise ``ValueError`` with the
  devices that exist and the suggestion ``device='auto'`` or ``'cpu'``.

One module per piece: :mod:`~nnlib.torch_backend.devices` (device and dtype resolution),
:mod:`~nnlib.torch_backend.modules` (the ``nn.Module`` of each layer),
:mod:`~nnlib.torch_backend.convert` (:func:`to_torch`, :func:`load_from_torch`),
:mod:`~nnlib.torch_backend.optimizers` (the lecture's update rules on tensors),
:mod:`~nnlib.torch_backend.losses` (losses and metrics on the device),
:mod:`~nnlib.torch_backend.batches` (mini-batches to the device) and
:mod:`~nnlib.torch_backend.model` (:class:`TorchModel`).
"""

try:
    import torch  # noqa: F401
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "nnlib.torch_backend needs PyTorch, which is not installed. Install it with "
        "`pip install 'how-to-train-your-neurons[torch]'` (or `pip install torch`); the NumPy "
        "path (model.fit) needs nothing more."
    ) from err

from nnlib.torch_backend.batches import _Batches
from nnlib.torch_backend.convert import load_from_torch, to_torch
from nnlib.torch_backend.devices import describe_device, resolve_device
from nnlib.torch_backend.losses import _Loss
from nnlib.torch_backend.model import TorchModel, benchmark_torch, evaluate, fit, predict
from nnlib.torch_backend.modules import (
    LeakyReLU,
    TorchBatchNorm,
    TorchDense,
    TorchDropout,
    TorchReshape,
    TorchSequential,
)
from nnlib.torch_backend.optimizers import (
    NNLibAdagrad,
    NNLibAdam,
    NNLibAdamax,
    NNLibOptimizer,
    NNLibRMSprop,
    NNLibSGD,
    make_torch_optimizer,
)

__all__ = [
    "LeakyReLU",
    "NNLibAdagrad",
    "NNLibAdam",
    "NNLibAdamax",
    "NNLibOptimizer",
    "NNLibRMSprop",
    "NNLibSGD",
    "TorchBatchNorm",
    "TorchDense",
    "TorchDropout",
    "TorchModel",
    "TorchReshape",
    "TorchSequential",
    "benchmark_torch",
    "describe_device",
    "evaluate",
    "fit",
    "load_from_torch",
    "make_torch_optimizer",
    "predict",
    "resolve_device",
    "to_torch",
]
__all__ += ["_Batches", "_Loss"]  # for the tests
