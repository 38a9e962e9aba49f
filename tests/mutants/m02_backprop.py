"""Mutation tests of exercise 2 (backpropagation): plausible wrong solutions and the test cells
that must lose their points (every other autograded test cell keeps its points).

The student's ``two_layer_backward`` reuses their ``sigmoid_prime``/``relu_prime``,
``dense_backward`` and ``softmax_cross_entropy``, and ``train`` reuses ``two_layer_backward``: a
mutant of one of those also fails the tests of the functions built on it when the error changes
their results (listed in ``fails``; intended, it is how the exercise is built).
``numerical_gradient`` and ``relative_error`` depend only on the given ``two_layer_loss``.
"""

ASSIGNMENT = "02-backprop"

_TWO = ["two_layer_backward_public", "two_layer_backward_hidden"]
_TRAIN = ["train_public", "train_hidden"]

MUTANTS = [
    # ---- sigmoid_prime (the training tests use ReLU, so they are unaffected)
    dict(
        cell="sigmoid_prime",
        old="s * (1 - s)",
        new="s * (1 + s)",
        fails=["sigmoid_prime_public", "sigmoid_prime_hidden", *_TWO],
        why="sign error in the derivative",
    ),
    dict(
        cell="sigmoid_prime",
        old="s = sigmoid(z)",
        new="s = np.asarray(z, dtype=float)",
        fails=["sigmoid_prime_public", "sigmoid_prime_hidden", *_TWO],
        why="the formula applied to z instead of sigma(z)",
    ),
    dict(
        cell="sigmoid_prime",
        old="s * (1 - s)",
        new="1 - s ** 2",
        fails=["sigmoid_prime_public", "sigmoid_prime_hidden", *_TWO],
        why="tanh's derivative instead of the sigmoid's",
    ),
    # ---- relu_prime
    dict(
        cell="relu_prime",
        old="np.asarray(z) > 0",
        new="np.asarray(z) >= 0",
        fails=["relu_prime_public", "relu_prime_hidden"],
        why="1 at the kink z = 0 (the convention is 0); random inputs never hit 0 exactly",
    ),
    dict(
        cell="relu_prime",
        old="(np.asarray(z) > 0).astype(float)",
        new="np.maximum(np.asarray(z), 0).astype(float)",
        fails=["relu_prime_public", "relu_prime_hidden", *_TWO],
        why="returns relu(z) instead of its derivative (scales the gradient by z: still trains)",
    ),
    dict(
        cell="relu_prime",
        old="(np.asarray(z) > 0).astype(float)",
        new="np.sign(np.asarray(z)).astype(float)",
        fails=["relu_prime_public", "relu_prime_hidden", *_TWO],
        why="sign(z): -1 instead of 0 for negative inputs",
    ),
    dict(
        cell="relu_prime",
        old="(np.asarray(z) > 0).astype(float)",
        new="np.asarray(z) > 0",
        fails=["relu_prime_public", "relu_prime_hidden"],
        why="a boolean array instead of floats",
    ),
    # ---- dense_backward
    dict(
        cell="dense_backward",
        old="db = dZ.sum(axis=0)",
        new="db = dZ.mean(axis=0)",
        fails=["dense_backward_public", "dense_backward_hidden", *_TWO],
        why="averages the bias gradient over the batch a second time",
    ),
    dict(
        cell="dense_backward",
        old="dW = X.T @ dZ",
        new="dW = X.T @ dZ / X.shape[0]",
        fails=["dense_backward_public", "dense_backward_hidden", *_TWO],
        # Fashion-MNIST learns too slowly (about 0.62), but train's hidden test draws its data and
        # seed fresh for each grading, where a correct implementation reaches 0.67 to 0.81: its
        # threshold (0.50) catches only networks that do not learn at all
        why="divides the weight gradient by N again",
    ),
    dict(
        cell="dense_backward",
        old="dX = dZ @ W.T",
        new="dX = dZ @ W",
        fails=["dense_backward_public", "dense_backward_hidden", *_TWO, *_TRAIN],
        why="missing transpose in dX (a shape error when D != H)",
    ),
    dict(
        cell="dense_backward",
        old="db = dZ.sum(axis=0)",
        new="db = dZ.sum(axis=1)",
        fails=["dense_backward_public", "dense_backward_hidden", *_TWO, *_TRAIN],
        why="bias gradient summed over the wrong axis",
    ),
    dict(
        cell="dense_backward",
        old="db = dZ.sum(axis=0)",
        new="db = np.zeros(W.shape[1])",
        fails=["dense_backward_public", "dense_backward_hidden", *_TWO, "train_public"],
        why="missing bias gradient (two moons need the biases: 0.85)",
    ),
    # ---- softmax_cross_entropy
    dict(
        cell="softmax_cross_entropy",
        old="dZ = (np.exp(log_p) - Y) / N",
        new="dZ = np.exp(log_p) - Y",
        fails=["softmax_cross_entropy_public", "softmax_cross_entropy_hidden", *_TWO, *_TRAIN],
        why="gradient of the summed loss (no 1/N) while the loss is the mean",
    ),
    dict(
        cell="softmax_cross_entropy",
        old="dZ = (np.exp(log_p) - Y) / N",
        new="dZ = (Y - np.exp(log_p)) / N",
        fails=["softmax_cross_entropy_public", "softmax_cross_entropy_hidden", *_TWO, *_TRAIN],
        why="wrong sign of the gradient",
    ),
    dict(
        cell="softmax_cross_entropy",
        old="Z - m - np.log(np.exp(Z - m)",
        new="Z - np.log(np.exp(Z)",
        fails=[
            "softmax_cross_entropy_public",
            "softmax_cross_entropy_hidden",
            "two_layer_backward_hidden",
        ],
        why="log-softmax without the max shift: overflow for large logits",
    ),
    dict(
        cell="softmax_cross_entropy",
        old="loss = -np.sum(Y * log_p) / N",
        new="loss = -np.sum(Y * log_p)",
        fails=["softmax_cross_entropy_public", "softmax_cross_entropy_hidden", *_TWO],
        why="summed instead of averaged loss",
    ),
    dict(
        cell="softmax_cross_entropy",
        old="m = Z.max(axis=1, keepdims=True)",
        new="m = Z.max(axis=0, keepdims=True)",
        fails=["softmax_cross_entropy_public", "softmax_cross_entropy_hidden", *_TWO, *_TRAIN],
        why="shift by the maximum over the wrong axis (wrong probabilities, does not train)",
    ),
    # ---- two_layer_backward
    dict(
        cell="two_layer_backward",
        old="dZ1 = dA1 * act_prime(Z1)",
        new="dZ1 = dA1",
        fails=[*_TWO, "train_public"],
        why="forgets the activation's derivative (two moons: a linear-like boundary, 0.86)",
    ),
    dict(
        cell="two_layer_backward",
        old="dense_backward(dZ2, A1, W2)",
        new="dense_backward(dZ2, Z1, W2)",
        fails=[*_TWO],
        why="uses the pre-activation Z1 instead of A1 as the output layer's input",
    ),
    dict(
        cell="two_layer_backward",
        old="act_prime(Z1)",
        new="act_prime(A1)",
        fails=[*_TWO],
        why="derivative evaluated at the activation (wrong for sigmoid; same for ReLU)",
    ),
    dict(
        cell="two_layer_backward",
        old="Z1 = X @ W1 + b1",
        new="Z1 = X @ W1",
        fails=[*_TWO, "train_public"],
        why="forgets the hidden bias in the forward pass",
    ),
    # ---- numerical_gradient
    dict(
        cell="numerical_gradient",
        old="w[i] = old - h\n            minus = two_layer_loss(X, Y, p, activation)",
        new="w[i] = old\n            minus = two_layer_loss(X, Y, p, activation)",
        fails=["numerical_gradient_public", "numerical_gradient_hidden"],
        why="evaluates the minus side at the unperturbed entry: half the gradient",
    ),
    dict(
        cell="numerical_gradient",
        old="g[i] = (plus - minus) / (2 * h)",
        new="g[i] = (plus - minus) / h",
        fails=["numerical_gradient_public", "numerical_gradient_hidden"],
        why="divides by h instead of 2h",
    ),
    dict(
        cell="numerical_gradient",
        old="            w[i] = old\n            g[i]",
        new="            g[i]",
        fails=["numerical_gradient_public", "numerical_gradient_hidden"],
        why="does not restore the perturbed entry",
    ),
    dict(
        cell="numerical_gradient",
        old="w[i] = old - h\n            minus = two_layer_loss(X, Y, p, activation)\n            w[i] = old\n            g[i] = (plus - minus) / (2 * h)",
        new="w[i] = old\n            minus = two_layer_loss(X, Y, p, activation)\n            g[i] = (plus - minus) / h",
        fails=["numerical_gradient_public", "numerical_gradient_hidden"],
        why="forward difference (f(w + h) - f(w)) / h: error of order h (~1e-5 relative)",
    ),
    dict(
        cell="numerical_gradient",
        old='def numerical_gradient(X, Y, params, activation="sigmoid", h=1e-5):',
        new='def numerical_gradient(X, Y, params, activation="sigmoid", h=1e-5):\n    h = 1e-5',
        fails=["numerical_gradient_hidden"],
        why="ignores the step h it is given",
    ),
    dict(
        cell="numerical_gradient",
        old="        grads[k] = g\n",
        new="        params[k][...] = g  # reuses the caller's array\n        grads[k] = params[k]\n",
        fails=["numerical_gradient_public"],
        why="writes the gradient into the caller's params (right values, changed inputs)",
    ),
    # ---- relative_error
    dict(
        cell="relative_error",
        old="np.maximum(np.maximum(np.abs(a), np.abs(n)), 1e-12)",
        new="np.maximum(np.abs(a), 1e-12)",
        fails=["relative_error_public", "relative_error_hidden"],
        why="divides by |a| only",
    ),
    dict(
        cell="relative_error",
        old="np.maximum(np.maximum(np.abs(a), np.abs(n)), 1e-12)",
        new="np.maximum(np.abs(a), np.abs(n))",
        fails=["relative_error_public", "relative_error_hidden"],
        why="no guard: 0/0 = nan when both are zero",
    ),
    dict(
        cell="relative_error",
        old="np.abs(a - n) /",
        new="(a - n) /",
        fails=["relative_error_public", "relative_error_hidden"],
        why="signed instead of absolute difference",
    ),
    dict(
        cell="relative_error",
        old="np.maximum(np.maximum(np.abs(a), np.abs(n)), 1e-12)",
        new="np.maximum(np.abs(a) + np.abs(n), 1e-12)",
        fails=["relative_error_public", "relative_error_hidden"],
        why="|a| + |n| in the denominator (another definition, half the value)",
    ),
    # ---- train
    dict(
        cell="train",
        old="params[k] = params[k] - lr * grads[k]",
        new="params[k] = params[k] + lr * grads[k]",
        fails=[*_TRAIN],
        why="gradient ascent",
    ),
    dict(
        cell="train",
        old="two_layer_backward(X[idx], Y[idx], params, activation)",
        new="two_layer_backward(X[idx], Y[start : start + batch_size], params, activation)",
        fails=[*_TRAIN],
        why="shuffles the inputs but not the labels",
    ),
    dict(
        cell="train",
        old="rng.normal(0.0, np.sqrt(2 / D), size=(D, hidden))",
        new="np.zeros((D, hidden))",
        fails=[*_TRAIN],
        why="zero-initialized hidden weights: ReLU'(0) = 0, the hidden layer never learns",
    ),
]
