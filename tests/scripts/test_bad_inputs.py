"""README's "What happens when..." table, through the real command lines:
one ``error:`` line, a non-zero exit, no traceback, earlier outputs intact."""

import gzip
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from digitsuite.backend import keras
from tests.support import ROOT, SAMPLE_DIR, fails_with_one_line


def corrupt_copy(tmp_path, breakage):
    """A copy of the sample data with one file broken by ``breakage(folder)``."""
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE_DIR, folder)
    for path in folder.iterdir():
        path.chmod(0o644)
    breakage(folder)
    return folder


def truncate(folder):
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:5000])


def bad_magic(folder):
    raw = gzip.decompress((folder / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03" + raw[4:]))


def bad_label(folder):
    raw = bytearray(gzip.decompress((folder / "train-labels-idx1-ubyte.gz").read_bytes()))
    raw[8] = 10
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(raw)))


@pytest.fixture
def earlier_run(trained_cnn_dir, tmp_path):
    """An out-dir holding a finished run; returns (folder, its files' bytes)."""
    out = tmp_path / "earlier"
    shutil.copytree(trained_cnn_dir, out)
    return out, {p.name: p.read_bytes() for p in out.iterdir()}


@pytest.mark.parametrize("breakage, message", [
    (truncate, "train-images-idx3-ubyte.gz is a truncated or corrupt gzip file"),
    (bad_magic, "t10k-labels-idx1-ubyte.gz has magic number 00000803, "
                "but a labels file needs 00000801"),
    (bad_label, "train-labels-idx1-ubyte.gz: 1 labels outside 0-9"),
    (lambda f: (f / "t10k-images-idx3-ubyte.gz").unlink(), "missing t10k-images-idx3-ubyte"),
])
def test_bad_data_leaves_the_earlier_run_untouched(
        earlier_run, tmp_path, capsys, breakage, message):
    out, before = earlier_run
    data_dir = corrupt_copy(tmp_path, breakage)
    err = fails_with_one_line(capsys, "train_cnn", ["--dry-run", "--data-dir", data_dir,
                                                    "--out-dir", out])
    assert message in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_out_dir_that_cannot_be_written(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    err = fails_with_one_line(capsys, "train_cnn", ["--dry-run", "--data-dir", SAMPLE_DIR,
                                                    "--out-dir", blocker / "run"])
    assert "cannot create output folder" in err and "--out-dir" in err
    err = fails_with_one_line(capsys, "baselines", ["--dry-run", "--out-dir", blocker])
    assert err == (f"error: --out-dir {blocker} is a file, not a folder; "
                   "choose another with --out-dir")
    assert blocker.read_text() == "in the way"


@pytest.mark.parametrize("script,where", [("train_cnn", "model.keras"),
                                          ("train_reader", "report.md"),
                                          ("baselines", "dense/model.keras")])
def test_a_folder_where_a_run_writes_a_file_is_refused_before_training(script, where,
                                                                      tmp_path, capsys):
    """Found only when the files are moved into place, it cost the whole run."""
    (tmp_path / "out" / where).mkdir(parents=True)
    err = fails_with_one_line(capsys, script, ["--dry-run", "--data-dir", SAMPLE_DIR,
                                               "--out-dir", tmp_path / "out"])
    assert err == (f"error: {tmp_path / 'out' / where} is a folder, where this run writes a "
                   "file of that name; move it away or choose another --out-dir")
    # Nothing was trained: no checkpoint, no file beside the folder in the way.
    assert {p.name for p in (tmp_path / "out").iterdir()} <= {".lock", where.split("/")[0]}


def test_keras_file_with_custom_code_is_never_run(tmp_path, capsys):
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(10, activation="softmax")(
        keras.layers.Flatten()(keras.layers.Lambda(lambda x: x * 2.0)(inputs)))
    keras.Model(inputs, outputs).save(tmp_path / "custom.keras")
    err = fails_with_one_line(capsys, "visualize_layers", [
        "--model", tmp_path / "custom.keras", "--data-dir", SAMPLE_DIR,
        "--out-dir", tmp_path / "out"])
    assert "custom.keras" in err and "safe" in err.lower()
    assert not (tmp_path / "out" / "index.html").exists()


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
    (lambda p: p.write_bytes(np.arange(64, dtype=np.uint8).tobytes()), "not an image"),
    (lambda p: __import__("PIL.Image").Image.new("L", (1, 1)).save(p), "is only 1x1 pixels"),
])
def test_bad_images_for_visualize_layers(trained_cnn_dir, tmp_path, capsys, make, message):
    make(tmp_path / "digit.png")
    err = fails_with_one_line(capsys, "visualize_layers", [
        "--model", trained_cnn_dir / "model.keras", "--image", tmp_path / "digit.png",
        "--out-dir", tmp_path / "out"])
    assert message in err and "digit.png" in err


@pytest.mark.parametrize("script, argv, message", [
    ("train_cnn", ["--epochs", "0"], "--epochs: must be at least 1"),
    ("train_cnn", ["--epochs", "-3"], "--epochs: must be at least 1"),
    ("train_cnn", ["--batch-size", "-4"], "--batch-size: must be at least 1"),
    ("train_cnn", ["--learning-rate", "abc"], "expected a number"),
    ("train_cnn", ["--dataset", "cifar"], "invalid choice"),
    ("train_cnn", ["--label-smoothing", "1"], "--label-smoothing: must be between 0 and 1"),
    ("train_cnn", ["--label-smoothing", "some"], "expected 'auto' or a number"),
    ("conv_demo", ["--kernel", "-1,0,1,-2,0,2,-1,0,1"],
     "--kernel: expected one argument; a value starting with '-' is written --kernel=VALUE"),
    ("baselines", ["--rf-trees", "0"], "must be at least 1"),
    ("baselines", ["--models", "svm"], "invalid choice"),
    ("baselines", ["--features", "hog"], "invalid choice"),
    ("baselines", ["--lr-c", "-1"], "must be greater than 0"),
    ("train_reader", ["--convention-share", "1"], "--convention-share: must be at least 0"),
    ("train_reader", ["--convention-share", "nan"], "--convention-share: must be at least 0"),
    ("train_cnn", ["--dataset", "fashion_mnist", "--convention-share", "0.3"],
     "for --dataset mnist only"),
])
def test_bad_arguments_give_one_error_line(tmp_path, capsys, script, argv, message):
    assert message in fails_with_one_line(capsys, script, [*argv, "--out-dir", tmp_path])


@pytest.mark.parametrize("script,argv", [
    ("read_digits.py", ["{tiny}", "{text}"]),
    ("read_digits.py", ["{tiny}", "--model", "{missing}"]),
    ("visualize_layers.py", ["--image", "{tiny}"]),
    ("visualize_layers.py", ["--digit", "3", "--model", "{missing}"]),
])
def test_a_wrong_picture_or_model_is_refused_before_tensorflow_loads(script, argv, tmp_path):
    """Loading TensorFlow and the models takes seconds: a picture or a model
    file that cannot be used is refused without them."""
    Image.new("L", (5, 5)).save(tmp_path / "tiny.png")
    (tmp_path / "text.png").write_text("not a picture")
    names = {"tiny": tmp_path / "tiny.png", "text": tmp_path / "text.png",
             "missing": tmp_path / "none" / "model.keras"}
    argv = [a.format(**names) for a in argv] + ["--out-dir", str(tmp_path / "out")]
    probe = textwrap.dedent(f"""
        import runpy, sys
        sys.argv = {[script, *argv]!r}
        try:
            runpy.run_path({script!r}, run_name="__main__")
        except SystemExit as exc:
            print("exit", exc.code, "tensorflow" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.split()[-3:] in (["exit", "1", "False"], ["exit", "2", "False"]), done
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
