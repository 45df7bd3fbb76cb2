"""The limits a graded notebook runs under (see nbgrader_config.py).

Their defaults, and the reasons for them, are declared in :mod:`helpers.settings`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from helpers import settings
from helpers.pretrained import weights_dir

Environ = Mapping[str, str] | None


def cell_timeout(environ: Environ = None) -> int:
    """Per-cell timeout in seconds (``COURSE_CELL_TIMEOUT``)."""
    return settings.integer("COURSE_CELL_TIMEOUT", environ)


def notebook_timeout(environ: Environ = None) -> int:
    """Per-notebook time budget in seconds (``COURSE_NOTEBOOK_TIMEOUT``)."""
    return settings.integer("COURSE_NOTEBOOK_TIMEOUT", environ)


def kernel_memory_gb(environ: Environ = None) -> float:
    """Kernel address-space cap in GiB (``COURSE_KERNEL_MEMORY_GB``)."""
    return settings.number("COURSE_KERNEL_MEMORY_GB", environ)


def kernel_file_mb(environ: Environ = None) -> float:
    """Largest file a kernel may write, MiB (``COURSE_KERNEL_FILE_MB``)."""
    return settings.number("COURSE_KERNEL_FILE_MB", environ)


def kernel_cpu_seconds(environ: Environ = None) -> float:
    """CPU seconds of a kernel, all threads (``COURSE_KERNEL_CPU_SECONDS``)."""
    return settings.number("COURSE_KERNEL_CPU_SECONDS", environ)


def kernel_processes(environ: Environ = None) -> int:
    """Processes and threads of a kernel (``COURSE_KERNEL_PROCESSES``)."""
    return settings.integer("COURSE_KERNEL_PROCESSES", environ)


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


def readable_paths(environ: Environ = None) -> list[str]:
    """What a grading kernel may read (besides its own scratch folder): the system,
    Python and the virtual environment, the course's ``helpers`` package, the data and the
    course's pre-trained weights (so demo models load instead of training).

    Not on the list, so unreadable: the repository (source notebooks with hidden tests,
    solutions/, the gradebook) and the grader's own folders.
    """
    env = os.environ if environ is None else environ
    home = Path.home()
    data = settings.path("COURSE_DATA_DIR", env)
    candidates = [
        "/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/opt", "/proc",
        "/sys", sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable)),
        *helpers_dirs(),
        str(data or ""),
        str(weights_dir(env)),
        env.get("KERAS_HOME", "") or str(home / ".keras"),
        str(home / ".cache" / "matplotlib"), str(home / ".config" / "matplotlib"),
    ]
    seen: list[str] = []
    for path in candidates:
        if path and os.path.exists(path) and os.path.realpath(path) not in seen:
            seen.append(os.path.realpath(path))
    return seen


def grade_scope(environ: Environ = None) -> str:
    """``COURSE_GRADE_SCOPE``: ``notebook`` (default, every cell) or ``tasks``."""
    return settings.choice("COURSE_GRADE_SCOPE", environ)
