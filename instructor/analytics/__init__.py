"""What a graded class's results say: item analysis, similar answers, grades for the LMS.

Reads the gradebook and the graded notebooks that :mod:`instructor.workflow` produced;
never grades again and never changes a grade.

- :mod:`.graded`: a graded class read back (scores per test cell, failure messages,
  answers, notes, flags, grading times);
- :mod:`.items`: item analysis (per task and per test cell, discrimination);
- :mod:`.report`: the HTML page and its CSV tables (``make report``);
- :mod:`.similarity`, :mod:`.pairs`: similar answers by winnowing, per task of a class
  (``make similarity``);
- :mod:`.lms`: grades into Canvas' or Moodle's own CSV import (``make lms-export``).
"""
