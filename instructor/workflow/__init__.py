"""The class workflow an instructor drives, on top of :mod:`instructor.engine`: release,
collect, autograde (in parallel or in shards), gradebook, feedback, grades to CSV, and a
synthetic class; one module per step, :mod:`instructor.__main__` the commands.
"""
