"""``--distribute``: the ``tf.distribute`` strategy a Keras model trains under.

Build and compile the model inside ``strategy.scope()`` and ``model.fit``
splits every batch across the strategy's replicas and averages their
gradients:

- ``none``: the default strategy, one device (what a laptop uses);
- ``mirrored``: one replica per GPU on this machine, or per logical CPU
  device where there is no GPU (a machine has one unless configured);
- ``multiworker``: one replica per device on each of several machines, as
  described by the ``TF_CONFIG`` environment variable of every worker. Every
  worker runs the same command with its own ``TF_CONFIG`` and its own
  ``--out-dir``; the run's result is the one written by worker 0.
"""

import json
import os

from digitsuite.errors import DigitsuiteError

STRATEGIES = ("none", "mirrored", "multiworker")


def make_strategy(name):
    """The ``tf.distribute.Strategy`` called ``name`` (one of :data:`STRATEGIES`).

    Create it before any other TensorFlow work: multi-worker training has to
    set up its collective operations before the runtime starts.
    """
    from digitsuite.backend import tf

    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multiworker":
        check_tf_config(os.environ.get("TF_CONFIG"))
        return _multi_worker_strategy(tf)
    raise DigitsuiteError(f"unknown --distribute {name!r}; choose one of {', '.join(STRATEGIES)}")


def check_tf_config(text):
    """Raise a one-line error unless ``text`` is a usable ``TF_CONFIG``."""
    hint = ('set TF_CONFIG on every worker, e.g. \'{"cluster": {"worker": '
            '["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}\'')
    if not text:
        raise DigitsuiteError(f"--distribute multiworker needs TF_CONFIG; {hint}")
    try:
        config = json.loads(text)
        workers = config["cluster"]["worker"]
        index = config["task"]["index"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DigitsuiteError(f"TF_CONFIG is not usable ({exc!r} missing or bad); {hint}") from None
    if not isinstance(workers, list) or not 0 <= index < len(workers):
        raise DigitsuiteError(f"TF_CONFIG task index {index} is not in its worker list; {hint}")



def _multi_worker_strategy(tf):
    """``MultiWorkerMirroredStrategy`` whose ``reduce`` does what Keras asks of it.

    Across several workers Keras 3.15 asks TensorFlow 2.21 for two
    reductions it does not do, and ``fit`` died with a traceback: ``fit`` and
    ``evaluate`` reduce their first batch, an ``(images, labels)`` pair, to
    learn its shapes (TensorFlow reduces single tensors only: "Attempt to
    convert a value (PerReplica...) to a Tensor"), and each step reduces its
    scalar metrics along axis 0 ("Invalid reduction dimension 0 for input
    with 0 dimensions"). Here each tensor is reduced in turn, scalars across
    replicas only.
    """
    base = tf.distribute.MultiWorkerMirroredStrategy

    class MultiWorkerMirroredStrategy(base):
        def reduce(self, reduce_op, value, axis):
            def one(v):
                rank = self.experimental_local_results(v)[0].shape.rank
                return base.reduce(self, reduce_op, v, None if rank == 0 else axis)

            return tf.nest.map_structure(one, value)

    return MultiWorkerMirroredStrategy()
