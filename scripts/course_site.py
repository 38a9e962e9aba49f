"""Sphinx glue for the course's site, loaded from ``_config.yml`` (``sphinx.local_extensions``).

Colab opens notebooks from GitHub only as ``.ipynb``; the chapters are MyST markdown (``.md``),
so sphinx-book-theme's Colab button (``.../blob/<branch>/book/01-architectures.md``) would lead
to an error page. The build writes every page's executed notebook to ``_sources/<page>.ipynb``
(the theme's ``.ipynb`` download), and the published site (``ghp-import -n -p -f _build/html``,
the branch named by ``colab_notebook_branch``) holds those files, so the Colab button points
there instead. Set ``colab_notebook_branch`` to ``""`` to keep the theme's link unchanged.
Binder and JupyterHub open the ``.md`` files directly (jupytext, see ``binder/postBuild``).

Pages that embed ipywidgets state load require.js and the widgets' HTML manager from the site
(``nb_ipywidgets_js`` in ``_config.yml``). The manager's bundled modules find their fonts next to
their require.js module URL, so this extension maps ``@jupyter-widgets`` to ``_static/`` on those
pages (``var require = {paths: ...}`` before require.js); scripts/vendor-assets.sh puts the fonts
where that mapping leads.
"""

from __future__ import annotations

import json
from typing import Any

from sphinx.application import Sphinx


def _colab_url_to_published_notebook(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    branch = app.config.colab_notebook_branch
    if not branch or not context.get("ipynb_source"):
        return  # not a markdown notebook: the theme's link already names an .ipynb
    launch = app.config.html_theme_options.get("launch_buttons", {})
    colab = launch.get("colab_url", "").rstrip("/")
    repo_url = app.config.html_theme_options.get("repository_url", "").rstrip("/")
    if not colab or not repo_url.startswith("https://github.com/"):
        return
    org_repo = repo_url.removeprefix("https://github.com/")
    folder = app.config.colab_notebook_folder.strip("/")
    target = f"{colab}/github/{org_repo}/blob/{branch}/{folder}/{pagename}.ipynb"
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            if button.get("text") == "Colab":
                button["url"] = target


def _widgets_from_static(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    nb_metadata = getattr(app.env, "nb_metadata", {}).get(pagename, {})
    if "ipywidgets_state" not in nb_metadata.get("js_files", {}):
        return
    base = context["pathto"]("_static/jupyter-widgets", resource=True)
    config = json.dumps({"paths": {"@jupyter-widgets": base}})
    app.add_js_file(None, body=f"var require = {config};", priority=400)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("colab_notebook_branch", "gh-pages", "html", [str])
    app.add_config_value("colab_notebook_folder", "_sources", "html", [str])
    # after sphinx-book-theme's add_launch_buttons (priority 501)
    app.connect("html-page-context", _colab_url_to_published_notebook, priority=600)
    app.connect("html-page-context", _widgets_from_static)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
