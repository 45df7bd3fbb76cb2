"""Kernel time per update of the notebooks' latent-space explorers (helpers.explorers).

For each explorer, its notebook runs in a fresh kernel (fast mode, the course's weights,
``COURSE_EXPLORERS=widgets``: the widgets are made as in JupyterLab) up to and including
the explorer's cell; then a
cell moves one control to 200 random values and times each update, from setting the
control to the new PNG in the Image widget: the work the kernel does for one move of a
slider. Prints the median and the 95th percentile per explorer, of the wall time and of
the kernel process's CPU time (which leaves out the time spent waiting for a core on a
loaded machine), against the target of 30 ms for the wall time. Times depend on the
machine and its load: say which when quoting them.

    .venv/bin/python benchmarks/explorer_latency.py [--moves 200] [03 08 09]
"""

from __future__ import annotations

import argparse
import json
import os

import nbformat

from instructor import ROOT
from instructor.engine.runner import run_notebook

TARGET_MS = 30.0
NOTEBOOKS = {
    "03": "03_convolutional_autoencoders",
    "08": "08_variational_autoencoder",
    "09": "09_vae_tfp_layers",
}
#: Kernel code: moves per explorer control, in the notebook's own namespace.
MOVES = {
    "03": [("interpolation: w", "w", 0.0, 1.0, "")],
    "08": [("2-D VAE: z[0]", "z0", -3.0, 3.0, ""),
           ("2-D VAE + nearest training image", "z1", -3.0, 3.0,
            "explorer.controls['nearest'].value = True"),
           ("2-D plain AE: z[0]", "z0", None, None,
            "explorer.controls['nearest'].value = False; "
            "explorer.controls['model'].value = 'plain AE'")],
    "09": [("10-D traversal: t", "t", -3.0, 3.0, "")],
}
TIMING = """
import json as _json, time as _time
import numpy as _np
_rng, _out = _np.random.default_rng(0), []
for _name, _control, _lo, _hi, _setup in {moves!r}:
    exec(_setup)
    _c = explorer.controls[_control]
    _lo = _c.min if _lo is None else _lo
    _hi = _c.max if _hi is None else _hi
    explorer.update()
    _ms, _cpu = [], []
    for _v in _rng.uniform(_lo, _hi, {n}):
        _t0, _c0 = _time.perf_counter(), _time.process_time()
        _c.value = float(_v)
        explorer.update()
        _ms.append(1000 * (_time.perf_counter() - _t0))
        _cpu.append(1000 * (_time.process_time() - _c0))
    _out.append((_name, *(float(f(_x)) for _x in (_ms, _cpu)
                          for f in (_np.median, lambda _a: _np.percentile(_a, 95)))))
print("EXPLORER-TIMES", _json.dumps(_out))
"""


def time_notebook(key: str, moves: int) -> list[tuple[str, float, float]]:
    name = NOTEBOOKS[key]
    folder = ROOT / "notebooks" / name
    nb = nbformat.read(folder / f"{name}.ipynb", as_version=4)
    last = next(k for k, cell in enumerate(nb.cells)
                if cell.cell_type == "code" and "helpers.explore_" in cell.source)
    nb.cells = nb.cells[:last + 1] + [nbformat.v4.new_code_cell(
        TIMING.format(moves=MOVES[key], n=moves))]
    env = {"COURSE_MODE": os.environ.get("COURSE_MODE", "fast"), "MPLBACKEND": "Agg",
           "COURSE_EXPLORERS": "widgets"}
    nb = run_notebook(nb, folder, env, timeout=1200)
    text = "".join(out.get("text", "") for out in nb.cells[-1].outputs)
    line = next(line for line in text.splitlines() if line.startswith("EXPLORER-TIMES"))
    return json.loads(line.split(" ", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # checked below: argparse (3.11) tests an empty nargs="*" list against `choices`
    parser.add_argument("notebooks", nargs="*", help="03, 08 or 09 (default: all three)")
    parser.add_argument("--moves", type=int, default=200)
    args = parser.parse_args()
    unknown = sorted(set(args.notebooks) - set(NOTEBOOKS))
    if unknown:
        parser.error(f"unknown notebooks {unknown}: choose from {list(NOTEBOOKS)}")
    print(f"kernel time per update over {args.moves} moves, "
          f"{os.cpu_count()} CPU(s) visible; target {TARGET_MS:.0f} ms")
    print(f"{'explorer':<36}{'wall ms: median':>16}{'p95':>7}{'CPU ms: median':>16}{'p95':>7}"
          "  target (wall p95)")
    for key in args.notebooks or list(NOTEBOOKS):
        for label, median, p95, cpu_median, cpu_p95 in time_notebook(key, args.moves):
            verdict = "met" if p95 <= TARGET_MS else "not met"
            print(f"{label:<36}{median:>16.1f}{p95:>7.1f}{cpu_median:>16.1f}{cpu_p95:>7.1f}"
                  f"  {verdict}")


if __name__ == "__main__":
    main()
