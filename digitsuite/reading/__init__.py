"""Reading numbers on a page: segmentation into characters and lines, the read
pipeline, and the synthetic-page benchmark.
"""
