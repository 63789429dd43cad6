"""Datasets (MNIST, Fashion-MNIST) and their checks, training augmentation,
pixel features, and users' pictures prepared like MNIST.
"""
