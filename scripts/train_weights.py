"""Make the course's pre-trained weights by running notebooks with training switched on.

Every notebook that calls ``helpers.fit_or_load`` is executed up to its last such cell
in a fresh kernel with ``COURSE_RETRAIN=1`` (train instead of loading) and
``COURSE_SAVE_WEIGHTS=1`` (save what was trained), in full mode unless told otherwise. The
notebook is the only place a model is defined, so the weights always match it; the cells
after the last ``fit_or_load`` train nothing that is shipped. Prints, per notebook, the
wall time and each weights file written with its size and training time.

    .venv/bin/python scripts/train_weights.py                   # every notebook, full mode
    .venv/bin/python scripts/train_weights.py 04 05             # notebooks whose name has 04 or 05
    .venv/bin/python scripts/train_weights.py --mode fast --out /tmp/w 04   # a quick check
    .venv/bin/python scripts/train_weights.py --missing 03      # only weights not yet in --out
    .venv/bin/python scripts/train_weights.py --list            # a table of what is shipped
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import nbformat

from helpers import settings
from helpers.pretrained import REPO_WEIGHTS
from instructor import ROOT
from instructor.engine.cells import without_exercise_answers
from instructor.engine.runner import run_notebook


def weight_notebooks(names: list[str]) -> list[Path]:
    """Source notebooks that call ``fit_or_load`` (filtered by ``names`` when given)."""
    found = [p for p in sorted((ROOT / "notebooks").glob("*/*.ipynb"))
             if ".ipynb_checkpoints" not in p.parts and "fit_or_load(" in p.read_text()]
    return [p for p in found if not names or any(n in p.stem for n in names)]


def training_cells(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` without its exercise answers, up to its last code cell that calls
    ``fit_or_load`` (all of it if none does): the cells after it (figures, graded tasks)
    train nothing that is shipped."""
    nb = without_exercise_answers(nb)  # they come last, and may call fit_or_load too
    last = max((i for i, c in enumerate(nb.cells)
                if c.cell_type == "code" and "fit_or_load(" in c.source), default=len(nb.cells))
    return nbformat.from_dict({**nb, "cells": nb.cells[:last + 1]})


def run(path: Path, mode: str, out: Path, timeout: int, missing: bool = False) -> float:
    """Execute one notebook with training and saving on; return its wall time.

    With ``missing``, models whose weights are already in ``out`` load them, and only the
    others are trained and saved.
    """
    env = {"COURSE_MODE": mode, "COURSE_RETRAIN": None if missing else "1",
           "COURSE_SAVE_WEIGHTS": "1",
           "COURSE_WEIGHTS_DIR": str(out), "COURSE_WEIGHTS": None, "MPLBACKEND": "Agg"}
    data = settings.path("COURSE_DATA_DIR")
    if data:  # the kernel runs in the notebook's folder
        env["COURSE_DATA_DIR"] = os.path.abspath(data)
    nb = training_cells(nbformat.read(path, as_version=4))
    start = time.perf_counter()
    run_notebook(nb, path.parent, env, timeout=timeout)
    return time.perf_counter() - start


def table(folder: Path) -> str:
    """A Markdown table of the weights in ``folder``, from their records."""
    lines = ["| weights | parameters | MiB | epochs | training (s) | final loss | val loss "
             "| made on |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for meta in sorted(folder.glob("*.json")):
        info = json.loads(meta.read_text())
        size = meta.with_name(f"{info['name']}.weights.npz").stat().st_size / 2**20
        made, hist = info["made"], info["history"]
        val = f"{hist['val_loss'][-1]:.4g}" if "val_loss" in hist else "–"
        lines.append(f"| `{info['name']}` | {info['parameters']:,} | {size:.2f} | "
                     f"{made['epochs']} | {made['seconds']:.0f} | {hist['loss'][-1]:.4g} | "
                     f"{val} | {made['machine']}, {made['mode']} mode |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="only notebooks whose name contains one")
    parser.add_argument("--mode", choices=("full", "fast"), default="full")
    parser.add_argument("--out", type=Path, default=REPO_WEIGHTS,
                        help=f"where to write the weights (default {REPO_WEIGHTS})")
    parser.add_argument("--timeout", type=int, default=6 * 3600, help="seconds per cell")
    parser.add_argument("--missing", action="store_true",
                        help="train only the models with no weights in --out yet")
    parser.add_argument("--list", action="store_true", help="print a table of the weights in --out")
    args = parser.parse_args()
    if args.list:
        print(table(args.out))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    chosen = weight_notebooks(args.names)
    if not chosen:
        parser.error("no notebook calls fit_or_load with that name")
    for path in chosen:
        before = {p: p.stat().st_mtime for p in args.out.glob("*.json")}
        seconds = run(path, args.mode, args.out.resolve(), args.timeout, args.missing)
        print(f"{path.stem}: {seconds:.0f} s ({args.mode} mode)", flush=True)
        for meta in sorted(args.out.glob("*.json")):
            if before.get(meta) == meta.stat().st_mtime:
                continue
            info = json.loads(meta.read_text())
            weights = meta.with_name(f"{info['name']}.weights.npz")
            print(f"  {weights.name:<34}{weights.stat().st_size / 2**20:6.2f} MiB  "
                  f"{info['parameters']:>9,} parameters  {info['made']['epochs']:>3} epochs  "
                  f"{info['made']['seconds']:7.0f} s  val_loss "
                  f"{info['history'].get('val_loss', ['-'])[-1]}", flush=True)


if __name__ == "__main__":
    main()
