"""Import Keras and TensorFlow once, without TensorFlow's start-up noise.

TensorFlow's CUDA stub prints "Could not find cuda drivers..." from C++
straight to file descriptor 2 while it is being imported, before any log
level applies, and device discovery logs a cuInit failure on CPU machines.
Import it with that descriptor pointed at /dev/null, then
restore it, so the user sees the suite's output and Keras' progress only.
Python exceptions raised by the import are unaffected.
"""

import contextlib
import os
import sys

import digitsuite  # noqa: F401  (sets TF_CPP_MIN_LOG_LEVEL before import)


@contextlib.contextmanager
def quiet_stderr():
    """Point file descriptor 2 at /dev/null for the block: silences C++ logs
    (which bypass Python's ``sys.stderr``), then restores it."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _import_quietly():
    if "tensorflow" in sys.modules:
        import keras
        import tensorflow

        return keras, tensorflow
    with quiet_stderr():
        import keras
        import tensorflow

        # Device discovery logs "failed call to cuInit" on machines with
        # no GPU; run it now, while descriptor 2 is quiet.
        tensorflow.config.list_physical_devices()
    return keras, tensorflow


keras, tf = _import_quietly()
