"""Mutation tests of exercise 1 (the forward pass): plausible wrong solutions students write.

``two_layer_forward`` reuses the student's ``sigmoid``, ``softmax`` and ``dense_forward``, so a
mutant of those that changes values also fails its tests (listed in ``fails``; intended).
"""

ASSIGNMENT = "01-forward-pass"

_TWO = ["two_layer_forward_hidden"]  # the public test checks shapes and row sums only

MUTANTS = [
    # ---- sigmoid
    dict(
        cell="sigmoid",
        old="out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))",
        new="out[pos] = 1.0 / (1.0 + np.exp(z[pos]))",
        fails=["sigmoid_public", "sigmoid_hidden", *_TWO],
        why="sign error: sigma(-z)",
    ),
    dict(
        cell="sigmoid",
        old="    z = np.asarray(z, dtype=float)\n    out = np.empty_like(z)",
        new="    z = np.asarray(z, dtype=float)\n    return 1 / (1 + np.exp(-z))\n    out = np.empty_like(z)",
        fails=["sigmoid_public", "sigmoid_hidden"],
        why="the naive formula overflows (warning) at z = -1000",
    ),
    dict(
        cell="sigmoid",
        old="out[~pos] = ez / (1.0 + ez)",
        new="out[~pos] = 1.0 / (1.0 + ez)",
        fails=["sigmoid_public", "sigmoid_hidden", *_TWO],
        why="wrong rewrite for negative z: 1 / (1 + e^z) is sigma(-z)",
    ),
    # ---- softmax
    dict(
        cell="softmax",
        old="np.sum(e, axis=-1, keepdims=True)",
        new="np.sum(e, axis=0, keepdims=True)",
        fails=["softmax_public", "softmax_hidden", *_TWO, "two_layer_forward_public"],
        why="normalizes over the wrong axis",
    ),
    dict(
        cell="softmax",
        old="np.exp(z - np.max(z, axis=-1, keepdims=True))",
        new="np.exp(z)",
        fails=["softmax_public", "softmax_hidden"],
        why="no max shift: overflow (inf/inf = nan) for large logits",
    ),
    dict(
        cell="softmax",
        old="np.max(z, axis=-1, keepdims=True)",
        new="np.max(z)",
        fails=["softmax_public", "softmax_hidden"],
        why="shifts by the global max: rows far below it underflow to 0/0",
    ),
    # ---- dense_forward
    dict(
        cell="dense_forward",
        old="return activation(X @ W + b)",
        new="return activation(X @ W) + b",
        fails=["dense_forward_public", "dense_forward_hidden", *_TWO],
        why="adds the bias after the activation",
    ),
    dict(
        cell="dense_forward",
        old="return activation(X @ W + b)",
        new="return activation(X @ W)",
        fails=["dense_forward_public", "dense_forward_hidden", *_TWO],
        why="forgets the bias",
    ),
    dict(
        cell="dense_forward",
        old="return activation(X @ W + b)",
        new="return activation(X * W.sum(axis=1, keepdims=True).T + b) if X.shape[1] == 1 else activation((W.T @ X.T).T * 1.0 + b[None, :] * (X.shape[0] == 1))",
        fails=["dense_forward_public", "dense_forward_hidden", *_TWO],
        why="hand-rolled shape juggling that drops the bias for batches of more than one",
    ),
    # ---- two_layer_forward
    dict(
        cell="two_layer_forward",
        old="hidden = dense_forward(X, W1, b1, sigmoid)",
        new="hidden = dense_forward(X, W1, b1, np.tanh)",
        fails=["two_layer_forward_hidden"],
        why="tanh hidden layer instead of the sigmoid (probabilities still sum to 1)",
    ),
    dict(
        cell="two_layer_forward",
        old="return dense_forward(hidden, W2, b2, softmax)",
        new="return dense_forward(hidden, W2, b2, sigmoid)",
        fails=["two_layer_forward_public", "two_layer_forward_hidden"],
        why="sigmoid output: rows do not sum to 1",
    ),
    dict(
        cell="two_layer_forward",
        old="return dense_forward(hidden, W2, b2, softmax)",
        new="return dense_forward(X @ W1 + b1, W2, b2, softmax)",
        fails=["two_layer_forward_hidden"],
        why="forgets the hidden activation",
    ),
]

# The book section that derives each graded function (linked from the feedback; the anchors are
# the section ids of the built pages, checked by tests/test_diagnose.py).
SECTIONS = {
    "sigmoid": dict(
        page="book/02-forward-pass",
        anchor="element-wise-operations",
        title="The forward pass: Element-wise operations",
    ),
    "softmax": dict(
        page="book/04-activations",
        anchor="activation-functions-for-the-output-layer",
        title="Activation functions: for the output layer",
    ),
    "dense_forward": dict(
        page="book/02-forward-pass",
        anchor="tensor-operations",
        title="The forward pass: Tensor operations",
    ),
    "two_layer_forward": dict(
        page="book/02-forward-pass",
        anchor="the-forward-pass-of-the-lecture-s-network",
        title="The forward pass of the lecture's network",
    ),
}
