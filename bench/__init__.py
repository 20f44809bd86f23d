"""Benchmarks: ``make bench`` (``python -m bench [name …]``). Results printed and written as JSON."""
