"""Benchmarks of the record store (issue 2, "Performance"). Entry point: `python bench/run_all.py --help`."""
