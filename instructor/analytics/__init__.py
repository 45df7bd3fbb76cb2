"""What a graded class's results say (item analysis, similar answers, grades for the LMS),
read from what :mod:`instructor.workflow` produced; no grade is changed."""
