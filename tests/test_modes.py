import pytest

from helpers import modes


def test_default_mode_is_full():
    assert modes.current_mode({}) == "full"


def test_course_mode_is_read_case_insensitively():
    assert modes.current_mode({"COURSE_MODE": " Fast "}) == "fast"


def test_nbgrader_forces_fast_mode():
    assert modes.current_mode({"COURSE_MODE": "full", "NBGRADER_EXECUTION": "autograde"}) == "fast"


def test_unknown_mode_is_an_error():
    with pytest.raises(ValueError, match="COURSE_MODE='slow'"):
        modes.current_mode({"COURSE_MODE": "slow"})


def test_full_budget_is_the_request():
    b = modes.budget(50, 55_000, 10_000, mode="full")
    assert (b.epochs, b.n_train, b.n_eval) == (50, 55_000, 10_000)


def test_fast_budget_shrinks_epochs_and_data():
    b = modes.budget(50, 55_000, 10_000, mode="fast")
    assert b.mode == "fast"
    assert b.epochs == modes.FAST_MAX_EPOCHS
    assert b.n_train == modes.FAST_MAX_TRAIN
    assert b.n_eval == modes.FAST_MAX_EVAL


def test_fast_budget_never_exceeds_the_request():
    b = modes.budget(1, 100, 50, mode="fast")
    assert (b.epochs, b.n_train, b.n_eval) == (1, 100, 50)
    assert modes.budget(10, 60_000, mode="fast").epochs == 1


def test_budget_follows_the_environment(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "full")
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    assert modes.budget(20, 60_000).mode == "fast"
    monkeypatch.delenv("NBGRADER_EXECUTION")
    assert modes.budget(20, 60_000).epochs == 20


def test_budget_rejects_nonsense():
    with pytest.raises(ValueError):
        modes.budget(0, 100)


def test_budget_describes_itself():
    assert str(modes.budget(50, 60_000, mode="fast")) == (
        "fast mode: 3 epoch(s) on 6,000 training examples, 1,000 for evaluation")
