"""--precision (digitsuite.precision): bfloat16 only where the hardware does it
natively and it is measured faster; models trained in it compute like
Keras' own mixed-precision layers and are saved in float32."""

import numpy as np
import pytest

from digitsuite import precision
from digitsuite.backend import keras, tf
from digitsuite.training import trainstep
from models import build_cnn
from tests.support import read_json, run_script

ZEN4 = ("AMD EPYC", {"avx2", "avx512f", "avx512_bf16"})
SAPPHIRE_RAPIDS = ("Intel Xeon", {"avx2", "avx512f", "amx_bf16", "avx512_bf16"})
AVX2_ONLY = ("Intel Core", {"sse4_2", "avx2", "fma"})


@pytest.fixture(autouse=True)
def _fresh_decision():
    precision.choose.cache_clear()
    yield
    precision.choose.cache_clear()


def test_cpu_info_reads_model_and_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC 9R14\n"
                       "flags\t\t: fpu avx2 avx512f avx512_bf16\n\nprocessor\t: 1\n")
    assert precision.cpu_info(cpuinfo) == ("AMD EPYC 9R14", {"fpu", "avx2", "avx512f",
                                                             "avx512_bf16"})
    assert precision.cpu_info(tmp_path / "missing") == ("unknown", set())


@pytest.mark.parametrize("cpu, native", [(ZEN4, True), (SAPPHIRE_RAPIDS, True),
                                         (AVX2_ONLY, False)])
def test_native_bf16_needs_the_cpu_flags(cpu, native):
    found, why = precision.native_bf16(gpus=[], cpu=cpu)
    assert found is native
    assert cpu[0] in why


def test_a_gpu_decides_by_its_compute_capability():
    assert precision.native_bf16(gpus=[("A100", (8, 0))], cpu=AVX2_ONLY)[0] is True
    assert precision.native_bf16(gpus=[("T4", (7, 5))], cpu=SAPPHIRE_RAPIDS)[0] is False


def test_auto_keeps_float32_without_native_bf16(monkeypatch):
    monkeypatch.setattr(precision, "native_bf16", lambda: (False, "CPU X has no native"))
    monkeypatch.setattr(precision, "probe", pytest.fail)  # no need to measure
    decision = precision.choose("auto")
    assert decision["precision"] == "float32" and decision["policy"] == "float32"
    assert decision["requested"] == "auto" and "no native" in decision["reason"]


@pytest.mark.parametrize("seconds, chosen", [({"float32": 1.0, "bfloat16": 0.5}, "bfloat16"),
                                             ({"float32": 1.0, "bfloat16": 0.95}, "float32"),
                                             ({"float32": 1.0, "bfloat16": 3.0}, "float32")])
def test_auto_never_picks_a_slower_bf16(monkeypatch, seconds, chosen):
    monkeypatch.setattr(precision, "native_bf16", lambda: (True, "CPU X has avx512_bf16"))
    monkeypatch.setattr(precision, "probe", lambda: seconds)
    decision = precision.choose("auto")
    assert decision["precision"] == chosen
    assert decision["probe_seconds"] == seconds
    assert "probe" in decision["reason"]


def test_forced_precisions_and_bad_names():
    assert precision.choose("float32")["policy"] == "float32"
    assert precision.choose("bfloat16")["policy"] == "mixed_bfloat16"
    with pytest.raises(ValueError, match="float16"):
        precision.choose("float16")


def test_probe_times_both_precisions():
    seconds = precision.probe(repeats=1, calls=1)
    assert set(seconds) == {"float32", "bfloat16"} and all(s > 0 for s in seconds.values())


def test_policy_applies_inside_the_block_only():
    with precision.policy("bfloat16"):
        model = build_cnn()
    assert keras.config.dtype_policy().name == "float32"
    assert model.get_layer("conv2").compute_dtype == "bfloat16"
    assert model.get_layer("conv2").kernel.dtype == "float32"  # variables stay float32
    assert model.get_layer("predictions").compute_dtype == "float32"  # softmax and loss


def test_fast_forward_in_bf16_follows_keras_mixed_layers():
    keras.utils.set_random_seed(1)
    with precision.policy("bfloat16"):
        model = build_cnn()
    forward = trainstep.seed_cnn_forward(model)
    assert forward is not None
    x = tf.constant(np.random.default_rng(0).random((32, 28, 28, 1), np.float32))
    fast, own = np.asarray(forward(x, training=False)), np.asarray(model(x, training=False))
    assert fast.dtype == own.dtype == np.float32
    np.testing.assert_allclose(fast, own, atol=2e-2)  # bfloat16 rounding, two orders
    with precision.policy("float32"):
        exact = build_cnn()
    exact.set_weights(model.get_weights())
    np.testing.assert_allclose(fast, np.asarray(exact(x, training=False)), atol=3e-2)


def test_as_float32_makes_a_bf16_model_compute_and_save_in_float32(tmp_path):
    with precision.policy("bfloat16"):
        model = build_cnn()
    precision.as_float32(model)
    assert {layer.compute_dtype for layer in model.layers} == {"float32"}
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    assert {layer.compute_dtype for layer in loaded.layers} == {"float32"}


@pytest.mark.parametrize("trained_in", ["bfloat16", "float32"])
def test_a_resumed_run_keeps_the_precision_it_was_saved_in(tmp_path, trained_in):
    """A checkpoint loaded under the default policy still computes as it was
    trained, and the resumed run must say so (and record it)."""
    with precision.policy(trained_in):
        build_cnn().save(tmp_path / "checkpoint.keras")
    loaded = keras.models.load_model(tmp_path / "checkpoint.keras", safe_mode=True)
    decision = precision.resumed(loaded)
    assert decision["precision"] == trained_in
    assert loaded.get_layer("conv1").compute_dtype == trained_in


@pytest.mark.parametrize("flag", ["float32", "bfloat16"])
def test_train_cnn_records_the_precision_it_used(tmp_path, sample_dir, flag):
    run_script("train_cnn", ["--dry-run", "--data-dir", sample_dir, "--out-dir", tmp_path,
                             "--precision", flag])
    config = read_json(tmp_path / "config.json")
    assert config["precision"] == flag
    assert config["precision_used"]["precision"] == flag
    assert config["precision_used"]["reason"] == f"--precision {flag}"
    model = keras.models.load_model(tmp_path / "model.keras", safe_mode=True)
    assert {layer.compute_dtype for layer in model.layers} == {"float32"}


def test_auto_records_why(tmp_path, sample_dir):
    run_script("train_cnn", ["--dry-run", "--data-dir", sample_dir, "--out-dir", tmp_path])
    used = read_json(tmp_path / "config.json")["precision_used"]
    assert used["requested"] == "auto" and used["precision"] in ("float32", "bfloat16")
    assert "CPU" in used["reason"] or "GPU" in used["reason"]
