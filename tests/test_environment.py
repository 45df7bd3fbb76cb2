"""The two ways into the course (pip and conda) must install the same versions."""

import re
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)$")


def _pins(lines) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.strip().removeprefix("- ").strip()
        if (m := PIN.match(line)):
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def requirements() -> dict[str, str]:
    return _pins((ROOT / "requirements.txt").read_text().splitlines())


def conda_pins() -> tuple[dict[str, str], str]:
    text = (ROOT / "environment.yml").read_text()
    python = re.search(r"^\s*-\s*python=(\S+)", text, re.M)
    return _pins(text.split("- pip:", 1)[1].splitlines()), python.group(1) if python else ""


def test_every_requirement_is_pinned_exactly():
    lines = [ln.strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    entries = [ln for ln in lines if ln and not ln.startswith("#")]
    assert entries and len(entries) == len(requirements()), "use NAME==VERSION on every line"


def test_conda_environment_matches_requirements():
    pins, python = conda_pins()
    assert pins == requirements()
    assert python == "3.11"


def test_pins_are_what_is_installed():
    mismatched = {name: (pinned, version(name)) for name, pinned in requirements().items()
                  if version(name) != pinned}
    assert not mismatched, f"installed versions differ from the pins: {mismatched}"


def test_key_stack_versions():
    pins = requirements()
    assert pins["tensorflow"] == "2.21.0" and pins["keras"] == "3.15.1"
    assert pins["tf-keras"] == "2.21.0" and pins["tensorflow-probability"] == "0.25.0"
    assert pins["nbgrader"] == "0.9.6" and pins["nbval"] == "0.11.0"


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
