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
    ),
    dict(
        cell="tanh",
        old="return -np.sign(z) * em / (2 + em)",
        new="return -em / (2 + em)",
        fails=[*_both("tanh")],
        why="forgets to restore the sign: tanh(|z|) (tanh' is even, so tanh_prime is unaffected)",
    ),
    dict(
        cell="tanh",
        old="em = np.expm1(-2 * np.abs(z))",
        new="em = np.expm1(-np.abs(z))",
        fails=[*_both("tanh"), *_both("tanh_prime")],
        why="exp(-z) instead of exp(-2z): computes tanh(z / 2)",
    ),
    dict(
        cell="tanh",
        old="return -np.sign(z) * em / (2 + em)",
        new="return np.tanh(z)",
        fails=[*_both("tanh"), *_both("tanh_prime"), *_NORMS],
        why="uses the forbidden np.tanh (taints tanh and every function that references it)",
    ),
    # ---- tanh_prime
    dict(
        cell="tanh_prime",
        old="return 1 - t * t",
        new="return 1 - t",
        fails=[*_both("tanh_prime")],
        why="forgets the square",
    ),
    dict(
        cell="tanh_prime",
        old="t = tanh(z)",
        new="t = np.asarray(z, dtype=float)",
        fails=[*_both("tanh_prime")],
        why="1 - z**2: the formula applied to z instead of tanh(z)",
    ),
    dict(
        cell="tanh_prime",
        old="return 1 - t * t",
        new="return t * (1 - t)",
        fails=[*_both("tanh_prime")],
        why="the sigmoid's derivative pattern",
    ),
    # ---- leaky_relu
    dict(
        cell="leaky_relu",
        old="np.where(z < 0, alpha * z, z)",
        new="np.where(z < 0, 0.01 * z, z)",
        fails=[*_both("leaky_relu")],
        why="ignores alpha (hard-coded 0.01)",
    ),
    dict(
        cell="leaky_relu",
        old="np.where(z < 0, alpha * z, z)",
        new="np.maximum(z, 0)",
        fails=[*_both("leaky_relu")],
        why="plain ReLU",
    ),
    dict(
        cell="leaky_relu",
        old="np.where(z < 0, alpha * z, z)",
        new="np.where(z < 0, alpha, z)",
        fails=[*_both("leaky_relu")],
        why="alpha instead of alpha * z for negative inputs",
    ),
    # ---- leaky_relu_prime
    dict(
        cell="leaky_relu_prime",
        old="np.where(z < 0, alpha, 1.0)",
        new="np.where(z <= 0, alpha, 1.0)",
        fails=[*_both("leaky_relu_prime")],
        why="alpha at the kink z = 0 (the convention is 1)",
    ),
    dict(
        cell="leaky_relu_prime",
        old="np.where(z < 0, alpha, 1.0)",
        new="np.where(z < 0, 0.0, 1.0)",
        fails=[*_both("leaky_relu_prime")],
        why="ReLU's derivative (0 for negative inputs)",
    ),
    dict(
        cell="leaky_relu_prime",
        old="np.where(z < 0, alpha, 1.0)",
        new="np.where(z < 0, alpha * z, 1.0)",
        fails=[*_both("leaky_relu_prime")],
        why="alpha * z instead of alpha",
    ),
    # ---- glorot_normal
    dict(
        cell="glorot_normal",
        old="np.sqrt(2 / (fan_in + fan_out))",
        new="np.sqrt(1 / (fan_in + fan_out))",
        fails=[*_both("glorot_normal")],
        why="variance 1 / (fan_in + fan_out)",
    ),
    dict(
        cell="glorot_normal",
        old="np.sqrt(2 / (fan_in + fan_out))",
        new="2 / (fan_in + fan_out)",
        fails=[*_both("glorot_normal")],
        why="the variance used as the standard deviation",
    ),
    dict(
        cell="glorot_normal",
        old="rng = np.random.default_rng(rng)",
        new="rng = np.random.default_rng()",
        fails=["glorot_normal_hidden"],
        why="ignores the seed: not reproducible",
    ),
    dict(
        cell="glorot_normal",
        old="size=(fan_in, fan_out)",
        new="size=(fan_out, fan_in)",
        fails=[*_both("glorot_normal")],
        why="transposed shape",
    ),
    # ---- glorot_uniform
    dict(
        cell="glorot_uniform",
        old="np.sqrt(6 / (fan_in + fan_out))",
        new="np.sqrt(2 / (fan_in + fan_out))",
        fails=[*_both("glorot_uniform")],
        why="limit = sigma instead of sqrt(3) sigma",
    ),
    dict(
        cell="glorot_uniform",
        old="rng.uniform(-limit, limit, size=(fan_in, fan_out))",
        new="rng.normal(0.0, limit / np.sqrt(3), size=(fan_in, fan_out))",
        fails=[*_both("glorot_uniform")],
        why="a normal sample with the right variance",
    ),
    dict(
        cell="glorot_uniform",
        old="rng.uniform(-limit, limit",
        new="rng.uniform(0, limit",
        fails=[*_both("glorot_uniform")],
        why="only positive weights",
    ),
    # ---- he_normal
    dict(
        cell="he_normal",
        old="np.sqrt(2 / fan_in)",
        new="np.sqrt(2 / fan_out)",
        fails=[*_both("he_normal")],
        why="fan_out instead of fan_in",
    ),
    dict(
        cell="he_normal",
        old="np.sqrt(2 / fan_in)",
        new="np.sqrt(1 / fan_in)",
        fails=[*_both("he_normal")],
        why="LeCun's variance 1 / fan_in",
    ),
    dict(
        cell="he_normal",
        old="return rng.normal(0.0, sigma, size=(fan_in, fan_out))",
        new="return np.clip(rng.normal(0.0, sigma, size=(fan_in, fan_out)), -2 * sigma, 2 * sigma)",
        fails=[*_both("he_normal")],
        why="clipped (truncated) at 2 sigma",
    ),
    # ---- he_uniform
    dict(
        cell="he_uniform",
        old="np.sqrt(6 / fan_in)",
        new="np.sqrt(6 / (fan_in + fan_out))",
        fails=[*_both("he_uniform")],
        why="Glorot's limit (copy and paste)",
    ),
    dict(
        cell="he_uniform",
        old="np.sqrt(6 / fan_in)",
        new="np.sqrt(2 / fan_in)",
        fails=[*_both("he_uniform")],
        why="limit = sigma instead of sqrt(3) sigma",
    ),
    dict(
        cell="he_uniform",
        old="np.sqrt(6 / fan_in)",
        new="np.sqrt(3 / fan_in)",
        fails=[*_both("he_uniform")],
        why="limit from Glorot-for-tanh's variance 1 / fan_in",
    ),
    # ---- gradient_norms_per_layer
    dict(
        cell="gradient_norms_per_layer",
        old="norms.append(np.linalg.norm(dW))",
        new="norms.append(np.linalg.norm(dZ))",
        fails=[*_NORMS],
        why="norm of dL/dZ (the delta) instead of dL/dW",
    ),
    dict(
        cell="gradient_norms_per_layer",
        old=" * f_prime(pre[l - 1])",
        new="",
        fails=[*_NORMS],
        why="forgets the activation's derivative",
    ),
    dict(
        cell="gradient_norms_per_layer",
        old="return np.array(norms[::-1])",
        new="return np.array(norms)",
        fails=[*_NORMS],
        why="output layer first",
    ),
    dict(
        cell="gradient_norms_per_layer",
        old="dZ = (P - Y) / X.shape[0]",
        new="dZ = P - Y",
        fails=[*_NORMS],
        why="gradient of the summed loss (no 1/N)",
    ),
    dict(
        cell="gradient_norms_per_layer",
        old="f_prime(pre[l - 1])",
        new="f_prime(inputs[l])",
        fails=[*_NORMS],
        why="derivative evaluated at the activation A instead of Z (wrong for sigmoid)",
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
