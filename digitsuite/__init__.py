"""digitsuite: shared code behind the suite's scripts.

Modules, one job each:

- ``errors``   - the one exception type users see as ``error: ...``
- ``fileio``   - atomic writes for every output file
- ``backend``  - imports Keras/TensorFlow without start-up log noise
- ``cli``      - argument helpers and the error-reporting entry point
- ``data``     - MNIST / Fashion-MNIST loading, validation and splits
- ``augment``  - batched, seeded image augmentation for training
- ``training`` - the Keras training loop and checkpoints
- ``trainstep``- the seed CNN's faster (equivalent) training step
- ``inference``- fast prediction: the live graph and a frozen LiteRT copy
- ``distribute``- the tf.distribute strategy behind ``--distribute``
- ``reporting``- metrics, JSON/Markdown reports and their plots
- ``modelio``  - loading saved Keras models with one-line errors
- ``features``, ``baselines``, ``runs``, ``comparison`` - the four-model comparison
- ``images``   - reading users' pictures and MNIST-style preprocessing
- ``layerviz``, ``convdemo`` - what each layer sees; convolution on a photo
- ``segment``, ``reader``, ``digit_bench`` - reading numbers in a page
"""

import os

# TensorFlow reads these when it is first imported; keep its C++ INFO and
# WARNING lines (oneDNN notices, "no GPU found") out of the user's terminal.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
