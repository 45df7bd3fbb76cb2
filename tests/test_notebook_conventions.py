"""Every source notebook follows the course skeleton (docs/authoring.md)."""

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

from instructor.engine.cells import is_exercise_answer
from scripts import notebook_form

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*/*.ipynb"))
NOTEBOOKS = [p for p in NOTEBOOKS if ".ipynb_checkpoints" not in p.parts]


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _text(nb: dict, kind: str) -> str:
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == kind)


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/*/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_layout_name_and_kernel(path):
    assert path.stem == path.parent.name, "one assignment folder per notebook, same name"
    assert path.stem[:2].isdigit() and path.stem[2] == "_"
    assert _load(path)["metadata"]["kernelspec"]["name"] == "autoencoders-course"


@pytest.mark.parametrize("path", notebook_form.stored_notebooks(), ids=lambda p: str(p.parent))
def test_stored_in_the_form_jupyterlab_writes(path):
    """No outputs, the course kernel, and the JSON JupyterLab saves: a notebook opened in
    JupyterLab is not marked as changed before anything runs. The kernel's patch version
    is the one exception (it is whatever Python 3.11 the environment has)."""
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    stored = nb.metadata.get("language_info", {})
    info = dict(notebook_form.language_info(), version=stored.get("version", "?"))
    assert stored.get("version", "").startswith("3.11."), f"{path}: {stored}"
    assert text == notebook_form.normal_text(nb, info), \
        f"{path} is not in the stored form: run `make strip` (and `make release solutions`)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_skeleton(path):
    nb = _load(path)
    markdown = _text(nb, "markdown").lower()
    assert nb["cells"][0]["cell_type"] == "markdown"
    assert "".join(nb["cells"][0]["source"]).startswith("# ")
    for heading in ("learning objectives", "setup", "summary", "concept check"):
        assert heading in markdown, f"{path.name} lacks a '{heading}' section"
    setup = [c for c in nb["cells"] if "grade-setup" in c["metadata"].get("tags", [])]
    assert len(setup) == 1 and "helpers.setup(" in "".join(setup[0]["source"])


#: The fixed sections: the two before the numbered ones and the three that end a notebook.
OPENING = ["Learning objectives", "Setup"]
CLOSING = ["Exercises", "Summary", "Concept check"]
SECTION = re.compile(r"^(\d+) · \S")
TASK_HEADING = re.compile(r"^Graded task \([a-z]\) · ")
TITLE = re.compile(r"^# (\d\d) · \S.*$")


def _headings(cell) -> list[str]:
    """The level-2 headings of a markdown cell (outside fenced code), without the '## '."""
    text = re.sub(r"^```.*?^```", "", "".join(cell["source"]), flags=re.M | re.S)
    return [line[3:].strip() for line in text.splitlines() if line.startswith("## ")]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_title_and_section_order(path):
    """Title, Learning objectives, Setup, sections 1..N (graded tasks among them), then
    Exercises, Summary and Concept check, each fixed heading once and in that order."""
    cells = _load(path)["cells"]
    first = "".join(cells[0]["source"]).strip().splitlines()
    title = TITLE.match(first[0]) if first else None
    assert title and title.group(1) == path.stem[:2], \
        f"{path.name}: the first cell starts with '# {path.stem[:2]} · Title', not {first[:1]}"
    assert any(line.strip() and not line.startswith("#") for line in first[1:]), \
        f"{path.name}: a paragraph follows the title in the first cell"
    headings = [h for c in cells if c["cell_type"] == "markdown" for h in _headings(c)]
    for fixed in OPENING + CLOSING:
        assert headings.count(fixed) == 1, \
            f"{path.name}: '## {fixed}' appears {headings.count(fixed)} times, not once"
    assert headings[:2] == OPENING, f"{path.name} starts with {headings[:2]}, not {OPENING}"
    assert headings[-3:] == CLOSING, f"{path.name} ends with {headings[-3:]}, not {CLOSING}"
    body = headings[2:-3]
    numbers = [int(m.group(1)) for h in body if (m := SECTION.match(h))]
    assert numbers == list(range(1, len(numbers) + 1)) and numbers, \
        f"{path.name}: sections are numbered {numbers}, not 1..N without gaps"
    odd = [h for h in body if not SECTION.match(h) and not TASK_HEADING.match(h)]
    assert not odd, f"{path.name}: headings neither '## N · ...' nor a graded task: {odd}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_closing_sections_are_cells_of_their_own(path):
    """'## Exercises', '## Summary' and '## Concept check' each open a markdown cell that
    holds no other section; Summary and Concept check are the last two cells."""
    cells = _load(path)["cells"]
    for fixed in CLOSING:
        owners = [c for c in cells if c["cell_type"] == "markdown" and fixed in _headings(c)]
        assert len(owners) == 1
        source = "".join(owners[0]["source"]).lstrip()
        assert source.startswith(f"## {fixed}") and _headings(owners[0]) == [fixed], \
            f"{path.name}: '## {fixed}' should start a markdown cell of its own"
    last = ["".join(c["source"]).lstrip() for c in cells[-2:]]
    assert last[0].startswith("## Summary") and last[1].startswith("## Concept check"), \
        f"{path.name}: Summary and Concept check are not the last two cells"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_has_an_ungraded_answer(path):
    """Each numbered exercise (a markdown cell '<N>. ...' in the Exercises section) is
    followed by its answer: an ungraded nbgrader solution code cell, all of it a solution
    region, so that solutions/ has it and release/ does not. After the first answer come
    only answers and markdown, so that a student's Run All stops at an unanswered exercise
    only after everything else has run."""
    cells = _load(path)["cells"]
    start = next(i for i, c in enumerate(cells)
                 if c["cell_type"] == "markdown" and "Exercises" in _headings(c))
    end = next(i for i, c in enumerate(cells)
               if c["cell_type"] == "markdown" and "Summary" in _headings(c))
    numbered = [int(m.group(1)) for c in cells[start + 1:end] if c["cell_type"] == "markdown"
                and (m := re.match(r"(\d+)\. ", "".join(c["source"])))]
    assert numbered == list(range(1, len(numbered) + 1)) and numbered, \
        f"{path.name}: exercises numbered {numbered}: one markdown cell per exercise, 1..N"
    answers = {c["metadata"]["nbgrader"]["grade_id"]: c for c in cells if is_exercise_answer(c)}
    assert sorted(answers) == sorted(f"ex{n}-answer" for n in numbered), \
        f"{path.name}: answers {sorted(answers)} for exercises {numbered}"
    at = [i for i, c in enumerate(cells) if is_exercise_answer(c)]
    first = min(at)
    assert start < first and all(start < i < end for i in at)
    late = [c["id"] for c in cells[first:]
            if c["cell_type"] == "code" and not is_exercise_answer(c)]
    assert not late, f"{path.name}: code cells after the first exercise answer: {late}"
    for grade_id, cell in answers.items():
        meta = cell["metadata"]["nbgrader"]
        assert cell["cell_type"] == "code", f"{grade_id}: a code cell, not a markdown one"
        assert meta.get("solution") is True and not meta.get("grade") \
            and not meta.get("locked") and not meta.get("task") and "points" not in meta, \
            f"{grade_id}: an ungraded solution cell (solution, not grade/locked/task/points)"
        assert not any(t.startswith("task-") for t in cell["metadata"].get("tags", [])), \
            f"{grade_id}: an exercise answer belongs to no graded task"
        source = "".join(cell["source"]).strip()
        assert source.startswith("### BEGIN SOLUTION") and source.endswith("### END SOLUTION") \
            and source.count("### BEGIN SOLUTION") == 1, \
            f"{grade_id}: the whole cell is one solution region"
        body = source[len("### BEGIN SOLUTION"):-len("### END SOLUTION")]
        assert re.search(r"^# Answer", body, re.M), \
            f"{grade_id}: the written answer is a comment block starting '# Answer'"


#: The course writes "gray" and "color", not "grey" and "colour". Identifiers from
#: libraries that must keep their own spelling go here (none is used so far).
LIBRARY_SPELLINGS: set[str] = set()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_one_spelling_gray_and_color(path):
    found = set()
    for cell in _load(path)["cells"]:
        for word in re.findall(r"\w*(?:grey|colour)\w*", "".join(cell["source"]), re.I):
            if word not in LIBRARY_SPELLINGS:
                found.add(word)
    assert not found, f"{path.name}: write gray and color, not {sorted(found)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_figures_and_data_come_from_helpers(path):
    code = _text(_load(path), "code")
    for banned in ("plt.show(", "load_data(", "np.load(", "plt.subplots(", "plt.imshow("):
        assert banned not in code, f"{path.name} uses {banned}: use helpers instead"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_graded_cells_are_well_formed(path):
    for cell in _load(path)["cells"]:
        meta = cell["metadata"].get("nbgrader")
        if not meta:
            continue
        source = "".join(cell["source"])
        if meta.get("solution"):
            assert "### BEGIN SOLUTION" in source and "### END SOLUTION" in source
        if meta.get("grade") and not meta.get("solution"):
            assert meta.get("points", 0) > 0 and meta.get("locked")
            assert "import " not in source, "keep imports out of graded cells"
        if (meta.get("grade") or meta.get("solution")) and not is_exercise_answer(cell):
            assert any(t.startswith("task-") for t in cell["metadata"].get("tags", [])), \
                f"{meta['grade_id']} needs a task-<name> tag"


#: The graded tasks, lettered in course order: (a)-(d) the builders, then the functions.
TASKS = {"a": "vanilla", "b": "sparse", "c": "conv", "d": "vae", "e": "psnr",
         "f": "nearest", "g": "chroma", "h": "quantize", "i": "q-sample",
         "j": "topk"}
HEADING = re.compile(r"^## Graded task \(([a-z])\) · (.+) · (\d+) points?$", re.M)


def test_graded_tasks_share_one_heading_format_and_lettering():
    found = {}
    for path in NOTEBOOKS:
        nb = _load(path)
        points: dict[str, int] = {}
        for cell in nb["cells"]:
            meta = cell["metadata"].get("nbgrader") or {}
            tags = cell["metadata"].get("tags", [])
            task = next((t[5:] for t in tags if t.startswith("task-")), None)
            if task and meta.get("grade") and not meta.get("solution"):
                points[task] = points.get(task, 0) + meta["points"]
        headings = HEADING.findall(_text(nb, "markdown"))
        assert len(headings) == len(points), f"{path.name}: {headings} for tasks {points}"
        for letter, _name, total in headings:
            task = TASKS.get(letter)
            assert task is not None, (
                f"{path.name}: no task has the letter ({letter}) yet: add it to TASKS above, "
                f"e.g. {letter!r}: {next(iter(points), '<task>')!r} (its task-<name> tag)")
            assert task in points, f"{path.name}: task ({letter}) is {task}, not here"
            assert int(total) == points[task], f"({letter}): heading says {total} points"
            found[letter] = path.stem
    assert sorted(found) == sorted(TASKS), found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_names_the_course_kernel_when_helpers_is_missing(path, monkeypatch):
    """In a kernel without the course's package (plain ``python3`` on a JupyterHub, say),
    the setup cell says which kernel to choose instead of a bare ModuleNotFoundError."""
    setup = next(c for c in _load(path)["cells"]
                 if "grade-setup" in c["metadata"].get("tags", []))
    source = "".join(setup["source"])
    assert "try:" in source and "from None" in source, (
        f"{path.name}: the setup cell should import helpers in the try/except block that "
        "names the course's kernel (docs/authoring.md, Skeleton, item 3)")
    block = source[source.index("try:"):source.index("from None") + len("from None")]
    monkeypatch.setitem(sys.modules, "helpers", None)  # as if it were not installed
    with pytest.raises(ModuleNotFoundError, match=r"Python 3 \(autoencoders course\)"):
        exec(compile(block, "setup", "exec"), {})
