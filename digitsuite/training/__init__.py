"""Training: the Keras loop with checkpoints, the seed CNN's fast step,
distribution, the baselines and the one train-and-report path the scripts
share.
"""
