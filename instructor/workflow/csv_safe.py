"""CSV cells a person opens in a spreadsheet, written so that none runs as a formula
(OWASP's "CSV Injection"): a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return gets a leading quote, as does one that begins with a quote, so that
:func:`read_cell` gives back what was written. A number and Moodle's ``-`` are left as is.
"""

from __future__ import annotations

import csv

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text == "-"
    return True


def safe_cell(value):
    """``value`` as it goes into a CSV a person may open (non-strings unchanged)."""
    if isinstance(value, str) and value.startswith(_FORMULA + ("'",)) \
            and not _number(value):
        return "'" + value
    return value


def read_cell(text: str) -> str:
    """What :func:`safe_cell` was given: one leading quote taken off."""
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA + ("'",)) \
        else text


def write_rows(f, rows) -> None:
    """``rows`` (lists) into the open file ``f``, every cell made safe."""
    csv.writer(f).writerows([safe_cell(c) for c in row] for row in rows)


def safe_dict(row: dict) -> dict:
    return {k: safe_cell(v) for k, v in row.items()}
