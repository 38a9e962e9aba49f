"""Independent wrong solutions for benchmarks/bench_diagnosis.py (not the grader's catalogue).

Written from how students get these functions wrong (other code than the catalogue's mutants, and
mistakes the catalogue does not list), each as edits of the source solution cell, with ``expect``:
text a right diagnosis contains, or None where no sentence of the grader describes the mistake
(any diagnosis is then a wrong one; saying nothing is right in spirit but counts as not named).
Never read by the grader.
"""

_SCE = "softmax_cross_entropy"
_NG = "numerical_gradient"

MISTAKES = {
    "02-backprop": [
        # ---- sigmoid_prime
        dict(
            cell="sigmoid_prime",
            old="    s = sigmoid(z)\n",
            new="    s = 1 / (1 + np.exp(-np.asarray(z, dtype=float)))\n",
            expect="warning",
        ),
        dict(cell="sigmoid_prime", old="s * (1 - s)", new="s * (s - 1)", expect="opposite sign"),
        dict(
            cell="sigmoid_prime",
            old="    s = sigmoid(z)\n    return s * (1 - s)",
            new="    z = np.asarray(z, dtype=float)\n    return z * (1 - z)",
            expect="applied to z itself",
        ),
        # ---- relu_prime
        dict(
            cell="relu_prime",
            old="(np.asarray(z) > 0).astype(float)",
            new="np.where(np.asarray(z) >= 0, 1.0, 0.0)",
            expect="gives 1 at z = 0",
        ),
        dict(
            cell="relu_prime",
            old="(np.asarray(z) > 0).astype(float)",
            new="(np.asarray(z) > 0) * 1",
            expect="integer",
        ),
        dict(
            cell="relu_prime",
            old="(np.asarray(z) > 0).astype(float)",
            new="np.clip(np.asarray(z, dtype=float), 0, None)",
            expect="returns relu(z) itself",
        ),
        # ---- dense_backward
        dict(cell="dense_backward", old="dW = X.T @ dZ", new="dW = dZ.T @ X", expect="transposed"),
        dict(
            cell="dense_backward",
            old="db = dZ.sum(axis=0)",
            new="db = np.sum(dZ, axis=0) / X.shape[0]",
            expect="averaged over the batch",
        ),
        dict(
            cell="dense_backward",
            old="db = dZ.sum(axis=0)",
            new="db = np.sum(dZ, axis=1)",
            expect="wrong axis",
        ),
        # ---- softmax_cross_entropy
        dict(
            cell=_SCE,
            old="dZ = (np.exp(log_p) - Y) / N",
            new="dZ = (np.exp(log_p) - Y) / Z.shape[1]",
            expect="constant factor",
        ),
        dict(
            cell=_SCE,
            old="    m = Z.max(axis=1, keepdims=True)\n"
            "    log_p = Z - m - np.log(np.exp(Z - m).sum(axis=1, keepdims=True))",
            new="    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)\n    log_p = np.log(P)",
            expect="NaN or infinity",
        ),
        dict(
            cell=_SCE,
            old="dZ = (np.exp(log_p) - Y) / N",
            new="dZ = (Y - np.exp(log_p)) / Z.shape[0]",
            expect="wrong sign",
        ),
        dict(
            cell=_SCE,
            old="loss = -np.sum(Y * log_p) / N",
            new="loss = -np.mean(np.sum(Y * log_p, axis=1)) * N",
            expect="summed over the batch instead of averaged",
        ),
        # ---- two_layer_backward
        dict(
            cell="two_layer_backward",
            old="dZ1 = dA1 * act_prime(Z1)",
            new="dZ1 = dA1 * act_prime(act(Z1))",
            expect="evaluated at A1",
        ),
        dict(
            cell="two_layer_backward",
            old="dZ1 = dA1 * act_prime(Z1)",
            new="dZ1 = dA1.copy()",
            expect="leaves out the activation's derivative",
        ),
        dict(
            cell="two_layer_backward",
            old="dA1, dW2, db2 = dense_backward(dZ2, A1, W2)",
            new="dA1, dW2, db2 = dense_backward(dZ2, act(X @ W1), W2)",
            expect="bias",
        ),
        # ---- numerical_gradient
        dict(
            cell=_NG,
            old="p = {k: np.array(v, dtype=float) for k, v in params.items()}",
            new="p = {k: np.array(v, dtype=np.float32) for k, v in params.items()}",
            expect="float32",
        ),
        dict(
            cell=_NG,
            old="g[i] = (plus - minus) / (2 * h)",
            new="g[i] = (plus - minus) / 2 * h",
            expect="constant factor",
        ),
        dict(
            edits=[
                dict(
                    cell=_NG,
                    old="p = {k: np.array(v, dtype=float) for k, v in params.items()}",
                    new="p = params",
                ),
                dict(
                    cell=_NG, old="            w[i] = old\n            g[i]", new="            g[i]"
                ),
            ],
            expect="in place",
        ),
        # ---- relative_error
        dict(
            cell="relative_error",
            old="np.maximum(np.maximum(np.abs(a), np.abs(n)), 1e-12)",
            new="np.maximum(np.abs(a), np.abs(n))",
            expect="NaN",
        ),
        dict(
            cell="relative_error",
            old="np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), 1e-12)",
            new="np.abs(a - n) / np.maximum(np.abs(n), 1e-12)",
            expect=None,
        ),
        dict(
            cell="relative_error",
            old="np.abs(a - n) /",
            new="np.abs(a) - np.abs(n) /",
            expect=None,
        ),
        # ---- train
        dict(
            cell="train",
            old="params[k] = params[k] - lr * grads[k]",
            new="params[k] += lr * grads[k]",
            expect="gradient ascent",
        ),
        dict(
            cell="train",
            old='"W1": rng.normal(0.0, np.sqrt(2 / D), size=(D, hidden)),',
            new='"W1": np.zeros((D, hidden)),',
            expect="start at zero",
        ),
        dict(
            cell="train",
            old="_, grads = two_layer_backward(X[idx], Y[idx], params, activation)",
            new="_, grads = two_layer_backward(X[idx], Y, params, activation)",
            expect=None,
        ),
    ],
    "05-regularization": [
        # ---- weight_penalty
        dict(
            cell="weight_penalty",
            old="l2 * np.sum(W * W)",
            new="l2 * np.sum(W) ** 2",
            expect=None,
        ),
        dict(
            cell="weight_penalty",
            old="l1 * np.sum(np.abs(W))",
            new="l1 * np.abs(np.sum(W))",
            expect="absolute values",
        ),
        dict(
            cell="weight_penalty",
            old="l2 * np.sum(W * W)",
            new="l2 / 2 * np.sum(W**2)",
            expect="factor 1/2",
        ),
        # ---- weight_penalty_gradients
        dict(
            cell="weight_penalty_gradients",
            old="l1 * np.sign(W) + 2 * l2 * W",
            new="l1 * np.sign(W) + l2 * W",
            expect="missing the factor 2",
        ),
        dict(
            cell="weight_penalty_gradients",
            old="l1 * np.sign(W) + 2 * l2 * W",
            new="l1 * W / np.abs(W) + 2 * l2 * W",
            expect="NaN",
        ),
        dict(
            cell="weight_penalty_gradients",
            old="l1 * np.sign(W) + 2 * l2 * W",
            new="l1 + 2 * l2 * W",
            expect=None,
        ),
        # ---- dropout_forward
        dict(
            cell="dropout_forward",
            old="mask = keep / (1 - rate)",
            new="mask = keep.astype(float)",
            expect="does not rescale",
        ),
        dict(
            cell="dropout_forward",
            old="keep = rng.random(x.shape) >= rate",
            new="keep = rng.random(x.shape) <= rate",
            expect="keeps a fraction rate",
        ),
        dict(
            cell="dropout_forward",
            old="    if not training or rate == 0:\n        return x, None",
            new="    if not training or rate == 0:\n        return x, np.ones_like(x)",
            expect=None,
        ),
        # ---- dropout_backward
        dict(
            cell="dropout_backward",
            old="    return dout * mask",
            new="    return dout * (mask > 0)",
            expect="1 / (1 - rate)",
        ),
        dict(
            cell="dropout_backward",
            old="    return dout * mask",
            new="    return dout / mask",
            expect="NaN or infinity",
        ),
        dict(
            cell="dropout_backward",
            old="    if mask is None:\n        return dout\n    return dout * mask",
            new="    return dout",
            expect="ignores the mask",
        ),
        # ---- batchnorm_forward
        dict(
            cell="batchnorm_forward",
            old="x_hat = (x - mu) / np.sqrt(var + eps)",
            new="x_hat = (x - mu) / (var**0.5 + eps)",
            expect="epsilon outside",
        ),
        dict(
            cell="batchnorm_forward",
            old="var = x.var(axis=0)",
            new="var = np.var(x, axis=0, ddof=1)",
            expect="unbiased",
        ),
        dict(
            cell="batchnorm_forward",
            old="mu = x.mean(axis=0)\n        var = x.var(axis=0)",
            new="mu = x.mean(axis=1, keepdims=True)\n        var = x.var(axis=1, keepdims=True)",
            expect=None,
        ),
        # ---- batchnorm_backward
        dict(
            cell="batchnorm_backward",
            old="dgamma = (dout * x_hat).sum(axis=0)",
            new="dgamma = np.sum(dout, axis=0)",
            expect="dgamma",
        ),
        dict(
            cell="batchnorm_backward",
            old="dbeta = dout.sum(axis=0)",
            new="dbeta = np.mean(dout, axis=0)",
            expect="dbeta averages",
        ),
        dict(
            cell="batchnorm_backward",
            old="dx = inv_std / n * (n * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0))",
            new="dx = (dx_hat - dx_hat.mean(axis=0)) * inv_std",
            expect="missing one term",
        ),
        # ---- early_stopping_epoch
        dict(
            cell="early_stopping_epoch",
            old="if loss < best - min_delta:",
            new="if best - loss >= min_delta:",
            expect="equal loss",
        ),
        dict(
            cell="early_stopping_epoch",
            old="if wait >= patience:",
            new="if wait == patience + 1:",
            expect="one epoch too many",
        ),
        dict(
            cell="early_stopping_epoch",
            old="return len(val_losses) - 1, best_epoch",
            new="return len(val_losses), best_epoch",
            expect="off by one",
        ),
    ],
}
