"""Fixtures shared by the tests and the benchmarks, kept out of the runtime package.

Nothing in ``pafpose/`` imports from here: these generate degraded maps and moving people with
known ground truth, which only measurements need.
"""
