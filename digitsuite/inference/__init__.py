"""Saved models and prediction: loading model files safely, the four models'
runs and their parameter counts, the seed CNN's fast forward pass and the
fast (frozen) prediction path.
"""
