"""Mutation tests of exercise 7 (PyTorch): plausible wrong solutions and the test cells that must
lose their points (every other autograded test cell keeps its points).

``forward``, ``train_step`` and ``train_epoch`` build their model with the student's ``to_torch``
and return weights through ``to_numpy``, so a mutant of those also fails the tests of the
functions built on them (listed in ``fails``; intended, it is how the exercise is built).
The grading machine has no GPU visible to the sandbox: ``pick_device`` mutants that differ only
on a CUDA machine (e.g. ignoring ``prefer="cpu"``) would not be caught, so none is listed.
"""

ASSIGNMENT = "07-pytorch"

_DEV = ["pick_device_public", "pick_device_hidden"]
_CONV = ["to_torch_public", "to_torch_hidden"]
_FWD = ["forward_public", "forward_hidden"]
_STEP = ["train_step_public", "train_step_hidden"]
_EPOCH = ["train_epoch_public", "train_epoch_hidden"]

# The end of to_torch's body and the start of to_numpy's, for mutants that change both.
_TO_NUMPY = (
    "    return nn.Sequential(*modules).to(device)\n"
    "    ### END SOLUTION\n"
    "\n"
    "\n"
    "def to_numpy(model):\n"
    '    """The weights of a model made by to_torch, as NumPy arrays [W1, b1, ...] in the course '
    'layout."""\n'
    "    ### BEGIN SOLUTION\n"
    "    weights = []\n"
)

MUTANTS = [
    # ---- pick_device (graded on a machine without CUDA)
    dict(
        cell="pick_device",
        old='return "cuda" if torch.cuda.is_available() else "cpu"',
        new='return "cuda" if torch.cuda.is_available else "cpu"',
        fails=_DEV,
        why="torch.cuda.is_available without the call: a function is always true",
        say="Your pick_device uses torch.cuda.is_available without calling it: a function is always true, call it with ().",
        look="torch.cuda.is_available()",
    ),
    dict(
        cell="pick_device",
        old='return "cuda" if torch.cuda.is_available() else "cpu"',
        new='return torch.device("cuda" if torch.cuda.is_available() else "cpu")',
        fails=_DEV,
        why="returns a torch.device (not data) instead of the name",
        say="Your pick_device returns a torch.device: it must return the name, the string 'cuda' or 'cpu'.",
        look="what pick_device returns",
    ),
    dict(
        cell="pick_device",
        old='    if prefer == "cpu":\n        return "cpu"\n',
        new='    if prefer == "cpu":\n        return "cpu"\n    if prefer == "cuda":\n        return "cuda"\n',
        fails=["pick_device_hidden"],
        why='"cuda" returned on request even without a GPU',
        say="Your pick_device returns 'cuda' on request even where there is no GPU: fall back to 'cpu' when torch.cuda.is_available() is false.",
        look="the case prefer='cuda'",
    ),
    dict(
        cell="pick_device",
        old=(
            '    if prefer not in ("auto", "cuda", "cpu"):\n'
            "        raise ValueError(f\"prefer must be 'auto', 'cuda' or 'cpu', got {prefer!r}\")\n"
        ),
        new="",
        fails=["pick_device_hidden"],
        why="unknown values accepted silently",
        say="Your pick_device accepts values other than 'auto', 'cuda' and 'cpu': raise a ValueError for them.",
        look="check prefer first",
    ),
    # ---- to_torch / to_numpy
    dict(
        cell="to_torch",
        old="linear.weight.copy_(torch.as_tensor(W.T, dtype=torch.float32))",
        new="linear.weight.copy_(torch.as_tensor(W, dtype=torch.float32))",
        fails=[*_CONV, *_FWD, *_STEP, *_EPOCH],
        why="kernel copied without the transpose into nn.Linear's (out, in) weight",
        say="Your to_torch copies W into nn.Linear's weight without the transpose: nn.Linear stores (out, in), the weights are (in, out).",
        look="linear.weight takes W.T",
    ),
    dict(
        cell="to_torch",
        old="weights.append(module.weight.detach().cpu().numpy().T.copy())",
        new="weights.append(module.weight.detach().cpu().numpy().copy())",
        fails=[*_CONV, *_STEP, *_EPOCH],
        why="to_numpy returns nn.Linear's (out, in) layout",
        say="Your to_numpy returns nn.Linear's (out, in) layout: transpose the weight back to (in, out).",
        look="module.weight ... .T in to_numpy",
    ),
    dict(
        cell="to_torch",
        old="        if i < n_layers - 1:\n",
        new="        if i < n_layers:\n",
        fails=[*_FWD, *_STEP, *_EPOCH],
        why="a ReLU after the output layer too (clips negative logits)",
        say="Your to_torch puts a ReLU after the output layer too: the last layer gives the logits, no activation.",
        look="add nn.ReLU() only between layers",
    ),
    dict(
        cell="to_torch",
        old="            linear.bias.copy_(torch.as_tensor(b, dtype=torch.float32))\n",
        new="",
        fails=[*_CONV, *_FWD, *_STEP, *_EPOCH],
        why="the biases keep nn.Linear's random initialization",
        say="Your to_torch does not copy the biases: nn.Linear keeps its random ones.",
        look="linear.bias.copy_(...)",
    ),
    dict(
        cell="to_torch",
        old=_TO_NUMPY,
        new=_TO_NUMPY.replace(
            "    return nn.Sequential(*modules).to(device)\n",
            "    return [np.asarray(w, dtype=np.float32) for w in weights]\n",
        ).replace("    weights = []\n", "    return list(model)\n"),
        fails=[*_CONV, *_FWD, *_STEP, *_EPOCH],
        why="identity functions: to_torch returns the weights (float32), to_numpy gives them back",
        say="Your to_torch and to_numpy do not build a PyTorch model: to_torch must return an nn.Sequential of nn.Linear (and nn.ReLU) modules.",
        look="nn.Linear, nn.ReLU, nn.Sequential",
    ),
    dict(
        cell="to_torch",
        old=_TO_NUMPY,
        new=_TO_NUMPY.replace(
            "    return nn.Sequential(*modules).to(device)\n",
            "    model = nn.Sequential(*modules).to(device)\n"
            "    model.course_weights = [np.asarray(w, dtype=np.float32) for w in weights]\n"
            "    return model\n",
        ).replace(
            "    weights = []\n",
            "    return [w.copy() for w in model.course_weights]\n    weights = []\n",
        ),
        fails=["to_torch_hidden", *_STEP, *_EPOCH],
        why="to_numpy gives back the weights to_torch was given, not the model's current ones",
        say="Your to_numpy gives back the weights to_torch was given, not the model's current weights.",
        look="read the weights from the model's nn.Linear modules",
    ),
    # ---- forward
    dict(
        cell="forward",
        old="probs = torch.softmax(model(x), dim=1)",
        new="probs = torch.softmax(model(x), dim=0)",
        fails=_FWD,
        why="softmax over the batch axis",
        say="Your forward takes the softmax over the batch axis (dim=0): each sample's row must sum to 1, dim=1.",
        look="dim of torch.softmax",
    ),
    dict(
        cell="forward",
        old="probs = torch.softmax(model(x), dim=1)",
        new="probs = model(x)",
        fails=_FWD,
        why="returns the logits, not probabilities",
        say="Your forward returns the logits: apply the softmax to get probabilities.",
        look="torch.softmax(model(x), dim=1)",
    ),
    dict(
        cell="forward",
        old="probs = torch.softmax(model(x), dim=1)",
        new="probs = torch.sigmoid(model(x))",
        fails=_FWD,
        why="sigmoid instead of softmax",
        say="Your forward applies a sigmoid to the logits: the probabilities of the classes come from softmax.",
        look="torch.softmax(model(x), dim=1)",
    ),
    dict(
        cell="forward",
        old="    return probs.cpu().numpy()",
        new="    return probs",
        fails=_FWD,
        why="returns a tensor (not data)",
        say="Your forward returns a torch tensor: it must return a NumPy array (.cpu().numpy()).",
        look="convert the result to NumPy",
    ),
    # ---- train_step
    dict(
        cell="train_step",
        old="loss = nn.functional.cross_entropy(model(x), t)",
        new="loss = nn.functional.cross_entropy(torch.softmax(model(x), dim=1), t)",
        fails=_STEP,
        why="double softmax: probabilities passed to cross_entropy",
        say="Your train_step applies softmax before cross_entropy: nn.functional.cross_entropy takes the logits (it applies log-softmax itself).",
        look="pass model(x) straight to cross_entropy",
    ),
    dict(
        cell="train_step",
        old="loss = nn.functional.cross_entropy(model(x), t)",
        new='loss = nn.functional.cross_entropy(model(x), t, reduction="sum")',
        fails=_STEP,
        why="summed instead of mean loss (the step is N times too large)",
        say="Your train_step sums the loss over the batch: the loss is the mean (the default reduction), so the step is N times too large.",
        look="the reduction of cross_entropy",
    ),
    dict(
        cell="train_step",
        old="    loss.backward()\n    optimizer.step()\n",
        new="    optimizer.step()\n    loss.backward()\n",
        fails=_STEP,
        why="optimizer.step() before loss.backward(): the weights never change",
        say="Your train_step calls optimizer.step() before loss.backward(): the step sees no gradients and the weights do not change.",
        look="zero_grad, backward, then step",
    ),
    dict(
        cell="train_step",
        old="    return float(loss.item()), to_numpy(model)",
        new=(
            "    with torch.no_grad():\n"
            "        loss = nn.functional.cross_entropy(model(x), t)\n"
            "    return float(loss.item()), to_numpy(model)"
        ),
        fails=_STEP,
        why="loss reported after the update",
        say="Your train_step reports the loss after the update: return the loss computed before the step.",
        look="which loss you return",
    ),
    # ---- train_epoch
    dict(
        cell="train_epoch",
        old="        optimizer.zero_grad()\n",
        new="",
        fails=_EPOCH,
        why="no zero_grad: gradients accumulate over the batches",
        say="Your train_epoch never zeroes the gradients: they accumulate over the batches.",
        look="optimizer.zero_grad() before each backward",
    ),
    dict(
        cell="train_epoch",
        old="np.random.default_rng(seed).permutation(len(X))",
        new="np.arange(len(X))",
        fails=_EPOCH,
        why="no shuffling",
        say="Your train_epoch does not shuffle the samples: visit them in the order of the seeded permutation.",
        look="np.random.default_rng(seed).permutation(len(X))",
    ),
    dict(
        cell="train_epoch",
        old="for start in range(0, len(X), batch_size):",
        new="for start in range(0, len(X) - batch_size + 1, batch_size):",
        fails=_EPOCH,
        why="the last, smaller batch is dropped",
        say="Your train_epoch drops the last, smaller batch: every sample is used once per epoch.",
        look="the range of the batch loop",
    ),
    dict(
        cell="train_epoch",
        old=("        total += loss.item() * len(idx)\n    return total / len(X), to_numpy(model)"),
        new=(
            "        total += loss.item()\n"
            "    return total / -(-len(X) // batch_size), to_numpy(model)"
        ),
        fails=_EPOCH,
        why="mean of the batch losses, not weighted by the batch sizes",
        say="Your train_epoch averages the batch losses without weighting them by the batch sizes: the epoch loss is the mean over all samples.",
        look="total += loss * batch size, divided by len(X)",
    ),
]

# The book section that derives each graded function (linked from the feedback; the anchors are
# the section ids of the built pages, checked by tests/test_diagnose.py).
SECTIONS = {
    "pick_device": dict(
        page="book/10-pytorch-gpu",
        anchor="which-device-is-this",
        title="PyTorch and the GPU: Which device is this?",
    ),
    "to_torch": dict(
        page="book/10-pytorch-gpu",
        anchor="tensor-operations-in-numpy-and-in-pytorch",
        title="Tensor operations, in NumPy and in PyTorch",
    ),
    "to_numpy": dict(
        page="book/10-pytorch-gpu",
        anchor="tensor-operations-in-numpy-and-in-pytorch",
        title="Tensor operations, in NumPy and in PyTorch",
    ),
    "forward": dict(
        page="book/10-pytorch-gpu",
        anchor="the-same-network-in-pytorch",
        title="The same network in PyTorch",
    ),
    "train_step": dict(
        page="book/10-pytorch-gpu",
        anchor="one-training-step-by-hand-in-pytorch",
        title="One training step by hand in PyTorch",
    ),
    "train_epoch": dict(
        page="book/10-pytorch-gpu", anchor="using-the-pytorch-path", title="Using the PyTorch path"
    ),
}
