"""Saved models and prediction: loading model files safely, the four models'
runs, and the fast (frozen) prediction path.
"""
