"""What a graded class's results say: item analysis, similar answers, grades for the LMS.

Reads what :mod:`instructor.workflow` produced (:mod:`.graded`); never grades again and
never changes a grade. :mod:`.items` and :mod:`.report`: ``make report``;
:mod:`.similarity` and :mod:`.pairs`: ``make similarity``; :mod:`.lms`: ``make
lms-export``.
"""
