"""What ships with the project: its dependencies declared once, and no file
a user gets naming a path of the machine it was made on."""

import re
import warnings

import pytest

from tests.support import ROOT

# Paths of the machines the suite was developed on, or folders beside the
# checkout that a fresh clone does not have.
MACHINE_PATH = re.compile(r"/work/|\.\./shared|/home/\w|/root/|(?<![\w.])/tmp/(?!\.keras)")


def requirement_lines(path):
    return [line.strip() for line in path.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith(("#", "-r"))]


def test_the_package_depends_on_exactly_requirements_txt():
    setuptools_config = pytest.importorskip("setuptools.config.pyprojecttoml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # setuptools calls its pyproject support beta
        project = setuptools_config.read_configuration(ROOT / "pyproject.toml",
                                                       expand=True)["project"]
    assert project["dependencies"] == requirement_lines(ROOT / "requirements.txt")
    assert {"fastapi>=0.115", "uvicorn>=0.30"} <= set(project["dependencies"])


def shipped_files():
    """Every file a user runs or reads: scripts, the package, the shipped
    models, README, the docs, the benchmarks' dated results and the sample
    data's notes."""
    for pattern in ("*.py", "*.md", "*.toml", "requirements*.txt", "digitsuite/**/*",
                    "benchmarks/*.py", "benchmarks/reading/*.py", "benchmarks/results/*",
                    "docs/**/*", "tools/*.py", "models/**/*", "sample_data/*.md", ".ci/*"):
        for path in sorted(ROOT.glob(pattern)):
            if path.is_file() and path.suffix in {".py", ".md", ".json", ".toml", ".txt",
                                                  ".js", ".html", ".css", ""}:
                yield path


def test_shipped_files_name_no_machine_path():
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
             for path in shipped_files()
             for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
             if MACHINE_PATH.search(line)]
    assert found == []


@pytest.mark.parametrize("line, machine", [
    ("--data-dir ../shared/data/mnist-full", True), ('"out_dir": "/work/runs/reader"', True),
    ("python baselines.py --dry-run --out-dir /tmp/smoke", True),
    ("--out-dir runs/smoke", False), ("Path('/tmp/.keras/datasets')", False),
    ("python read_digits.py photo.png", False)])
def test_the_check_knows_a_machine_path(line, machine):
    assert bool(MACHINE_PATH.search(line)) is machine


def test_benchmark_results_are_written_without_machine_paths(tmp_path, monkeypatch):
    """Paths outside the repository (typed absolute or climbing out of it)
    keep only their last parts; the repository's own become relative; a
    URL's route is no folder and stays."""
    import os

    from benchmarks import portable

    monkeypatch.chdir(ROOT)                   # where the benchmarks are run from
    data = tmp_path / "data" / "mnist-full"
    data.mkdir(parents=True)
    climbing = os.path.relpath(data)          # ../../tmp/... from the repository
    for text, published in [
        (f"--data-dir {data} --quick", "--data-dir …/data/mnist-full --quick"),
        (f"IDX files in {climbing}", "IDX files in …/data/mnist-full"),
        (f"--runs-dir {tmp_path / 'app-runs'}", f"--runs-dir …/{tmp_path.name}/app-runs"),
        ("http://127.0.0.1:8000/api/read, 1/2", "http://127.0.0.1:8000/api/read, 1/2"),
        (str(ROOT / "runs" / "cnn" / "model.keras"), "runs/cnn/model.keras"),
    ]:
        assert portable(text) == published
        assert not MACHINE_PATH.search(published)


@pytest.mark.parametrize("script", ["train_cnn.py", "train_reader.py", "baselines.py",
                                    "evaluate.py", "read_digits.py", "visualize_layers.py",
                                    "conv_demo.py"])
def test_help_answers_without_starting_tensorflow(script):
    """``--help`` is what a new user types first: it must not wait the
    several seconds TensorFlow takes to start."""
    import subprocess
    import sys

    probe = ("import runpy, sys\n"
             f"sys.argv = [{script!r}, '--help']\n"
             "try:\n"
             f"    runpy.run_path({script!r}, run_name='__main__')\n"
             "except SystemExit:\n"
             "    pass\n"
             "print('TENSORFLOW' if 'tensorflow' in sys.modules else 'LIGHT', file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert "usage:" in done.stdout, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "LIGHT"
