"""benchmarks/read_bench.py end to end in --dry-run: pages of held-out MNIST
test digits and of a tiny optdigits-format file, read and scored."""

import json

import pytest

from benchmarks.reading import benchmark as digit_bench
from tests.benchmarks.reading.test_pages import write_optdigits
from tests.support import SAMPLE_DIR, fails_with_one_line, run_script


@pytest.mark.slow
def test_dry_run_writes_its_report(tmp_path, capsys, reader_model, sample):
    out_dir = tmp_path / "bench"
    opt, _, _ = write_optdigits(tmp_path / "opt.tra.gz", sample["x_test"], sample["y_test"])
    result = run_script("benchmarks.read_bench", [
        "--dry-run", "--model", reader_model, "--data-dir", SAMPLE_DIR, "--out-dir", out_dir,
        "--optdigits", opt])
    out = capsys.readouterr().out
    assert "mnist standard: per digit" in out and "optdigits standard: per digit" in out
    assert "note: no readable config.json beside" in out and "speed: page of 10" in out
    saved = json.loads((out_dir / "benchmark.json").read_text())
    assert list(saved["results"]) == ["mnist", "optdigits"]
    for key in ("mnist", "optdigits"):
        assert list(saved["results"][key]) == list(digit_bench.CONDITIONS)
        standard = saved["results"][key]["standard"]
        assert standard["pages"] == 3 and standard["digits_expected"] > 0
        assert standard["digit_accuracy"] > 0.5 and standard["exact_by_length"]
        assert "decimal_accuracy" in saved["results"][key]["punctuation"]
    assert saved["results"] == json.loads(json.dumps(result["results"]))
    sources = saved["config"]["sources"]
    # Published figures name no folder of this machine: the files by their last parts.
    assert sources["optdigits"]["file"] == f"…/{opt.parent.name}/{opt.name}"
    assert sources["optdigits"]["digits"] == 40
    assert "Alpaydin" in sources["optdigits"]["citation"] and saved["config"]["skipped"] == {}
    assert saved["config"]["model"].endswith(reader_model.name)
    assert str(tmp_path) not in json.dumps(saved) and str(reader_model) not in json.dumps(saved)
    assert saved["timing"]["median_seconds"] > 0 and saved["timing"]["source"] == "optdigits"
    md = (out_dir / "benchmark.md").read_text()
    assert md.startswith("# Reading numbers") and "optdigits per digit" in md
    assert str(tmp_path) not in md and str(reader_model) not in md
    assert "page of 10 numbers:" in md
    for name in ("example-1.png", "example-1.annotated.png", "variation-blur.png",
                 "optdigits-example-1.annotated.png", "optdigits-variation-phone-photo.png",
                 "example-document.png", "example-document.annotated.png"):
        assert (out_dir / name).is_file(), name


@pytest.mark.slow
def test_without_optdigits_the_half_is_skipped(tmp_path, capsys, reader_model, monkeypatch):
    # Two conditions are enough to show the skip (the full set runs above).
    monkeypatch.setattr(digit_bench, "CONDITIONS", {
        name: digit_bench.CONDITIONS[name] for name in ("standard", "punctuation")})
    run_script("benchmarks.read_bench", ["--dry-run", "--model", reader_model,
                                         "--data-dir", SAMPLE_DIR, "--out-dir", tmp_path / "bench"])
    assert "optdigits skipped: no --optdigits given" in capsys.readouterr().out
    saved = json.loads((tmp_path / "bench" / "benchmark.json").read_text())
    assert list(saved["results"]) == ["mnist"] and saved["timing"]["source"] == "mnist"
    assert "no --optdigits given" in saved["config"]["skipped"]["optdigits"]
    md = (tmp_path / "bench" / "benchmark.md").read_text()
    assert "The optdigits half was skipped: no --optdigits given" in md


def test_bad_optdigits_file_gives_one_line(tmp_path, capsys, reader_model):
    err = fails_with_one_line(capsys, "benchmarks.read_bench", [
        "--dry-run", "--model", reader_model, "--out-dir", tmp_path / "b",
        "--optdigits", tmp_path / "none.tra.gz"])
    assert f"--optdigits {tmp_path / 'none.tra.gz'} is not a file" in err
    (tmp_path / "cut.tra").write_text("header\n" * 21 + "0" * 32 + "\n")
    err = fails_with_one_line(capsys, "benchmarks.read_bench", [
        "--dry-run", "--model", reader_model, "--out-dir", tmp_path / "b",
        "--data-dir", SAMPLE_DIR, "--optdigits", tmp_path / "cut.tra"])
    assert "cut.tra ends inside digit 1" in err and "truncated" in err




@pytest.mark.slow
def test_validation_pages_come_from_the_held_out_training_digits(tmp_path, capsys,
                                                                  reader_model, monkeypatch):
    """--validation writes its pages from the tenth of the training split
    that training holds out, drawn both ways, and never from the test split
    or optdigits: the pages to choose a setting on."""
    from digitsuite.data.datasets import load_splits

    monkeypatch.setattr(digit_bench, "CONDITIONS", {
        name: digit_bench.CONDITIONS[name] for name in ("standard", "punctuation")})
    run_script("benchmarks.read_bench", ["--dry-run", "--validation", "--model", reader_model,
                                         "--data-dir", SAMPLE_DIR, "--out-dir", tmp_path / "v"])
    out = capsys.readouterr().out
    assert "mnist-val standard: per digit" in out and "bitmap-val punctuation" in out
    saved = json.loads((tmp_path / "v" / "benchmark.json").read_text())
    assert list(saved["results"]) == ["mnist-val", "bitmap-val"]
    held_out = len(load_splits("mnist", SAMPLE_DIR, log=lambda *_: None).val[1])
    assert [s["digits"] for s in saved["config"]["sources"].values()] == [held_out] * 2
    assert saved["config"]["sources"]["bitmap-val"]["binary"]
    assert "validation digits only" in saved["config"]["skipped"]["optdigits"]
    md = (tmp_path / "v" / "benchmark.md").read_text()
    assert "| mnist-val per digit |" in md and "| bitmap-val per digit |" in md
    err = fails_with_one_line(capsys, "benchmarks.read_bench", [
        "--dry-run", "--validation", "--model", reader_model, "--out-dir", tmp_path / "w",
        "--optdigits", tmp_path / "opt.tra.gz"])
    assert "leave out --optdigits" in err and not (tmp_path / "w").exists()
