"""Everything a student controls, made inert where a person views it (docs/grading.md,
"What students show is inert").

nbconvert's templates insert much of a notebook into HTML as it is (image sizes unquoted,
the execution count in the prompt), so :class:`InertContent` keeps only what passes the
allow-lists below; :data:`CONTENT_SECURITY_POLICY` and :data:`FEEDBACK_POLICY` are a
second wall.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

import nbformat
import nh3
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbformat.corpus.words import generate_corpus_id

from instructor.engine.notes import one_line
from instructor.engine.preprocessors import FeedbackPreprocessor
from instructor.engine.release import FromRelease

#: Tags a student's HTML output or markdown keeps (any other is removed, its text kept).
TAGS = {"a", "abbr", "acronym", "b", "blockquote", "br", "code", "dd", "del", "div", "dl",
        "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre",
        "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul"}
#: Attributes kept: links, alignment and the styles below (rich's HTML, Keras' summary); no
#: class (one of the page's own would let a student's text pose as the grader's), no id.
ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "acronym": {"title"},
              "th": {"align"}, "td": {"align"}, "span": {"style"}, "pre": {"style"},
              "div": {"style"}}
STYLES = {"color", "background-color", "font-weight", "font-style", "font-family",
          "text-decoration", "text-align", "white-space", "line-height", "overflow-x"}
URL_SCHEMES = {"http", "https", "mailto"}

#: Output types kept; images only as base64 data.
TEXT_TYPES = ("text/plain", "text/html")
IMAGE_TYPES = ("image/png", "image/jpeg")
ATTACHMENT_TYPES = ("image/png", "image/jpeg", "image/gif")
#: How a student's markdown cell starts once stored as clean HTML.
STUDENT_MARKDOWN = '<div class="student-markdown">'
#: What an output says of the types it lost.
DROPPED = "[not shown: {types}: only text, clean HTML and PNG or JPEG images are shown]"

_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]+")
_WORD = re.compile(r"[\w.:+-]{1,100}")
_KEY = re.compile(r"[\w .:+()/-]{1,100}")  # "checks (waited for)"
_CELL_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_ATTACHMENT = re.compile(r"attachment:([^\s)\]\"'<>]+)")

#: The pages the course writes load nothing but their own data: no script at all (the
#: feedback page's MathJax aside, see FEEDBACK_POLICY), styles inline.
CONTENT_SECURITY_POLICY = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                           "base-uri 'none'; form-action 'none'")
#: The feedback page's MathJax 2: one folder of cdnjs (its extensions and fonts come from
#: there too), and its configuration, a script the policy allows by its hash only.
MATHJAX_ROOT = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/"
MATHJAX_URL = MATHJAX_ROOT + "MathJax.js?config=TeX-AMS_CHTML-full,Safe"
MATHJAX_CONFIG = ('window.MathJax = {TeX: {equationNumbers: {autoNumber: "AMS", '
                  r'useLabelIds: true}}, tex2jax: {inlineMath: [["$", "$"], ["\\(", "\\)"]], '
                  r'displayMath: [["$$", "$$"], ["\\[", "\\]"]], processEscapes: true, '
                  'processEnvironments: true}, displayAlign: "center", '
                  'messageStyle: "none", CommonHTML: {linebreaks: {automatic: true}}};')
#: The feedback page (instructor/templates/course_feedback): no inline script but
#: MathJax's configuration, no eval, nothing from elsewhere but MathJax's folder.
FEEDBACK_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    f"font-src {MATHJAX_ROOT}; script-src 'sha256-"
    f"{base64.b64encode(hashlib.sha256(MATHJAX_CONFIG.encode()).digest()).decode()}' "
    f"{MATHJAX_ROOT}; base-uri 'none'; form-action 'none'")


def policy_tag(policy: str = CONTENT_SECURITY_POLICY) -> str:
    """The ``<meta>`` element that declares ``policy`` (first in a page's head)."""
    return f'<meta http-equiv="Content-Security-Policy" content="{policy}">'


def clean_html(text: str) -> str:
    """``text`` with only the allowed tags, attributes, styles and link schemes (nh3);
    a removed script's or style sheet's text stays, as text, for the reader to see."""
    return nh3.clean(str(text), tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES,
                     clean_content_tags=set(), filter_style_properties=STYLES,
                     link_rel="noopener noreferrer nofollow")


def _text(value) -> str:
    """Text as nbformat stores it (a string or a list of lines); anything else, its repr."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return value if isinstance(value, str) else repr(value)


def _base64(value) -> str | None:
    """``value`` if it is base64 that decodes, else None."""
    value = _text(value)
    if not _BASE64.fullmatch(value):
        return None
    try:
        base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return value


def _int(value, least: int = 0) -> int | None:
    """``value`` if it is an integer (not a bool) of at least ``least``, else None."""
    integer = isinstance(value, int) and not isinstance(value, bool)
    return value if integer and value >= least else None


def _plain(value, depth: int = 3):
    """A JSON value of plain words and numbers (the grader's own record), else None."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, str):
        return value if len(value) <= 200 and "<" not in value and "&" not in value else None
    if depth and isinstance(value, dict):
        return {k: v for k, v in ((k, _plain(v, depth - 1)) for k, v in value.items()
                                  if isinstance(k, str) and _KEY.fullmatch(k))
                if v is not None}
    if depth and isinstance(value, list):
        return [v for v in (_plain(v, depth - 1) for v in value) if v is not None]
    return None


def inert_output(output: dict) -> dict:
    """``output`` with what an allow-list keeps, changed in place (and returned)."""
    kind = output.get("output_type")
    if kind == "stream":
        name = output.get("name")
        kept = dict(name=name if name in ("stdout", "stderr") else "stdout",
                    text=_text(output.get("text", "")))
    elif kind == "error":
        trace = output.get("traceback")
        kept = dict(ename=_text(output.get("ename", "")), evalue=_text(output.get("evalue", "")),
                    traceback=[_text(t) for t in trace] if isinstance(trace, list) else [])
    else:
        kind = kind if kind in ("display_data", "execute_result") else "display_data"
        data = output.get("data") if isinstance(output.get("data"), dict) else {}
        meta = output.get("metadata") if isinstance(output.get("metadata"), dict) else {}
        shown = {mime: clean_html(_text(data[mime])) if mime == "text/html"
                 else _text(data[mime]) for mime in TEXT_TYPES if mime in data}
        sizes: dict = {}
        for mime in IMAGE_TYPES:
            if mime in data and (image := _base64(data[mime])) is not None:
                shown[mime] = image
                size = meta.get(mime) if isinstance(meta.get(mime), dict) else {}
                size = {k: v for k in ("width", "height") if (v := _int(size.get(k), 1))}
                if size:
                    sizes[mime] = size
        dropped = sorted(set(data) - set(shown))
        if dropped:
            note = DROPPED.format(types=", ".join(dropped))
            shown["text/plain"] = (shown.get("text/plain", "").rstrip("\n") + "\n" + note).lstrip()
            if "text/html" in shown:
                shown["text/html"] += f"<p><em>{clean_html(note)}</em></p>"
        kept = dict(data=shown, metadata=sizes)
        if kind == "execute_result":
            kept["execution_count"] = _int(output.get("execution_count"))
    output.clear()
    output.update(output_type=kind, **kept)
    return output


def cell_metadata(meta: dict) -> dict:
    """A cell's metadata as the allow-list keeps it, each of its type: nbgrader's (from the
    release, checked before this runs), plain-word tags, display switches. No timings: no
    kernel runs in grading, so any a cell carries are the student's."""
    kept: dict = {}
    if isinstance(meta.get("nbgrader"), dict):
        kept["nbgrader"] = meta["nbgrader"]
    if "tags" in meta:
        tags = meta["tags"] if isinstance(meta["tags"], list) else []
        kept["tags"] = [t for t in tags if isinstance(t, str) and _WORD.fullmatch(t)]
    jupyter = meta.get("jupyter")
    if isinstance(jupyter, dict):
        kept["jupyter"] = {k: jupyter[k] for k in ("source_hidden", "outputs_hidden")
                           if isinstance(jupyter.get(k), bool)}
    for key in ("deletable", "editable", "collapsed", "scrolled"):
        if isinstance(meta.get(key), bool) or key == "scrolled" and meta.get(key) == "auto":
            kept[key] = meta[key]
    for key in ("raw_mimetype", "format"):
        if isinstance(meta.get(key), str) and re.fullmatch(r"[\w.+-]+/[\w.+-]+", meta[key]):
            kept[key] = meta[key]
    return kept


def notebook_metadata(meta: dict) -> dict:
    """The notebook's metadata as the allow-list keeps it: the kernel's and the
    language's names (plain words) and the grader's record of plain values, its notes
    as one-line texts."""
    kept: dict = {}
    for key, fields in (("kernelspec", ("name", "display_name", "language")),
                        ("language_info", ("name", "version", "mimetype", "file_extension",
                                           "pygments_lexer", "nbconvert_exporter"))):
        value = meta.get(key)
        if isinstance(value, dict):
            kept[key] = {f: value[f] for f in fields if isinstance(value.get(f), str)
                         and re.fullmatch(r"[\w .()/+-]{0,100}", value[f])}
    info = meta.get("language_info")
    mode = info.get("codemirror_mode") if isinstance(info, dict) else None
    if isinstance(mode, str) and _WORD.fullmatch(mode):
        kept.setdefault("language_info", {})["codemirror_mode"] = mode
    elif isinstance(mode, dict):
        kept.setdefault("language_info", {})["codemirror_mode"] = _plain(mode, 1)
    record = meta.get("course_grading")
    if isinstance(record, dict):
        kept["course_grading"] = _plain(record)
        if isinstance(record.get("notes"), list):  # notes quote a student's words: kept
            kept["course_grading"]["notes"] = [  # as text, escaped wherever they are shown
                one_line(n) for n in record["notes"] if isinstance(n, str)]
    return kept


def _attachments(value) -> dict:
    """A course markdown cell's attachments: base64 images of the types above."""
    kept = {}
    for name, bundle in value.items() if isinstance(value, dict) else ():
        if isinstance(name, str) and _WORD.fullmatch(name) and isinstance(bundle, dict):
            images = {m: d for m in ATTACHMENT_TYPES
                      if m in bundle and (d := _base64(bundle[m])) is not None}
            if images:
                kept[name] = images
    return kept


class InertContent(FromRelease, FeedbackPreprocessor):
    """Nothing a student wrote, printed or set runs where a person views it: every
    output, id, count, metadata, raw and markdown cell not the release's is made inert, after
    ``SaveAutoGrades`` (scores go by the outputs) and again in ``generate_feedback``."""

    _course_markdown: frozenset[str] = frozenset()

    def preprocess(self, nb, resources):
        release = self.read_release(resources)
        self._course_markdown = release.markdown if release else frozenset()
        nb.metadata = nbformat.from_dict(notebook_metadata(dict(nb.metadata)))
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if "id" in cell and not (isinstance(cell.id, str) and _CELL_ID.fullmatch(cell.id)):
            cell.id = generate_corpus_id()
        cell.metadata = nbformat.from_dict(cell_metadata(dict(cell.get("metadata", {}))))
        cell.source = _text(cell.get("source", ""))
        if cell.cell_type == "code":
            cell.execution_count = _int(cell.get("execution_count"))
            outputs = cell.get("outputs") if isinstance(cell.get("outputs"), list) else []
            cell.outputs = [nbformat.from_dict(inert_output(dict(o))) for o in outputs
                            if isinstance(o, dict)]
        elif cell.cell_type == "raw":
            cell.source = clean_html(cell.source)
        elif cell.cell_type == "markdown" and cell.source.strip() in self._course_markdown:
            if "attachments" in cell:
                cell.attachments = nbformat.from_dict(_attachments(cell.attachments))
        elif cell.cell_type == "markdown":
            cell.source = inert_markdown(cell.source)
            cell.pop("attachments", None)
        return cell, resources


def inert_markdown(source: str) -> str:
    """``source`` as one line of clean HTML (newlines as character references), rendered
    as nbconvert would, every attachment it names an empty stand-in: an image is no
    allowed tag, so no attachment's data reaches the page; a missing one raises nothing."""
    inner = source.strip()
    if inner.startswith(STUDENT_MARKDOWN) and inner.endswith("</div>"):
        # stored so by an earlier pass (feedback after autograde): cleaned again
        inner = inner[len(STUDENT_MARKDOWN):-len("</div>")]
    named = {name: {"text/plain": ""} for name in _ATTACHMENT.findall(inner)}
    renderer = IPythonRenderer(escape=False, attachments=named)
    html = clean_html(MarkdownWithMath(renderer=renderer).render(inner)).strip()
    # nh3 turns a character reference in an attribute (&#13;) back into the character: a
    # raw line break of either kind would let formgrader's second markdown pass split the
    # line and read the rest as new markdown
    html = html.replace("\r", "&#13;").replace("\n", "&#10;")
    return f"{STUDENT_MARKDOWN}{html}</div>"
