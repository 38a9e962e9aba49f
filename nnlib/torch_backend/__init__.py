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

The nnlib model stays the source of truth, and so does its code. The loop is nnlib's own:
``TorchModel.fit`` is ``model.fit(..., backend=tm)``, and the backend supplies only the steps and
the transfers (weights, running statistics, trainable flags, optimizer state and step count go to
the device at the start of every epoch and come back at its end, so the two paths can be mixed
freely and callbacks see the current weights). The math is nnlib's own too, written with the
Python array API so that it runs on tensors: the optimizers' ``update``, the losses' ``value``,
``grad`` and ``fused_grad``, the regularizers, ``batchnorm_forward``, ``dropout_forward`` and
``leaky_relu``. What is PyTorch's: the matrix products and activations of the converted module and
autograd, which carries the loss' gradient from where nnlib's backward starts (``dL/dz`` for a
fused output loss) down through the module.

The mapping
-----------
====================================================  ==============================================  ============================================================
nnlib                                                 PyTorch path                                    Difference from PyTorch's built-in
====================================================  ==============================================  ============================================================
``Dense``, kernel ``W`` of shape (D, H)               :class:`TorchDense`: ``nn.Linear(D, H)`` then   ``Linear.weight`` is ``W.T``, shape (H, D); the bias is
                                                      the activation                                  copied as is
``relu`` ``sigmoid`` ``tanh`` ``linear`` ``softmax``  ``nn.ReLU``, ``nn.Sigmoid``, ``nn.Tanh``,       none (``relu'(0) = 0`` in both)
                                                      ``nn.Identity``, ``nn.Softmax(dim=-1)``
``leaky_relu`` (slope ``alpha``)                      :class:`LeakyReLU`: nnlib's ``leaky_relu``      ``nn.LeakyReLU`` takes the slope ``alpha`` at ``z = 0`` in
                                                                                                      backward; nnlib takes 1
``kernel/bias_regularizer`` (L1L2)                    nnlib's ``L1L2``: penalty added to the loss,    not ``weight_decay`` (that acts on every parameter and is
                                                      its gradient to the weight's                    rescaled or decoupled by the adaptive optimizers)
``Dropout(rate)``                                     :class:`TorchDropout`: nnlib's                  masks from a ``torch.Generator`` seeded from the nnlib
                                                      ``dropout_forward``                             model's RNG: the same law as the NumPy path, not the same draws
``BatchNormalization`` (0.99, 1e-3, Keras)            :class:`TorchBatchNorm`: nnlib's                ``nn.BatchNorm1d``: momentum 0.1 in the other convention,
                                                      ``batchnorm_forward``                           epsilon 1e-5, an *unbiased* running variance
``Flatten``, ``Reshape``                              ``nn.Flatten()``, :class:`TorchReshape`         none
optimizers, schedules                                 nnlib's own ``update`` on the tensors           ``torch.optim``: momentum ``b = gamma b + g``; epsilon
                                                      (:class:`NNLibRMSprop` etc. wrap them as        outside the square root; RMSprop ``alpha = 0.99``; Adamax
                                                      ``torch.optim.Optimizer``)                      ``u = max(b2 u, |g| + eps)``
losses, label smoothing                               nnlib's ``value`` / ``grad`` / ``fused_grad``   ``F.cross_entropy`` reports the exact ``-log p``; nnlib
                                                      on tensors; targets prepared on the host        clips ``p`` to ``[1e-7, 1]``
metrics, callbacks, History, progress                 nnlib's own, in nnlib's loop                    none
====================================================  ==============================================  ============================================================

Differences in *behaviour*:

* Every step reads the loss and the predictions back to the host (the loop's metrics and callbacks
  are nnlib's), one synchronization per batch on a GPU.
* Data stays on the host and each mini-batch is copied to the device;
  ``TorchModel(..., data_on_device=True)`` moves the training set once per ``fit`` instead.
* Shuffling uses the nnlib model's generator exactly as ``Sequential.fit`` does, so with the same
  seed both paths see the same batches (dropout masks excepted: one extra draw seeds the PyTorch
  generator, only for models with dropout).
* dtype rule: :class:`TorchModel` converts inputs to the module's dtype (the model's unless
  ``dtype=`` says otherwise). The bare module returned by :func:`to_torch` does not convert: a
  tensor of another dtype or on another device raises a ``TypeError`` that says how to convert it.
* Errors: a layer, activation, loss, regularizer or optimizer whose math is not nnlib's own (a
  custom subclass that changes it) raises ``TypeError`` naming it; ``device='cuda'`` without
  CUDA, ``'cuda:3'`` on a one-GPU machine or an unknown device string raise ``ValueError`` with the
  devices that exist and the suggestion ``device='auto'`` or ``'cpu'``.

One module per piece: :mod:`~nnlib.torch_backend.devices` (device and dtype resolution),
:mod:`~nnlib.torch_backend.modules` (the ``nn.Module`` of each layer),
:mod:`~nnlib.torch_backend.convert` (:func:`to_torch`, :func:`load_from_torch`),
:mod:`~nnlib.torch_backend.optimizers` (nnlib's optimizers as ``torch.optim`` optimizers) and
:mod:`~nnlib.torch_backend.model` (:class:`TorchModel`, the step engine).
"""

try:
    import torch  # noqa: F401
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "nnlib.torch_backend needs PyTorch, which is not installed. Install it with "
        "`pip install 'how-to-train-your-neurons[torch]'` (or `pip install torch`); the NumPy "
        "path (model.fit) needs nothing more."
    ) from err

from nnlib.torch_backend.convert import load_from_torch, to_torch
from nnlib.torch_backend.devices import describe_device, resolve_device
from nnlib.torch_backend.model import TorchModel, benchmark_torch
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
    "load_from_torch",
    "resolve_device",
    "to_torch",
]
