"""Benchmarks: scripts that measure a ratio against a baseline taken in the same run (`make bench`)."""
