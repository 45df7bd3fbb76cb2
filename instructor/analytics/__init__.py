"""What a graded class's results say: item analysis, similar answers, grades for the LMS.

Read from what :mod:`instructor.workflow` produced (:mod:`.graded`); nothing is graded
again and no grade is changed.
"""
