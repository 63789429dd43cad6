"""The package's layering: each package imports only from packages below it
(data < inference < evaluation < training < the app and the scripts'
helpers), so a helper two layers need lives in the lower one. Imports inside
functions count too."""

import ast

import pytest

from tests.support import ROOT

PACKAGE = ROOT / "digitsuite"
# Lower numbers are lower layers. The shared modules at the top of the
# package (errors, fileio, ...) are the floor every layer stands on.
LAYERS = {"": 0, "data": 1, "inference": 2, "evaluation": 3, "visual": 3, "reading": 3,
          "training": 4, "app": 5, "cli": 5}


def layer_of(module):
    """``digitsuite.training.run`` -> (``training``, its layer)."""
    parts = module.split(".")[1:]
    name = parts[0] if parts else ""
    if name not in LAYERS and not (PACKAGE / name).is_dir():
        name = ""  # a shared module: errors, fileio, backend, markdown
    return name, LAYERS[name]


def digitsuite_imports(path):
    """Every ``digitsuite...`` module ``path`` imports, with its line."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] if node.module != "digitsuite" else [
                f"digitsuite.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "digitsuite":
                yield name, node.lineno


def upward_imports(root=PACKAGE):
    """``file:line imports module`` for each import of a higher layer, or of
    another package of the same layer."""
    found = []
    for path in sorted(root.rglob("*.py")):
        module = ".".join(("digitsuite", *path.relative_to(root).with_suffix("").parts))
        here, level = layer_of(module)
        for name, line in digitsuite_imports(path):
            there, other = layer_of(name)
            if other > level or (other == level and there != here and level > 0):
                found.append(f"{path.relative_to(root)}:{line} imports {name}")
    return found


def test_no_package_imports_from_a_layer_above_it():
    assert upward_imports() == []


def test_every_package_has_a_layer():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert packages <= set(LAYERS)


@pytest.mark.parametrize("source, expected", [
    ("from digitsuite.training.trainstep import install\n", True),
    ("def f():\n    from digitsuite.training import run\n", True),
    ("import digitsuite.app.views\n", True),
    ("from digitsuite import cli\n", True),
    ("from digitsuite.data.images import disk\n", False),
    ("from digitsuite.inference import forward\n", False),
])
def test_the_check_sees_an_upward_import_in_inference(tmp_path, source, expected):
    (tmp_path / "inference").mkdir()
    (tmp_path / "inference" / "predict.py").write_text(source)
    assert bool(upward_imports(tmp_path)) is expected
