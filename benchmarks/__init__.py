"""Benchmarks of the suite against plain Keras: ``bench.py`` runs them,
``perf`` holds the measurements."""
