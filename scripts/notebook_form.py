"""The form in which the course's notebooks are stored: the form JupyterLab writes back.

A notebook opened in JupyterLab is marked as changed (the dot on its tab) as soon as its
kernel starts if the stored file differs from what JupyterLab would save: the kernel
fills in ``metadata.language_info``. So every notebook is stored:

- without outputs or execution counts;
- naming the course kernel, ``autoencoders-course`` ("Python 3 (autoencoders course)"),
  which ``make setup`` registers;
- with ``language_info`` as the course kernel reports it;
- as nbformat 4.5 JSON with one space of indent, sorted keys and a final newline.

``make strip`` applies it to ``notebooks/``; ``make release solutions`` carry it over.
``tests/test_notebook_conventions.py`` checks every stored notebook against it.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("notebooks", "release", "solutions")

#: The kernel every notebook names (Makefile: KERNEL).
KERNELSPEC = {"display_name": "Python 3 (autoencoders course)", "language": "python",
              "name": "autoencoders-course"}


def language_info() -> dict:
    """What the course kernel (IPython's kernel in this environment) reports of itself."""
    from ipykernel.ipkernel import IPythonKernel

    return copy.deepcopy(IPythonKernel.language_info)


def normal_text(nb: nbformat.NotebookNode, info: dict | None = None) -> str:
    """``nb`` in the stored form, as text (``nb`` itself is not changed)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = info if info is not None else language_info()
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nbformat.writes(nb) + "\n"


def stored_notebooks(root: Path = ROOT) -> list[Path]:
    """Every notebook of the stored folders."""
    return sorted(p for folder in FOLDERS for p in (root / folder).glob("*/*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path,
                        help="notebooks to rewrite (default: every notebook of notebooks/)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; list the notebooks not in the stored form")
    args = parser.parse_args(argv)
    paths = args.paths or sorted((ROOT / "notebooks").glob("*/*.ipynb"))
    info, off = language_info(), []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        want = normal_text(nbformat.reads(text, as_version=4), info)
        if text != want:
            off.append(path)
            if not args.check:
                path.write_text(want, encoding="utf-8")
    for path in off:
        print(f"{'not in the stored form' if args.check else 'rewrote'}: {path}")
    return 1 if (args.check and off) else 0


if __name__ == "__main__":
    sys.exit(main())
