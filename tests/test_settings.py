"""helpers.settings: every COURSE_* variable declared once, read strictly, documented."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import settings
from helpers.settings import SettingError

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["helpers", "instructor", "scripts", "benchmarks", "tests", "nbgrader_config.py",
           "Makefile", "README.md", "docs"]


def test_defaults_when_unset_or_empty():
    assert settings.check({}) == {s.name: s.default for s in settings.SETTINGS.values()}
    assert settings.choice("COURSE_MODE", {"COURSE_MODE": "  "}) == "full"
    assert settings.flag("COURSE_RETRAIN", {}) is False
    assert settings.path("COURSE_DATA_DIR", {}) is None
    assert settings.integer("COURSE_CELL_TIMEOUT", {}) == 180


@pytest.mark.parametrize("raw", ["1", "true", "Yes", " ON "])
def test_flags_on(raw):
    assert settings.flag("COURSE_NBGRADER_DEBUG", {"COURSE_NBGRADER_DEBUG": raw}) is True


@pytest.mark.parametrize("raw", ["0", "false", "No", "off"])
def test_flags_off(raw):
    assert settings.flag("COURSE_NBGRADER_DEBUG", {"COURSE_NBGRADER_DEBUG": raw}) is False


def test_a_flag_rejects_other_words():
    with pytest.raises(SettingError, match=r"COURSE_RETRAIN='y' is not allowed: use 1/0"):
        settings.flag("COURSE_RETRAIN", {"COURSE_RETRAIN": "y"})


def test_a_typo_names_the_variable_the_value_and_the_choices():
    with pytest.raises(SettingError) as err:
        settings.choice("COURSE_WEIGHTS", {"COURSE_WEIGHTS": "required"})
    assert str(err.value) == ("COURSE_WEIGHTS='required' is not allowed: "
                              "use 'optional' or 'require'")
    assert isinstance(err.value, ValueError)


def test_choices_ignore_case_and_spaces():
    assert settings.choice("COURSE_MODE", {"COURSE_MODE": " Fast"}) == "fast"


@pytest.mark.parametrize("raw", ["abc", "0", "-5", "1.5"])
def test_integers_must_be_whole_and_positive(raw):
    with pytest.raises(SettingError, match="COURSE_SANDBOX_PROCESSES="):
        settings.integer("COURSE_SANDBOX_PROCESSES", {"COURSE_SANDBOX_PROCESSES": raw})


def test_numbers_and_paths():
    assert settings.number("COURSE_SANDBOX_MEMORY_GB", {"COURSE_SANDBOX_MEMORY_GB": "2.5"}) == 2.5
    assert settings.path("COURSE_WEIGHTS_DIR", {"COURSE_WEIGHTS_DIR": "~/w"}) == Path.home() / "w"


def test_reading_keeps_no_state(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "fast")
    assert settings.choice("COURSE_MODE") == "fast"
    assert settings.choice("COURSE_MODE", {}) == "full"
    monkeypatch.setenv("COURSE_MODE", "full")
    assert settings.choice("COURSE_MODE") == "full"


def test_unknown_names_and_wrong_kinds_are_programming_errors():
    with pytest.raises(KeyError, match="COURSE_MOOD is not a course setting"):
        settings.read("COURSE_MOOD", {})
    with pytest.raises(TypeError, match="COURSE_MODE is a choice setting"):
        settings.flag("COURSE_MODE", {})


def test_every_course_variable_in_the_sources_is_declared():
    used = set()
    for name in SOURCES:
        for path in [ROOT / name] if (ROOT / name).is_file() else (ROOT / name).rglob("*"):
            if (path.is_file() and path.suffix in (".py", ".md", "")
                    and "__pycache__" not in path.parts and path.name != "test_settings.py"):
                used |= set(re.findall(r"\bCOURSE_[A-Z_]*[A-Z]\b", path.read_text()))
    assert used == set(settings.SETTINGS)


def test_the_settings_page_shows_the_declared_settings():
    page = (ROOT / "docs" / "settings.md").read_text()
    table = re.search(r"<!-- settings -->\n(.*?)\n<!-- /settings -->", page, re.S)
    assert table, "docs/settings.md needs the settings table between <!-- settings --> markers"
    assert table.group(1) == settings.markdown_table(), (
        "docs/settings.md's settings table is out of date; paste the output of\n"
        "python -c 'from helpers.settings import markdown_table; print(markdown_table())'")


def test_the_grading_limits_reach_safe_execute_from_the_environment():
    from traitlets.config.loader import PyFileConfigLoader

    from instructor.engine.execute import SafeExecute
    from instructor.engine.limits import SAFE_EXECUTE, safe_execute

    env = {"COURSE_CELL_TIMEOUT": "20", "COURSE_SANDBOX_MEMORY_GB": "2.5"}
    values = safe_execute(env)
    assert set(values) == set(SAFE_EXECUTE)
    assert (values["cell_timeout"], values["memory_gb"]) == (20, 2.5)
    executor = SafeExecute(**values)  # each is a trait SafeExecute accepts
    assert executor.processes == settings.declared("COURSE_SANDBOX_PROCESSES").default
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert config.SafeExecute.cell_timeout == safe_execute()["cell_timeout"]


def test_every_cap_reaches_the_grading_box_whole():
    """SafeExecute's caps, as configured, reach its processes in one object, the Box."""
    from instructor.engine.execute import SafeExecute

    executor = SafeExecute(cell_timeout=7, memory_gb=2.5, file_mb=3, cpu_seconds=4,
                           processes=50, disk_mb=6, output_mb=2, group_memory_gb=9,
                           record_mb=5, checks_timeout=90, isolation="limits-only")
    box = executor._box()
    assert (box.cell_timeout, box.memory_gb, box.file_mb, box.cpu_seconds, box.processes,
            box.disk_mb, box.group_memory_gb, box.isolation) == (7, 2.5, 3, 4, 50, 6, 9,
                                                                 "limits-only")
    assert (box.output_mb, box.record_mb, box.checks_timeout) == (2, 5, 90)


def test_the_source_cap_reaches_the_static_pass_from_the_environment(monkeypatch):
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.setenv("COURSE_CELL_SOURCE_KB", "64")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert config.RepairSubmission.cell_source_limit_kb == 64


def test_safe_execute_without_configuration_has_the_settings_defaults():
    """A SafeExecute made without nbgrader_config.py (a test's, a script's) grades under
    the same limits as the course's configuration with no variable set."""
    from instructor.engine.execute import SafeExecute
    from instructor.engine.limits import SAFE_EXECUTE

    plain = SafeExecute()
    assert {trait: getattr(plain, trait) for trait in SAFE_EXECUTE} == {
        trait: settings.declared(name).default for trait, name in SAFE_EXECUTE.items()}


def test_a_relative_folder_setting_reaches_grading_as_the_instructor_meant(tmp_path, monkeypatch):
    """Grading runs in folders of its own: ``COURSE_DATA_DIR=../shared/data`` typed in the
    course folder is that folder's ``../shared/data`` in every grading process."""
    from instructor.workflow.nbgrader_cli import grading_env

    monkeypatch.chdir(tmp_path)
    env = grading_env({"COURSE_DATA_DIR": "../shared/data", "COURSE_WEIGHTS_DIR": "/w"})
    assert env["COURSE_DATA_DIR"] == str(tmp_path.parent / "shared" / "data")
    assert env["COURSE_WEIGHTS_DIR"] == "/w"


def test_the_sandboxs_limits_are_one_table_every_side_is_built_from(tmp_path):
    """helpers.settings.LIMITS: each row is a setting (its default), a SafeExecute trait,
    a Box field, and, for the launcher's caps, a --cap option of every launch."""
    import dataclasses

    from instructor.engine import limits, roles, sandbox
    from instructor.engine.execute import SafeExecute

    names = [limit.name for limit in settings.LIMITS]
    for limit in settings.LIMITS:
        assert settings.declared(limit.setting).default == limit.default
        assert limits.SAFE_EXECUTE[limit.name] == limit.setting
        assert getattr(SafeExecute(), limit.name) == limit.default
    assert set(limits.SAFE_EXECUTE) == {*names, "isolation"}
    assert {f.name for f in dataclasses.fields(roles.Box)} >= set(names)
    assert set(sandbox.CAPS) <= set(names)
    box = roles.Box(memory_gb=3.5, isolation="limits-only")
    argv, _env = roles.launch(roles.ANSWERS, ["true"], str(tmp_path), box)
    assert [a for a in argv if a.split("=")[0][2:] in names] == [
        f"--{name}={getattr(box, name)!r}" for name in sandbox.CAPS]
    assert "--memory_gb=3.5" in argv


@pytest.mark.parametrize("value", [0, None, -1.0, "8"])
def test_a_cap_missing_or_unreadable_stops_grading_never_no_cap(value, monkeypatch):
    """A cap the grader cannot read as a number above 0 stops that submission's grading
    before its first process (issue 79: the launcher read a cap it was not given as 0, no
    cap); an unreadable setting stops it too."""
    from instructor.engine import roles
    from instructor.engine.execute import SafeExecute

    with pytest.raises(settings.CapMissing, match="memory_gb"):
        roles.Box(memory_gb=value)
    executor = SafeExecute()
    executor._trait_values["memory_gb"] = value  # as a configuration could leave it
    with pytest.raises(settings.CapMissing, match="COURSE_SANDBOX_MEMORY_GB"):
        executor._open_group()
    monkeypatch.setenv("COURSE_SANDBOX_PROCESSES", "many")
    with pytest.raises(settings.SettingError, match="COURSE_SANDBOX_PROCESSES"):
        roles.Box.from_settings(dict(os.environ))


@pytest.mark.parametrize("caps", [[], ["--memory_gb=8", "--file_mb=512", "--cpu_seconds=60"],
                                  ["--memory_gb=0", "--file_mb=512", "--cpu_seconds=60",
                                   "--processes=64"]])
def test_the_launcher_starts_nothing_without_each_of_its_caps(caps, tmp_path):
    """The launcher run without a cap, or with one of 0, starts nothing and says why."""
    from instructor.engine import sandbox

    marker = tmp_path / "ran"
    done = subprocess.run([sys.executable, "-I", "-S", sandbox.LAUNCHER, *caps, "--",
                           "touch", str(marker)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and not marker.exists(), done
    assert "processes" in done.stderr, done.stderr
