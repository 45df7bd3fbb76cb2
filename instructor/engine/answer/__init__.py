"""All the answer process reads of the grader: its runner (``__main__``, the one module
that runs student code, which nothing imports) and what it shares with the trusted side
and runs no student code (:mod:`.protocol`, :mod:`.wire`, :mod:`.step`). Each module
imports at its top the standard library, NumPy and this package only
(``tests/test_roles.py``)."""
