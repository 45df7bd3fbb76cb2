"""A student's own working copy of the course: ``work/``, made from ``release/``.

``make lab`` runs this before it opens JupyterLab on ``work/``::

    .venv/bin/python scripts/workspace.py            # release/ -> work/

- On first use every assignment folder of ``release/`` (the student version: no
  solutions, no hidden tests) is copied to ``work/``.
- Later runs (after ``git pull``, say) add new assignments and new files, and never
  write over a notebook the student changed: when the release of a notebook changed
  too, the new version is put beside it as ``<name>.new-release.ipynb``, with a line
  saying so. A notebook the student never changed is simply updated.
- ``work/.release.json`` remembers the checksum of each file as it was copied, which is
  how a student's change is told from a new release.
- ``work/nbgrader_config.py`` is the hub's student configuration
  (``deploy/jupyterhub/nbgrader_config.py``) with a local exchange folder,
  ``work/.exchange``: nbgrader's Assignment List in JupyterLab then shows an empty
  course instead of errors.

Nothing here touches ``release/`` or ``notebooks/``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from helpers.datasets import sha256_of

ROOT = Path(__file__).resolve().parents[1]
STATE = ".release.json"
NEW = ".new-release"
STUDENT_CONFIG = ROOT / "deploy" / "jupyterhub" / "nbgrader_config.py"


def sync(release: Path, work: Path) -> list[str]:
    """Bring ``work`` up to date with ``release``; one line per thing done."""
    release, work = Path(release), Path(work)
    if not release.is_dir():
        raise SystemExit(f"no release folder at {release}")
    work.mkdir(parents=True, exist_ok=True)
    state_path = work / STATE
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    done = []
    for source in sorted(p for p in release.rglob("*") if p.is_file()):
        name = source.relative_to(release).as_posix()
        if ".ipynb_checkpoints" in name:
            continue
        target = work / name
        new_sha = sha256_of(source)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            state[name] = new_sha
            done.append(f"added {name}")
            continue
        if state.get(name) == new_sha:
            continue  # the release did not change
        if state.get(name) == sha256_of(target) or sha256_of(target) == new_sha:
            shutil.copy2(source, target)  # the student never changed it
            state[name] = new_sha
            done.append(f"updated {name}")
            continue
        beside = target.with_name(f"{target.stem}{NEW}{target.suffix}")
        shutil.copy2(source, beside)
        state[name] = new_sha
        done.append(f"{name} has a new release; yours is kept, the new one is "
                    f"{beside.relative_to(work).as_posix()}")
    state_path.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    write_nbgrader_config(work)
    return done


def write_nbgrader_config(work: Path) -> Path:
    """nbgrader's settings for a copy of the course on one's own machine: the hub's, with
    the exchange in ``work/.exchange`` (nbgrader reads them from the folder JupyterLab
    serves)."""
    exchange = (Path(work) / ".exchange").resolve()
    exchange.mkdir(parents=True, exist_ok=True)  # nbgrader lists only an existing one
    text = STUDENT_CONFIG.read_text()
    text += ("\n# Written by `make lab`: your own copy, no JupyterHub, so a local exchange.\n"
             f"c.Exchange.root = {str(exchange)!r}\n")
    path = Path(work) / "nbgrader_config.py"
    path.write_text(text)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", type=Path, default=ROOT / "release")
    parser.add_argument("--work", type=Path, default=ROOT / "work")
    args = parser.parse_args(argv)
    for line in sync(args.release, args.work):
        print(line)
    print(f"your copy of the course: {args.work}")


if __name__ == "__main__":
    main()
