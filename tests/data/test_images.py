"""MNIST-style preparation of users' pictures and the page clean-up before
reading (digitsuite.data.images)."""

import re

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from digitsuite.data import images
from digitsuite.errors import ImageError
from tests.support import draw_seven, page_of_rings


def test_mnist_style_follows_mnist_conventions(tmp_path):
    _, digit = images.load_digit(draw_seven(tmp_path / "seven.png"))
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert digit.min() == 0.0 and digit.max() == 1.0
    rows, cols = np.nonzero(digit)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 == 20       # fits 20x20, long side 20
    assert digit[[0, -1], :].sum() == digit[:, [0, -1]].sum() == 0  # border is background
    np.testing.assert_allclose(ndimage.center_of_mass(digit), (14, 14), atol=0.5)


def test_both_ink_polarities_give_the_same_digit(tmp_path):
    dark = images.load_digit(draw_seven(tmp_path / "dark.png", dark_ink=True))[1]
    light = images.load_digit(draw_seven(tmp_path / "light.png", dark_ink=False))[1]
    np.testing.assert_allclose(dark, light, atol=0.02)


def test_ink_is_dark_decides_polarity():
    grey = np.full((40, 40), 0.9, np.float32)
    grey[10:30, 18:22] = 0.1
    assert images.ink_is_dark(grey)
    assert not images.ink_is_dark(1 - grey)


def test_textured_paper_becomes_background():
    rng = np.random.default_rng(0)
    grey = np.clip(0.85 + rng.normal(0, 0.02, (60, 60)), 0, 1).astype(np.float32)
    grey[15:45, 28:33] = 0.2
    ink = images.to_foreground(grey)
    assert np.mean(ink[:, :20] > 0) < 0.01    # paper texture -> 0, bar a few specks
    assert ink[20:40, 29:32].min() == 1.0     # stroke cores -> 1
    rows, cols = np.nonzero(images.mnist_style(ink))
    assert np.ptp(rows) + 1 == 20 and np.ptp(cols) + 1 <= 6  # specks gone: just the bar


def test_specks_do_not_shrink_the_digit():
    ink = np.zeros((100, 100), np.float32)
    ink[20:80, 45:55] = 1.0
    ink[2:4, 2:4] = 1.0  # dust in the corner
    clean = images.remove_specks(ink)
    assert clean[2:4, 2:4].max() == 0 and clean[20:80, 45:55].min() == 1
    rows, _ = np.nonzero(images.mnist_style(ink))
    assert np.ptp(rows) + 1 == 20


def test_thin_pen_on_a_large_photo_keeps_mnist_stroke_width(tmp_path):
    path = draw_seven(tmp_path / "thin.png", size=(900, 1200), width=6)
    digit = images.load_digit(path)[1]
    assert images.stroke_width(digit) >= 2.0  # MNIST strokes are ~2-3 pixels wide


def test_marker_strokes_are_thinned_and_a_filled_blob_kept():
    # A "0" drawn with a marker: strokes a third of its 100-pixel height.
    ink = np.zeros((140, 120), np.float32)
    yy, xx = np.mgrid[0:140, 0:120]
    r = np.hypot((yy - 70) / 50, (xx - 60) / 40)
    ink[(r <= 1) & (r >= 0.3)] = 1
    assert images.stroke_width(ink) > 0.3 * 100
    thinned = images.thin(ink)
    assert images.stroke_width(thinned) < 0.25 * 100
    rows = np.flatnonzero(thinned.max(axis=1) > 0.5)
    assert np.ptp(rows) + 1 >= 0.8 * 100           # still as tall: a loop, not a dot
    assert thinned[70, 60] == 0                     # and its hole still open
    blob = np.zeros((60, 60), np.float32)
    blob[10:50, 10:50] = 1                          # eroding would shrink it: left alone
    assert images.thin(blob) is blob


def test_read_image_shapes_and_shrinking(tmp_path):
    Image.new("RGB", (30, 20), (255, 0, 0)).save(tmp_path / "red.png")
    Image.new("L", (30, 20), 128).save(tmp_path / "grey.png")
    colour = images.read_image(tmp_path / "red.png", colour=True)
    assert colour.shape == (20, 30, 3) and colour.dtype == np.float32
    np.testing.assert_allclose(colour[0, 0], [1, 0, 0])
    assert images.read_image(tmp_path / "grey.png", colour=True).shape == (20, 30, 1)
    assert images.read_image(tmp_path / "red.png").shape == (20, 30)
    assert images.read_image(tmp_path / "red.png", colour=True, max_side=15).shape == (10, 15, 3)


def test_a_small_picture_is_enlarged_by_a_whole_factor_to_be_read(tmp_path):
    """A 16x16 digit (a USPS image, say) is read at 64x64 or more, each
    pixel's area where it was; a picture already large enough, or one
    whose long side would pass max_side, is not enlarged past it."""
    small = np.zeros((16, 12), np.float32)
    small[4:12, 5:7] = 1.0
    Image.fromarray((small * 255).astype(np.uint8)).save(tmp_path / "small.png")
    big = images.read_image(tmp_path / "small.png", min_side=64)
    assert big.shape == (96, 72)       # factor 6: 12 x 6 >= 64
    assert big.min() == 0.0 and big.max() == 1.0
    np.testing.assert_allclose(ndimage.center_of_mass(big), (8 * 6, 6 * 6), atol=0.5)
    assert images.read_image(tmp_path / "small.png").shape == (16, 12)
    assert images.enlarged_to(small, 64, max_side=40).shape == (32, 24)
    colour = np.ones((10, 20, 3), np.float32)
    assert images.enlarged_to(colour, 64).shape == (70, 140, 3)
    page = np.ones((80, 300), np.float32)
    assert images.enlarged_to(page, 64) is page
    # A 1 cut tight to its ink is a few pixels wide: read, enlarged 16 times.
    Image.new("L", (4, 20), 255).save(tmp_path / "one.png")
    assert images.read_image(tmp_path / "one.png", min_side=64).shape == (320, 64)
    # A sliver that no character's crop is, refused as before.
    Image.new("L", (4, 200), 255).save(tmp_path / "sliver.png")
    with pytest.raises(ImageError, match="is only 4x200 pixels; give an image at least 8x8"):
        images.read_image(tmp_path / "sliver.png")


def test_transparent_canvas_reads_as_paper(tmp_path):
    img = Image.new("RGBA", (40, 40), (0, 0, 0, 0))  # transparent black
    ImageDraw.Draw(img).line([(20, 5), (20, 35)], fill=(0, 0, 0, 255), width=4)
    img.save(tmp_path / "drawn.png")
    grey = images.read_image(tmp_path / "drawn.png")
    assert grey[0, 0] == 1.0 and grey[20, 20] == 0.0


def test_sixteen_bit_scans_keep_their_range(tmp_path):
    values = np.full((20, 20), 65535, np.uint16)
    values[5:15, 8:12] = 0
    Image.fromarray(values).save(tmp_path / "scan16.png")
    grey = images.read_image(tmp_path / "scan16.png")
    assert grey.max() == 1.0 and grey.min() == 0.0


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no image file at"),
    (lambda p: p.mkdir(), "bad.png is a folder, not an image; give the image files in it"),
    (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
    (lambda p: p.write_text("not a picture"), "is not an image this suite reads"),
    (lambda p: Image.new("L", (1, 1)).save(p, format="PNG"), "is only 1x1 pixels"),
])
def test_read_image_errors_are_one_line(tmp_path, make, message):
    path = tmp_path / "bad.png"
    make(path)
    with pytest.raises(ImageError, match=re.escape(message)) as info:
        images.read_image(path)
    assert "\n" not in str(info.value)


def test_truncated_file_is_reported(tmp_path):
    Image.new("RGB", (64, 64), (10, 200, 30)).save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[:len(data) // 2])
    with pytest.raises(ImageError, match="truncated or corrupt"):
        images.read_image(tmp_path / "cut.jpg")


def test_oversized_images_are_refused(tmp_path, monkeypatch):
    Image.new("L", (40, 40)).save(tmp_path / "big.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    with pytest.raises(ImageError, match="over the 0-megapixel limit"):
        images.read_image(tmp_path / "big.png")


def test_pillow_decompression_bomb_becomes_one_line(tmp_path, monkeypatch):
    Image.new("L", (40, 40)).save(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # warning above 500, error above 1000
    for side in (40, 30):  # 1600 pixels: Pillow's error; 900: its warning
        Image.new("L", (side, side)).save(tmp_path / "bomb.png")
        # The suite's own limit, not Pillow's text, which names Pillow's.
        with pytest.raises(ImageError, match=r"bomb.png is 0 megapixels, over the "
                                             r"50-megapixel limit; shrink it first$"):
            images.read_image(tmp_path / "bomb.png")


def test_blank_picture_says_no_digit(tmp_path):
    Image.new("L", (50, 50), 200).save(tmp_path / "blank.png")
    with pytest.raises(ImageError, match="blank.png: no digit found"):
        images.load_digit(tmp_path / "blank.png")


# --------------------------------------------------------------------------
# Page clean-up before reading


def test_even_out_lighting_flattens_the_paper():
    page, _ = page_of_rings(light=0.6)     # paper from 0.85 on the left to 0.34 right
    flat = images.even_out_lighting(page)
    assert flat.shape == page.shape and flat.dtype == np.float32
    paper = flat[5:15, :]
    assert np.ptp(paper) < 0.05 and np.ptp(page[5:15, :]) > 0.4


def test_even_out_lighting_leaves_an_mnist_zero_on_black_paper_black(sample):
    """A 0 fills much of its small picture: the fit kept too little paper,
    its surface bent into the corners, and the black there came out grey
    enough to read as dots beside the digit. A correction that leaves the
    paper less even is not made."""
    zeros = sample["x_test"][sample["y_test"] == 0][:40]
    for image in zeros:
        grey = images.enlarged_to(image.astype(np.float32) / 255.0, images.MIN_READ_SIDE)
        paper = grey < 0.05
        assert images.even_out_lighting(grey)[paper].max() < 0.3


def test_even_out_lighting_survives_a_fit_with_too_few_pixels(monkeypatch):
    """A small picture that is mostly strokes can leave the fit too few
    pixels to fix its six terms (the normal equations are singular; a 16x16
    light digit once stopped the reader with LinAlgError). The least-squares
    surface of lowest norm then evens the page out the same way."""
    page, _ = page_of_rings(light=0.6)
    expected = images.even_out_lighting(page)

    def singular(*args):
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(np.linalg, "solve", singular)
    np.testing.assert_allclose(images.even_out_lighting(page), expected, atol=1e-3)


def test_even_out_lighting_gives_ink_in_the_dim_part_its_contrast_back():
    """Light multiplies paper and ink alike: ink of one reflectance under a
    light falling to 40 % keeps the same contrast with its paper once the
    page is evened out, on the dim side as on the bright one."""
    reflectance = np.full((120, 400), 0.9, np.float32)
    reflectance[40:80, 30:60] = reflectance[40:80, 340:370] = 0.2     # two strokes
    light = np.linspace(1.0, 0.4, 400, dtype=np.float32)[None, :]
    flat = images.even_out_lighting(reflectance * light)

    def contrast(cols):
        return flat[5:25, cols].mean() - flat[50:70, cols][:, 10:20].mean()

    bright, dim = contrast(slice(30, 60)), contrast(slice(340, 370))
    assert bright > 0.4 and dim == pytest.approx(bright, rel=0.1)


def test_dark_paper_is_evened_out_without_lifting_its_noise():
    rng = np.random.default_rng(0)
    page = np.clip(0.15 * np.linspace(1.0, 0.4, 300)[None, :]
                   + rng.normal(0, 0.01, (100, 300)), 0, 1).astype(np.float32)
    page[40:60, 250:280] = 0.8                        # light ink on the dim side
    flat = images.even_out_lighting(page)
    assert flat[:20, 200:300].std() < 0.02
    assert flat[45:55, 255:275].mean() > 0.6


def test_a_shadow_band_is_divided_out_and_a_page_without_one_left_alone():
    """A band of shadow across the writing, which no smooth lighting surface
    follows: once divided out, the shaded paper is paper again and the
    strokes under it keep their contrast. A page without one comes back
    unchanged."""
    page, _ = page_of_rings(shadow=0.5, noise=0.01, border=30)
    flat = images.even_out_shadows(images.even_out_lighting(page), ink_dark=True)
    shaded = (slice(115, 125), slice(120, 130))          # in the band, and beside it
    lit = (slice(115, 125), slice(250, 260))
    assert page[lit].mean() - page[shaded].mean() > 0.35
    assert flat[lit].mean() == pytest.approx(flat[shaded].mean(), abs=0.05)
    shaded_ring, lit_ring = flat[50:55, 110:145], flat[50:55, 50:85]   # top strokes
    assert shaded_ring.mean() == pytest.approx(lit_ring.mean(), abs=0.05)
    clean, _ = page_of_rings(light=0.4, noise=0.01)
    even = images.even_out_lighting(clean)
    assert images.even_out_shadows(even, ink_dark=True) is even


def test_heavy_noise_is_smoothed_and_light_noise_kept():
    rng = np.random.default_rng(0)
    noisy = np.clip(0.8 + rng.normal(0, 0.1, (200, 200)), 0, 1).astype(np.float32)
    assert images.noise_level(noisy) == pytest.approx(0.1, abs=0.02)
    assert images.reduce_noise(noisy).std() < 0.05
    clean = np.clip(0.8 + rng.normal(0, 0.02, (200, 200)), 0, 1).astype(np.float32)
    np.testing.assert_array_equal(images.reduce_noise(clean), clean)


def test_disk_is_a_round_footprint_of_the_given_radius():
    from digitsuite.data.images import disk

    assert disk(1).astype(int).tolist() == [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    assert disk(1.5).shape == (5, 5) and disk(1.5)[1, 1] and not disk(1.5)[0, 0]
    assert disk(3).sum() == 29 and disk(3)[3].all()
