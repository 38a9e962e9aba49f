"""The rendered course, checked in a real browser: offline, complete, navigable.

A session fixture builds the book the way ``make book`` does (unless ``_build/html`` is newer
than every source), serves ``_build/html`` on 127.0.0.1 and opens every page in headless
Chromium (tests/browser_cdp.py). The tests then check, per page: no console errors, no failed
requests, no request leaving the site, every formula typeset by MathJax, every image loaded; and
for the site: no page references an external script, stylesheet or font; navigation from the
index reaches every chapter, the lecture and the exercises; the launch and download buttons; the
slides open and advance. Screenshots land in artifacts/screenshots/.

Chromium is required: without it these tests fail (they do not skip). ``make setup`` installs
Debian's ``chromium``; ``$CHROMIUM`` points at another binary. ``SITE_TEST_NO_BUILD=1`` tests
``_build/html`` as it is, without (re)building.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import yaml
from browser_cdp import BrowserError, Chromium, PageVisit, SiteServer, find_chromium
from bs4 import BeautifulSoup

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
STAMP = HTML / ".book-built"
SHOTS = ROOT / "artifacts" / "screenshots"
LECTURE = ROOT / "lectures" / "lecture-08.md"
SLIDES = "slides/lecture-08.slides.html"
CHAPTERS = [
    "book/01-architectures",
    "book/02-forward-pass",
    "book/03-backpropagation",
    "book/04-activations",
    "book/05-initialization",
    "book/06-optimizers",
    "book/07-in-practice",
    "book/08-model-selection",
    "book/08-regularization",
    "book/09-tuning",
    "book/10-pytorch-gpu",
]
# The lecture's slides, in order (the lecture's text lost the batch-normalization slide's title).
LECTURE_SLIDES = [
    "Lecture 8. Neural Networks: how to train your neurons",
    "Overview",
    "Linear models as a building block",
    "Basic Architecture",
    "More layers",
    "Why layers?",
    "Other architectures",
    "Training Neural Nets",
    "Mini-batch Stochastic Gradient Descent (recap)",
    "Forward pass",
    "Tensor operations",
    "Element-wise operations",
    "Backward pass (backpropagation)",
    "Backpropagation (example)",
    "Backpropagation (2)",
    "Backpropagation (3)",
    "Backpropagation (summary)",
    "Activation functions for hidden layers",
    "Effect of activation functions on the gradient",
    "ReLU vs Tanh",
    "Activation functions for output layer",
    "Weight initialization",
    "Weight initialization: transfer learning",
    "Optimizers",
    "Momentum",
    "Momentum in practice",
    "Adaptive gradients",
    "Adam (Adaptive moment estimation)",
    "SGD Optimizer Zoo",
    "Neural networks in practice",
    "Building the network",
    "Model summary",
    "Choosing loss, optimizer, metrics",
    "Preprocessing: Normalization, Reshaping, Encoding",
    "Choosing training hyperparameters",
    "Predictions and evaluations",
    "Model selection",
    "Early stopping",
    "Regularization and memorization capacity",
    "Information bottleneck",
    "Weight regularization (weight decay)",
    "Dropout",
    "Dropout layers",
    "Batch Normalization",
    "Tuning multiple hyperparameters",
    "Summary",
]
NOT_PAGES = ("_static/", "_sources/", "_images/", "_downloads/")
EXTERNAL = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)

# Wait for MathJax's first typeset (if the page loads it) and for fonts and images.
SETTLE = """(async () => {
  const deadline = Date.now() + 20000;
  while (window.MathJax && !(MathJax.startup && MathJax.startup.promise) && Date.now() < deadline)
    await new Promise(r => setTimeout(r, 50));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  if (window.Reveal) while (!(Reveal.isReady && Reveal.isReady()) && Date.now() < deadline)
    await new Promise(r => setTimeout(r, 50));
  for (const img of document.images) img.loading = 'eager';
  await Promise.all([...document.images].map(img => img.complete ? null :
    new Promise(r => { img.addEventListener('load', r); img.addEventListener('error', r); })));
  await document.fonts.ready;
  return true;
})()"""

# What the page shows once it has settled.
INSPECT = r"""(() => {
  const skip = new Set(['SCRIPT', 'STYLE', 'PRE', 'CODE', 'TEXTAREA', 'NOSCRIPT', 'KBD', 'SAMP',
                        'MJX-CONTAINER', 'MJX-ASSISTIVE-MML']);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {acceptNode(node) {
    for (let el = node.parentElement; el; el = el.parentElement)
      if (skip.has(el.tagName)) return NodeFilter.FILTER_REJECT;
    return NodeFilter.FILTER_ACCEPT;
  }});
  const parts = [];
  while (walker.nextNode()) parts.push(walker.currentNode.nodeValue);
  const text = parts.join(' ');
  const raw = [];
  for (const re of [/\$\$/, /\\\(/, /\\\[/, /\\begin\{/, /\$[^\s$][^$\n]{0,200}?[^\s\\$]\$/]) {
    const m = text.match(re);
    if (m) raw.push(text.substr(Math.max(0, m.index - 30), 90).replace(/\s+/g, ' '));
  }
  return {
    href: location.href,
    title: document.title,
    mjx: document.querySelectorAll('mjx-container').length,
    merror: [...document.querySelectorAll('mjx-merror')].map(e => e.textContent).slice(0, 5),
    raw: raw,
    images: [...document.images].map(i => ({src: (i.currentSrc || i.src).slice(0, 120),
                                             ok: i.complete && i.naturalWidth > 0})),
    sidebar: [...document.querySelectorAll('nav.bd-docs-nav a[href]')].map(a => a.href),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  };
})()"""


@dataclass
class PageReport:
    path: str
    visit: PageVisit
    info: dict = field(default_factory=dict)


# --- building and serving ---------------------------------------------------------------------
def _sources() -> list[Path]:
    """What the built site is made from (not nnlib: the notebook cache keys on the notebooks)."""
    files = [ROOT / "_config.yml", ROOT / "_toc.yml", ROOT / "Makefile", *ROOT.glob("*.md")]
    for folder in ("book", "lectures", "scripts", "_assets"):
        files += [p for p in (ROOT / folder).rglob("*") if p.is_file()]
    skip = {"__pycache__", ".ipynb_checkpoints"}
    return [p for p in files if p.exists() and not skip & set(p.parts)]


def _fresh() -> bool:
    if not STAMP.is_file() or not (HTML / SLIDES).is_file():
        return False
    built = STAMP.stat().st_mtime
    return all(p.stat().st_mtime <= built for p in _sources())


def _make_book() -> None:
    started = time.monotonic()
    proc = subprocess.run(
        ["make", "--no-print-directory", "book"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if proc.returncode != 0:
        log = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + "\n" + proc.stderr).splitlines()
        causes = [
            line
            for line in log
            if re.search(r"WARNING|ERROR|Error|error:", line) and "[IPKernelApp]" not in line
        ]
        pytest.fail(
            f"`make book` failed ({proc.returncode}) after {time.monotonic() - started:.0f} s "
            "(warnings are errors):\n" + "\n".join(causes[-40:] + ["...", *log[-15:]])
        )


@pytest.fixture(scope="session")
def built_site() -> Path:
    """_build/html, built the way `make book` builds it (once per session, when stale)."""
    if os.environ.get("SITE_TEST_NO_BUILD") != "1":
        (ROOT / "_build").mkdir(exist_ok=True)
        # one build at a time (pytest-xdist workers, or two sessions in one checkout)
        with open(ROOT / "_build" / ".site-test.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not _fresh():
                _make_book()
    if not (HTML / "index.html").is_file():
        pytest.fail("_build/html/index.html is missing: run `make book`")
    return HTML


@pytest.fixture(scope="session")
def base_url(built_site: Path):
    with SiteServer(built_site) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    exe = find_chromium()
    if not exe:
        pytest.fail(
            "Chromium is required for the browser test and was not found. Install it with "
            "`make setup` (scripts/install-chromium.sh: apt-get install chromium) or point "
            "$CHROMIUM at a Chromium/Chrome binary."
        )
    try:
        with Chromium.launch(exe) as chromium:
            yield chromium
    except BrowserError as exc:
        pytest.fail(f"Could not drive Chromium ({exe}): {exc}")


def _pages(site: Path) -> list[str]:
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    pages = [p for p in pages if not p.startswith(NOT_PAGES)]
    # index.html first: it is where a reader starts (and it redirects to the root page)
    return sorted(pages, key=lambda p: p != "index.html")


def _shot_name(path: str) -> str:
    return path.removesuffix(".html").replace("/", "__") + ".png"


@pytest.fixture(scope="session")
def site(built_site: Path, base_url: str, browser: Chromium) -> dict[str, PageReport]:
    """Every page of the site, opened once in Chromium."""
    reports = {}
    for path in _pages(built_site):
        visit = browser.visit(urljoin(base_url, path), base_url, settle=SETTLE)
        info = browser.evaluate(INSPECT)
        browser.screenshot(SHOTS / _shot_name(path), full_page=not path.startswith("slides/"))
        reports[path] = PageReport(path, visit, info)
    return reports


def _toc_files() -> list[str]:
    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("file", "root") and isinstance(value, str):
                    yield value.removesuffix(".md").removesuffix(".ipynb")
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    return list(walk(yaml.safe_load((ROOT / "_toc.yml").read_text())))


def _is_notebook(page: str) -> bool:
    """An executable page: an .ipynb, or a MyST markdown notebook (a kernelspec in its header)."""
    if (ROOT / f"{page}.ipynb").is_file():
        return True
    source = ROOT / f"{page}.md"
    if not source.is_file():
        return False
    header = re.match(r"---\n(.*?)\n---", source.read_text(encoding="utf-8"), re.DOTALL)
    return bool(header and "kernelspec" in (yaml.safe_load(header.group(1)) or {}))


def _expected_math(html_file: Path) -> int:
    """How many formulas the page's HTML asks MathJax to typeset."""
    soup = BeautifulSoup(html_file.read_text(encoding="utf-8"), "html.parser")
    count = 0
    for el in soup.select(".math"):
        text = el.get_text()
        count += max(1, text.count("\\(") + text.count("\\["))
    return count


def _deck_math() -> int:
    """Formulas in the lecture deck's markdown ($...$ and $$...$$ outside code)."""
    import jupytext

    count = 0
    for cell in jupytext.read(LECTURE).cells:
        slide_type = cell.metadata.get("slideshow", {}).get("slide_type")
        if cell.cell_type != "markdown" or slide_type == "skip":
            continue
        text = re.sub(r"```.*?```", "", cell.source, flags=re.DOTALL)
        text = re.sub(r"`[^`]*`", "", text)
        display = re.findall(r"\$\$.+?\$\$", text, flags=re.DOTALL)
        text = re.sub(r"\$\$.+?\$\$", "", text, flags=re.DOTALL)
        count += len(display) + len(re.findall(r"\$[^$]+?\$", text))
    return count


def _deck_slides() -> list[str]:
    """The markdown source of each slide of the deck, in order."""
    import jupytext

    slides: list[str] = []
    for cell in jupytext.read(LECTURE).cells:
        slide_type = cell.metadata.get("slideshow", {}).get("slide_type")
        if slide_type == "slide":
            slides.append(cell.source)
        elif slides and slide_type not in ("skip", "notes") and cell.cell_type == "markdown":
            slides[-1] += "\n" + cell.source
    return slides


def _problems(reports: dict[str, PageReport], pick) -> str:
    lines = []
    for path, report in reports.items():
        for item in pick(report):
            lines.append(f"{path}: {item}")
    return "\n".join(lines)


# --- static checks of the built HTML -----------------------------------------------------------
def test_no_page_references_external_assets(built_site: Path) -> None:
    """Scripts, stylesheets, fonts, images and frames all come from the site itself."""
    problems = []
    for html_file in sorted(built_site.rglob("*.html")):
        rel = html_file.relative_to(built_site).as_posix()
        if rel.startswith(NOT_PAGES):
            continue
        soup = BeautifulSoup(html_file.read_text(encoding="utf-8"), "html.parser")
        for tag, attr in (
            ("script", "src"),
            ("img", "src"),
            ("iframe", "src"),
            ("source", "src"),
            ("video", "src"),
            ("audio", "src"),
            ("embed", "src"),
            ("object", "data"),
        ):
            for el in soup.find_all(tag, attrs={attr: True}):
                if EXTERNAL.match(el[attr]):
                    problems.append(f"{rel}: <{tag} {attr}={el[attr]}>")
        for el in soup.find_all("link", href=True):
            rel_attr = {r.lower() for r in el.get("rel", [])}
            if rel_attr & {"stylesheet", "preload", "modulepreload", "prefetch", "icon", "font"}:
                if EXTERNAL.match(el["href"]):
                    problems.append(f"{rel}: <link rel={sorted(rel_attr)} href={el['href']}>")
        for el in soup.find_all("style"):
            problems += [f"{rel}: <style> {u}" for u in _css_external(el.get_text())]
        for el in soup.find_all(style=True):
            problems += [f"{rel}: style= {u}" for u in _css_external(el["style"])]
        for el in soup.find_all("script", src=False):
            # e.g. sphinx-thebe's `const THEBE_JS_URL = "https://unpkg.com/..."`
            for url in re.findall(r"""["'`]((?:https?:)?//[^"'`\s]+)["'`]""", el.get_text()):
                if re.search(r"\.(m?js|css|woff2?|ttf|otf|eot)(\?|#|$)", url):
                    problems.append(f"{rel}: inline script loads {url}")
    for css in sorted(built_site.rglob("*.css")):
        rel = css.relative_to(built_site).as_posix()
        problems += [f"{rel}: {u}" for u in _css_external(css.read_text(errors="replace"))]
    assert not problems, "external assets (the site must work offline):\n" + "\n".join(problems)


def _css_external(css: str) -> list[str]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    found = []
    for match in re.finditer(r"""url\(\s*(['"]?)(.*?)\1\s*\)""", css):
        if EXTERNAL.match(match.group(2)):
            found.append(f"url({match.group(2)})")
    for match in re.finditer(r"""@import\s+(['"])(.*?)\1""", css):
        if EXTERNAL.match(match.group(2)):
            found.append(f"@import {match.group(2)}")
    return found


def test_launch_and_download_buttons(built_site: Path) -> None:
    """Every executable page: Binder, JupyterHub (nbgitpuller), Colab, .ipynb and .md downloads."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]["url"].rstrip("/")
    org_repo = urlsplit(repo).path.strip("/")
    branch = config["repository"]["branch"]
    launch = config["launch_buttons"]
    executable = [page for page in _toc_files() if _is_notebook(page)]
    assert {"lectures/lecture-08", *CHAPTERS} <= set(executable), executable
    problems = []
    for page in executable:
        html_file = built_site / f"{page}.html"
        if not html_file.is_file():
            problems.append(f"{page}: not built")
            continue
        hrefs = [
            a["href"] for a in BeautifulSoup(html_file.read_text(), "html.parser")("a", href=True)
        ]
        expected = {
            "Binder": f"{launch['binderhub_url'].rstrip('/')}/v2/gh/{org_repo}/{branch}?urlpath=",
            "JupyterHub": f"{launch['jupyterhub_url'].rstrip('/')}/hub/user-redirect/git-pull?repo=",
            "Colab": f"{launch['colab_url'].rstrip('/')}/github/{org_repo}/blob/",
        }
        for name, prefix in expected.items():
            if not any(h.startswith(prefix) and page in h for h in hrefs):
                problems.append(f"{page}: no {name} button ({prefix}...{page}...)")
        colab = [h for h in hrefs if h.startswith(expected["Colab"])]
        if colab and not colab[0].endswith(".ipynb"):
            problems.append(f"{page}: Colab opens only .ipynb, got {colab[0]}")
        for suffix in (".ipynb", ".md"):
            target = f"_sources/{page}{suffix}"
            if not any(h.endswith(target) for h in hrefs):
                problems.append(f"{page}: no {suffix} download button")
            elif not (built_site / target).is_file():
                problems.append(f"{page}: the {suffix} download {target} is missing")
    assert not problems, "\n".join(problems)


def test_deck_follows_the_lecture_and_links_chapters() -> None:
    """One slide per lecture slide, same titles and order, each linking the chapter it derives."""
    slides = _deck_slides()
    titles = [re.search(r"^#{1,2} (.+)$", s, re.MULTILINE).group(1).strip() for s in slides]
    assert titles == LECTURE_SLIDES
    missing = [t for t, s in zip(titles, slides, strict=True) if "{doc}`" not in s]
    assert not missing, f"slides without a {{doc}} link to their chapter: {missing}"
    linked = set(re.findall(r"\{doc\}`(?:[^`<]*<)?\.\./(book/[^`>]+)>?`", "\n".join(slides)))
    assert set(CHAPTERS) <= linked, f"chapters no slide links to: {set(CHAPTERS) - linked}"


# --- in the browser ----------------------------------------------------------------------------
def test_no_console_errors(site: dict[str, PageReport]) -> None:
    problems = _problems(site, lambda r: r.visit.console_errors)
    assert not problems, "console errors:\n" + problems


def test_no_failed_or_external_requests(site: dict[str, PageReport]) -> None:
    failed = _problems(site, lambda r: r.visit.failed_requests)
    external = _problems(site, lambda r: r.visit.external_requests)
    assert not failed, "failed requests:\n" + failed
    assert not external, "requests that leave the site:\n" + external


def test_every_formula_is_typeset(site: dict[str, PageReport], built_site: Path) -> None:
    problems = []
    for path, report in site.items():
        info = report.info
        if path == SLIDES:
            expected = _deck_math()
        else:
            expected = _expected_math(built_site / path)
        if info["mjx"] < expected:
            problems.append(f"{path}: {info['mjx']} typeset formulas, the source has {expected}")
        if info["merror"]:
            problems.append(f"{path}: MathJax errors {info['merror']}")
        if info["raw"]:
            problems.append(f"{path}: raw TeX left in the text: {info['raw']}")
    assert site[SLIDES].info["mjx"] > 0 and site["lectures/lecture-08.html"].info["mjx"] > 0
    assert not problems, "\n".join(problems)


def test_every_image_loads(site: dict[str, PageReport]) -> None:
    problems = _problems(site, lambda r: [i["src"] for i in r.info["images"] if not i["ok"]])
    assert not problems, "images that did not load:\n" + problems
    assert any(r.info["images"] for r in site.values()), "no page has an image (figures?)"


def test_navigation_reaches_chapters_lecture_and_exercises(
    site: dict[str, PageReport], base_url: str
) -> None:
    """Following the sidebar from the index reaches every page of the table of contents."""

    def page_of(url: str) -> str:
        path = urlsplit(url).path
        return path.removeprefix(urlsplit(base_url).path).removesuffix(".html")

    by_page = {page_of(r.info["href"]): r for r in site.values()}
    start = page_of(site["index.html"].info["href"])  # after the index's redirect
    seen, todo = {start}, [start]
    while todo:
        report = by_page.get(todo.pop())
        for url in report.info["sidebar"] if report else []:
            if url.startswith(base_url) and (page := page_of(url)) not in seen:
                seen.add(page)
                todo.append(page)
    toc = _toc_files()
    exercises = [f for f in toc if "exercise" in f.lower()]
    assert exercises, "the table of contents (_toc.yml) has no exercises page"
    for required in ["lectures/lecture-08", *CHAPTERS, *exercises, *toc]:
        assert required in seen, f"{required} is not reachable from the index's sidebar"
    lecture_links = site["lectures/lecture-08.html"].info["links"]
    assert any(link.endswith(SLIDES) for link in lecture_links), (
        "the lecture page has no slides link"
    )


def test_slides_open_and_advance(browser: Chromium, base_url: str, site) -> None:
    url = urljoin(base_url, SLIDES)
    visit = browser.visit(url, base_url, settle=SETTLE)
    assert not visit.console_errors and not visit.failed_requests, visit
    state = browser.evaluate(
        "({ready: Reveal.isReady(), total: Reveal.getTotalSlides(), h: Reveal.getIndices().h})"
    )
    assert state["ready"], "reveal.js did not start"
    assert state["total"] == len(_deck_slides()), (state, len(_deck_slides()))
    assert state["h"] == 0
    browser.screenshot(SHOTS / "slides__lecture-08__00.png")

    browser.key("ArrowRight", "ArrowRight", 39)
    deadline = time.monotonic() + 5
    while browser.evaluate("Reveal.getIndices().h") != 1 and time.monotonic() < deadline:
        browser.pump(0.1)
    assert browser.evaluate("Reveal.getIndices().h") == 1, "the right arrow did not advance"

    browser.evaluate("Reveal.next()")
    assert browser.evaluate("Reveal.getIndices().h") == 2, "Reveal.next() did not advance"

    # a formula slide and a figure slide, for the eye
    titles = browser.evaluate(
        "Reveal.getSlides().map(s => (s.querySelector('h1, h2') || {}).textContent || '')"
    )
    for wanted in ("Backpropagation (summary)", "Activation functions for hidden layers"):
        index = next(i for i, t in enumerate(titles) if t.strip().startswith(wanted))
        browser.evaluate(f"Reveal.slide({index})")
        browser.pump(0.5)
        assert browser.evaluate("Reveal.getIndices().h") == index
        browser.screenshot(SHOTS / f"slides__lecture-08__{index:02d}.png")
    for i, title in enumerate(titles):
        links = browser.evaluate(
            f"[...Reveal.getSlides()[{i}].querySelectorAll('a[href]')].map(a => a.href)"
        )
        assert any("/book/" in h or h.endswith("/intro.html") for h in links), (
            f"slide {i} ({title.strip()}) links no chapter"
        )
