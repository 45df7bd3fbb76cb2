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

#: ``SafeExecute``'s traits that a setting gives (nbgrader_config.py), and the settings.
SAFE_EXECUTE = {
    "timeout": "COURSE_CELL_TIMEOUT",
    "notebook_timeout": "COURSE_NOTEBOOK_TIMEOUT",
    "memory_limit_gb": "COURSE_KERNEL_MEMORY_GB",
    "file_limit_mb": "COURSE_KERNEL_FILE_MB",
    "cpu_limit_seconds": "COURSE_KERNEL_CPU_SECONDS",
    "process_limit": "COURSE_KERNEL_PROCESSES",
    "scope": "COURSE_GRADE_SCOPE",
}


def safe_execute(environ: Environ = None) -> dict[str, settings.Value]:
    """The values of :data:`SAFE_EXECUTE`'s traits, read from ``environ``."""
    return {trait: settings.read(name, environ) for trait, name in SAFE_EXECUTE.items()}


def helpers_dirs() -> list[str]:
    """Where a kernel imports ``helpers`` from: this repository's copy and, asked in a
    fresh interpreter outside the repository, wherever the environment installed it."""
    import subprocess

    found = [str(Path(__file__).resolve().parents[2] / "helpers")]
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
