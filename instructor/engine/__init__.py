"""The grading engine: run one notebook safely and decide its verdicts (docs/grading.md
names each process and its module); entry points :mod:`.execute` and :mod:`.judge`.
"""
