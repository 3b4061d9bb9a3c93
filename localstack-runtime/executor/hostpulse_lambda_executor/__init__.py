"""LocalStack Lambda executor running execution environments as host processes.

This package is installed into LocalStack's own virtual environment. ``bootstrap.py`` is the
exception: it is executed by the project's interpreter inside each execution environment and
therefore uses the standard library only.
"""
