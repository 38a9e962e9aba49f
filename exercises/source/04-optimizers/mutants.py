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
        say="Your momentum_step adds lr * grad to the velocity: it climbs the gradient instead of descending (v = gamma v - lr grad).",
        look="the sign of the gradient term in the velocity",
    ),
    dict(
        cell="momentum_step",
        old="    v = gamma * v - lr * grad\n",
        new="    v = v - lr * grad\n",
        fails=_both("momentum_step"),
        why="forgets the momentum factor gamma",
        say="Your momentum_step leaves out the momentum factor gamma: the velocity must decay, v = gamma v - lr grad.",
        look="multiply the old velocity by gamma",
    ),
    dict(
        cell="momentum_step",
        old='v = gamma * v - lr * grad\n    return w + v, {"v": v}',
        new='w_new = w + v\n    v = gamma * v - lr * grad\n    return w_new, {"v": v}',
        fails=_both("momentum_step"),
        why="moves with the old velocity (update order)",
        say="Your momentum_step moves w with the old velocity: update v first, then w = w + v with the new v.",
        look="the order of the two updates",
    ),
    dict(
        cell="momentum_step",
        old='    v = gamma * v - lr * grad\n    return w + v, {"v": v}',
        new='    v = gamma * v + (1 - gamma) * grad\n    return w - lr * v, {"v": v}',
        fails=_both("momentum_step"),
        why="the moving-average form of momentum: v = gamma v + (1 - gamma) grad, w - lr v",
        say="Your momentum_step uses the moving-average form v = gamma v + (1 - gamma) grad, w - lr v: this course's momentum is v = gamma v - lr grad, then w + v.",
        look="the velocity update",
    ),
    # ---- nesterov_step
    dict(
        cell="nesterov_step",
        old='return w + gamma * v - lr * grad, {"v": v}',
        new='return w + v, {"v": v}',
        fails=_both("nesterov_step"),
        why="plain momentum instead of the lookahead update",
        say="Your nesterov_step is plain momentum (w + v): the lookahead update is w + gamma v - lr grad with the new v.",
        look="the update of w in Nesterov's method",
    ),
    dict(
        cell="nesterov_step",
        old='return w + gamma * v - lr * grad, {"v": v}',
        new='return w + gamma * v, {"v": v}',
        fails=_both("nesterov_step"),
        why="drops the gradient term of the lookahead update",
        say="Your nesterov_step leaves out the gradient term of the lookahead update: w + gamma v - lr grad.",
        look="the - lr * grad in the update of w",
    ),
    dict(
        cell="nesterov_step",
        old='v = gamma * v - lr * grad\n    return w + gamma * v - lr * grad, {"v": v}',
        new='w_new = w + gamma * v - lr * grad\n    v = gamma * v - lr * grad\n    return w_new, {"v": v}',
        fails=_both("nesterov_step"),
        why="lookahead with the old velocity",
        say="Your nesterov_step is plain momentum (w + v): the lookahead update is w + gamma v - lr grad with the new v.",
        look="the order of the two updates",
    ),
    # ---- adagrad_step
    dict(
        cell="adagrad_step",
        old='G = state.get("G", np.zeros_like(w)) + grad**2',
        new="G = grad**2",
        fails=_both("adagrad_step"),
        why="does not accumulate the squared gradients",
        say="Your adagrad_step does not accumulate the squared gradients: G is the running sum of grad^2 over all steps (kept in the state).",
        look="G = state's G + grad**2",
    ),
    dict(
        cell="adagrad_step",
        old="np.sqrt(G + eps)",
        new="(np.sqrt(G) + eps)",
        fails=["adagrad_step_hidden"],
        why="epsilon outside the square root (Keras/PyTorch); visible with eps = 0.1",
        say="Your adagrad_step adds eps outside the square root: this course's formula is sqrt(G + eps).",
        look="the denominator: np.sqrt(G + eps)",
    ),
    dict(
        cell="adagrad_step",
        old="np.sqrt(G + eps)",
        new="(G + eps)",
        fails=_both("adagrad_step"),
        why="forgets the square root",
        say="Your adagrad_step divides by G + eps without the square root.",
        look="the denominator: np.sqrt(G + eps)",
    ),
    dict(
        cell="adagrad_step",
        old="np.zeros_like(w)) + grad**2",
        new="np.zeros_like(w)) + grad",
        fails=_both("adagrad_step"),
        why="accumulates the gradients instead of their squares",
        say="Your adagrad_step accumulates the gradients, not the squared gradients: G is the running sum of grad^2.",
        look="grad**2 in G",
    ),
    # ---- rmsprop_step
    dict(
        cell="rmsprop_step",
        old="(1 - gamma) * grad**2\n",
        new="grad**2\n",
        fails=_both("rmsprop_step"),
        why="forgets the factor (1 - gamma) of the moving average",
        say="Your rmsprop_step leaves out the factor (1 - gamma) of the moving average: m = gamma m + (1 - gamma) grad^2.",
        look="the weight of grad**2 in the moving average",
    ),
    dict(
        cell="rmsprop_step",
        old='gamma * state.get("m", np.zeros_like(w)) + (1 - gamma) * grad**2',
        new='(1 - gamma) * state.get("m", np.zeros_like(w)) + gamma * grad**2',
        fails=_both("rmsprop_step"),
        why="swaps the weights of the moving average",
        say="Your rmsprop_step swaps the two weights of the moving average: the old average gets gamma, the new squared gradient 1 - gamma.",
        look="m = gamma * m + (1 - gamma) * grad**2",
    ),
    dict(
        cell="rmsprop_step",
        old="np.sqrt(m + eps)",
        new="(np.sqrt(m) + eps)",
        fails=_both("rmsprop_step"),
        why="epsilon outside the square root (a 4e-9 relative change already at eps = 1e-7)",
        say="Your rmsprop_step adds eps outside the square root: this course's formula is sqrt(m + eps).",
        look="the denominator: np.sqrt(m + eps)",
    ),
    dict(
        cell="rmsprop_step",
        old="(1 - gamma) * grad**2\n",
        new="(1 - gamma) * grad\n",
        fails=_both("rmsprop_step"),
        why="averages the gradients instead of their squares",
        say="Your rmsprop_step averages the gradients, not the squared gradients: m = gamma m + (1 - gamma) grad^2.",
        look="grad**2 in the moving average",
    ),
    # ---- adam_step
    dict(
        cell="adam_step",
        old="g_hat = g_avg / (1 - beta_1**t)\n    m_hat = m / (1 - beta_2**t)",
        new="g_hat = g_avg\n    m_hat = m",
        fails=_both("adam_step"),
        why="no bias correction",
        say="Your adam_step has no bias correction: divide the averages by 1 - beta_1^t and 1 - beta_2^t.",
        look="g_hat and m_hat",
    ),
    dict(
        cell="adam_step",
        old="g_hat = g_avg / (1 - beta_1**t)\n    m_hat = m / (1 - beta_2**t)",
        new="g_hat = g_avg / (1 - beta_1)\n    m_hat = m / (1 - beta_2)",
        fails=_both("adam_step"),
        why="the slide's correction 1 - gamma without the power t (right only at t = 1)",
        say="Your adam_step's bias correction divides by 1 - beta instead of 1 - beta^t: the power of the step count t is missing.",
        look="the bias correction: 1 - beta_1**t, 1 - beta_2**t",
    ),
    dict(
        cell="adam_step",
        old="g_hat = g_avg / (1 - beta_1**t)\n    m_hat = m / (1 - beta_2**t)",
        new="g_hat = g_avg / (1 - beta_1 ** (t + 1))\n    m_hat = m / (1 - beta_2 ** (t + 1))",
        fails=_both("adam_step"),
        why="off-by-one in the step count of the bias correction",
        say="Your adam_step counts the steps off by one in the bias correction: the first step is t = 1, use beta^t.",
        look="the exponent of the bias correction",
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
        say="Your adam_step swaps beta_1 and beta_2: beta_1 averages the gradients, beta_2 the squared gradients.",
        look="which beta goes with which average",
    ),
    dict(
        cell="adam_step",
        old="np.sqrt(m_hat + eps)",
        new="(np.sqrt(m_hat) + eps)",
        fails=_both("adam_step"),
        why="epsilon outside the square root (a 2e-9 relative change already at eps = 1e-7)",
        say="Your adam_step adds eps outside the square root: this course's formula is sqrt(m_hat + eps).",
        look="the denominator: np.sqrt(m_hat + eps)",
    ),
    dict(
        cell="adam_step",
        old='{"g_avg": g_avg, "m": m}',
        new='{"g_avg": g_hat, "m": m_hat}',
        fails=_both("adam_step"),
        why="keeps the bias-corrected averages in the state",
        say="Your adam_step keeps the bias-corrected averages in the state: the state holds the raw moving averages g_avg and m; the correction is only for computing the step.",
        look="what you return as the new state",
    ),
    # ---- adamax_step
    dict(
        cell="adamax_step",
        old="np.abs(grad))",
        new="grad)",
        fails=["adamax_step_hidden"],
        why="max of the signed gradient instead of its absolute value (the first gradients are > 0)",
        say="Your adamax_step takes the maximum with the signed gradient: u = max(beta_2 u, |grad|) uses its absolute value.",
        look="np.abs(grad) in the maximum",
    ),
    dict(
        cell="adamax_step",
        old="g_hat = g_avg / (1 - beta_1**t)",
        new="g_hat = g_avg",
        fails=_both("adamax_step"),
        why="no bias correction of the gradient average",
        say="Your adamax_step has no bias correction of the gradient average: divide by 1 - beta_1^t.",
        look="g_hat",
    ),
    dict(
        cell="adamax_step",
        old="(u + eps)",
        new="np.sqrt(u + eps)",
        fails=_both("adamax_step"),
        why="square root of u as in Adam (u is already on the scale of |grad|)",
        say="Your adamax_step takes the square root of u as in Adam: u is already on the scale of |grad|, divide by u + eps.",
        look="the denominator: u + eps",
    ),
    dict(
        cell="adamax_step",
        old='beta_2 * state.get("u", np.zeros_like(w))',
        new='state.get("u", np.zeros_like(w))',
        fails=_both("adamax_step"),
        why="u never decays (maximum over all past gradients)",
        say="Your adamax_step never decays u: u = max(beta_2 u, |grad|).",
        look="multiply the old u by beta_2",
    ),
    dict(
        cell="adamax_step",
        old="return w - lr * g_hat / (u + eps)",
        new="return w - lr * g_hat / (u / (1 - beta_2**t) + eps)",
        fails=_both("adamax_step"),
        why="a bias correction of u as in Adam (u is a maximum and needs none)",
        say="Your adamax_step applies a bias correction to u: u is a maximum, not an average, and needs none; only g_avg is divided by 1 - beta_1^t.",
        look="the denominator: u + eps",
    ),
    # ---- exponential_decay
    dict(
        cell="exponential_decay",
        old="return lr0 * math.exp(-k * s)",
        new="return lr0 * math.exp(-k * s * (s - 1) / 2)",
        fails=_both("exponential_decay"),
        why="the slide's recursion eta_{s+1} = eta_s exp(-k s) taken literally",
        say="Your exponential_decay multiplies by exp(-k s) at every step (the recursion taken literally): the schedule is lr0 exp(-k s).",
        look="lr0 * exp(-k * s), no product over the steps",
    ),
    dict(
        cell="exponential_decay",
        old="return lr0 * math.exp(-k * s)",
        new="return lr0 * math.exp(-k * (s + 1))",
        fails=_both("exponential_decay"),
        why="off by one: the first step is already decayed",
        say="Your exponential_decay is off by one step: at step s = 0 the rate must be lr0.",
        look="the exponent: -k * s",
    ),
    dict(
        cell="exponential_decay",
        old="return lr0 * math.exp(-k * s)",
        new="return lr0 * (1 - k) ** s",
        fails=_both("exponential_decay"),
        why="factor 1 - k per step instead of exp(-k)",
        say="Your exponential_decay multiplies by (1 - k) per step instead of exp(-k).",
        look="lr0 * exp(-k * s)",
    ),
    dict(
        cell="exponential_decay",
        old="return lr0 * math.exp(-k * s)",
        new="return lr0 * math.exp(k * s)",
        fails=_both("exponential_decay"),
        why="exp(+k s): the rate grows",
        say="Your exponential_decay grows with the step: the exponent is -k s (a minus sign is missing).",
        look="the sign of the exponent",
    ),
    # ---- inverse_time_decay
    dict(
        cell="inverse_time_decay",
        old="return lr0 / (1 + k * s)",
        new="return lr0 / (1 + k * (s + 1))",
        fails=_both("inverse_time_decay"),
        why="off by one: the first step is already decayed",
        say="Your inverse_time_decay is off by one step: at step s = 0 the rate must be lr0.",
        look="the denominator: 1 + k * s",
    ),
    dict(
        cell="inverse_time_decay",
        old="return lr0 / (1 + k * s)",
        new="return lr0 / (1 + k) ** s",
        fails=_both("inverse_time_decay"),
        why="exponential instead of inverse-time decay",
        say="Your inverse_time_decay decays exponentially ((1 + k)^s): inverse-time decay divides by 1 + k s.",
        look="lr0 / (1 + k * s)",
    ),
    dict(
        cell="inverse_time_decay",
        old="return lr0 / (1 + k * s)",
        new="return lr0 / (1 + s / k)",
        fails=_both("inverse_time_decay"),
        why="k used as a time constant",
        say="Your inverse_time_decay uses k as a time constant (s / k): the formula is lr0 / (1 + k s).",
        look="k multiplies s",
    ),
    dict(
        cell="inverse_time_decay",
        old="return lr0 / (1 + k * s)",
        new="return lr0 / 1 + k * s",
        fails=_both("inverse_time_decay"),
        why="operator precedence: lr0 / 1 + k s",
        say="Your inverse_time_decay computes lr0 / 1 + k s: by operator precedence the division comes first; the denominator 1 + k s needs parentheses.",
        look="parentheses around 1 + k * s",
    ),
    # ---- cyclical_lr
    dict(
        cell="cyclical_lr",
        old="math.floor(1 + s / (2 * step_size))",
        new="math.floor(s / (2 * step_size))",
        fails=_both("cyclical_lr"),
        why="cycle counted from 0",
        say="Your cyclical_lr counts the cycles from 0: cycle = floor(1 + s / (2 step_size)).",
        look="the 1 + in the cycle",
    ),
    dict(
        cell="cyclical_lr",
        old="x = abs(s / step_size - 2 * cycle + 1)",
        new="x = s / step_size - 2 * cycle + 1",
        fails=_both("cyclical_lr"),
        why="forgets the absolute value (the rate overshoots max_lr on the way down)",
        say="Your cyclical_lr leaves out the absolute value: x = |s / step_size - 2 cycle + 1|.",
        look="abs(...) in x",
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
        say="Your cyclical_lr takes step_size as the whole cycle: step_size is half a cycle (from base_lr up to max_lr).",
        look="a cycle lasts 2 * step_size steps",
    ),
    dict(
        cell="cyclical_lr",
        old="return base_lr + (max_lr - base_lr) * max(0.0, 1 - x)",
        new="return max_lr + (base_lr - max_lr) * max(0.0, 1 - x)",
        fails=_both("cyclical_lr"),
        why="the triangle upside down: starts at max_lr",
        say="Your cyclical_lr runs upside down: it starts at max_lr; the rate starts at base_lr and climbs to max_lr in the middle of each cycle.",
        look="which rate the triangle starts from",
    ),
    # ---- cosine_restarts
    dict(
        cell="cosine_restarts",
        old="        period *= t_mul\n",
        new="",
        fails=_both("cosine_restarts"),
        why="the periods do not grow (t_mul ignored)",
        say="Your cosine_restarts keeps every period the same length: each period is t_mul times the one before.",
        look="period *= t_mul after each restart",
    ),
    dict(
        cell="cosine_restarts",
        old="while t >= period:",
        new="while t > period:",
        fails=_both("cosine_restarts"),
        why="restarts one step late (reaches the minimum instead of restarting)",
        say="Your cosine_restarts restarts one step late: a new period begins when t reaches the period (t >= period).",
        look="the comparison in the loop: >=",
    ),
    dict(
        cell="cosine_restarts",
        old="(1 + math.cos(math.pi * t / period)) / 2",
        new="math.cos(math.pi * t / period / 2)",
        fails=_both("cosine_restarts"),
        why="a quarter cosine instead of (1 + cos) / 2",
        say="Your cosine_restarts uses cos(pi t / (2 period)), a quarter cosine: the schedule is (1 + cos(pi t / period)) / 2.",
        look="the factor (1 + cos(...)) / 2",
    ),
    dict(
        cell="cosine_restarts",
        old="min_lr + (lr0 - min_lr) * (1",
        new="lr0 * (1",
        fails=["cosine_restarts_hidden"],
        why="ignores min_lr (0 in the public test)",
        say="Your cosine_restarts ignores min_lr: the rate goes from lr0 down to min_lr, min_lr + (lr0 - min_lr) (1 + cos) / 2.",
        look="where min_lr enters the formula",
    ),
    dict(
        cell="cosine_restarts",
        old="(1 + math.cos(math.pi * t / period)) / 2",
        new="math.cos(math.pi * t / period)",
        fails=_both("cosine_restarts"),
        why="cos(pi t / period) without (1 + cos) / 2: goes negative",
        say="Your cosine_restarts uses cos(pi t / period) itself, which goes negative: the schedule uses (1 + cos(pi t / period)) / 2, from 1 down to 0.",
        look="the factor (1 + cos(...)) / 2",
    ),
    dict(
        cell="cosine_restarts",
        old="        t -= period\n        period *= t_mul\n",
        new="        period *= t_mul\n        t -= period\n",
        fails=_both("cosine_restarts"),
        why="grows the period before subtracting the finished one",
        say="Your cosine_restarts grows the period before subtracting the finished one: subtract the period that just ended, then multiply it by t_mul.",
        look="the order of the two lines in the loop",
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
