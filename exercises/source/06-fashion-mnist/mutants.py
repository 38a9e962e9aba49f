"""Mutation tests of exercise 6 (Fashion-MNIST in practice): plausible wrong solutions and the
test cells that must lose their points (every other autograded test cell keeps its points).

``train`` returns the trained network as plain data, and the trusted test cells evaluate it on the
test split, which the student's sandbox never receives. ``train`` uses the student's
``preprocess``, so a preprocessing mistake also costs the accuracy tiers it misses: the tests feed
the network correctly preprocessed test images (float32 in [0, 1]), so a network trained on other
inputs is evaluated on inputs it was not trained for. A mutant's ``fails`` are the tiers its
(seeded, deterministic) run misses, with a margin of at least 0.01 from every threshold (measured
with one BLAS thread, as in the grader): the solution reaches 0.876; trained without normalization
(and evaluated on normalized images) about 0.18; pixels // 255 about 0.49; a learning rate 100x too
large about 0.61; no softmax on the output layer 0.10. The budget is CPU time, measured outside the
sandbox while grading; the runner also stops any call after 30 s of wall time, which a heavily
loaded machine can reach before the CPU budget: on a machine shared beyond its cores, honest runs
then lose train_public (see the report of issue 13).

A mutant with ``pending`` depends on a grader change that has not landed yet (named there):
until it does, ``tests/test_exercises.py`` reports it as an expected failure.
"""

ASSIGNMENT = "06-fashion-mnist"

_TRAIN = ["train_public"]
_TIERS = ["accuracy_80", "accuracy_83", "accuracy_86"]
_PRE = ["preprocess_public", "preprocess_hidden"]

_SOLUTION_BODY = """    start = cpu_seconds()
    x_train, y_train = load_fashion_mnist(kind="uint8", split="train")
    x_train = preprocess(x_train)
    network = models.Sequential(seed=seed)
    network.add(
        layers.Dense(256, activation="relu", kernel_initializer="he_normal", input_shape=(784,))
    )
    network.add(layers.Dense(10, activation="softmax"))
    network.compile(
        optimizer=optimizers.Adam(learning_rate=0.001), loss="sparse_categorical_crossentropy"
    )
    deadline = start + 0.6 * budget_seconds  # a safety net on a slow machine

    def out_of_time(batch, logs):
        if cpu_seconds() > deadline:
            network.stop_training = True

    with threadpool_limits(1):  # one BLAS thread, as in the grader
        network.fit(
            x_train,
            y_train,
            epochs=6,
            batch_size=128,
            verbose=0,
            callbacks=[callbacks.LambdaCallback(on_batch_end=out_of_time)],
        )
    return serialize.to_data(network)
"""

# A correct PyTorch solution: the format must let it earn full marks (a control, fails nothing).
_TORCH_BODY = """    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    x_train, y_train = load_fashion_mnist(kind="uint8", split="train")
    x, y = torch.from_numpy(preprocess(x_train)), torch.from_numpy(y_train)
    hidden, out = torch.nn.Linear(784, 256), torch.nn.Linear(256, 10)
    model = torch.nn.Sequential(hidden, torch.nn.ReLU(), out)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    order = torch.Generator().manual_seed(seed)
    for _ in range(5):
        for idx in torch.randperm(len(x), generator=order).split(128):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            optimizer.step()
    return {
        "input_shape": [784],
        "config": [
            {"class": "Dense", "units": 256, "activation": "relu"},
            {"class": "Dense", "units": 10},
        ],
        "weights": [
            hidden.weight.detach().numpy().T,
            hidden.bias.detach().numpy(),
            out.weight.detach().numpy().T,
            out.bias.detach().numpy(),
        ],
    }
"""

# The same with a hand-written SGD step.
_TORCH_SGD_BODY = (
    _TORCH_BODY.replace("    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)\n", "")
    .replace(".split(128)", ".split(32)")
    .replace("optimizer.zero_grad()", "model.zero_grad()")
    .replace(
        "            optimizer.step()\n",
        "            with torch.no_grad():\n"
        "                for p in model.parameters():\n"
        "                    p -= 0.1 * p.grad\n",
    )
)

#: Functions diagnosed from the failed test's message only (``message`` of a mistake: a regular
#: expression): ``train`` trains for its whole budget, so running the reference and every mistake
#: again on the recorded call would cost as much as grading again, each.
BY_MESSAGE = {"train"}

MUTANTS = [
    # ---- preprocess
    dict(
        cell="preprocess",
        old=".astype(np.float32) / np.float32(255)",
        new=".astype(np.float32)",
        fails=[*_PRE, *_TIERS],
        why="inputs not normalized (0..255): the network does not work on the images it is given",
        say="Your preprocess does not scale the pixels to [0, 1]: divide the values 0..255 by 255.",
        look="divide by 255 after converting to float32",
    ),
    dict(
        cell="preprocess",
        old=".astype(np.float32) / np.float32(255)",
        new=" // 255",
        fails=[*_PRE, *_TIERS],
        why="integer division: every pixel becomes 0 or 1",
        say="Your preprocess uses integer division (//): every pixel becomes 0 or 1; divide as floats.",
        look="/ instead of //, on float32 values",
    ),
    dict(
        cell="preprocess",
        old=".astype(np.float32) / np.float32(255)",
        new=" / 255.0",
        fails=_PRE,
        why="float64 instead of float32 (the network still learns)",
        say="Your preprocess returns float64: the result must be float32 (convert with .astype(np.float32) and divide by np.float32(255)).",
        look="the dtype of the result: float32",
    ),
    dict(
        cell="preprocess",
        old="images.reshape(len(images), -1)",
        new="images.reshape(784, -1)",
        fails=[*_PRE, *_TRAIN, *_TIERS],
        why="reshaped to (784, N): samples in columns",
        say="Your preprocess reshapes the images into columns (784, N): each image must become one row, shape (N, 784).",
        look="reshape(len(images), -1)",
    ),
    # ---- train: learning
    dict(
        cell="train",
        old="optimizers.Adam(learning_rate=0.001)",
        new="optimizers.Adam(learning_rate=0.1)",
        fails=_TIERS,
        why="a learning rate 100x too large",
        say="Your train's learning rate is too large: the network does not learn well (try 0.001 with Adam).",
        look="the optimizer's learning rate",
    ),
    dict(
        cell="train",
        old='loss="sparse_categorical_crossentropy"',
        new='loss="categorical_crossentropy"',
        fails=[*_TRAIN, *_TIERS],
        why="integer labels with categorical_crossentropy (needs one-hot labels): fit raises",
        say="Your train uses categorical_crossentropy with integer labels: it needs one-hot labels; with the labels 0..9 use sparse_categorical_crossentropy.",
        look="the loss given to compile",
        message="integer-encoded",
    ),
    dict(
        cell="train",
        old='network.add(layers.Dense(10, activation="softmax"))',
        new="network.add(layers.Dense(10))",
        fails=_TIERS,
        why="no softmax on the output layer: the cross-entropy of raw outputs",
        say="Your train has no softmax on the output layer: the cross-entropy needs probabilities.",
        look="the activation of the last Dense layer",
    ),
    # ---- train: what it returns
    dict(
        cell="train",
        old="return serialize.to_data(network)",
        new='return load_fashion_mnist(split="test")[1]',
        fails=[*_TRAIN, *_TIERS],
        why="returns the official test labels (issue 13's leak): the sandbox has no test split",
        say='Your train reads Fashion-MNIST\'s test split: only the training split is there when grading, and the test images are for evaluating the network only; train on split="train".',
        look="the split you load",
        message="test split is not available|t10k-",
    ),
    dict(
        cell="train",
        old="return serialize.to_data(network)",
        new=('return load_fashion_mnist("/usr/share/datasets/fashion-mnist", split="test")[1]'),
        fails=[*_TRAIN, *_TIERS],
        why="returns the test labels read from Debian's dataset folder instead of $NNLIB_DATA",
        say='Your train reads Fashion-MNIST\'s test split: only the training split is there when grading, and the test images are for evaluating the network only; train on split="train".',
        look="the split you load",
        message="test split is not available|t10k-",
    ),
    dict(
        cell="train",
        old="return serialize.to_data(network)",
        new="return network",
        fails=[*_TRAIN, *_TIERS],
        why="returns the nnlib network object instead of plain data",
        say="Your train does not return the network as plain data: return serialize.to_data(network), a dict, and nothing else.",
        look="what train returns",
        message="as plain data",
    ),
    dict(
        cell="train",
        old="return serialize.to_data(network)",
        new=(
            "data = serialize.to_data(network)\n"
            '    data["weights"] = [w.T for w in data["weights"]]\n'
            "    return data"
        ),
        fails=[*_TRAIN, *_TIERS],
        why="kernels transposed (PyTorch's layout): the weights do not fit the config",
        say="Your train returns weights that do not fit the network's layers: nnlib's kernels have shape (inputs, units).",
        look="the shapes of the weights in the returned data",
        message="Invalid network data: weights\\[",
    ),
    dict(
        cell="train",
        old="return serialize.to_data(network)",
        new=(
            "data = serialize.to_data(network)\n"
            '    data["config"][-1]["units"] = 784\n'
            '    return {**data, "weights": [*data["weights"][:2], '
            "np.eye(256, 784, dtype=np.float32), np.zeros(784, np.float32)]}"
        ),
        fails=[*_TRAIN, *_TIERS],
        why="garbage: a network whose output is not 10 classes",
        say="Your train returns a network that does not give 10 outputs for the 784 pixels of an image.",
        look="the input shape and the last layer's units",
        message="takes inputs of shape|network's outputs",
    ),
    # ---- train: the budget
    dict(
        cell="train",
        old=(
            "            epochs=6,\n            batch_size=128,\n            verbose=0,\n"
            "            callbacks=[callbacks.LambdaCallback(on_batch_end=out_of_time)],\n"
        ),
        new="            epochs=100,\n            batch_size=128,\n            verbose=0,\n",
        fails=[*_TRAIN, *_TIERS],
        why="100 epochs without a time check: far over the budget (stopped at the call limit)",
        say="Your train runs past its CPU budget: train fewer epochs or stop it with a callback when the budget is nearly used.",
        look="the number of epochs and a time check in a callback",
        message="over the budget",
    ),
    dict(
        cell="train",
        old=_SOLUTION_BODY[
            _SOLUTION_BODY.index("    deadline") : _SOLUTION_BODY.index("batch_size")
        ],
        new=(
            _SOLUTION_BODY[
                _SOLUTION_BODY.index("    deadline") : _SOLUTION_BODY.index("batch_size")
            ]
            .replace("0.6 * budget_seconds", "1.25 * budget_seconds")
            .replace("epochs=6", "epochs=100")
        ),
        fails=[*_TRAIN, *_TIERS],
        why="trains until 1.25x the CPU budget (25 CPU seconds: within the 30 s wall-time limit)",
        say="Your train runs past its CPU budget: train fewer epochs or stop it with a callback when the budget is nearly used.",
        look="the deadline of your time check",
        message="over the budget",
    ),
    # ---- controls: PyTorch solutions in the same format lose nothing
    dict(
        cell="train",
        old=_SOLUTION_BODY,
        new=_TORCH_SGD_BODY,
        fails=[],
        why="a correct PyTorch solution with a hand-written SGD step: full marks",
    ),
    dict(
        cell="train",
        old=_SOLUTION_BODY,
        new=_TORCH_BODY,
        fails=[],
        why=(
            "a correct PyTorch solution with torch.optim.Adam: full marks (torch.optim probes "
            "the forbidden sklearn with importlib.util.find_spec, which must see it as absent)"
        ),
    ),
]

# The book section that derives each graded function (linked from the feedback; the anchors are
# the section ids of the built pages, checked by tests/test_diagnose.py).
SECTIONS = {
    "preprocess": dict(
        page="book/07-in-practice",
        anchor="preprocessing-normalization-reshaping-encoding",
        title="In practice: Preprocessing",
    ),
    "train": dict(
        page="book/07-in-practice",
        anchor="choosing-training-hyperparameters-and-training",
        title="In practice: Choosing training hyperparameters, and training",
    ),
}
