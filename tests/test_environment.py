"""The course's environment: requirements.txt pins what pyproject.toml declares, and is
what is installed; the course kernel imports helpers from any folder."""

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: NAME==VERSION, with an environment marker where a package exists on some platforms only
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)(\s*;\s*[^#;]+)?$")


def _pins(lines) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.strip().removeprefix("- ").strip()
        if (m := PIN.match(line)):
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def requirements() -> dict[str, str]:
    return _pins((ROOT / "requirements.txt").read_text().splitlines())


def declared() -> set[str]:
    """The packages pyproject.toml declares, extras included (not the course itself)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [*project["dependencies"], *(d for extra in project["optional-dependencies"]
                                         .values() for d in extra)]
    found = {re.match(r"[A-Za-z0-9_.\-]+", n).group(0).lower().replace("_", "-")
             for n in names}
    return found - {project["name"]}


def test_every_requirement_is_pinned_exactly():
    lines = [ln.strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    entries = [ln for ln in lines if ln and not ln.startswith("#")]
    assert entries and len(entries) == len(requirements()), "use NAME==VERSION on every line"


def test_every_declared_package_is_pinned():
    assert declared() <= set(requirements()), declared() - set(requirements())


def test_conda_installs_requirements_and_the_course():
    text = (ROOT / "environment.yml").read_text()
    assert "- -r requirements.txt" in text and "- -e .[dev]" in text
    assert not _pins(text.splitlines()), "pins belong in requirements.txt only"


def test_pins_are_what_is_installed():
    mismatched = {name: (pinned, version(name)) for name, pinned in requirements().items()
                  if version(name) != pinned}
    assert not mismatched, f"installed versions differ from the pins: {mismatched}"


def test_course_kernel_imports_helpers_from_any_folder(tmp_path):
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    from jupyter_client.manager import start_new_kernel

    try:
        KernelSpecManager().get_kernel_spec("autoencoders-course")
    except NoSuchKernel:
        pytest.fail("the course kernel is not installed: run `make setup`")
    km, kc = start_new_kernel(kernel_name="autoencoders-course", cwd=str(tmp_path))
    try:
        outputs = []
        kc.execute_interactive("import os, helpers; print(os.getcwd(), helpers.__file__)",
                               timeout=60, output_hook=lambda msg: outputs.append(msg))
        text = "".join(m["content"].get("text", "") for m in outputs
                       if m["msg_type"] == "stream")
        cwd, path = text.split()
        assert cwd == str(tmp_path)
        assert Path(path) == ROOT / "helpers" / "__init__.py"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
