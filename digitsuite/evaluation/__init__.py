"""Evaluation: metrics, per-run reports and plots, and the four-model
comparison with its statistics.
"""
