"""Mutation tests of exercise 5 (regularization): plausible wrong solutions and the test cells
that must lose their points (every other autograded test cell keeps its points).

Every function of this exercise is tested on its own (the backward tests get their masks and
caches from the reference, not from the student's forward pass), so each mutant fails only the
tests of the function it breaks.
"""

ASSIGNMENT = "05-regularization"

_PEN = ["weight_penalty_public", "weight_penalty_hidden"]
_GRAD = ["weight_penalty_gradients_public", "weight_penalty_gradients_hidden"]
_DF = ["dropout_forward_public", "dropout_forward_hidden"]
_DB = ["dropout_backward_public", "dropout_backward_hidden"]
_BNF = ["batchnorm_forward_public", "batchnorm_forward_hidden"]
_BNB = ["batchnorm_backward_public", "batchnorm_backward_hidden"]
_ES = ["early_stopping_epoch_public", "early_stopping_epoch_hidden"]

MUTANTS = [
    # ---- weight_penalty
    dict(
        cell="weight_penalty",
        old="l1 * np.sum(np.abs(W))",
        new="l1 * np.sum(W)",
        fails=_PEN,
        why="L1 penalty without the absolute value",
    ),
    dict(
        cell="weight_penalty",
        old="l2 * np.sum(W * W)",
        new="0.5 * l2 * np.sum(W * W)",
        fails=_PEN,
        why="L2 penalty with a factor 1/2 (another convention than Keras')",
    ),
    dict(
        cell="weight_penalty",
        old="l2 * np.sum(W * W)",
        new="l2 * np.sqrt(np.sum(W * W))",
        fails=_PEN,
        why="L2 norm instead of its square",
    ),
    dict(
        cell="weight_penalty",
        old="    return float(total)",
        new="        return float(total)",
        fails=_PEN,
        why="return inside the loop: only the first kernel is penalized",
    ),
    # ---- weight_penalty_gradients
    dict(
        cell="weight_penalty_gradients",
        old="+ 2 * l2 * W)",
        new="+ l2 * W)",
        fails=_GRAD,
        why="L2 gradient without the factor 2",
    ),
    dict(
        cell="weight_penalty_gradients",
        old="l1 * np.sign(W)",
        new="l1 * W / np.abs(W)",
        fails=_GRAD,
        why="sign(W) as W / |W|: NaN and a warning at exact zeros",
    ),
    dict(
        cell="weight_penalty_gradients",
        old="l1 * np.sign(W) + 2 * l2 * W",
        new="l2 * np.sign(W) + 2 * l1 * W",
        fails=_GRAD,
        why="l1 and l2 swapped",
    ),
    # ---- dropout_forward
    dict(
        cell="dropout_forward",
        old="mask = keep / (1 - rate)",
        new="mask = keep * 1.0",
        fails=_DF,
        why="dropout without rescaling the kept units",
    ),
    dict(
        cell="dropout_forward",
        old="mask = keep / (1 - rate)",
        new="mask = keep / rate",
        fails=_DF,
        why="kept units scaled by 1 / rate instead of 1 / (1 - rate)",
    ),
    dict(
        cell="dropout_forward",
        old="keep = rng.random(x.shape) >= rate",
        new="keep = rng.random(x.shape) < rate",
        fails=_DF,
        why="keeps a fraction rate of the units instead of dropping it",
    ),
    dict(
        cell="dropout_forward",
        old="    if rate >= 1:\n        return np.zeros_like(x), np.zeros_like(x)\n",
        new="",
        fails=["dropout_forward_hidden"],
        why="rate 1 not handled: 0 / 0 gives NaN and a warning",
    ),
    dict(
        cell="dropout_forward",
        old="    if not training or rate == 0:\n        return x, None",
        new=(
            "    if rate == 0:\n        return x, None\n    if not training:\n"
            "        return x * (1 - rate), None"
        ),
        fails=_DF,
        why="inverted dropout that also scales down at test time",
    ),
    # ---- dropout_backward
    dict(
        cell="dropout_backward",
        old="    return dout * mask",
        new="    return dout",
        fails=_DB,
        why="the mask is ignored in the backward pass",
    ),
    dict(
        cell="dropout_backward",
        old="    return dout * mask",
        new="    return dout * (mask != 0)",
        fails=_DB,
        why="backward without the 1 / (1 - rate) scaling",
    ),
    dict(
        cell="dropout_backward",
        old="    if mask is None:\n        return dout\n",
        new="",
        fails=_DB,
        why="mask None (test time, rate 0) not handled",
    ),
    # ---- batchnorm_forward
    dict(
        cell="batchnorm_forward",
        old="var = x.var(axis=0)",
        new="var = x.var(axis=0, ddof=1)",
        fails=_BNF,
        why="unbiased batch variance",
    ),
    dict(
        cell="batchnorm_forward",
        old="new_mean = momentum * running_mean + (1 - momentum) * mu",
        new="new_mean = (1 - momentum) * running_mean + momentum * mu",
        fails=_BNF,
        why="PyTorch's momentum convention for the running mean",
    ),
    dict(
        cell="batchnorm_forward",
        old="x_hat = (x - mu) / np.sqrt(var + eps)",
        new="x_hat = (x - mu) / (np.sqrt(var) + eps)",
        fails=_BNF,
        why="epsilon outside the square root",
    ),
    dict(
        cell="batchnorm_forward",
        old="        new_var = momentum * running_var + (1 - momentum) * var\n",
        new=(
            "        new_var = momentum * running_var + (1 - momentum) * var\n"
            "        mu, var = new_mean, new_var\n"
        ),
        fails=_BNF,
        why="batch norm using the running statistics during training",
    ),
    dict(
        cell="batchnorm_forward",
        old="        mu, var = running_mean, running_var\n",
        new="        mu, var = x.mean(axis=0), x.var(axis=0)\n",
        fails=_BNF,
        why="batch statistics at inference",
    ),
    # ---- batchnorm_backward
    dict(
        cell="batchnorm_backward",
        old=(
            "dx = inv_std / n * (n * dx_hat - dx_hat.sum(axis=0) - "
            "x_hat * (dx_hat * x_hat).sum(axis=0))"
        ),
        new="dx = dx_hat * inv_std",
        fails=_BNB,
        why="mean and variance treated as constants",
    ),
    dict(
        cell="batchnorm_backward",
        old=" - x_hat * (dx_hat * x_hat).sum(axis=0))",
        new=")",
        fails=_BNB,
        why="the path through the variance is missing",
    ),
    dict(
        cell="batchnorm_backward",
        old="dgamma = (dout * x_hat).sum(axis=0)",
        new="dgamma = dout.sum(axis=0)",
        fails=_BNB,
        why="dgamma without x_hat",
    ),
    dict(
        cell="batchnorm_backward",
        old="dbeta = dout.sum(axis=0)",
        new="dbeta = dout.mean(axis=0)",
        fails=_BNB,
        why="dbeta averaged instead of summed over the batch",
    ),
    dict(
        cell="batchnorm_backward",
        old="dx_hat = dout * gamma",
        new="dx_hat = dout",
        fails=_BNB,
        why="gamma forgotten in dx",
    ),
    # ---- early_stopping_epoch
    dict(
        cell="early_stopping_epoch",
        old="if loss < best - min_delta:",
        new="if loss <= best - min_delta:",
        fails=["early_stopping_epoch_hidden"],
        why="an equal loss counts as an improvement",
    ),
    dict(
        cell="early_stopping_epoch",
        old="if wait >= patience:",
        new="if wait > patience:",
        fails=_ES,
        why="off by one: waits patience + 1 epochs",
    ),
    dict(
        cell="early_stopping_epoch",
        old="best, best_epoch, wait = loss, epoch, 0",
        new="best, best_epoch = loss, epoch",
        fails=_ES,
        why="the wait counter is not reset on an improvement",
    ),
    dict(
        cell="early_stopping_epoch",
        old="if loss < best - min_delta:",
        new="if loss < best + min_delta:",
        fails=_ES,
        why="min_delta on the wrong side",
    ),
    dict(
        cell="early_stopping_epoch",
        old="return len(val_losses) - 1, best_epoch",
        new="return len(val_losses), best_epoch",
        fails=_ES,
        why="off by one when training runs to the end",
    ),
]
