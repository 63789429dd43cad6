"""Layer pictures of the seed CNN (digitsuite.visual.layerviz computes,
layerfigures draws): feature-map panels, class probabilities, saliency and
the colour scales the figures and the app share."""

import numpy as np
import pytest

from digitsuite.inference.modelio import load_keras_model
from digitsuite.visual import layerfigures, layerviz
from tests.support import SEED_MAP_LAYERS


def test_one_panel_per_channel_for_every_conv_and_pool_layer(seed_model, sample_test_set):
    model = load_keras_model(seed_model)
    result = layerviz.analyse(model, sample_test_set[0][0] / np.float32(255))
    assert list(result["maps"]) == SEED_MAP_LAYERS
    assert list(result["dense"]) == ["dense1", "dense2"]
    for name, maps in result["maps"].items():
        channels = model.get_layer(name).output.shape[-1]
        assert maps.shape[-1] == channels
        mosaic, corners = layerviz.tile_maps(maps, gap=1)
        assert len(corners) == channels
        height, width = maps.shape[:2]
        for k, (top, left) in enumerate(corners):
            np.testing.assert_array_equal(mosaic[top:top + height, left:left + width],
                                          maps[..., k])
        # One number label per panel in the saved figure.
        fig = layerfigures.plot_feature_maps(name, maps)
        labels = {t.get_text() for t in fig.axes[0].texts}
        assert labels == {str(k) for k in range(channels)}
    assert result["filters"].shape == (3, 3, 64)


def test_probabilities_sum_to_one_and_match_the_model(seed_model, sample_test_set):
    model = load_keras_model(seed_model)
    image = sample_test_set[0][7] / np.float32(255)
    result = layerviz.analyse(model, image)
    assert result["probabilities"].sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(result["probabilities"],
                               model.predict(image[None, ..., None], verbose=0)[0], atol=1e-6)
    assert result["predicted"] == int(np.argmax(result["probabilities"]))


def test_saliency_uses_class_scores(seed_model, sample_test_set):
    model = load_keras_model(seed_model)
    image = sample_test_set[0][7][None, ..., None] / np.float32(255)
    scores = np.asarray(layerviz.class_score_model(model)(image))[0]
    softmax = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
    np.testing.assert_allclose(softmax, np.asarray(model(image))[0], atol=1e-6)
    heat = layerviz.saliency(model, image[0, ..., 0], 3)
    assert heat.shape == (28, 28) and heat.min() >= 0 and heat.max() == 1.0


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_a_convolution_step_adds_up_to_the_layers_own_output(padding):
    from digitsuite.backend import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    conv = keras.layers.Conv2D(4, 3, padding=padding, activation="relu", name="conv1")
    model = keras.Model(inputs, conv(inputs))
    conv.bias.assign(np.array([0.1, -0.2, 0.0, 0.3], np.float32))
    image = np.random.default_rng(0).random((28, 28), dtype=np.float32)
    maps = model.predict(image[None, ..., None], verbose=0)[0]  # (h, w, 4)
    for channel, row, col in [(0, 0, 0), (1, 5, 17), (3, maps.shape[0] - 1, maps.shape[1] - 1)]:
        step = layerviz.convolution_step(conv, image, channel, row, col)
        assert np.asarray(step["window"]).shape == (3, 3)
        np.testing.assert_allclose(np.asarray(step["window"]) * step["weights"],
                                   step["products"])
        assert step["total"] == pytest.approx(step["sum"] + step["bias"])
        assert step["output"] == pytest.approx(max(0.0, step["total"]), abs=1e-6)
        assert step["output"] == pytest.approx(float(maps[row, col, channel]), abs=1e-5)
    strongest = layerviz.convolution_step(conv, image, 2)
    assert (strongest["row"], strongest["col"]) == np.unravel_index(
        np.argmax(maps[..., 2] - conv.bias.numpy()[2]), maps.shape[:2])
    assert strongest["out_shape"] == list(maps.shape[:2])
    with pytest.raises(ValueError, match="filters 0 to 3, not 4"):
        layerviz.convolution_step(conv, image, 4)
    with pytest.raises(ValueError, match="no position"):
        layerviz.convolution_step(conv, image, 0, 40, 0)


def test_colour_scales_start_at_zero_and_centre_weights():
    assert layerviz.activation_scale(np.array([0.0, 2.5])) == (0.0, 2.5)
    assert layerviz.activation_scale(np.array([-1.0, 3.0])) == (-1.0, 3.0)
    low, high = layerviz.activation_scale(np.zeros(4))   # a silent layer still spans
    assert low == 0.0 and high > 0
    assert layerviz.weight_scale(np.array([[-0.2, 0.5]])) == (-0.5, 0.5)


def test_the_app_draws_with_the_figures_colour_maps():
    from digitsuite.app import views

    assert set(views.colormaps()) == set(layerviz.COLORMAPS)
