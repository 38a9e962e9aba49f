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
        say="Your sigmoid is sigma(-z): the result is what you get with exp(z) instead of exp(-z), a sign error in the exponent.",
        look="the sign inside exp for z >= 0: sigma(z) = 1 / (1 + exp(-z))",
    ),
    dict(
        cell="sigmoid",
        old="    z = np.asarray(z, dtype=float)\n    out = np.empty_like(z)",
        new="    z = np.asarray(z, dtype=float)\n    return 1 / (1 + np.exp(-z))\n    out = np.empty_like(z)",
        fails=["sigmoid_public", "sigmoid_hidden"],
        why="the naive formula overflows (warning) at z = -1000",
        say="Your sigmoid gives the right values but overflows on the way (a warning): it computes exp of a large number, such as exp(-z) for a large negative z (with 1 / (1 + exp(-z)) for every z, or both formulas of np.where).",
        look="compute each formula only where it is safe: out[pos] = ... for z >= 0, out[~pos] = ... for z < 0",
    ),
    dict(
        cell="sigmoid",
        old="out[~pos] = ez / (1.0 + ez)",
        new="out[~pos] = 1.0 / (1.0 + ez)",
        fails=["sigmoid_public", "sigmoid_hidden", *_TWO],
        why="wrong rewrite for negative z: 1 / (1 + e^z) is sigma(-z)",
        say="Your sigmoid is wrong for negative z only: 1 / (1 + exp(z)) is sigma(-z), not the rewrite exp(z) / (1 + exp(z)) of sigma(z).",
        look="the branch for z < 0",
    ),
    # ---- softmax
    dict(
        cell="softmax",
        old="np.sum(e, axis=-1, keepdims=True)",
        new="np.sum(e, axis=0, keepdims=True)",
        fails=["softmax_public", "softmax_hidden", *_TWO, "two_layer_forward_public"],
        why="normalizes over the wrong axis",
        say="Your softmax normalizes over the wrong axis: each row (the last axis, one row per sample) must sum to 1.",
        look="the axis of the sum: axis=-1 with keepdims=True",
    ),
    dict(
        cell="softmax",
        old="np.exp(z - np.max(z, axis=-1, keepdims=True))",
        new="np.exp(z)",
        fails=["softmax_public", "softmax_hidden"],
        why="no max shift: overflow (inf/inf = nan) for large logits",
        say="Your softmax is not shifted by the maximum: exp of a large logit overflows to inf, and inf / inf is NaN.",
        look="subtract np.max(z, axis=-1, keepdims=True) before np.exp",
    ),
    dict(
        cell="softmax",
        old="np.max(z, axis=-1, keepdims=True)",
        new="np.max(z)",
        fails=["softmax_public", "softmax_hidden"],
        why="shifts by the global max: rows far below it underflow to 0/0",
        say="Your softmax shifts by the maximum of the whole array instead of each row's maximum: rows far below it underflow to 0 / 0.",
        look="the max: per row, axis=-1 with keepdims=True",
    ),
    # ---- dense_forward
    dict(
        cell="dense_forward",
        old="return activation(X @ W + b)",
        new="return activation(X @ W) + b",
        fails=["dense_forward_public", "dense_forward_hidden", *_TWO],
        why="adds the bias after the activation",
        say="Your dense_forward adds the bias after the activation: the bias belongs inside, activation(X @ W + b).",
        look="the order: add b before applying the activation",
    ),
    dict(
        cell="dense_forward",
        old="return activation(X @ W + b)",
        new="return activation(X @ W)",
        fails=["dense_forward_public", "dense_forward_hidden", *_TWO],
        why="forgets the bias",
        say="Your dense_forward leaves out the bias b.",
        look="activation(X @ W + b): add b to X @ W",
    ),
    dict(
        cell="dense_forward",
        old="return activation(X @ W + b)",
        new="return activation(X * W.sum(axis=1, keepdims=True).T + b) if X.shape[1] == 1 else activation((W.T @ X.T).T * 1.0 + b[None, :] * (X.shape[0] == 1))",
        fails=["dense_forward_public", "dense_forward_hidden", *_TWO],
        why="hand-rolled shape juggling that drops the bias for batches of more than one",
        say="Your dense_forward leaves out the bias b.",
        look="activation(X @ W + b): one matrix product, then add b",
    ),
    dict(
        cell="dense_forward",
        old="return activation(X @ W + b)",
        new="return X @ W + b",
        fails=["dense_forward_public", "dense_forward_hidden", "two_layer_forward_public", *_TWO],
        why="ignores the activation argument",
        say="Your dense_forward does not apply the activation it is given: return activation(X @ W + b).",
        look="the activation argument",
    ),
    # ---- two_layer_forward
    dict(
        cell="two_layer_forward",
        old="hidden = dense_forward(X, W1, b1, sigmoid)",
        new="hidden = dense_forward(X, W1, b1, np.tanh)",
        fails=["two_layer_forward_hidden"],
        why="tanh hidden layer instead of the sigmoid (probabilities still sum to 1)",
        say="Your two_layer_forward uses tanh for the hidden layer: the network of this exercise uses the sigmoid.",
        look="the activation of the hidden layer: sigmoid",
    ),
    dict(
        cell="two_layer_forward",
        old="return dense_forward(hidden, W2, b2, softmax)",
        new="return dense_forward(hidden, W2, b2, sigmoid)",
        fails=["two_layer_forward_public", "two_layer_forward_hidden"],
        why="sigmoid output: rows do not sum to 1",
        say="Your two_layer_forward uses the sigmoid on the output layer: its rows do not sum to 1; the output layer uses softmax.",
        look="the activation of the output layer: softmax",
    ),
    dict(
        cell="two_layer_forward",
        old="return dense_forward(hidden, W2, b2, softmax)",
        new="return dense_forward(X @ W1 + b1, W2, b2, softmax)",
        fails=["two_layer_forward_hidden"],
        why="forgets the hidden activation",
        say="Your two_layer_forward leaves out the hidden layer's activation: the hidden layer gives X @ W1 + b1 instead of sigmoid(X @ W1 + b1).",
        look="the hidden layer: dense_forward(X, W1, b1, sigmoid)",
    ),
    dict(
        cell="two_layer_forward",
        old="return dense_forward(hidden, W2, b2, softmax)",
        new="return dense_forward(hidden, W2, b2, lambda z: z)",
        fails=["two_layer_forward_public", *_TWO],
        why="no softmax on the output layer: returns the logits",
        say="Your two_layer_forward returns the logits of the output layer: apply softmax on the output layer to get probabilities.",
        look="the activation of the output layer: softmax",
    ),
    dict(
        cell="two_layer_forward",
        old="hidden = dense_forward(X, W1, b1, sigmoid)",
        new="hidden = dense_forward(X, W1, b1, softmax)",
        fails=_TWO,
        why="softmax in the hidden layer",
        say="Your two_layer_forward uses softmax in the hidden layer: the hidden layer uses the sigmoid, softmax belongs to the output layer only.",
        look="the activation of the hidden layer: sigmoid",
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
