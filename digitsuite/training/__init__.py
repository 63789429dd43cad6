"""Training: the Keras loop with checkpoints, the seed CNN's fast step,
distribution, the baselines, the reader's non-digits and the one
train-and-report path the scripts share.
"""

# train_cnn.py validates, keeps and saves an exponential moving average of
# the weights over about this many steps (--ema-steps): the average of
# nearby points of the descent generalised better on validation than its
# last point. Capped at a tenth of the run so that short runs average their
# own weights, not their first ones. docs/training-recipe.md has the choice.
EMA_STEPS = 1000
