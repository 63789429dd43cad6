"""Training: the Keras loop with checkpoints, the seed CNN's fast step,
distribution, the baselines, the reader's non-digits and the one
train-and-report path the scripts share.
"""
