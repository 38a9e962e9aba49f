"""The PyTorch path: the same ``Sequential`` trained with PyTorch, on a GPU when there is one.

An nnlib model converts to an equivalent ``torch.nn.Module`` with the same weights
(:func:`to_torch`) and back (:func:`load_from_torch`); :class:`TorchModel` trains it through the
familiar surface and writes the trained weights back into the nnlib model::

    from nnlib.torch_backend import TorchModel
    tm = TorchModel(network, device='auto')  # CUDA if available, else the CPU
    history = tm.fit(train_images, train_labels, epochs=5, batch_size=128)
    test_loss, test_acc = network.evaluate(test_images, test_labels)  # the NumPy path agrees

Nothing is restated. The loop is nnlib's: ``tm.fit(...)`` is ``network.fit(..., backend=tm)``,
and the backend supplies the steps and the transfers (weights, running statistics, trainable flags,
optimizer state and step count go to the device at the start of every epoch and come back at its
end, so the paths mix freely and callbacks see the current weights). The math is nnlib's, written
with the Python array API so that it runs on tensors: the optimizers' ``update``, the losses'
``value`` / ``grad`` / ``fused_grad``, the regularizers, ``batchnorm_forward``,
``dropout_forward``, ``leaky_relu``. PyTorch brings the matrix products, the other activations and
autograd, which carries the gradient from where nnlib's backward starts (``dL/dz`` below a fused
softmax + cross-entropy) down through the module.

The mapping, and where PyTorch's built-ins would differ:

* ``Dense`` -> :class:`TorchDense`, an ``nn.Linear`` whose ``weight`` is ``W.T`` (H, D), then
  ``nn.ReLU`` / ``Sigmoid`` / ``Tanh`` / ``Identity`` / ``Softmax(dim=-1)`` or :class:`LeakyReLU`
  (slope 1 at ``z = 0``, as nnlib; ``nn.LeakyReLU`` takes ``alpha``).
* ``BatchNormalization`` -> :class:`TorchBatchNorm` (Keras' momentum 0.99 and epsilon 1e-3, biased
  running variance; ``nn.BatchNorm1d`` differs in all three). ``Dropout`` -> :class:`TorchDropout`
  (masks from a ``torch.Generator`` seeded from the model's RNG: nnlib's law, not its draws).
  ``Flatten``, ``Reshape`` -> ``nn.Flatten``, :class:`TorchReshape`.
* Regularizers add nnlib's penalty and gradient (not ``weight_decay``); optimizers and schedules
  are nnlib's (``torch.optim``: momentum ``b = gamma b + g``, epsilon outside the square root,
  RMSprop ``alpha = 0.99``); losses clip ``p`` to ``[1e-7, 1]`` as nnlib (``F.cross_entropy``
  reports the exact ``-log p``). :class:`NNLibRMSprop` and its siblings offer nnlib's rules as
  ``torch.optim`` optimizers for hand-written loops.

Behaviour: every step reads the loss and the predictions back to the host (one synchronization
per batch on a GPU); data stays on the host unless ``data_on_device=True``; with the same seed
both paths see the same batches. Inputs are converted to the module's dtype (the bare module from
:func:`to_torch` refuses others with a ``TypeError`` that says how to convert); what has no PyTorch
equivalent raises ``TypeError``, an unavailable device ``ValueError`` suggesting ``'auto'``.
"""

try:
    import torch  # noqa: F401
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "nnlib.torch_backend needs PyTorch, which is not installed. Install it with "
        "`pip install 'how-to-train-your-neurons[torch]'` (or `pip install torch`); the NumPy "
        "path (model.fit) needs nothing more."
    ) from err

# isort: off
from nnlib.torch_backend.convert import load_from_torch, to_torch
from nnlib.torch_backend.devices import describe_device, resolve_device
from nnlib.torch_backend.model import TorchModel, benchmark_torch
from nnlib.torch_backend.modules import LeakyReLU, TorchBatchNorm, TorchDense, TorchDropout
from nnlib.torch_backend.modules import TorchReshape, TorchSequential
from nnlib.torch_backend.optimizers import NNLibOptimizer, NNLibSGD, NNLibAdagrad, NNLibRMSprop
from nnlib.torch_backend.optimizers import NNLibAdam, NNLibAdamax
# isort: on

# fmt: off
__all__ = [
    "LeakyReLU", "NNLibAdagrad", "NNLibAdam", "NNLibAdamax", "NNLibOptimizer", "NNLibRMSprop",
    "NNLibSGD", "TorchBatchNorm", "TorchDense", "TorchDropout", "TorchModel", "TorchReshape",
    "TorchSequential", "benchmark_torch", "describe_device", "load_from_torch", "resolve_device",
    "to_torch",
]
# fmt: on
