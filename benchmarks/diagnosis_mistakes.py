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
    "01-forward-pass": [
        # ---- sigmoid
        dict(
            cell="sigmoid",
            old="    out = np.empty_like(z)\n",
            new="    return np.exp(z) / (1.0 + np.exp(z))\n",
            expect="NaN or infinity",
        ),
        dict(
            cell="sigmoid",
            old="    out = np.empty_like(z)\n",
            new="    return np.where(z >= 0, 1 / (1 + np.exp(-z)), np.exp(z) / (1 + np.exp(z)))\n",
            expect="warning",
        ),
        dict(
            cell="sigmoid",
            old="    out = np.empty_like(z)\n",
            new="    return 1.0 / (1.0 + np.exp(z))\n",
            expect="-z",
        ),
        # ---- softmax
        dict(
            cell="softmax",
            old="    e = np.exp(z - np.max(z, axis=-1, keepdims=True))\n"
            "    return e / np.sum(e, axis=-1, keepdims=True)",
            new="    return np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)",
            expect="shifted by the maximum",
        ),
        dict(
            cell="softmax",
            old="e / np.sum(e, axis=-1, keepdims=True)",
            new="e / np.sum(e, axis=-1)",
            expect="keepdims",
        ),
        dict(
            cell="softmax",
            old="    e = np.exp(z - np.max(z, axis=-1, keepdims=True))\n"
            "    return e / np.sum(e, axis=-1, keepdims=True)",
            new="    e = np.exp(z - z.max(axis=1, keepdims=True))\n"
            "    return e / e.sum(axis=1, keepdims=True)",
            expect="axis=-1",
        ),
        # ---- dense_forward
        dict(
            cell="dense_forward",
            old="return activation(X @ W + b)",
            new="return activation(W @ X + b)",
            expect="order of the factors",
        ),
        dict(
            cell="dense_forward",
            old="return activation(X @ W + b)",
            new="return activation(X * W + b)",
            expect="@",
        ),
        dict(
            cell="dense_forward",
            old="    return activation(X @ W + b)",
            new="    Z = X @ W + b\n    return Z",
            expect="activation",
        ),
        # ---- two_layer_forward
        dict(
            cell="two_layer_forward",
            old="hidden = dense_forward(X, W1, b1, sigmoid)",
            new="hidden = softmax(X @ W1 + b1)",
            expect="hidden layer",
        ),
        dict(
            cell="two_layer_forward",
            old="return dense_forward(hidden, W2, b2, softmax)",
            new="return dense_forward(hidden, W2, b1, softmax)",
            expect="broadcast",
        ),
        dict(
            cell="two_layer_forward",
            old="return dense_forward(hidden, W2, b2, softmax)",
            new="return hidden @ W2 + b2",
            expect="output layer",
        ),
    ],
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
    "03-activations-init": [
        # ---- tanh
        dict(
            cell="tanh",
            old="    em = np.expm1(-2 * np.abs(z))  # exp(-2|z|) - 1, in (-1, 0]: no overflow, no cancellation\n"
            "    return -np.sign(z) * em / (2 + em)",
            new="    return (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))",
            expect="NaN or infinity",
        ),
        dict(
            cell="tanh",
            old="    em = np.expm1(-2 * np.abs(z))  # exp(-2|z|) - 1, in (-1, 0]: no overflow, no cancellation\n"
            "    return -np.sign(z) * em / (2 + em)",
            new="    em = np.expm1(-2 * z)\n    return -em / (2 + em)",
            expect="NaN or infinity",
        ),
        dict(
            cell="tanh",
            old="return -np.sign(z) * em / (2 + em)",
            new="return np.sign(z) * em / (2 + em)",
            expect="opposite sign",
        ),
        # ---- tanh_prime
        dict(
            cell="tanh_prime",
            old="    t = tanh(z)\n    return 1 - t * t",
            new="    return 1 / np.cosh(z) ** 2",
            expect="warning",
        ),
        dict(
            cell="tanh_prime",
            old="return 1 - t * t",
            new="return t * t - 1",
            expect="opposite sign",
        ),
        dict(
            cell="tanh_prime",
            old="    t = tanh(z)\n    return 1 - t * t",
            new="    s = sigmoid(2 * z)\n    return 2 * s * (1 - s)",
            expect="constant factor",
        ),
        # ---- leaky_relu
        dict(
            cell="leaky_relu",
            old="return np.where(z < 0, alpha * z, z)",
            new="return alpha * z if z < 0 else z",
            expect="np.where",
        ),
        dict(
            cell="leaky_relu",
            old="return np.where(z < 0, alpha * z, z)",
            new="z[z < 0] *= alpha\n    return z",
            expect="in place",
        ),
        dict(
            cell="leaky_relu",
            old="return np.where(z < 0, alpha * z, z)",
            new="return np.maximum(0.01 * z, z)",
            expect="alpha argument",
        ),
        # ---- leaky_relu_prime
        dict(
            cell="leaky_relu_prime",
            old="return np.where(z < 0, alpha, 1.0)",
            new="return np.where(z > 0, 1.0, alpha)",
            expect="at z = 0",
        ),
        dict(
            cell="leaky_relu_prime",
            old="return np.where(z < 0, alpha, 1.0)",
            new="return np.where(z < 0, alpha * z, z)",
            expect="leaky_relu(z) itself",
        ),
        dict(
            cell="leaky_relu_prime",
            old="return np.where(z < 0, alpha, 1.0)",
            new="z[z < 0] = alpha\n    z[z >= 0] = 1.0\n    return z",
            expect="in place",
        ),
        # ---- glorot_normal
        dict(
            cell="glorot_normal",
            old="sigma = np.sqrt(2 / (fan_in + fan_out))",
            new="sigma = np.sqrt(2 / fan_in + fan_out)",
            expect="constant factor",
        ),
        dict(
            cell="glorot_normal",
            old="return rng.normal(0.0, sigma, size=(fan_in, fan_out))",
            new="return rng.standard_normal((fan_in, fan_out)) * 2 / (fan_in + fan_out)",
            expect="variance",
        ),
        dict(
            cell="glorot_normal",
            old="rng = np.random.default_rng(rng)",
            new="rng = np.random.default_rng(42)",
            expect="seed",
        ),
        # ---- glorot_uniform
        dict(
            cell="glorot_uniform",
            old="limit = np.sqrt(6 / (fan_in + fan_out))",
            new="limit = np.sqrt(6) / (fan_in + fan_out)",
            expect="constant factor",
        ),
        dict(
            cell="glorot_uniform",
            old="size=(fan_in, fan_out)",
            new="size=(fan_out, fan_in)",
            expect="transpose",
        ),
        dict(
            cell="glorot_uniform",
            old="return rng.uniform(-limit, limit, size=(fan_in, fan_out))",
            new="return rng.random((fan_in, fan_out)) * limit",
            expect="only positive",
        ),
        # ---- he_normal
        dict(
            cell="he_normal",
            old="sigma = np.sqrt(2 / fan_in)",
            new="sigma = np.sqrt(2 / (fan_in + fan_out))",
            expect="constant factor",
        ),
        dict(
            cell="he_normal",
            old="    sigma = np.sqrt(2 / fan_in)\n    return rng.normal(0.0, sigma, size=(fan_in, fan_out))",
            new="    limit = np.sqrt(6 / fan_in)\n    return rng.uniform(-limit, limit, size=(fan_in, fan_out))",
            expect="uniform",
        ),
        dict(
            cell="he_normal",
            old="rng = np.random.default_rng(rng)",
            new="rng = np.random.default_rng(seed=0)",
            expect="seed",
        ),
        # ---- he_uniform
        dict(
            cell="he_uniform",
            old="limit = np.sqrt(6 / fan_in)",
            new="limit = np.sqrt(6 / fan_out)",
            expect="constant factor",
        ),
        dict(
            cell="he_uniform",
            old="    limit = np.sqrt(6 / fan_in)\n    return rng.uniform(-limit, limit, size=(fan_in, fan_out))",
            new="    return rng.normal(0.0, np.sqrt(2 / fan_in), size=(fan_in, fan_out))",
            expect="normal distribution",
        ),
        dict(
            cell="he_uniform",
            old="limit = np.sqrt(6 / fan_in)",
            new="limit = np.sqrt(6.0 / fan_in + fan_out)",
            expect="constant factor",
        ),
        # ---- gradient_norms_per_layer
        dict(
            cell="gradient_norms_per_layer",
            old="dW = inputs[l].T @ dZ",
            new="dW = inputs[l].T @ dZ / X.shape[0]",
            expect="constant factor",
        ),
        dict(
            cell="gradient_norms_per_layer",
            old="for l in range(len(weights) - 1, -1, -1):",
            new="for l in reversed(range(1, len(weights))):",
            expect="first layer",
        ),
        dict(
            cell="gradient_norms_per_layer",
            old="dZ = (dZ @ weights[l].T) * f_prime(pre[l - 1])",
            new="dZ = (dZ @ weights[l]) * f_prime(pre[l - 1])",
            expect="order of the factors",
        ),
    ],
    "04-optimizers": [
        # ---- momentum_step
        dict(
            cell="momentum_step",
            old='v = state.get("v", np.zeros_like(w))',
            new="v = np.zeros_like(w)",
            expect="state",
        ),
        dict(
            cell="momentum_step",
            old='    v = gamma * v - lr * grad\n    return w + v, {"v": v}',
            new='    v = (1 - gamma) * grad + gamma * v\n    w = w - lr * v\n    return w, {"v": v}',
            expect="moving-average form",
        ),
        dict(
            cell="momentum_step",
            old='    v = gamma * v - lr * grad\n    return w + v, {"v": v}',
            new='    w_new = w + state.get("v", 0.0)\n    return w_new, {"v": gamma * v - lr * grad}',
            expect="old velocity",
        ),
        # ---- nesterov_step
        dict(
            cell="nesterov_step",
            old='return w + gamma * v - lr * grad, {"v": v}',
            new='w_new = w + v\n    return w_new, {"v": v}',
            expect="plain momentum",
        ),
        dict(
            cell="nesterov_step",
            old='v = state.get("v", np.zeros_like(w))',
            new="v = np.zeros_like(w)",
            expect="state",
        ),
        dict(
            cell="nesterov_step",
            old='return w + gamma * v - lr * grad, {"v": v}',
            new='return w - gamma * v - lr * grad, {"v": v}',
            expect=None,
        ),
        # ---- adagrad_step
        dict(
            cell="adagrad_step",
            old='G = state.get("G", np.zeros_like(w)) + grad**2',
            new='G = state.get("G", np.zeros_like(w))\n    G = G + grad',
            expect="squared gradients",
        ),
        dict(
            cell="adagrad_step",
            old="return w - lr * grad / np.sqrt(G + eps)",
            new="return w - lr * grad / (G**0.5 + eps)",
            expect="outside the square root",
        ),
        dict(
            cell="adagrad_step",
            old='G = state.get("G", np.zeros_like(w)) + grad**2',
            new="G = grad * grad",
            expect="accumulate",
        ),
        # ---- rmsprop_step
        dict(
            cell="rmsprop_step",
            old='m = gamma * state.get("m", np.zeros_like(w)) + (1 - gamma) * grad**2',
            new='m = gamma * state.get("m", np.zeros_like(w))\n    m = m + (1 - gamma) * grad',
            expect="squared gradients",
        ),
        dict(
            cell="rmsprop_step",
            old="return w - lr * grad / np.sqrt(m + eps)",
            new="return w - lr * grad / (m**0.5 + eps)",
            expect="outside the square root",
        ),
        dict(
            cell="rmsprop_step",
            old='m = gamma * state.get("m", np.zeros_like(w)) + (1 - gamma) * grad**2',
            new='m_old = state.get("m", np.zeros_like(w))\n    m = (1 - gamma) * m_old + gamma * grad * grad',
            expect="swaps the two weights",
        ),
        # ---- adam_step
        dict(
            cell="adam_step",
            old="    g_hat = g_avg / (1 - beta_1**t)",
            new="    t = t + 1\n    g_hat = g_avg / (1 - beta_1**t)",
            expect="off by one",
        ),
        dict(
            cell="adam_step",
            old='return w - lr * g_hat / np.sqrt(m_hat + eps), {"g_avg": g_avg, "m": m}',
            new='return w - lr * g_avg / np.sqrt(m + eps), {"g_avg": g_avg, "m": m}',
            expect="no bias correction",
        ),
        dict(
            cell="adam_step",
            old='return w - lr * g_hat / np.sqrt(m_hat + eps), {"g_avg": g_avg, "m": m}',
            new='g_avg, m = g_hat, m_hat\n    return w - lr * g_avg / np.sqrt(m + eps), {"g_avg": g_avg, "m": m}',
            expect="bias-corrected",
        ),
        # ---- adamax_step
        dict(
            cell="adamax_step",
            old='u = np.maximum(beta_2 * state.get("u", np.zeros_like(w)), np.abs(grad))',
            new='u = max(beta_2 * state.get("u", np.zeros_like(w)), abs(grad))',
            expect="np.maximum",
        ),
        dict(
            cell="adamax_step",
            old='u = np.maximum(beta_2 * state.get("u", np.zeros_like(w)), np.abs(grad))',
            new='u = np.maximum(state.get("u", np.zeros_like(w)), np.abs(grad))',
            expect="never decays",
        ),
        dict(
            cell="adamax_step",
            old="return w - lr * g_hat / (u + eps)",
            new="u_hat = u / (1 - beta_2**t)\n    return w - lr * g_hat / (u_hat + eps)",
            expect="bias correction to u",
        ),
        # ---- exponential_decay
        dict(
            cell="exponential_decay",
            old="return lr0 * math.exp(-k * s)",
            new="lr = lr0\n    for _ in range(s + 1):\n        lr *= math.exp(-k)\n    return lr",
            expect="off by one",
        ),
        dict(
            cell="exponential_decay",
            old="return lr0 * math.exp(-k * s)",
            new="lr = lr0\n    for i in range(s):\n        lr *= math.exp(-k * i)\n    return lr",
            expect="recursion",
        ),
        dict(
            cell="exponential_decay",
            old="return lr0 * math.exp(-k * s)",
            new="return lr0 / math.exp(-k * s)",
            expect="grows",
        ),
        # ---- inverse_time_decay
        dict(
            cell="inverse_time_decay",
            old="return lr0 / (1 + k * s)",
            new="rate = lr0 / 1 + k * s\n    return rate",
            expect="precedence",
        ),
        dict(
            cell="inverse_time_decay",
            old="return lr0 / (1 + k * s)",
            new="s += 1\n    return lr0 / (1 + k * s)",
            expect="off by one",
        ),
        dict(
            cell="inverse_time_decay",
            old="return lr0 / (1 + k * s)",
            new="return lr0 / (k * s)",
            expect="divides by zero",
        ),
        # ---- cyclical_lr
        dict(
            cell="cyclical_lr",
            old="cycle = math.floor(1 + s / (2 * step_size))",
            new="cycle = s // (2 * step_size)",
            expect="from 0",
        ),
        dict(
            cell="cyclical_lr",
            old="    x = abs(s / step_size - 2 * cycle + 1)\n"
            "    return base_lr + (max_lr - base_lr) * max(0.0, 1 - x)",
            new="    x = s / step_size - 2 * cycle + 1\n"
            "    return base_lr + (max_lr - base_lr) * (1 - x)",
            expect="absolute value",
        ),
        dict(
            cell="cyclical_lr",
            old="return base_lr + (max_lr - base_lr) * max(0.0, 1 - x)",
            new="return max_lr - (max_lr - base_lr) * max(0.0, 1 - x)",
            expect="upside down",
        ),
        # ---- cosine_restarts
        dict(
            cell="cosine_restarts",
            old="        t -= period\n        period *= t_mul\n",
            new="        period = period * t_mul\n        t = t - period\n",
            expect="before subtracting",
        ),
        dict(
            cell="cosine_restarts",
            old="    t, period = float(s), float(first_period)\n"
            "    while t >= period:  # skip the finished periods\n"
            "        t -= period\n"
            "        period *= t_mul\n",
            new="    period = float(first_period)\n    t = s % first_period\n",
            expect="same length",
        ),
        dict(
            cell="cosine_restarts",
            old="(1 + math.cos(math.pi * t / period)) / 2",
            new="math.cos(t / period * math.pi)",
            expect="(1 + cos",
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
    "06-fashion-mnist": [
        # Each grading trains a network (train_public calls train): about 15 CPU seconds per
        # mistake, so three per function and no more.
        # ---- preprocess
        dict(
            cell="preprocess",
            old="return images.reshape(len(images), -1).astype(np.float32) / np.float32(255)",
            new='return images.reshape(len(images), 784).astype("float32")',
            expect="scale the pixels",
        ),
        dict(
            cell="preprocess",
            old="return images.reshape(len(images), -1).astype(np.float32) / np.float32(255)",
            new="return (images / 255).reshape(len(images), -1)",
            expect="float32",
        ),
        dict(
            cell="preprocess",
            old="return images.reshape(len(images), -1).astype(np.float32) / np.float32(255)",
            new="return (images.reshape(len(images), -1).astype(np.float32) / np.float32(255)).T",
            expect="transposed",
        ),
        # ---- train
        dict(
            cell="train",
            old="return serialize.to_data(network)",
            new="return serialize.to_data(network), cpu_seconds() - start",
            expect="serialize.to_data(network)",
        ),
        dict(
            cell="train",
            old="return serialize.to_data(network)",
            new="return network.get_weights()",
            expect="serialize.to_data(network)",
        ),
        dict(
            cell="train",
            old='        optimizer=optimizers.Adam(learning_rate=0.001), loss="sparse_categorical_crossentropy"\n',
            new='        optimizer="adam", loss="categorical_crossentropy"\n',
            expect="one-hot",
        ),
    ],
    "07-pytorch": [
        # ---- pick_device
        dict(
            cell="pick_device",
            old='    return "cuda" if torch.cuda.is_available() else "cpu"',
            new='    if torch.cuda.is_available:\n        return "cuda"\n    return "cpu"',
            expect="without calling it",
        ),
        dict(
            cell="pick_device",
            old='    return "cuda" if torch.cuda.is_available() else "cpu"',
            new='    if torch.cuda.is_available():\n        return torch.device("cuda")\n'
            '    return torch.device("cpu")',
            expect="torch.device",
        ),
        dict(
            cell="pick_device",
            old="""        raise ValueError(f"prefer must be 'auto', 'cuda' or 'cpu', got {prefer!r}")""",
            new='        prefer = "auto"',
            expect="ValueError",
        ),
        # ---- to_torch (and to_numpy)
        dict(
            cell="to_torch",
            old="linear.weight.copy_(torch.as_tensor(W.T, dtype=torch.float32))",
            new="linear.weight.copy_(torch.tensor(W, dtype=torch.float32))",
            expect="without the transpose",
        ),
        dict(
            cell="to_torch",
            old="weights.append(module.weight.detach().cpu().numpy().T.copy())",
            new="weights.append(np.array(module.weight.detach().cpu().numpy()))",
            expect="(out, in) layout",
        ),
        dict(
            cell="to_torch",
            old="    return nn.Sequential(*modules).to(device)",
            new="    return nn.Sequential(*modules).double().to(device)",
            expect="float32",
        ),
        # ---- forward
        dict(
            cell="forward",
            old="probs = torch.softmax(model(x), dim=1)",
            new="probs = torch.softmax(model(x), 0)",
            expect="batch axis",
        ),
        dict(
            cell="forward",
            old="    return probs.cpu().numpy()",
            new="    return probs.cpu()",
            expect="tensor",
        ),
        dict(
            cell="forward",
            old="    with torch.no_grad():\n"
            "        x = torch.as_tensor(np.asarray(X), dtype=torch.float32, device=device)\n"
            "        probs = torch.softmax(model(x), dim=1)",
            new="    x = torch.as_tensor(np.asarray(X), dtype=torch.float32, device=device)\n"
            "    probs = torch.softmax(model(x), dim=1)",
            expect="no_grad",
        ),
        # ---- train_step
        dict(
            cell="train_step",
            old="loss = nn.functional.cross_entropy(model(x), t)",
            new="probs = nn.functional.softmax(model(x), dim=1)\n"
            "    loss = nn.functional.cross_entropy(probs, t)",
            expect="softmax before cross_entropy",
        ),
        dict(
            cell="train_step",
            old="loss = nn.functional.cross_entropy(model(x), t)",
            new='loss = nn.CrossEntropyLoss(reduction="sum")(model(x), t)',
            expect="sums the loss",
        ),
        dict(
            cell="train_step",
            old="    return float(loss.item()), to_numpy(model)",
            new="    return loss, to_numpy(model)",
            expect="not plain data",
        ),
        # ---- train_epoch
        dict(
            cell="train_epoch",
            old="    for start in range(0, len(X), batch_size):\n"
            "        idx = order[start : start + batch_size]\n"
            "        optimizer.zero_grad()\n",
            new="    optimizer.zero_grad()\n"
            "    for start in range(0, len(X), batch_size):\n"
            "        idx = order[start : start + batch_size]\n",
            expect="never zeroes",
        ),
        dict(
            cell="train_epoch",
            old="for start in range(0, len(X), batch_size):",
            new="for start in range(0, len(X) // batch_size * batch_size, batch_size):",
            expect="drops the last",
        ),
        dict(
            cell="train_epoch",
            old="        total += loss.item() * len(idx)\n    return total / len(X), to_numpy(model)",
            new="        total += loss.item()\n"
            "    return total / ((len(X) + batch_size - 1) // batch_size), to_numpy(model)",
            expect="weighting them by the batch sizes",
        ),
    ],
}
