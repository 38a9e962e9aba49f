"""Figures a reader can move: precomputed frames behind a slider, in plain HTML and JavaScript.

Each frame is a matplotlib figure rendered at build time to a PNG embedded in the page (a data URI),
so the page needs no kernel, no network and no JavaScript library; a slider swaps the image. Without
JavaScript (or in print) the reader sees the default frame, a complete static figure.
"""

from __future__ import annotations

import base64
import io
import itertools
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
from IPython.display import HTML, display

_IDS = itertools.count()


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def slider_figure(
    draw: Callable[[object], object], values: Sequence, label: str, default: int = 0
) -> None:
    """Show ``draw(value)`` (a function returning a matplotlib figure) for each of ``values``.

    ``label`` names the slider's quantity; ``default`` is the index of the frame shown first (and
    the one a reader without JavaScript sees).
    """
    frames = [_png(draw(v)) for v in values]
    uid = f"slider{next(_IDS)}"
    texts = [f"{label} = {v}" for v in values]
    data = ",".join(f'"{f}"' for f in frames)
    names = ",".join(f'"{t}"' for t in texts)
    html = f"""
<figure class="nb-slider" id="{uid}">
  <img src="data:image/png;base64,{frames[default]}" alt="{texts[default]}" style="max-width:100%">
  <figcaption>
    <input type="range" min="0" max="{len(values) - 1}" value="{default}" step="1"
           aria-label="{label}" style="width:60%;vertical-align:middle">
    <output>{texts[default]}</output>
  </figcaption>
</figure>
<script>
(function () {{
  const root = document.getElementById("{uid}");
  const frames = [{data}];
  const names = [{names}];
  const img = root.querySelector("img"), out = root.querySelector("output");
  root.querySelector("input").addEventListener("input", function (e) {{
    const i = Number(e.target.value);
    img.src = "data:image/png;base64," + frames[i];
    img.alt = names[i];
    out.textContent = names[i];
  }});
}})();
</script>
"""
    display(HTML(html))
