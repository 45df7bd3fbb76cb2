"""What a graded class's results say: item analysis, similar answers, grades for the LMS.

Reads the gradebook and the graded notebooks that :mod:`instructor.workflow` produced;
never grades again and never changes a grade.
"""
