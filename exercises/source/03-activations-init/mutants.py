"""Mutation tests of exercise 3 (activations and initialization): plausible wrong solutions and
the test cells that must lose their points (every other autograded test cell keeps its points).

``tanh_prime`` calls the student's ``tanh``, so a wrong ``tanh`` also fails ``tanh_prime``'s tests
where the values differ (listed). ``gradient_norms_per_layer`` is tested with the given sigmoid and
ReLU only, so the activation mutants leave it alone, except a forbidden ``np.tanh``: the static
check taints every function that references a tainted name (its dict of activations names
``tanh``), by design.
"""

ASSIGNMENT = "03-activations-init"


def _both(name):
    return [f"{name}_public", f"{name}_hidden"]


_NORMS = _both("gradient_norms_per_layer")

MUTANTS = [
    # ---- tanh
    dict(
        cell="tanh",
        old="return -np.sign(z) * em / (2 + em)",
        new="return 2 / (1 + np.exp(-2 * z)) - 1",
        fails=[*_both("tanh"), *_both("tanh_prime")],
        why="the lecture's formula as written: overflow warning for z = -1000",
        say="Your tanh uses the formula 2 / (1 + exp(-2z)) - 1 as written: exp(-2z) overflows for large negative z (a warning).",
        look="a form that only takes exp of non-positive numbers, e.g. with |z| and the sign of z",
    ),
    dict(
        cell="tanh",
        old="return -np.sign(z) * em / (2 + em)",
        new="return -em / (2 + em)",
        fails=[*_both("tanh")],
        why="forgets to restore the sign: tanh(|z|) (tanh' is even, so tanh_prime is unaffected)",
        say="Your tanh loses the sign of z: it gives tanh(|z|), positive also for negative z.",
        look="restore the sign: tanh(-z) = -tanh(z)",
    ),
    dict(
        cell="tanh",
        old="em = np.expm1(-2 * np.abs(z))",
        new="em = np.expm1(-np.abs(z))",
        fails=[*_both("tanh"), *_both("tanh_prime")],
        why="exp(-z) instead of exp(-2z): computes tanh(z / 2)",
        say="Your tanh computes tanh(z / 2): the exponent must be -2|z|, not -|z|.",
        look="the factor 2 in the exponent",
    ),
    dict(
        cell="tanh",
        old="return -np.sign(z) * em / (2 + em)",
        new="return np.tanh(z)",
        fails=[*_both("tanh"), *_both("tanh_prime"), *_NORMS],
        why="uses the forbidden np.tanh (taints tanh and every function that references it)",
        say="Your tanh uses np.tanh, which this exercise forbids: write it with np.exp or np.expm1.",
        look="the forbidden functions listed at the top of the notebook",
    ),
    # ---- tanh_prime
    dict(
        cell="tanh_prime",
        old="return 1 - t * t",
        new="return 1 - t",
        fails=[*_both("tanh_prime")],
        why="forgets the square",
        say="Your tanh_prime is 1 - tanh(z): the square is missing, the derivative is 1 - tanh(z)^2.",
        look="square tanh(z)",
    ),
    dict(
        cell="tanh_prime",
        old="t = tanh(z)",
        new="t = np.asarray(z, dtype=float)",
        fails=[*_both("tanh_prime")],
        why="1 - z**2: the formula applied to z instead of tanh(z)",
        say="Your tanh_prime applies 1 - t^2 to z itself instead of to t = tanh(z).",
        look="compute t = tanh(z) first",
    ),
    dict(
        cell="tanh_prime",
        old="return 1 - t * t",
        new="return t * (1 - t)",
        fails=[*_both("tanh_prime")],
        why="the sigmoid's derivative pattern",
        say="Your tanh_prime is t (1 - t), the sigmoid's pattern; the derivative of tanh is 1 - t^2.",
        look="the derivative of tanh: 1 - tanh(z)^2",
    ),
    # ---- leaky_relu
    dict(
        cell="leaky_relu",
        old="np.where(z < 0, alpha * z, z)",
        new="np.where(z < 0, 0.01 * z, z)",
        fails=[*_both("leaky_relu")],
        why="ignores alpha (hard-coded 0.01)",
        say="Your leaky_relu ignores its alpha argument (a fixed slope such as 0.01 instead of alpha).",
        look="use the parameter alpha, not a constant",
    ),
    dict(
        cell="leaky_relu",
        old="np.where(z < 0, alpha * z, z)",
        new="np.maximum(z, 0)",
        fails=[*_both("leaky_relu")],
        why="plain ReLU",
        say="Your leaky_relu is the plain ReLU: negative inputs give 0 instead of alpha * z.",
        look="the value for z < 0: alpha * z",
    ),
    dict(
        cell="leaky_relu",
        old="np.where(z < 0, alpha * z, z)",
        new="np.where(z < 0, alpha, z)",
        fails=[*_both("leaky_relu")],
        why="alpha instead of alpha * z for negative inputs",
        say="Your leaky_relu gives alpha for negative inputs instead of alpha * z.",
        look="the value for z < 0: alpha * z",
    ),
    # ---- leaky_relu_prime
    dict(
        cell="leaky_relu_prime",
        old="np.where(z < 0, alpha, 1.0)",
        new="np.where(z <= 0, alpha, 1.0)",
        fails=[*_both("leaky_relu_prime")],
        why="alpha at the kink z = 0 (the convention is 1)",
        say="Your leaky_relu_prime gives alpha at z = 0; the convention of this course (and nnlib) is 1 there.",
        look="the comparison: z < 0, not z <= 0",
    ),
    dict(
        cell="leaky_relu_prime",
        old="np.where(z < 0, alpha, 1.0)",
        new="np.where(z < 0, 0.0, 1.0)",
        fails=[*_both("leaky_relu_prime")],
        why="ReLU's derivative (0 for negative inputs)",
        say="Your leaky_relu_prime is ReLU's derivative: it gives 0 for negative inputs instead of alpha.",
        look="the value for z < 0: alpha",
    ),
    dict(
        cell="leaky_relu_prime",
        old="np.where(z < 0, alpha, 1.0)",
        new="np.where(z < 0, alpha * z, 1.0)",
        fails=[*_both("leaky_relu_prime")],
        why="alpha * z instead of alpha",
        say="Your leaky_relu_prime gives alpha * z for negative inputs: the derivative there is the constant alpha.",
        look="the derivative of alpha * z is alpha",
    ),
    dict(
        cell="leaky_relu_prime",
        old="return np.where(z < 0, alpha, 1.0)",
        new="return leaky_relu(z, alpha)",
        fails=[*_both("leaky_relu_prime")],
        why="returns leaky_relu(z) instead of its derivative",
        say="Your leaky_relu_prime returns leaky_relu(z) itself instead of its derivative (alpha for z < 0, else 1).",
        look="the derivative of leaky_relu",
    ),
    # ---- glorot_normal
    dict(
        cell="glorot_normal",
        old="np.sqrt(2 / (fan_in + fan_out))",
        new="np.sqrt(1 / (fan_in + fan_out))",
        fails=[*_both("glorot_normal")],
        why="variance 1 / (fan_in + fan_out)",
        say="Your glorot_normal has the wrong spread: its variance is 1 / (fan_in + fan_out); Glorot's is 2 / (fan_in + fan_out).",
        look="sigma = sqrt(2 / (fan_in + fan_out))",
    ),
    dict(
        cell="glorot_normal",
        old="np.sqrt(2 / (fan_in + fan_out))",
        new="2 / (fan_in + fan_out)",
        fails=[*_both("glorot_normal")],
        why="the variance used as the standard deviation",
        say="Your glorot_normal uses the variance 2 / (fan_in + fan_out) as the standard deviation: take its square root.",
        look="rng.normal takes the standard deviation: np.sqrt(...)",
    ),
    dict(
        cell="glorot_normal",
        old="rng = np.random.default_rng(rng)",
        new="rng = np.random.default_rng()",
        fails=["glorot_normal_hidden"],
        why="ignores the seed: not reproducible",
        say="Your `glorot_normal` gives different results for the same arguments: it draws random numbers without the seed it is given.",
        look="create the generator from the argument: np.random.default_rng(rng)",
    ),
    dict(
        cell="glorot_normal",
        old="size=(fan_in, fan_out)",
        new="size=(fan_out, fan_in)",
        fails=[*_both("glorot_normal")],
        why="transposed shape",
        say="Your glorot_normal returns the transposed shape (fan_out, fan_in); weights have shape (fan_in, fan_out).",
        look="size=(fan_in, fan_out)",
    ),
    # ---- glorot_uniform
    dict(
        cell="glorot_uniform",
        old="np.sqrt(6 / (fan_in + fan_out))",
        new="np.sqrt(2 / (fan_in + fan_out))",
        fails=[*_both("glorot_uniform")],
        why="limit = sigma instead of sqrt(3) sigma",
        say="Your glorot_uniform uses the standard deviation as the limit: a uniform on [-a, a] has standard deviation a / sqrt(3), so the limit is sqrt(6 / (fan_in + fan_out)).",
        look="limit = sqrt(6 / (fan_in + fan_out))",
    ),
    dict(
        cell="glorot_uniform",
        old="rng.uniform(-limit, limit, size=(fan_in, fan_out))",
        new="rng.normal(0.0, limit / np.sqrt(3), size=(fan_in, fan_out))",
        fails=[*_both("glorot_uniform")],
        why="a normal sample with the right variance",
        say="Your glorot_uniform draws from a normal distribution: it must be uniform on [-limit, limit].",
        look="rng.uniform(-limit, limit, ...)",
    ),
    dict(
        cell="glorot_uniform",
        old="rng.uniform(-limit, limit",
        new="rng.uniform(0, limit",
        fails=[*_both("glorot_uniform")],
        why="only positive weights",
        say="Your glorot_uniform gives only positive weights: the interval is [-limit, limit].",
        look="the lower bound of rng.uniform: -limit",
    ),
    # ---- he_normal
    dict(
        cell="he_normal",
        old="np.sqrt(2 / fan_in)",
        new="np.sqrt(2 / fan_out)",
        fails=[*_both("he_normal")],
        why="fan_out instead of fan_in",
        say="Your he_normal uses fan_out where He's formula has fan_in: sigma = sqrt(2 / fan_in).",
        look="sigma = sqrt(2 / fan_in)",
    ),
    dict(
        cell="he_normal",
        old="np.sqrt(2 / fan_in)",
        new="np.sqrt(1 / fan_in)",
        fails=[*_both("he_normal")],
        why="LeCun's variance 1 / fan_in",
        say="Your he_normal has the wrong spread: variance 1 / fan_in is LeCun's; He's is 2 / fan_in.",
        look="sigma = sqrt(2 / fan_in)",
    ),
    dict(
        cell="he_normal",
        old="return rng.normal(0.0, sigma, size=(fan_in, fan_out))",
        new="return np.clip(rng.normal(0.0, sigma, size=(fan_in, fan_out)), -2 * sigma, 2 * sigma)",
        fails=[*_both("he_normal")],
        why="clipped (truncated) at 2 sigma",
        say="Your he_normal cuts the normal sample off (at 2 sigma): the weights must be a plain normal sample.",
        look="no clipping: return rng.normal(0, sigma, size)",
    ),
    dict(
        cell="he_normal",
        old="return rng.normal(0.0, sigma, size=(fan_in, fan_out))",
        new="return rng.uniform(-np.sqrt(3) * sigma, np.sqrt(3) * sigma, size=(fan_in, fan_out))",
        fails=[*_both("he_normal")],
        why="a uniform sample with the right variance",
        say="Your he_normal draws from a uniform distribution: it must be a normal sample, rng.normal(0, sigma, ...).",
        look="rng.normal",
    ),
    # ---- he_uniform
    dict(
        cell="he_uniform",
        old="np.sqrt(6 / fan_in)",
        new="np.sqrt(6 / (fan_in + fan_out))",
        fails=[*_both("he_uniform")],
        why="Glorot's limit (copy and paste)",
        say="Your he_uniform uses Glorot's limit sqrt(6 / (fan_in + fan_out)); He's is sqrt(6 / fan_in).",
        look="limit = sqrt(6 / fan_in)",
    ),
    dict(
        cell="he_uniform",
        old="np.sqrt(6 / fan_in)",
        new="np.sqrt(2 / fan_in)",
        fails=[*_both("he_uniform")],
        why="limit = sigma instead of sqrt(3) sigma",
        say="Your he_uniform uses the standard deviation as the limit: a uniform on [-a, a] has standard deviation a / sqrt(3), so the limit is sqrt(6 / fan_in).",
        look="limit = sqrt(6 / fan_in)",
    ),
    dict(
        cell="he_uniform",
        old="np.sqrt(6 / fan_in)",
        new="np.sqrt(3 / fan_in)",
        fails=[*_both("he_uniform")],
        why="limit from Glorot-for-tanh's variance 1 / fan_in",
        say="Your he_uniform's limit is too small: sqrt(3 / fan_in) gives the variance 1 / fan_in; He's is 2 / fan_in, limit sqrt(6 / fan_in).",
        look="limit = sqrt(6 / fan_in)",
    ),
    dict(
        cell="he_uniform",
        old="return rng.uniform(-limit, limit, size=(fan_in, fan_out))",
        new="return rng.normal(0.0, limit / np.sqrt(3), size=(fan_in, fan_out))",
        fails=[*_both("he_uniform")],
        why="a normal sample with the right variance",
        say="Your he_uniform draws from a normal distribution: it must be uniform on [-limit, limit].",
        look="rng.uniform(-limit, limit, ...)",
    ),
    # ---- gradient_norms_per_layer
    dict(
        cell="gradient_norms_per_layer",
        old="norms.append(np.linalg.norm(dW))",
        new="norms.append(np.linalg.norm(dZ))",
        fails=[*_NORMS],
        why="norm of dL/dZ (the delta) instead of dL/dW",
        say="Your gradient_norms_per_layer gives the norm of dL/dZ (the delta of a layer) instead of dL/dW = A_prev.T @ dZ.",
        look="the gradient of the weights: the layer's input transposed times dZ",
    ),
    dict(
        cell="gradient_norms_per_layer",
        old=" * f_prime(pre[l - 1])",
        new="",
        fails=[*_NORMS],
        why="forgets the activation's derivative",
        say="Your gradient_norms_per_layer leaves out the activation's derivative when going back through a hidden layer.",
        look="dZ_prev = (dZ @ W.T) * f'(Z_prev)",
    ),
    dict(
        cell="gradient_norms_per_layer",
        old="return np.array(norms[::-1])",
        new="return np.array(norms)",
        fails=[*_NORMS],
        why="output layer first",
        say="Your gradient_norms_per_layer returns the norms from the output layer to the first: the first layer comes first.",
        look="the order of the returned norms (reverse the list built going backwards)",
    ),
    dict(
        cell="gradient_norms_per_layer",
        old="dZ = (P - Y) / X.shape[0]",
        new="dZ = P - Y",
        fails=[*_NORMS],
        why="gradient of the summed loss (no 1/N)",
        say="Your gradient_norms_per_layer is off by a factor N (the batch size): the loss is the mean over the batch, so dZ = (P - Y) / N.",
        look="the 1/N of the output layer's dZ",
    ),
    dict(
        cell="gradient_norms_per_layer",
        old="f_prime(pre[l - 1])",
        new="f_prime(inputs[l])",
        fails=[*_NORMS],
        why="derivative evaluated at the activation A instead of Z (wrong for sigmoid)",
        say="Your gradient_norms_per_layer evaluates the activation's derivative at the activation A instead of the pre-activation Z.",
        look="f' takes Z, the input of the activation",
    ),
    dict(
        cell="gradient_norms_per_layer",
        old="for l in range(len(weights) - 1, -1, -1):",
        new="for l in range(len(weights) - 1, 0, -1):",
        fails=_NORMS,
        why="the backward loop stops before the first layer (off by one)",
        say="Your gradient_norms_per_layer stops one layer early: the loop back through the layers must reach the first layer (index 0).",
        look="the end of the range of the backward loop",
    ),
]

# The book section that derives each graded function (linked from the feedback; the anchors are
# the section ids of the built pages, checked by tests/test_diagnose.py).
SECTIONS = {
    "tanh": dict(
        page="book/04-activations",
        anchor="activation-functions-for-hidden-layers",
        title="Activation functions for hidden layers",
    ),
    "tanh_prime": dict(
        page="book/04-activations",
        anchor="activation-functions-for-hidden-layers",
        title="Activation functions for hidden layers",
    ),
    "leaky_relu": dict(
        page="book/04-activations",
        anchor="activation-functions-for-hidden-layers",
        title="Activation functions for hidden layers",
    ),
    "leaky_relu_prime": dict(
        page="book/04-activations",
        anchor="activation-functions-for-hidden-layers",
        title="Activation functions for hidden layers",
    ),
    "glorot_normal": dict(
        page="book/05-initialization",
        anchor="glorot-and-he-initialization",
        title="Weight initialization: Glorot and He initialization",
    ),
    "glorot_uniform": dict(
        page="book/05-initialization",
        anchor="glorot-and-he-initialization",
        title="Weight initialization: Glorot and He initialization",
    ),
    "he_normal": dict(
        page="book/05-initialization",
        anchor="glorot-and-he-initialization",
        title="Weight initialization: Glorot and He initialization",
    ),
    "he_uniform": dict(
        page="book/05-initialization",
        anchor="glorot-and-he-initialization",
        title="Weight initialization: Glorot and He initialization",
    ),
    "gradient_norms_per_layer": dict(
        page="book/04-activations",
        anchor="effect-of-activation-functions-on-the-gradient",
        title="Effect of activation functions on the gradient",
    ),
}
