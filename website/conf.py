"""Sphinx settings of the course website (``make site``; website/build.py stages its pages).

The pages are notebooks that are already executed and pruned to the student's view, so
myst-nb only renders them; math is typeset by a MathJax shipped with the site, so a page
fetches nothing from another host. Every page declares a Content-Security-Policy that runs
no inline script but the templates' own (website/policy.py).
"""

project = "Autoencoders: from PCA to variational autoencoders"
author = "the course's authors"
copyright = "the course's authors"

extensions = ["myst_nb", "sphinx-mathjax-offline", "website.policy"]
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
# Links of the included documents that lead out of the site (to code, to the repository's
# files) are left as they are.
suppress_warnings = ["myst.xref_missing", "myst.header", "misc.highlighting_failure"]

html_theme = "sphinx_book_theme"
html_title = "Autoencoders: from PCA to VAEs"
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "navigation_with_keys": False,
}
html_copy_source = False
html_show_sourcelink = False
exclude_patterns = ["_build", "downloads"]
# The reader's light or dark preference decides (pydata-sphinx-theme's default_mode).
html_context = {"default_mode": "auto"}


def _describe_pictures(app, doctree, docname):
    """Give each notebook picture its own description (website/pages.py, picture_alts)."""
    import json
    from pathlib import Path

    from docutils import nodes
    path = Path(app.srcdir) / "pictures.json"
    alts = json.loads(path.read_text()) if path.is_file() else {}
    for image in doctree.findall(nodes.image):
        name = Path(image.get("uri", "")).stem
        if name in alts:
            image["alt"] = alts[name]


def setup(app):
    app.connect("doctree-resolved", _describe_pictures)
