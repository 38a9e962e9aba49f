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
        say="Your L1 penalty sums the weights themselves; it must sum their absolute values.",
        look="np.abs in the L1 term",
    ),
    dict(
        cell="weight_penalty",
        old="l2 * np.sum(W * W)",
        new="0.5 * l2 * np.sum(W * W)",
        fails=_PEN,
        why="L2 penalty with a factor 1/2 (another convention than Keras')",
        say="Your L2 penalty has a factor 1/2; this exercise (like Keras) uses l2 * sum(W^2) without it.",
        look="the L2 term",
    ),
    dict(
        cell="weight_penalty",
        old="l2 * np.sum(W * W)",
        new="l2 * np.sqrt(np.sum(W * W))",
        fails=_PEN,
        why="L2 norm instead of its square",
        say="Your L2 penalty uses the norm sqrt(sum(W^2)); it must be the squared norm, sum(W^2).",
        look="the L2 term: no square root",
    ),
    dict(
        cell="weight_penalty",
        old="    return float(total)",
        new="        return float(total)",
        fails=_PEN,
        why="return inside the loop: only the first kernel is penalized",
        say="Your weight_penalty returns inside the loop, so only the first weight matrix is penalized.",
        look="the indentation of the return",
    ),
    # ---- weight_penalty_gradients
    dict(
        cell="weight_penalty_gradients",
        old="+ 2 * l2 * W)",
        new="+ l2 * W)",
        fails=_GRAD,
        why="L2 gradient without the factor 2",
        say="Your L2 gradient is missing the factor 2: the derivative of l2 * W^2 is 2 * l2 * W.",
        look="the factor of the L2 gradient",
    ),
    dict(
        cell="weight_penalty_gradients",
        old="l1 * np.sign(W)",
        new="l1 * W / np.abs(W)",
        fails=_GRAD,
        why="sign(W) as W / |W|: NaN and a warning at exact zeros",
        say="Your L1 gradient computes sign(W) as W / |W|, which is 0/0 = NaN (with a warning) where a weight is exactly 0.",
        look="use np.sign(W)",
    ),
    dict(
        cell="weight_penalty_gradients",
        old="l1 * np.sign(W) + 2 * l2 * W",
        new="l2 * np.sign(W) + 2 * l1 * W",
        fails=_GRAD,
        why="l1 and l2 swapped",
        say="Your gradient uses l1 where l2 belongs and l2 where l1 belongs.",
        look="which coefficient goes with which term",
    ),
    # ---- dropout_forward
    dict(
        cell="dropout_forward",
        old="mask = keep / (1 - rate)",
        new="mask = keep * 1.0",
        fails=_DF,
        why="dropout without rescaling the kept units",
        say="Your dropout does not rescale the kept units: inverted dropout divides them by 1 - rate so that the expected output is unchanged.",
        look="the mask: keep / (1 - rate)",
    ),
    dict(
        cell="dropout_forward",
        old="mask = keep / (1 - rate)",
        new="mask = keep / rate",
        fails=_DF,
        why="kept units scaled by 1 / rate instead of 1 / (1 - rate)",
        say="Your dropout scales the kept units by 1 / rate; the keep probability is 1 - rate, so the scale is 1 / (1 - rate).",
        look="the scale of the kept units",
    ),
    dict(
        cell="dropout_forward",
        old="keep = rng.random(x.shape) >= rate",
        new="keep = rng.random(x.shape) < rate",
        fails=_DF,
        why="keeps a fraction rate of the units instead of dropping it",
        say="Your dropout keeps a fraction rate of the units instead of dropping it (the comparison is the wrong way round).",
        look="the comparison that makes the mask",
    ),
    dict(
        cell="dropout_forward",
        old="    if rate >= 1:\n        return np.zeros_like(x), np.zeros_like(x)\n",
        new="",
        fails=["dropout_forward_hidden"],
        why="rate 1 not handled: 0 / 0 gives NaN and a warning",
        say="Your dropout does not handle rate = 1: dividing by 1 - rate = 0 gives NaN and a warning; everything is dropped then.",
        look="the case rate >= 1",
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
        say="Your dropout scales the input at test time too; inverted dropout does all its scaling during training and returns x unchanged when not training.",
        look="the not-training branch",
    ),
    # ---- dropout_backward
    dict(
        cell="dropout_backward",
        old="    return dout * mask",
        new="    return dout",
        fails=_DB,
        why="the mask is ignored in the backward pass",
        say="Your dropout_backward ignores the mask: the gradient must be multiplied by the same mask as the forward pass.",
        look="dout * mask",
    ),
    dict(
        cell="dropout_backward",
        old="    return dout * mask",
        new="    return dout * (mask != 0)",
        fails=_DB,
        why="backward without the 1 / (1 - rate) scaling",
        say="Your dropout_backward keeps the dropped units at 0 but leaves out the 1 / (1 - rate) scale that the mask carries.",
        look="multiply by the mask itself",
    ),
    dict(
        cell="dropout_backward",
        old="    if mask is None:\n        return dout\n",
        new="",
        fails=_DB,
        why="mask None (test time, rate 0) not handled",
        say="Your dropout_backward fails when the mask is None (test time or rate 0, where the forward pass returns no mask); the gradient then passes unchanged.",
        look="the case mask is None",
    ),
    # ---- batchnorm_forward
    dict(
        cell="batchnorm_forward",
        old="var = x.var(axis=0)",
        new="var = x.var(axis=0, ddof=1)",
        fails=_BNF,
        why="unbiased batch variance",
        say="Your batch variance is the unbiased one (divided by N - 1); batch normalization divides by N.",
        look="x.var(axis=0) without ddof",
    ),
    dict(
        cell="batchnorm_forward",
        old="new_mean = momentum * running_mean + (1 - momentum) * mu",
        new="new_mean = (1 - momentum) * running_mean + momentum * mu",
        fails=_BNF,
        why="PyTorch's momentum convention for the running mean",
        say="Your running mean uses PyTorch's momentum convention; here (as in Keras) it is momentum * running + (1 - momentum) * batch.",
        look="the update of the running mean",
    ),
    dict(
        cell="batchnorm_forward",
        old="x_hat = (x - mu) / np.sqrt(var + eps)",
        new="x_hat = (x - mu) / (np.sqrt(var) + eps)",
        fails=_BNF,
        why="epsilon outside the square root",
        say="Your normalization adds epsilon outside the square root; it belongs inside, sqrt(var + eps).",
        look="the denominator of x_hat",
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
        say="Your batch norm normalizes with the running statistics during training; training uses the batch's own mean and variance.",
        look="which statistics the training branch uses",
    ),
    dict(
        cell="batchnorm_forward",
        old="        mu, var = running_mean, running_var\n",
        new="        mu, var = x.mean(axis=0), x.var(axis=0)\n",
        fails=_BNF,
        why="batch statistics at inference",
        say="Your batch norm uses the batch's statistics at inference; inference uses the running mean and variance.",
        look="the inference branch",
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
        say="Your dx treats the batch mean and variance as constants: the gradient also flows through them (two more terms).",
        look="the full dx formula",
    ),
    dict(
        cell="batchnorm_backward",
        old=" - x_hat * (dx_hat * x_hat).sum(axis=0))",
        new=")",
        fails=_BNB,
        why="the path through the variance is missing",
        say="Your dx is missing one term: the path through the batch variance (the x_hat * sum(dx_hat * x_hat) term).",
        look="the variance term of dx",
    ),
    dict(
        cell="batchnorm_backward",
        old="dgamma = (dout * x_hat).sum(axis=0)",
        new="dgamma = dout.sum(axis=0)",
        fails=_BNB,
        why="dgamma without x_hat",
        say="Your dgamma sums dout alone; it must sum dout * x_hat over the batch.",
        look="dgamma",
    ),
    dict(
        cell="batchnorm_backward",
        old="dbeta = dout.sum(axis=0)",
        new="dbeta = dout.mean(axis=0)",
        fails=_BNB,
        why="dbeta averaged instead of summed over the batch",
        say="Your dbeta averages dout over the batch; it must sum it.",
        look="dbeta: sum, not mean",
    ),
    dict(
        cell="batchnorm_backward",
        old="dx_hat = dout * gamma",
        new="dx_hat = dout",
        fails=_BNB,
        why="gamma forgotten in dx",
        say="Your dx leaves out gamma: the gradient reaching x_hat is dout * gamma.",
        look="dx_hat = dout * gamma",
    ),
    # ---- early_stopping_epoch
    dict(
        cell="early_stopping_epoch",
        old="if loss < best - min_delta:",
        new="if loss <= best - min_delta:",
        fails=["early_stopping_epoch_hidden"],
        why="an equal loss counts as an improvement",
        say="Your early stopping counts an equal loss as an improvement (<= instead of <): only a strictly lower loss (by more than min_delta) is one.",
        look="the comparison with the best loss",
    ),
    dict(
        cell="early_stopping_epoch",
        old="if wait >= patience:",
        new="if wait > patience:",
        fails=_ES,
        why="off by one: waits patience + 1 epochs",
        say="Your early stopping waits one epoch too many: it must stop as soon as patience epochs without improvement have passed.",
        look="the comparison of wait with patience",
    ),
    dict(
        cell="early_stopping_epoch",
        old="best, best_epoch, wait = loss, epoch, 0",
        new="best, best_epoch = loss, epoch",
        fails=_ES,
        why="the wait counter is not reset on an improvement",
        say="Your wait counter is not reset to 0 when the loss improves.",
        look="what happens on an improvement",
    ),
    dict(
        cell="early_stopping_epoch",
        old="if loss < best - min_delta:",
        new="if loss < best + min_delta:",
        fails=_ES,
        why="min_delta on the wrong side",
        say="Your improvement test adds min_delta instead of subtracting it: an improvement is a loss below best - min_delta.",
        look="the sign of min_delta",
    ),
    dict(
        cell="early_stopping_epoch",
        old="return len(val_losses) - 1, best_epoch",
        new="return len(val_losses), best_epoch",
        fails=_ES,
        why="off by one when training runs to the end",
        say="Your stop epoch is off by one when training runs to the end: the last epoch's index is len(val_losses) - 1.",
        look="the return value when no stop happens",
    ),
]

# The book section that derives each graded function (linked from the feedback; the anchors are
# the section ids of the built pages, checked by tests/test_diagnose.py).
SECTIONS = {
    "weight_penalty": dict(
        page="book/08-regularization",
        anchor="weight-regularization-weight-decay",
        title="Regularization: Weight regularization (weight decay)",
    ),
    "weight_penalty_gradients": dict(
        page="book/08-regularization",
        anchor="weight-regularization-weight-decay",
        title="Regularization: Weight regularization (weight decay)",
    ),
    "dropout_forward": dict(
        page="book/08-regularization", anchor="dropout", title="Regularization: Dropout"
    ),
    "dropout_backward": dict(
        page="book/08-regularization", anchor="dropout", title="Regularization: Dropout"
    ),
    "batchnorm_forward": dict(
        page="book/08-regularization",
        anchor="batch-normalization",
        title="Regularization: Batch normalization",
    ),
    "batchnorm_backward": dict(
        page="book/08-regularization",
        anchor="the-backward-pass-of-batch-normalization",
        title="Regularization: The backward pass of batch normalization",
    ),
    "early_stopping_epoch": dict(
        page="book/08-model-selection",
        anchor="early-stopping",
        title="Model selection: Early stopping",
    ),
}
