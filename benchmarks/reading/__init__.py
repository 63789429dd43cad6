"""The reading benchmark (``benchmarks/read_bench.py`` runs it): synthetic
pages of real handwritten digits (``pages``), the optdigits loader
(``optdigits``) and the scoring and report (``benchmark``)."""
