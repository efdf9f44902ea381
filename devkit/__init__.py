"""Helpers shared by the test suite and the benchmarks (never imported by the services).

Real processes, real databases, a real webhook receiver: what both need to drive the
system from the outside.
"""
