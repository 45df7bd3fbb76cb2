"""The website's Content-Security-Policy (a Sphinx extension of website/conf.py).

Scripts run from the site's own files (the theme's, Sphinx's search, the MathJax it
ships) and, inline, only the scripts the templates write (the theme's colour mode, a
page's name for the search, MathJax's configuration), each allowed by its SHA-256 hash:
a page's content (a notebook's outputs and text, ``context["body"]``) is not hashed, so
no script, event handler or ``javascript:`` address a page's content carries runs.
The policy is the first element of every page's head.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from instructor.engine.inert import policy_tag

#: The policy; ``{hashes}``: those of the page's own inline scripts.
POLICY = ("default-src 'self'; script-src 'self' 'report-sample' {hashes}; "
          "style-src 'self' 'unsafe-inline'; "
          "img-src 'self' data:; font-src 'self' data:; object-src 'none'; "
          "base-uri 'none'; form-action 'self'")
#: A script element without ``src`` and its text.
INLINE = re.compile(r"<script\b(?![^>]*\ssrc=)[^>]*>(.*?)</script\s*>", re.S | re.I)


def digest(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() \
        + "'"


def policy(page: str, content: str) -> str:
    """The policy of ``page``: its inline scripts hashed, but for those of ``content``."""
    own = set(INLINE.findall(content))
    return POLICY.format(hashes=" ".join(sorted({digest(s) for s in INLINE.findall(page)
                                                 if s not in own})))


def _record(app, pagename, templatename, context, doctree):
    app.course_content[app.builder.get_outfilename(pagename)] = context.get("body", "")


def _declare(app, exception):
    if exception is not None:
        return
    for name, content in app.course_content.items():
        path = Path(name)
        page = path.read_text(encoding="utf-8")
        head = re.search(r"<head\b[^>]*>", page)
        path.write_text(page[:head.end()] + policy_tag(policy(page, content))
                        + page[head.end():], encoding="utf-8")


def setup(app):
    app.course_content = {}
    app.connect("html-page-context", _record)
    app.connect("build-finished", _declare)
    return {"parallel_read_safe": True, "parallel_write_safe": False}
