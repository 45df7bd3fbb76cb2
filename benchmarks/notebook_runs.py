"""What running every notebook costs: wall time and the kernel's peak memory.

Each notebook runs in a fresh child process (this script with ``--child``) that executes
it with the course's notebook runner (:mod:`instructor.engine.runner`, nbclient, as nbval
does); once its kernel has exited, the child reads the kernel's peak resident memory
from ``getrusage(RUSAGE_CHILDREN)``. Prints one row per notebook and the total, next
to the targets: in fast mode 10 minutes in total and 4 GiB per kernel; in full mode
(``--mode full``, with the course's weights) 5 minutes per notebook, run as a student
runs it with the graded tasks solved and without the worked answers to the exercises
(which a student writes, and which train models of their own).

    make bench-notebooks            # or: .venv/bin/python benchmarks/notebook_runs.py [NAME ...]
    .venv/bin/python benchmarks/notebook_runs.py --mode full 03 08
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from helpers import settings
from instructor import ROOT
from instructor.engine.cells import without_exercise_answers
from instructor.engine.runner import run_notebook

TARGET_TOTAL_S = 600
TARGET_PEAK_GIB = 4.0
#: Full mode: at most this long per notebook, with the course's weights.
TARGET_FULL_S = 300


def child(path: Path, mode: str) -> dict:
    """Run one notebook here (a fresh process): seconds, the kernel's peak memory, error."""
    nb = nbformat.read(path, as_version=4)
    if mode == "full":
        nb = without_exercise_answers(nb)
    start = time.perf_counter()
    error = ""
    try:
        # what each notebook's kernel runs with, over this process's environment
        run_notebook(nb, path.parent, {"COURSE_MODE": mode, "MPLBACKEND": "Agg"},
                     timeout=900)
    except Exception as exc:  # noqa: BLE001 - report, do not hide
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"seconds": seconds, "peak_kib": peak_kib, "error": error}


def notebooks(names: list[str]) -> list[Path]:
    found = sorted(p for p in (ROOT / "notebooks").glob("*/*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)
    if names:
        found = [p for p in found if any(n in p.stem for n in names)]
    return found


def run_one(path: Path, mode: str) -> dict:
    """:func:`child` in a fresh process, so that its peak memory is this notebook's."""
    out = subprocess.run([sys.executable, __file__, "--child", str(path), "--mode", mode],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="run only notebooks whose name contains one")
    parser.add_argument("--mode", choices=("fast", "full"), default="fast")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.mode)))
        return
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; COURSE_DATA_DIR={settings.path('COURSE_DATA_DIR')}")
    print(f"{args.mode} mode")
    print(f"{'notebook':<34}{'seconds':>9}{'peak GiB':>10}  status")
    total, worst, longest = 0.0, 0.0, 0.0
    for path in notebooks(args.names):
        result = run_one(path, args.mode)
        gib = result["peak_kib"] / 2**20
        total += result["seconds"]
        worst = max(worst, gib)
        longest = max(longest, result["seconds"])
        status = result["error"] or "ok"
        print(f"{path.stem:<34}{result['seconds']:>9.1f}{gib:>10.2f}  {status}", flush=True)
    if args.mode == "full":
        print(f"{'longest':<34}{longest:>9.1f}{worst:>10.2f}  (target: {TARGET_FULL_S} s per "
              f"notebook; {longest / TARGET_FULL_S:.2f}x of target)")
        return
    print(f"{'total':<34}{total:>9.1f}{worst:>10.2f}  "
          f"(targets: {TARGET_TOTAL_S} s in total, {TARGET_PEAK_GIB} GiB per kernel; "
          f"time {total / TARGET_TOTAL_S:.2f}x of target, peak {worst / TARGET_PEAK_GIB:.2f}x)")


if __name__ == "__main__":
    main()
