"""Execution: run the jobs (runner, backends and the worker pool, devices) and store the records."""
