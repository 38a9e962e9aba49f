"""Export the lecture deck (a MyST notebook) to a reveal.js slide show that works offline.

    python scripts/build_slides.py [lectures/lecture-08.md ...]

Steps, for each deck: jupytext reads the MyST markdown; MyST's ``{doc}`` roles, which nbconvert
does not know, become plain links to the built chapters (``../book/NN.html``: the slides sit in
``_build/html/slides/``, one folder deep like ``lectures/``); the notebook is executed (nbclient)
and exported with ``jupyter nbconvert --to slides`` using the template in
``scripts/nbconvert/reveal_offline`` (reveal.js, MathJax 3 and nothing else, all from the site's
``_static/``: ``--SlidesExporter.reveal_url_prefix=../_static/reveal.js``). Cells tagged
``hide-input``/``remove-input`` lose their input on the slides (the figure code), and cells tagged
``hide-cell``/``remove-cell`` disappear. The vendored assets are copied to ``_build/html/_static``
so the deck works before the book is built too. Called by ``make slides`` and ``make book``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
WORK = ROOT / "_build" / "slides"
OUT = HTML / "slides"
VENDOR = ROOT / "_vendor" / "static"
TEMPLATES = Path(__file__).resolve().parent / "nbconvert"

DOC_ROLE = re.compile(r"\{doc\}`(?:(?P<text>[^`<]*?)\s*<(?P<target>[^`>]+)>|(?P<bare>[^`]+))`")
HEADING = re.compile(r"^#\s+(.+?)\s*$", re.MULTILINE)


def _title_of(source_dir: Path, target: str) -> str:
    for suffix in (".md", ".ipynb"):
        path = (source_dir / target).with_suffix(suffix)
        if path.is_file():
            if suffix == ".ipynb":
                nb = nbformat.read(path, as_version=4)
                text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
            else:
                text = path.read_text(encoding="utf-8")
            match = HEADING.search(text)
            if match:
                return match.group(1)
    return Path(target).name


def doc_roles_to_links(markdown: str, source_dir: Path) -> str:
    """``{doc}`text <../book/x>``` and ``{doc}`../book/x``` -> ``[text](../book/x.html)``."""

    def link(match: re.Match[str]) -> str:
        target = (match.group("target") or match.group("bare")).strip()
        text = match.group("text") if match.group("target") else _title_of(source_dir, target)
        return f"[{text}]({target.removesuffix('.md').removesuffix('.ipynb')}.html)"

    return DOC_ROLE.sub(link, markdown)


def build(source: Path, python: str) -> Path:
    nb = jupytext.read(source)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = doc_roles_to_links(cell.source, source.parent)
    WORK.mkdir(parents=True, exist_ok=True)
    ipynb = WORK / f"{source.stem}.ipynb"
    nbformat.write(nb, ipynb)

    # Execute in the deck's own folder, as the book does.
    from nbclient import NotebookClient

    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(source.parent)}}
    ).execute()
    nbformat.write(nb, ipynb)

    OUT.mkdir(parents=True, exist_ok=True)
    cmd = [
        python, "-m", "nbconvert", "--to", "slides", str(ipynb),
        "--output-dir", str(OUT),
        f"--TemplateExporter.extra_template_basedirs={TEMPLATES}",
        "--template", "reveal_offline",
        "--SlidesExporter.reveal_url_prefix=../_static/reveal.js",
        "--SlidesExporter.reveal_theme=white",
        "--SlidesExporter.reveal_transition=none",
        "--SlidesExporter.reveal_number=c/t",
        "--SlidesExporter.mathjax_url=../_static/mathjax/tex-chtml.js",
        "--TagRemovePreprocessor.enabled=True",
        "--TagRemovePreprocessor.remove_input_tags=hide-input",
        "--TagRemovePreprocessor.remove_input_tags=remove-input",
        "--TagRemovePreprocessor.remove_cell_tags=hide-cell",
        "--TagRemovePreprocessor.remove_cell_tags=remove-cell",
        "--TagRemovePreprocessor.remove_all_outputs_tags=remove-output",
        "--log-level=WARN",
    ]  # fmt: skip
    subprocess.run(cmd, check=True, cwd=ROOT)
    return OUT / f"{source.stem}.slides.html"


def copy_assets() -> None:
    if not (VENDOR / "mathjax" / "tex-chtml.js").is_file():
        sys.exit(
            "build_slides: _vendor/static is missing: run scripts/vendor-assets.sh (make vendor)"
        )
    for name in ("mathjax", "reveal.js"):
        shutil.copytree(VENDOR / name, HTML / "_static" / name, dirs_exist_ok=True)
    shutil.copy2(ROOT / "_assets" / "favicon.svg", HTML / "_static" / "favicon.svg")


def main(argv: list[str]) -> int:
    sources = [Path(a).resolve() for a in argv] or [ROOT / "lectures" / "lecture-08.md"]
    copy_assets()
    for source in sources:
        out = build(source, sys.executable)
        print(f"build_slides: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
