"""The limits a graded notebook runs under, in one place (see nbgrader_config.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from helpers.pretrained import weights_dir

#: Seconds one cell may run. Under nbgrader the notebooks train in fast mode; the
#: longest cell of a graded notebook took under a minute on 2 loaded CPU cores when this
#: was set, so 180 s leaves room for slow machines and still stops a runaway cell.
CELL_TIMEOUT = 180
#: Seconds a whole notebook may run; cells after that are not run (and score nothing).
NOTEBOOK_TIMEOUT = 900
#: Address-space cap of a grading kernel, in GiB. TensorFlow reserves far more virtual
#: memory than it uses (about 3 GiB just after import on CPU), so the cap is on
#: RLIMIT_AS, generous, and still stops a cell that allocates without bound.
KERNEL_MEMORY_GB = 8.0
#: Largest file a grading kernel may write, in MiB: the course's models and figures are
#: a few MiB; a runaway write stops here instead of filling the disk.
KERNEL_FILE_MB = 512
#: CPU seconds of one grading kernel, all its threads together: four cores busy for the
#: whole notebook budget. A kernel past it is stopped (graded as a crash of that cell).
KERNEL_CPU_SECONDS = 4 * NOTEBOOK_TIMEOUT
#: Processes and threads of one grading kernel. TensorFlow starts a few dozen threads
#: on a small machine; a fork loop stops here.
KERNEL_PROCESSES = 512


def _env_number(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a number") from None
    if number <= 0:
        raise ValueError(f"{name} must be positive, got {number}")
    return number


def cell_timeout() -> int:
    """Per-cell timeout in seconds (``COURSE_CELL_TIMEOUT`` overrides)."""
    return int(_env_number("COURSE_CELL_TIMEOUT", CELL_TIMEOUT))


def notebook_timeout() -> int:
    """Per-notebook time budget in seconds (``COURSE_NOTEBOOK_TIMEOUT`` overrides)."""
    return int(_env_number("COURSE_NOTEBOOK_TIMEOUT", NOTEBOOK_TIMEOUT))


def kernel_memory_gb() -> float:
    """Kernel address-space cap in GiB (``COURSE_KERNEL_MEMORY_GB`` overrides)."""
    return _env_number("COURSE_KERNEL_MEMORY_GB", KERNEL_MEMORY_GB)


def kernel_file_mb() -> float:
    """Largest file a kernel may write, MiB (``COURSE_KERNEL_FILE_MB`` overrides)."""
    return _env_number("COURSE_KERNEL_FILE_MB", KERNEL_FILE_MB)


def kernel_cpu_seconds() -> float:
    """CPU seconds of a kernel (``COURSE_KERNEL_CPU_SECONDS`` overrides)."""
    return _env_number("COURSE_KERNEL_CPU_SECONDS", KERNEL_CPU_SECONDS)


def kernel_processes() -> int:
    """Processes and threads of a kernel (``COURSE_KERNEL_PROCESSES`` overrides)."""
    return int(_env_number("COURSE_KERNEL_PROCESSES", KERNEL_PROCESSES))


def helpers_dirs() -> list[str]:
    """Where a kernel imports ``helpers`` from: this repository's copy and, asked in a
    fresh interpreter outside the repository, wherever the environment installed it."""
    import subprocess

    found = [str(Path(__file__).resolve().parents[1] / "helpers")]
    try:
        out = subprocess.run([sys.executable, "-c", "import importlib.util as u; "
                              "print(u.find_spec('helpers').submodule_search_locations[0])"],
                             cwd="/", capture_output=True, text=True, timeout=60)
        if out.returncode == 0 and out.stdout.strip():
            found.append(out.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return found


def readable_paths() -> list[str]:
    """What a grading kernel may read (besides its own scratch folder): the system,
    Python and the virtual environment, the course's ``helpers`` package, the data and the
    course's pre-trained weights (so demo models load instead of training).

    Not on the list, so unreadable: the repository (source notebooks with hidden tests,
    solutions/, the gradebook) and the grader's own folders.
    """
    home = Path.home()
    candidates = [
        "/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/opt", "/proc",
        "/sys", sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable)),
        *helpers_dirs(),
        os.environ.get("COURSE_DATA_DIR", ""),
        str(weights_dir()),
        os.environ.get("KERAS_HOME", "") or str(home / ".keras"),
        str(home / ".cache" / "matplotlib"), str(home / ".config" / "matplotlib"),
    ]
    seen: list[str] = []
    for path in candidates:
        if path and os.path.exists(path) and os.path.realpath(path) not in seen:
            seen.append(os.path.realpath(path))
    return seen


def grade_scope() -> str:
    """``COURSE_GRADE_SCOPE``: ``notebook`` (default, every cell) or ``tasks``."""
    value = os.environ.get("COURSE_GRADE_SCOPE", "").strip() or "notebook"
    if value not in ("notebook", "tasks"):
        raise ValueError(f"COURSE_GRADE_SCOPE={value!r}: use 'notebook' or 'tasks'")
    return value
