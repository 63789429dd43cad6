"""Training under --distribute (digitsuite.training.distribute): mirrored on two
logical CPU devices and two workers on this machine, each in subprocesses,
and TF_CONFIG checked before any work."""

import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from digitsuite.errors import DigitsuiteError
from digitsuite.training.distribute import check_tf_config
from tests.support import ROOT, SAMPLE_DIR, fails_with_one_line, run_script, saved_weights

MIRRORED = textwrap.dedent("""
    import sys

    from digitsuite.backend import keras, tf

    # Two logical CPU devices: must be set before TensorFlow's runtime starts.
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import numpy as np
    import train_cnn
    from digitsuite import cli
    from digitsuite.training import loop as training
    from digitsuite.data.augment import POLICIES
    from digitsuite.data.datasets import load_dataset, stratified_split
    from digitsuite.training.distribute import make_strategy
    from models import build_cnn

    out = sys.argv[2]
    cli.run(train_cnn.main, train_cnn.parse_args(
        ["--dry-run", "--distribute", "mirrored", "--data-dir", sys.argv[1], "--out-dir", out]))

    # An interrupted mirrored run resumes from its checkpoint to the same weights.
    class StopAtSecondEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    data = load_dataset("mnist", sys.argv[1])
    train, val = stratified_split(data.x_train[:240], data.y_train[:240], 0.25, seed=0)
    settings = dict(epochs=2, batch_size=64, learning_rate=2e-3, seed=4,
                    policy=POLICIES["mnist"], verbose=0)
    strategy = make_strategy("mirrored")
    with strategy.scope():
        training.set_seed(4)
        whole = build_cnn()
        training.fit(whole, train, val, **settings)
        training.set_seed(4)
        try:
            training.fit(build_cnn(), train, val, checkpoint_dir=out + "/ck",
                         callbacks=[StopAtSecondEpoch()], **settings)
        except KeyboardInterrupt:
            pass
        model, state = training.load_checkpoint(out + "/ck")
        training.fit(model, train, val, checkpoint_dir=out + "/ck", resume_state=state,
                     **settings)
    same = all(np.array_equal(a, b) for a, b in zip(whole.get_weights(), model.get_weights()))
    print(f"replicas in sync: {strategy.num_replicas_in_sync}; resumed after "
          f"{state['epochs_done']}; same weights: {same}")
""")


@pytest.mark.slow
def test_mirrored_training_on_two_cpu_devices_runs_and_resumes(tmp_path):
    # The child imports the checkout's packages and train_cnn as pytest does.
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": path}
    env.pop("TF_CONFIG", None)
    done = subprocess.run([sys.executable, "-c", MIRRORED, str(SAMPLE_DIR), str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "distribute: mirrored, 2 replicas" in done.stdout
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["epochs_run"] == 1 and metrics["params"] == 237_482
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["distribute"] == "mirrored"
    assert "replicas in sync: 2; resumed after 1; same weights: True" in done.stdout


@pytest.mark.parametrize("text, message", [
    ("{not json", "TF_CONFIG is not usable"),
    ('{"cluster": {"worker": ["a:1"]}}', "TF_CONFIG is not usable"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}',
     "task index 3 is not in its worker list"),
])
def test_bad_tf_config_is_named(text, message):
    with pytest.raises(DigitsuiteError, match=message):
        check_tf_config(text)


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_train_together_as_one_worker_with_the_same_global_batch(tmp_path):
    """Two train_cnn.py processes on 127.0.0.1, each with its own TF_CONFIG:
    both finish, and worker 0's weights are those of one worker on the same
    global batch of 128 (dropout off: each replica draws its own masks).
    In float32: bfloat16's rounding (8-bit mantissa) would hide a real
    difference between the two ways of summing the gradients."""
    argv = ["--dry-run", "--dropout", "1e-9", "--data-dir", SAMPLE_DIR, "--precision", "float32"]
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    started = time.perf_counter()
    procs = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": path,
               "TF_CONFIG": json.dumps(config)}
        procs.append(subprocess.Popen(
            [sys.executable, str(ROOT / "train_cnn.py"), "--distribute", "multiworker",
             "--out-dir", str(tmp_path / f"worker{index}"), *map(str, argv)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [proc.communicate(timeout=600) for proc in procs]
    seconds = time.perf_counter() - started
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
        assert "distribute: multiworker, 2 replicas" in out and "Traceback" not in err
    print(f"two workers: {seconds:.1f} s")  # docs/faults.md quotes it (pytest -s)

    run_script("train_cnn", [*argv, "--out-dir", tmp_path / "one"])
    config = json.loads((tmp_path / "worker0" / "config.json").read_text())
    assert config["distribute"] == "multiworker" and config["batch_size"] == 128
    difference = max(np.max(np.abs(a - b)) for a, b in zip(
        saved_weights(tmp_path / "worker0" / "model.keras"),
        saved_weights(tmp_path / "one" / "model.keras")))
    print(f"largest weight difference from one worker: {difference:.2e}")
    assert difference < 1e-4  # float rounding: the weights themselves are ~0.01-0.3


def test_a_worker_that_stops_is_one_line_saying_how_to_resume(tmp_path, monkeypatch, capsys):
    """What the other workers see when one dies: TensorFlow aborts every
    collective step with UnavailableError after the heartbeats stop."""
    from digitsuite.backend import tf
    from digitsuite.training import run

    def peer_died(*args, **kwargs):
        raise tf.errors.UnavailableError(None, None, (
            "Collective ops is aborted by: Error reported from /job:worker/task:1: "
            "The following tasks are unhealthy (stopped sending heartbeats):\n"
            "/job:worker/replica:0/task:1"))

    monkeypatch.setattr(run, "fit", peer_died)
    err = fails_with_one_line(capsys, "train_cnn", [
        "--dry-run", "--data-dir", SAMPLE_DIR, "--out-dir", tmp_path])
    assert err == (
        "error: another worker stopped (Collective ops is aborted by: Error reported from "
        "/job:worker/task:1: The following tasks are unhealthy (stopped sending heartbeats):); "
        f"completed epochs are saved in {tmp_path / 'checkpoint'}; start every worker again "
        f"with: python train_cnn.py --resume --out-dir {tmp_path}")
