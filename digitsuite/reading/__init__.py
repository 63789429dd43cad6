"""Reading numbers on a page: print removal, segmentation into characters
and lines, classification, the reading and its JSON, and its pictures.
(Its benchmark is benchmarks/read_bench.py.)
"""
