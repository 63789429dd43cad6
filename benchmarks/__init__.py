"""Benchmarks of the suite: ``bench.py`` races it against plain Keras
(``perf`` holds the measurements), ``app_bench.py`` times the web page and
``read_bench.py`` scores the reader (``reading``)."""
