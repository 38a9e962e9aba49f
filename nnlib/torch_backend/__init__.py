"""The PyTorch path: the same ``Sequential`` trained with PyTorch, on a GPU when there is one.

::

    from nnlib.torch_backend import TorchModel
    tm = TorchModel(network, device='auto')  # CUDA if available, else the CPU
    history = tm.fit(train_images, train_labels, epochs=5, batch_size=128)
    test_loss, test_acc = network.evaluate(test_images, test_labels)  # the NumPy path agrees

Nothing is restated. The loop is nnlib's (``tm.fit(...)`` is ``network.fit(..., backend=tm)``);
the backend supplies the steps and moves weights, running statistics, trainable flags and
optimizer state to the device at the start of every epoch and back at its end. The math is
nnlib's, written with the Python array API so that it runs on tensors: the optimizers' ``update``,
the losses, the regularizers, ``batchnorm_forward``, ``dropout_forward``, ``leaky_relu``. PyTorch
brings the matrix products, the other activations and autograd, which carries the gradient from
where nnlib's backward starts (``dL/dz`` below a fused softmax + cross-entropy) down.

The mapping of the layers (:func:`to_torch`, :func:`load_from_torch`) is in ``convert.py``;
where PyTorch's built-ins differ from nnlib (Keras' batch-norm constants, leaky ReLU's slope at 0,
epsilon outside the root in ``torch.optim``) the module's docstring in ``modules.py`` says so, and
:class:`NNLibRMSprop` and its siblings offer nnlib's rules to hand-written loops. What has no
equivalent raises ``TypeError``; an unavailable device ``ValueError`` suggesting ``'auto'``.
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
from nnlib.torch_backend.modules import TorchSequential
from nnlib.torch_backend.optimizers import NNLibOptimizer, NNLibSGD, NNLibAdagrad, NNLibRMSprop
from nnlib.torch_backend.optimizers import NNLibAdam, NNLibAdamax
# isort: on

# fmt: off
__all__ = [
    "LeakyReLU", "NNLibAdagrad", "NNLibAdam", "NNLibAdamax", "NNLibOptimizer", "NNLibRMSprop",
    "NNLibSGD", "TorchBatchNorm", "TorchDense", "TorchDropout", "TorchModel", "TorchSequential",
    "benchmark_torch", "describe_device", "load_from_torch", "resolve_device", "to_torch",
]
# fmt: on
