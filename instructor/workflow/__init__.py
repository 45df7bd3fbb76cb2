"""The class workflow an instructor drives on top of :mod:`instructor.engine`, one module
per step; :mod:`instructor.__main__` the commands."""
