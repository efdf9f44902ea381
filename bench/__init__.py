"""Aftercare's benchmarks: ``make bench`` runs ``bench/run.py`` against a stack of its own.

Every figure that matters is measured next to a baseline from the same run on the same
machine, because only the ratio survives a change of hardware.
"""
