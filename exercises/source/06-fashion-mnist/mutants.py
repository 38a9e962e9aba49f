"""Mutation tests of exercise 6 (Fashion-MNIST in practice): plausible wrong solutions and the
test cells that must lose their points (every other autograded test cell keeps its points).

``train`` uses the student's ``preprocess``, so a preprocessing mistake also costs the accuracy
tiers it misses. A mutant's ``fails`` are the tiers its (seeded, deterministic) run misses, with a
margin of at least 0.01 from every threshold (measured with one BLAS thread, as in the grader):
the solution reaches about 0.878; without normalization about 0.843; pixels // 255 about 0.45;
a learning rate 100x too large about 0.61; no softmax on the output layer 0.10.
"""

ASSIGNMENT = "06-fashion-mnist"

_TRAIN = ["train_public"]
_TIERS = ["accuracy_80", "accuracy_83", "accuracy_86"]
_PRE = ["preprocess_public", "preprocess_hidden"]

MUTANTS = [
    # ---- preprocess
    dict(
        cell="preprocess",
        old=".astype(np.float32) / np.float32(255)",
        new=".astype(np.float32)",
        fails=[*_PRE, "accuracy_86"],
        why="inputs not normalized (0..255)",
    ),
    dict(
        cell="preprocess",
        old=".astype(np.float32) / np.float32(255)",
        new=" // 255",
        fails=[*_PRE, *_TIERS],
        why="integer division: every pixel becomes 0 or 1",
    ),
    dict(
        cell="preprocess",
        old=".astype(np.float32) / np.float32(255)",
        new=" / 255.0",
        fails=_PRE,
        why="float64 instead of float32 (the network still learns)",
    ),
    dict(
        cell="preprocess",
        old="images.reshape(len(images), -1)",
        new="images.reshape(784, -1)",
        fails=[*_PRE, *_TRAIN, *_TIERS],
        why="reshaped to (784, N): samples in columns",
    ),
    # ---- train
    dict(
        cell="train",
        old="optimizers.Adam(learning_rate=0.001)",
        new="optimizers.Adam(learning_rate=0.1)",
        fails=_TIERS,
        why="a learning rate 100x too large",
    ),
    dict(
        cell="train",
        old='loss="sparse_categorical_crossentropy"',
        new='loss="categorical_crossentropy"',
        fails=[*_TRAIN, *_TIERS],
        why="integer labels with categorical_crossentropy (needs one-hot labels): fit raises",
    ),
    dict(
        cell="train",
        old='network.add(layers.Dense(10, activation="softmax"))',
        new="network.add(layers.Dense(10))",
        fails=_TIERS,
        why="no softmax on the output layer: the cross-entropy of raw outputs",
    ),
    dict(
        cell="train",
        old="return probabilities.argmax(axis=1)",
        new="return probabilities.argmax(axis=0)",
        fails=[*_TRAIN, *_TIERS],
        why="argmax over the samples instead of the classes",
    ),
    dict(
        cell="train",
        old="return probabilities.argmax(axis=1)",
        new="return probabilities",
        fails=[*_TRAIN, *_TIERS],
        why="returns the probabilities instead of labels",
    ),
    dict(
        cell="train",
        old=(
            "            epochs=6,\n            batch_size=128,\n            verbose=0,\n"
            "            callbacks=[callbacks.LambdaCallback(on_batch_end=out_of_time)],\n"
        ),
        new="            epochs=100,\n            batch_size=128,\n            verbose=0,\n",
        fails=[*_TRAIN, *_TIERS],
        why="100 epochs without a time check: over the budget (stopped at the 30 s call limit)",
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
