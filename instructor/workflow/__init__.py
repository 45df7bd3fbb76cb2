"""The class workflow an instructor drives, on top of :mod:`instructor.engine`.

- :mod:`.assignments`, :mod:`.generate`: the assignments, their student version and
  answer key;
- :mod:`.collect`: files or zips per student -> nbgrader's ``submitted/`` layout;
- :mod:`.autograde`, :mod:`.shards`: a class graded in parallel, one isolated course
  folder per student, or in shards on several machines and merged;
- :mod:`.nbgrader_cli`, :mod:`.gradebook`: nbgrader's command line and configuration;
  the gradebook's cells and scores; :mod:`.nbgrader_server`: each submission's
  ``nbgrader autograde`` forked from a process that loaded nbgrader once;
- :mod:`.feedback`, :mod:`.export`: feedback pages, grades to CSV with per-task scores
  and grading notes;
- :mod:`.sample_class`: synthetic submissions to try all of this on.
"""
