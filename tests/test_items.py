"""Item analysis (``instructor.analytics.items``) without a graded class: failure messages
grouped whatever their numbers, and the discrimination's correlation."""

from __future__ import annotations

import pytest

from instructor.analytics.items import correlation, normalize_message


def test_failure_messages_are_grouped_whatever_the_numbers():
    a = normalize_message("ValueError: encoder output shape: expected (None, 32), got "
                          "(None, 8, 4)")
    b = normalize_message("ValueError: encoder output shape: expected (None, 784), got "
                          "(None, 28, 28)")
    assert a == b == "ValueError: encoder output shape: expected (…), got (…)"
    c = normalize_message("AssertionError: decoder Dense kernels: expected [784, 128, 64], "
                          "got [784, 64, 128]")
    d = normalize_message("AssertionError: decoder Dense kernels: expected [20, 12], got "
                          "[20, 8, 12]")
    assert c == d
    outside = normalize_message("FailedOutsideKernel: auto's optimizer: expected 'adam', got "
                                "'sgd' (this test passed inside your notebook, but it failed "
                                "when the grader ran it again on what your functions "
                                "returned)")
    assert outside == "FailedOutsideKernel: auto's optimizer: expected 'adam', got 'sgd'"


def test_messages_that_differ_in_words_stay_apart():
    assert normalize_message("AssertionError: auto's loss: expected 'binary_crossentropy', "
                             "got 'mse'") != normalize_message(
        "AssertionError: auto's optimizer: expected 'adam', got 'sgd'")
    assert normalize_message("KeyError: 'a' ()") == "KeyError: 'a' ()"


def test_correlation():
    assert correlation([1, 1, 0, 0], [10, 8, 0, 1]) == pytest.approx(0.98314, abs=1e-4)
    assert correlation([1, 1, 1], [3, 2, 1]) is None  # everyone passed: no figure
    assert correlation([1, 0], [1, 0]) is None        # too few
    assert correlation([0, 1, 0, 1], [10, 0, 9, 1]) < 0  # strong students fail it
