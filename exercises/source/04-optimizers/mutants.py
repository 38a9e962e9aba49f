"""Mutation tests of exercise 4 (optimizers): plausible wrong solutions and the test cells that
must lose their points (every other autograded test cell keeps its points).

Every function is tested on its own (the tests compute the gradients themselves), so a mutant only
fails the tests of its own function. Some mistakes are caught by the hidden tests only: they show
only with a large epsilon, a nonzero ``min_lr`` or gradients of both signs (the public tests' three
first Beale steps have positive gradients).
"""

ASSIGNMENT = "04-optimizers"


def _both(name):
    return [f"{name}_public", f"{name}_hidden"]


MUTANTS = [
    # ---- momentum_step
    dict(
        cell="momentum_step",
        old="    v = gamma * v - lr * grad\n",
        new="    v = gamma * v + lr * grad\n",
        fails=_both("momentum_step"),
        why="sign error: climbs the gradient",
    ),
    dict(
        cell="momentum_step",
        old="    v = gamma * v - lr * grad\n",
        new="    v = v - lr * grad\n",
        fails=_both("momentum_step"),
        why="forgets the momentum factor gamma",
    ),
    dict(
        cell="momentum_step",
        old='v = gamma * v - lr * grad\n    return w + v, {"v": v}',
        new='w_new = w + v\n    v = gamma * v - lr * grad\n    return w_new, {"v": v}',
        fails=_both("momentum_step"),
        why="moves with the old velocity (update order)",
    ),
    # ---- nesterov_step
    dict(
        cell="nesterov_step",
        old='return w + gamma * v - lr * grad, {"v": v}',
        new='return w + v, {"v": v}',
        fails=_both("nesterov_step"),
        why="plain momentum instead of the lookahead update",
    ),
    dict(
        cell="nesterov_step",
        old='return w + gamma * v - lr * grad, {"v": v}',
        new='return w + gamma * v, {"v": v}',
        fails=_both("nesterov_step"),
        why="drops the gradient term of the lookahead update",
    ),
    dict(
        cell="nesterov_step",
        old='v = gamma * v - lr * grad\n    return w + gamma * v - lr * grad, {"v": v}',
        new='w_new = w + gamma * v - lr * grad\n    v = gamma * v - lr * grad\n    return w_new, {"v": v}',
        fails=_both("nesterov_step"),
        why="lookahead with the old velocity",
    ),
    # ---- adagrad_step
    dict(
        cell="adagrad_step",
        old='G = state.get("G", np.zeros_like(w)) + grad**2',
        new="G = grad**2",
        fails=_both("adagrad_step"),
        why="does not accumulate the squared gradients",
    ),
    dict(
        cell="adagrad_step",
        old="np.sqrt(G + eps)",
        new="(np.sqrt(G) + eps)",
        fails=["adagrad_step_hidden"],
        why="epsilon outside the square root (Keras/PyTorch); visible with eps = 0.1",
    ),
    dict(
        cell="adagrad_step",
        old="np.sqrt(G + eps)",
        new="(G + eps)",
        fails=_both("adagrad_step"),
        why="forgets the square root",
    ),
    # ---- rmsprop_step
    dict(
        cell="rmsprop_step",
        old="(1 - gamma) * grad**2\n",
        new="grad**2\n",
        fails=_both("rmsprop_step"),
        why="forgets the factor (1 - gamma) of the moving average",
    ),
    dict(
        cell="rmsprop_step",
        old='gamma * state.get("m", np.zeros_like(w)) + (1 - gamma) * grad**2',
        new='(1 - gamma) * state.get("m", np.zeros_like(w)) + gamma * grad**2',
        fails=_both("rmsprop_step"),
        why="swaps the weights of the moving average",
    ),
    dict(
        cell="rmsprop_step",
        old="np.sqrt(m + eps)",
        new="(np.sqrt(m) + eps)",
        fails=_both("rmsprop_step"),
        why="epsilon outside the square root (a 4e-9 relative change already at eps = 1e-7)",
    ),
    # ---- adam_step
    dict(
        cell="adam_step",
        old="g_hat = g_avg / (1 - beta_1**t)\n    m_hat = m / (1 - beta_2**t)",
        new="g_hat = g_avg\n    m_hat = m",
        fails=_both("adam_step"),
        why="no bias correction",
    ),
    dict(
        cell="adam_step",
        old="g_hat = g_avg / (1 - beta_1**t)\n    m_hat = m / (1 - beta_2**t)",
        new="g_hat = g_avg / (1 - beta_1)\n    m_hat = m / (1 - beta_2)",
        fails=_both("adam_step"),
        why="the slide's correction 1 - gamma without the power t (right only at t = 1)",
    ),
    dict(
        cell="adam_step",
        old="g_hat = g_avg / (1 - beta_1**t)\n    m_hat = m / (1 - beta_2**t)",
        new="g_hat = g_avg / (1 - beta_1 ** (t + 1))\n    m_hat = m / (1 - beta_2 ** (t + 1))",
        fails=_both("adam_step"),
        why="off-by-one in the step count of the bias correction",
    ),
    dict(
        cell="adam_step",
        old=(
            'g_avg = beta_1 * state.get("g_avg", np.zeros_like(w)) + (1 - beta_1) * grad\n'
            '    m = beta_2 * state.get("m", np.zeros_like(w)) + (1 - beta_2) * grad**2'
        ),
        new=(
            'g_avg = beta_2 * state.get("g_avg", np.zeros_like(w)) + (1 - beta_2) * grad\n'
            '    m = beta_1 * state.get("m", np.zeros_like(w)) + (1 - beta_1) * grad**2'
        ),
        fails=_both("adam_step"),
        why="beta_1 and beta_2 swapped",
    ),
    dict(
        cell="adam_step",
        old="np.sqrt(m_hat + eps)",
        new="(np.sqrt(m_hat) + eps)",
        fails=_both("adam_step"),
        why="epsilon outside the square root (a 2e-9 relative change already at eps = 1e-7)",
    ),
    # ---- adamax_step
    dict(
        cell="adamax_step",
        old="np.abs(grad))",
        new="grad)",
        fails=["adamax_step_hidden"],
        why="max of the signed gradient instead of its absolute value (the first gradients are > 0)",
    ),
    dict(
        cell="adamax_step",
        old="g_hat = g_avg / (1 - beta_1**t)",
        new="g_hat = g_avg",
        fails=_both("adamax_step"),
        why="no bias correction of the gradient average",
    ),
    dict(
        cell="adamax_step",
        old="(u + eps)",
        new="np.sqrt(u + eps)",
        fails=_both("adamax_step"),
        why="square root of u as in Adam (u is already on the scale of |grad|)",
    ),
    dict(
        cell="adamax_step",
        old='beta_2 * state.get("u", np.zeros_like(w))',
        new='state.get("u", np.zeros_like(w))',
        fails=_both("adamax_step"),
        why="u never decays (maximum over all past gradients)",
    ),
    # ---- exponential_decay
    dict(
        cell="exponential_decay",
        old="return lr0 * math.exp(-k * s)",
        new="return lr0 * math.exp(-k * s * (s - 1) / 2)",
        fails=_both("exponential_decay"),
        why="the slide's recursion eta_{s+1} = eta_s exp(-k s) taken literally",
    ),
    dict(
        cell="exponential_decay",
        old="return lr0 * math.exp(-k * s)",
        new="return lr0 * math.exp(-k * (s + 1))",
        fails=_both("exponential_decay"),
        why="off by one: the first step is already decayed",
    ),
    dict(
        cell="exponential_decay",
        old="return lr0 * math.exp(-k * s)",
        new="return lr0 * (1 - k) ** s",
        fails=_both("exponential_decay"),
        why="factor 1 - k per step instead of exp(-k)",
    ),
    # ---- inverse_time_decay
    dict(
        cell="inverse_time_decay",
        old="return lr0 / (1 + k * s)",
        new="return lr0 / (1 + k * (s + 1))",
        fails=_both("inverse_time_decay"),
        why="off by one: the first step is already decayed",
    ),
    dict(
        cell="inverse_time_decay",
        old="return lr0 / (1 + k * s)",
        new="return lr0 / (1 + k) ** s",
        fails=_both("inverse_time_decay"),
        why="exponential instead of inverse-time decay",
    ),
    dict(
        cell="inverse_time_decay",
        old="return lr0 / (1 + k * s)",
        new="return lr0 / (1 + s / k)",
        fails=_both("inverse_time_decay"),
        why="k used as a time constant",
    ),
    # ---- cyclical_lr
    dict(
        cell="cyclical_lr",
        old="math.floor(1 + s / (2 * step_size))",
        new="math.floor(s / (2 * step_size))",
        fails=_both("cyclical_lr"),
        why="cycle counted from 0",
    ),
    dict(
        cell="cyclical_lr",
        old="x = abs(s / step_size - 2 * cycle + 1)",
        new="x = s / step_size - 2 * cycle + 1",
        fails=_both("cyclical_lr"),
        why="forgets the absolute value (the rate overshoots max_lr on the way down)",
    ),
    dict(
        cell="cyclical_lr",
        old=(
            "cycle = math.floor(1 + s / (2 * step_size))\n"
            "    x = abs(s / step_size - 2 * cycle + 1)"
        ),
        new="cycle = math.floor(1 + s / step_size)\n    x = abs(2 * s / step_size - 2 * cycle + 1)",
        fails=_both("cyclical_lr"),
        why="step_size taken as the whole cycle instead of the half cycle",
    ),
    # ---- cosine_restarts
    dict(
        cell="cosine_restarts",
        old="        period *= t_mul\n",
        new="",
        fails=_both("cosine_restarts"),
        why="the periods do not grow (t_mul ignored)",
    ),
    dict(
        cell="cosine_restarts",
        old="while t >= period:",
        new="while t > period:",
        fails=_both("cosine_restarts"),
        why="restarts one step late (reaches the minimum instead of restarting)",
    ),
    dict(
        cell="cosine_restarts",
        old="(1 + math.cos(math.pi * t / period)) / 2",
        new="math.cos(math.pi * t / period / 2)",
        fails=_both("cosine_restarts"),
        why="a quarter cosine instead of (1 + cos) / 2",
    ),
    dict(
        cell="cosine_restarts",
        old="min_lr + (lr0 - min_lr) * (1",
        new="lr0 * (1",
        fails=["cosine_restarts_hidden"],
        why="ignores min_lr (0 in the public test)",
    ),
]

# The book section that derives each graded function (linked from the feedback; the anchors are
# the section ids of the built pages, checked by tests/test_diagnose.py).
SECTIONS = {
    "momentum_step": dict(
        page="book/06-optimizers", anchor="momentum", title="Optimizers: Momentum"
    ),
    "nesterov_step": dict(
        page="book/06-optimizers", anchor="momentum", title="Optimizers: Momentum"
    ),
    "adagrad_step": dict(
        page="book/06-optimizers",
        anchor="adaptive-gradients",
        title="Optimizers: Adaptive gradients",
    ),
    "rmsprop_step": dict(
        page="book/06-optimizers",
        anchor="adaptive-gradients",
        title="Optimizers: Adaptive gradients",
    ),
    "adam_step": dict(
        page="book/06-optimizers", anchor="adam-and-adamax", title="Optimizers: Adam and Adamax"
    ),
    "adamax_step": dict(
        page="book/06-optimizers", anchor="adam-and-adamax", title="Optimizers: Adam and Adamax"
    ),
    "exponential_decay": dict(
        page="book/06-optimizers",
        anchor="learning-rate-schedules",
        title="Optimizers: Learning-rate schedules",
    ),
    "inverse_time_decay": dict(
        page="book/06-optimizers",
        anchor="learning-rate-schedules",
        title="Optimizers: Learning-rate schedules",
    ),
    "cyclical_lr": dict(
        page="book/06-optimizers",
        anchor="learning-rate-schedules",
        title="Optimizers: Learning-rate schedules",
    ),
    "cosine_restarts": dict(
        page="book/06-optimizers",
        anchor="learning-rate-schedules",
        title="Optimizers: Learning-rate schedules",
    ),
}
