"""Diagrams for the book: a dense network from its layer sizes, a single neuron, a computational graph."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

NODE_COLORS = {"input": "#9ecae1", "hidden": "#fdd0a2", "output": "#a1d99b"}


def _visible_units(size: int, max_units: int) -> list[int | None]:
    """Indices of the units to draw; ``None`` marks the gap drawn as a vertical ellipsis."""
    if size <= max_units:
        return list(range(size))
    head = (max_units - 1) // 2
    tail = max_units - 1 - head
    return [*range(head), None, *range(size - tail, size)]


def draw_network(
    layer_sizes: Sequence[int],
    ax: Axes | None = None,
    layer_names: Sequence[str] | None = None,
    max_units: int = 9,
    show_bias: bool = False,
    edge_alpha: float = 0.35,
    title: str | None = None,
    node_labels: Sequence[Sequence[str]] | None = None,
) -> Axes:
    """Draw a dense (fully connected) network, e.g. ``draw_network([3, 4, 4, 2])``.

    Every unit of a layer is connected to every unit of the next one. Layers with more than
    ``max_units`` units are drawn with their first and last units and a vertical ellipsis; the
    layer's size is written underneath. ``show_bias`` adds a bias unit (``+1``) to every layer
    except the output, connected to the next layer's units. ``node_labels`` gives one list of
    labels per layer, written inside the units (for small networks).
    """
    sizes = [int(s) for s in layer_sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"Need at least two layers of positive size, got {list(layer_sizes)}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * len(sizes) + 1, 3.6))
    n_layers = len(sizes)
    if layer_names is None:
        layer_names = (
            ["input $\\mathbf{x}$"]
            + [f"hidden $\\mathbf{{h}}_{i}$" for i in range(1, n_layers - 1)]
            + ["output $\\mathbf{o}$"]
        )
    visible = [_visible_units(s, max_units) for s in sizes]
    height = max(len(v) for v in visible) + (1 if show_bias else 0)
    radius = 0.22
    dx = max(2.0, 0.3 * height)  # horizontal spacing grows with the height: labels stay apart

    def y_positions(units: list) -> list[float]:
        top = (len(units) - 1) / 2
        return [top - i for i in range(len(units))]

    coords = []
    for x, units in enumerate(visible):
        coords.append([(x * dx, y) for y in y_positions(units)])
    bias_coords = []
    if show_bias:
        for x in range(n_layers - 1):
            bias_coords.append((x * dx, (len(visible[x]) - 1) / 2 + 1.0))

    for layer in range(n_layers - 1):
        sources = [c for c, u in zip(coords[layer], visible[layer], strict=True) if u is not None]
        if show_bias:
            sources.append(bias_coords[layer])
        targets = [
            c for c, u in zip(coords[layer + 1], visible[layer + 1], strict=True) if u is not None
        ]
        for x0, y0 in sources:
            for x1, y1 in targets:
                ax.plot([x0, x1], [y0, y1], color="0.4", lw=0.7, alpha=edge_alpha, zorder=1)

    bottom = min(y for pts in coords for _, y in pts) - 0.5
    for layer, (units, pts) in enumerate(zip(visible, coords, strict=True)):
        kind = "input" if layer == 0 else "output" if layer == n_layers - 1 else "hidden"
        for u, (x, y) in zip(units, pts, strict=True):
            if u is None:
                ax.text(x, y, "$\\vdots$", ha="center", va="center", fontsize=14, zorder=3)
                continue
            ax.add_patch(
                plt.Circle((x, y), radius, fc=NODE_COLORS[kind], ec="0.2", lw=1.0, zorder=2)
            )
            if node_labels is not None:
                ax.text(x, y, node_labels[layer][u], ha="center", va="center", fontsize=8, zorder=3)
        ax.text(
            pts[0][0],
            bottom,
            f"{layer_names[layer]}\n{sizes[layer]} unit{'s' if sizes[layer] > 1 else ''}",
            ha="center",
            va="top",
            fontsize=9,
        )
    for x, y in bias_coords:
        ax.add_patch(plt.Circle((x, y), radius, fc="white", ec="0.2", lw=1.0, ls="--", zorder=2))
        ax.text(x, y, "+1", ha="center", va="center", fontsize=7, zorder=3)

    ax.set_xlim(-1.0, dx * (n_layers - 1) + 1.0)
    ax.set_ylim(bottom - 1.2, height / 2 + 0.6)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


def draw_neuron(n_inputs: int = 3, ax: Axes | None = None, activation: str = "sigmoid") -> Axes:
    """Draw one neuron: inputs ``x_1..x_p`` with weights ``w_i``, a bias ``w_0``, the sum ``z``
    and the activation that gives ``y_hat``."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.2))
    ys = [(n_inputs - 1) / 2 - i for i in range(n_inputs)]
    labels = [f"$x_{i + 1}$" for i in range(n_inputs - 1)] + ["$x_p$"]
    weights = [f"$w_{i + 1}$" for i in range(n_inputs - 1)] + ["$w_p$"]
    if n_inputs >= 4:
        labels[-2], weights[-2] = "$\\vdots$", ""
    sum_xy, act_xy = (3.0, 0.0), (5.0, 0.0)
    for y, lab, w in zip(ys, labels, weights, strict=True):
        if lab == "$\\vdots$":
            ax.text(0, y, lab, ha="center", va="center", fontsize=14)
            continue
        ax.add_patch(plt.Circle((0, y), 0.25, fc=NODE_COLORS["input"], ec="0.2"))
        ax.text(0, y, lab, ha="center", va="center", fontsize=10)
        ax.annotate(
            "",
            xy=(sum_xy[0] - 0.42, sum_xy[1]),
            xytext=(0.27, y),
            arrowprops=dict(arrowstyle="-|>", color="0.3", lw=1),
        )
        t = 0.4  # put the weight's label on its arrow, 40% of the way
        ax.text(t * sum_xy[0], (1 - t) * y + 0.12, w, fontsize=10, color="C3", ha="center")
    top = ys[0] + 1.0
    ax.add_patch(plt.Circle((0, top), 0.25, fc="white", ec="0.2", ls="--"))
    ax.text(0, top, "+1", ha="center", va="center", fontsize=9)
    ax.annotate(
        "",
        xy=(sum_xy[0] - 0.3, sum_xy[1] + 0.3),
        xytext=(0.27, top),
        arrowprops=dict(arrowstyle="-|>", color="0.3", lw=1),
    )
    ax.text(
        0.4 * sum_xy[0], 0.6 * top + 0.4 * 0.3 + 0.12, "$w_0$", fontsize=10, color="C3", ha="center"
    )
    ax.add_patch(plt.Circle(sum_xy, 0.42, fc=NODE_COLORS["hidden"], ec="0.2"))
    ax.text(*sum_xy, "$\\Sigma$\n$z$", ha="center", va="center", fontsize=10)
    ax.add_patch(
        plt.Rectangle((act_xy[0] - 0.6, -0.35), 1.2, 0.7, fc=NODE_COLORS["output"], ec="0.2")
    )
    ax.text(*act_xy, activation, ha="center", va="center", fontsize=10)
    ax.annotate(
        "",
        xy=(act_xy[0] - 0.6, 0),
        xytext=(sum_xy[0] + 0.42, 0),
        arrowprops=dict(arrowstyle="-|>", color="0.3", lw=1),
    )
    ax.annotate(
        "",
        xy=(7.0, 0),
        xytext=(act_xy[0] + 0.6, 0),
        arrowprops=dict(arrowstyle="-|>", color="0.3", lw=1),
    )
    ax.text(7.1, 0, "$\\hat{y}$", ha="left", va="center", fontsize=12)
    ax.set_xlim(-0.6, 7.8)
    ax.set_ylim(min(ys) - 0.6, top + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def draw_graph(
    nodes: dict[str, tuple[float, float, str]],
    edges: Sequence[tuple[str, str, str, str]],
    ax: Axes | None = None,
    grads: dict[str, str] | None = None,
    shaded: Sequence[str] = (),
    title: str | None = None,
) -> Axes:
    """Draw a computational graph, its forward edges and, in red, the gradients flowing back.

    ``nodes`` maps a name to ``(x, y, label)``; ``edges`` are ``(source, target, forward_text,
    backward_text)``: a grey arrow from source to target labelled ``forward_text`` and, when
    ``backward_text`` is not empty, a dashed red arrow back from target to source labelled with
    it (the local derivative the gradient is multiplied by). ``grads`` maps a node to a text
    written in red under it (its gradient); ``shaded`` nodes get a blue box (e.g. values shared
    by the whole batch).
    """
    if ax is None:
        xs = [x for x, _, _ in nodes.values()]
        ys = [y for _, y, _ in nodes.values()]
        _, ax = plt.subplots(figsize=(1.1 * (max(xs) - min(xs)) + 2, 1.3 * (max(ys) - min(ys)) + 2))
    grads = grads or {}
    boxes = {}
    for name, (x, y, label) in nodes.items():
        face = "#c6dbef" if name in shaded else "white"
        boxes[name] = ax.text(
            x, y, label, ha="center", va="center", fontsize=10, zorder=3,
            bbox=dict(boxstyle="round,pad=0.35", fc=face, ec="0.3"),
        )  # fmt: skip
        if name in grads:  # under the node, or above it for the nodes of the upper rows
            above = y > sum(v[1] for v in nodes.values()) / len(nodes)
            ax.text(x, y + (0.38 if above else -0.42), grads[name], ha="center",
                    va="bottom" if above else "top", fontsize=8, color="C3")  # fmt: skip
    ax.figure.canvas.draw()  # the boxes' sizes are known only once drawn: arrows clip to them
    for src, dst, forward_text, backward_text in edges:
        (x0, y0, _), (x1, y1, _) = nodes[src], nodes[dst]
        pa, pb = boxes[src].get_bbox_patch(), boxes[dst].get_bbox_patch()
        ax.annotate(
            "", xy=(x1, y1), xytext=(x0, y0),
            arrowprops=dict(arrowstyle="-|>", color="0.35", lw=1.1, patchA=pa, patchB=pb),
        )  # fmt: skip
        if forward_text:
            ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.1, forward_text, ha="center", va="bottom",
                    fontsize=8, color="0.3")  # fmt: skip
        if backward_text:
            ax.annotate(
                "", xy=(x0, y0), xytext=(x1, y1),
                arrowprops=dict(arrowstyle="-|>", color="C3", lw=1, ls="--", patchA=pb, patchB=pa,
                                connectionstyle="arc3,rad=-0.35"),
            )  # fmt: skip
            ax.text((x0 + x1) / 2 - 0.2 * (y0 - y1), (y0 + y1) / 2 - 0.2 * abs(x1 - x0) - 0.08,
                    backward_text, ha="center", va="top", fontsize=8, color="C3")  # fmt: skip
    xs = [x for x, _, _ in nodes.values()]
    ys = [y for _, y, _ in nodes.values()]
    ax.set(xlim=(min(xs) - 0.9, max(xs) + 0.9), ylim=(min(ys) - 1.1, max(ys) + 0.8))
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=11)
    return ax
