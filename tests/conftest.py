"""Shared fixtures: the repo on sys.path, the sample data, a CLI runner and
one tiny trained CNN per test session."""

import importlib
from pathlib import Path

import pytest

from digitsuite import cli
from digitsuite.backend import keras

ROOT = Path(__file__).resolve().parent.parent

SAMPLE_DIR = ROOT / "sample_data" / "mnist-t10k-split"


@pytest.fixture(autouse=True)
def _clear_keras_session():
    keras.backend.clear_session()
    yield


@pytest.fixture
def sample_dir():
    """The bundled real-MNIST sample (8,000 train / 2,000 test)."""
    return SAMPLE_DIR


def run_script(script, argv):
    """Run a top-level script in-process through its real argument parser and
    error handling; returns main's return value (raises SystemExit on error)."""
    module = importlib.import_module(script)
    return cli.run(module.main, module.parse_args([str(a) for a in argv]))


def fails_with_one_line(capsys, script, argv, code=2):
    """Run ``script`` expecting a user error; return its single stderr line."""
    with pytest.raises(SystemExit) as exit_info:
        run_script(script, argv)
    assert exit_info.value.code == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err
    return err.strip()


@pytest.fixture(scope="session")
def trained_cnn_dir(tmp_path_factory):
    """One ``train_cnn.py --dry-run`` run on the sample data, shared by tests."""
    out = tmp_path_factory.mktemp("cnn")
    run_script("train_cnn", ["--dry-run", "--data-dir", SAMPLE_DIR, "--out-dir", out])
    return out
