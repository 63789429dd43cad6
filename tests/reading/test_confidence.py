"""The reader's confidence: calibration files, the ensemble, the measures of
a calibration and what a reading reports from them."""

import json
import shutil

import numpy as np
import pytest

from benchmarks.calibrate_reader import fit, measure, threshold_for
from digitsuite.errors import ModelFileError
from digitsuite.reading import confidence, reader, segment
from digitsuite.reading.confidence import DIGIT_FEATURES, NUMBER_FEATURES, Calibration, Logistic
from tests.support import ROOT

SHIPPED = ROOT / "models" / "reader"


def linear(coef):
    """A Logistic over raw features, no products: P = sigmoid(coef @ x)."""
    d = len(coef)
    return Logistic(np.zeros(d), np.ones(d), np.concatenate([coef, np.zeros(d * (d + 1) // 2)]),
                    0.0)


def calibration(digit_threshold=0.5, number_threshold=0.9):
    return Calibration(linear(np.zeros(len(DIGIT_FEATURES))),
                       linear(np.eye(len(NUMBER_FEATURES))[0]),
                       digit_threshold, number_threshold, {"data": "test"})


def write(path, data):
    path.write_text(json.dumps(data))
    return path


def test_a_calibration_round_trips_through_its_file(tmp_path):
    written = calibration(0.6, 0.95)
    path = write(tmp_path / "calibration.json", written.as_dict())
    read = confidence.read_calibration(path)
    assert read.digit_threshold == 0.6 and read.number_threshold == 0.95
    features = np.random.default_rng(0).normal(size=(5, len(DIGIT_FEATURES)))
    assert np.allclose(read.digit(features), written.digit(features))


@pytest.mark.parametrize("spoil", [
    lambda d: d.update(format=2),
    lambda d: d["digit"].update(coef=[float("nan")] * len(DIGIT_FEATURES)),
    lambda d: d["digit"].update(coef=[1.0]),
    lambda d: d["number"].update(scale=[0.0] * len(NUMBER_FEATURES)),
    lambda d: d.update(digit_features=["something", "else"]),
    lambda d: d.update(number_threshold=7),
    lambda d: d.pop("number"),
    lambda d: d.update(digit="not a regression"),
])
def test_a_spoilt_calibration_is_one_line_naming_the_file(tmp_path, spoil):
    data = calibration().as_dict()
    spoil(data)
    path = write(tmp_path / "calibration.json", data)
    with pytest.raises(ModelFileError) as caught:
        confidence.read_calibration(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message and "calibrate_reader.py" in message


def test_a_huge_or_unreadable_calibration_is_refused(tmp_path):
    path = tmp_path / "calibration.json"
    path.write_bytes(b"{" + b" " * 1_100_000 + b"}")
    with pytest.raises(ModelFileError, match="over 1 MB"):
        confidence.read_calibration(path)
    path.write_bytes(b"\xff\xfe not json")
    with pytest.raises(ModelFileError, match="not a reader calibration"):
        confidence.read_calibration(path)
    path.write_text("[" * 100_000 + "]" * 100_000)          # nested past the recursion limit
    with pytest.raises(ModelFileError, match="not a reader calibration .nested too deep"):
        confidence.read_calibration(path)


def test_load_reader_takes_the_partner_and_calibration_beside_the_model(tmp_path,
                                                                        reader_model):
    folder = tmp_path / "reader"
    folder.mkdir()
    shutil.copyfile(reader_model, folder / "model.keras")
    plain = confidence.load_reader(folder / "model.keras")
    assert not plain.calibrated and len(plain.models) == 1
    write(folder / confidence.CALIBRATION_FILE, calibration().as_dict())
    with pytest.raises(ModelFileError):       # a calibration needs its partner
        confidence.load_reader(folder / "model.keras")
    shutil.copyfile(reader_model, folder / confidence.PARTNER_FILE)
    both = confidence.load_reader(folder / "model.keras")
    assert both.calibrated and len(both.models) == 2


def test_a_calibration_beside_a_retrained_model_is_refused(tmp_path):
    folder = tmp_path / "reader"
    shutil.copytree(SHIPPED, folder)
    assert confidence.load_reader(folder / "model.keras").calibrated
    # Retrained in place: another model.keras, the old calibration still there.
    shutil.copyfile(SHIPPED / confidence.PARTNER_FILE, folder / "model.keras")
    with pytest.raises(ModelFileError, match="fit for another model.keras"):
        confidence.load_reader(folder / "model.keras")


def test_the_shipped_reader_is_two_seed_cnns_calibrated_and_small():
    ensemble = confidence.load_reader(SHIPPED / "model.keras")
    assert ensemble.calibrated and len(ensemble.models) == 2
    assert [m.count_params() for m in ensemble.models] == [237_482, 237_482]
    fit_on = ensemble.calibration.fit
    assert "validation_digits" in fit_on and "optdigits" not in json.dumps(fit_on).lower()
    assert {"model_sha256", "partner_sha256"} <= set(fit_on)    # checked on every load
    size = sum((SHIPPED / name).stat().st_size
               for name in ("model.keras", confidence.PARTNER_FILE, confidence.CALIBRATION_FILE))
    assert size < 2_000_000


def test_views_shift_and_widen_without_moving_ink_off_the_crop():
    crop = np.zeros((1, 28, 28), np.float32)
    crop[0, 10:18, 12:14] = 1.0
    shown = confidence.views(crop)
    assert len(shown) == 1 + len(confidence.SHIFTS) + 1
    assert all(v.shape == crop.shape for v in shown)
    assert shown[1][0, 11:19, 12:14].all() and not shown[1][0, 10, 12]  # down one pixel
    assert shown[-1].sum() > crop.sum()                                 # a wider pen


def test_calibration_error_tells_an_honest_probability_from_an_overconfident_one():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.5, 1.0, 20_000)
    honest = rng.uniform(size=p.size) < p
    assert confidence.calibration_error(p, honest) < 0.02
    overconfident = rng.uniform(size=p.size) < p - 0.3
    assert confidence.calibration_error(p, overconfident) > 0.25
    assert confidence.calibration_error([], []) is None


def test_coverage_at_a_precision_answers_the_surest_first():
    p = np.array([0.99, 0.98, 0.97, 0.6, 0.5])
    right = np.array([1, 1, 1, 0, 1])
    assert confidence.coverage_at(p, right, 1.0) == pytest.approx(0.6)
    assert confidence.coverage_at(p, right, 0.8) == pytest.approx(1.0)
    assert confidence.coverage_at(p, right, 1.0, total=10) == pytest.approx(0.3)
    assert confidence.coverage_at(np.array([0.9]), np.array([0]), 0.5) == 0.0


def test_fit_learns_a_probability_that_matches_the_share_right(monkeypatch):
    """Pages where a feature really tells right from wrong: the fitted
    digit probability is calibrated on pages it did not see, and the
    thresholds give the precision asked for (as a share: 1,200 held-out
    digits are too few to show 99.5 % with the shipped confidence)."""
    import benchmarks.calibrate_reader as calibrate_reader

    monkeypatch.setattr(calibrate_reader, "BOUND_CONFIDENCE", None)
    rng = np.random.default_rng(1)
    pages = []
    for _ in range(200):
        n = 12
        features = rng.normal(size=(n, len(DIGIT_FEATURES)))
        right = rng.uniform(size=n) < 1 / (1 + np.exp(-3 * features[:, 0] - 2))
        numbers = [list(range(0, 4)), list(range(4, 9)), list(range(9, 12))]
        boxes = [[[40 * k, 0, 40 * k + 30, 60] for k in ks] for ks in numbers]
        pages.append((("standard", "mnist"), features, right,
                      list(zip(numbers, boxes, [5.0] * 3, [0.0] * 3, [False] * 3)),
                      np.array([right[ks].all() for ks in numbers])))
    calibration, measures = fit(pages)
    # The feature that tells is the one weighed: P rises along it, not the others.
    base = np.zeros((1, len(DIGIT_FEATURES)))
    assert calibration.digit(base + np.eye(len(DIGIT_FEATURES))[0]) > calibration.digit(base)
    assert abs(calibration.digit(base + np.eye(len(DIGIT_FEATURES))[1])
               - calibration.digit(base)) < 0.05
    assert measures["digit_calibration_error"] < 0.05
    assert measures["digits_shown_right"] >= 0.995
    assert measures["worst_condition"] == "standard"
    assert measures["numbers_vouched_right"] >= 0.99 or measures["numbers_vouched"] < 0.05
    # The thresholds as written lie at or over the cuts chosen, never under.
    unset = Calibration(calibration.digit, calibration.number, None, None, {})
    digit_cut, number_cut, _ = measure(unset, pages[1::2])
    assert digit_cut <= calibration.digit_threshold < digit_cut + 1e-4
    assert number_cut <= calibration.number_threshold < number_cut + 1e-4
    # Asked to show it with confidence, the same pages show fewer digits.
    monkeypatch.undo()
    _, bounded = fit(pages)
    assert bounded["digits_shown"] < measures["digits_shown"]


def test_numbers_with_a_gap_that_may_part_two_are_a_group_of_their_own(monkeypatch, tmp_path):
    """Numbers whose widest gap may be the gap between two numbers are not
    fit on; they get the share of them read right on the pages fit on, and
    are never vouched for, however sure their digits."""
    import benchmarks.calibrate_reader as calibrate_reader

    monkeypatch.setattr(calibrate_reader, "BOUND_CONFIDENCE", None)
    rng = np.random.default_rng(2)
    pages = []
    for _ in range(120):
        features = rng.normal(size=(8, len(DIGIT_FEATURES)))
        right = rng.uniform(size=8) < 1 / (1 + np.exp(-3 * features[:, 0] - 4))
        joined = rng.uniform() < 0.4               # two numbers read as one: wrong
        gap = 0.9 if rng.uniform() < 0.5 else 0.3  # x the height of 60 px
        numbers = [list(range(0, 4)), list(range(4, 8))]
        boxes = [[[0, 0, 30, 60], [40, 0, 70, 60], [70 + round(gap * 60), 0, 130, 60],
                  [140, 0, 170, 60]]] * 2
        wide = confidence.ambiguous_gap(boxes[0])
        assert wide == (gap > confidence.AMBIGUOUS_GAP)
        pages.append((("standard", "mnist"), features, right,
                      list(zip(numbers, boxes, [5.0] * 2, [0.0] * 2, [wide] * 2)),
                      np.array([right[ks].all() and not (wide and joined)
                                for ks in numbers])))
    calibration, measures = fit(pages)
    ambiguous = [n for p in pages[0::2] for n in p[4] if p[3][0][1][2][0] - 70 > 45]
    assert measures["fit_numbers_with_an_ambiguous_gap"] == len(ambiguous) > 0
    assert calibration.gap_right == pytest.approx(np.mean(ambiguous))
    # Sure digits, a gap of 0.9 heights: the group's share, not the regression's.
    wide = [[0, 0, 30, 60], [40, 0, 70, 60], [124, 0, 184, 60], [194, 0, 224, 60]]
    row = confidence.number_features(np.full(4, 0.999), wide)
    assert confidence.ambiguous_gap(wide)
    assert calibration.number_p(row, True) == pytest.approx(calibration.gap_right)
    assert calibration.number_p(row, True) < calibration.number_threshold
    narrow = [[0, 0, 30, 60], [40, 0, 70, 60], [88, 0, 118, 60], [128, 0, 158, 60]]
    assert not confidence.ambiguous_gap(narrow)
    assert calibration.number_p(confidence.number_features(np.full(4, 0.999), narrow),
                                False) >= calibration.number_threshold
    # A box field's cell wall in the gap says it is one number.
    assert not confidence.ambiguous_gap(wide, walls=[(95, -5, 99, 65)])
    assert confidence.open_gap(wide, walls=[(95, -5, 99, 65)]) == pytest.approx(10 / 60)
    # It round-trips through the file, and a file from before it has none.
    path = write(tmp_path / "calibration.json", calibration.as_dict())
    assert confidence.read_calibration(path).gap_right == pytest.approx(calibration.gap_right)
    older = {k: v for k, v in calibration.as_dict().items() if k != "gap_right"}
    assert confidence.read_calibration(write(path, older)).gap_right is None
    for spoilt in (1.5, float("nan"), float("inf")):   # a hostile file's share
        with pytest.raises(ModelFileError, match="not a probability"):
            confidence.read_calibration(write(path, {**older, "gap_right": spoilt}))
    with pytest.raises(ModelFileError, match="not a reader calibration"):
        confidence.read_calibration(write(path, {**older, "gap_right": "high"}))


def test_threshold_for_a_precision():
    p = np.array([0.9, 0.8, 0.7, 0.6])
    right = np.array([1.0, 1.0, 0.0, 1.0])
    assert threshold_for(p, right, 1.0) == 0.8
    assert threshold_for(p, right, 0.75) == 0.6
    assert threshold_for(np.array([0.9, 0.8]), np.array([0.0, 1.0]), 0.99) == 0.8
    # Items tied at one probability are vouched for together or not at all.
    assert threshold_for(np.array([0.95, 0.9, 0.9, 0.8]), np.array([1.0, 1.0, 0.0, 1.0]),
                         0.9) == 0.95


def test_with_a_confidence_the_held_out_items_must_show_the_precision():
    """500 right items show 99.5 % right with 90 % confidence; 200 cannot
    (none wrong in 200 is still likely at 1 % wrong), and then nothing but
    the surest item is over the threshold."""
    p = np.linspace(0.999, 0.5, 1000)
    right = np.zeros(1000)
    right[:500] = 1.0
    assert threshold_for(p, right, 0.995) == pytest.approx(p[501])   # 500 of 502
    assert threshold_for(p, right, 0.995, confidence=0.9) == pytest.approx(p[499])
    right[200:] = 0.0
    assert threshold_for(p, right, 0.995) == pytest.approx(p[200])
    assert threshold_for(p, right, 0.995, confidence=0.9) == pytest.approx(p[0])
    # Each stratum holds the share on its own: b's every other item is wrong.
    right[:] = 1.0
    strata = np.where(np.arange(1000) % 10 == 0, "b", "a")
    right[strata == "b"] = (np.arange((strata == "b").sum()) + 1) % 2
    assert threshold_for(p, right, 0.9) == pytest.approx(p[-1])       # 950 of 1000
    assert threshold_for(p, right, 0.9, strata=strata) == pytest.approx(p[9])  # b: 1 of 2


def test_threshold_for_holds_in_every_group_with_enough_items():
    """Group a is right 24 of 25 times near the top, which the average over
    a and b hides: the threshold rises until what a keeps is right often
    enough, or too little of it is kept to judge."""
    p = np.linspace(0.999, 0.9, 100)
    groups = np.array(["a" if k % 4 == 0 else "b" for k in range(100)])
    right = np.ones(100)
    wrong = np.flatnonzero(groups == "a")[12]        # a's 13th surest
    right[wrong] = 0.0
    assert threshold_for(p, right, 0.98) == pytest.approx(0.9)
    # Past it, a is right at most 24 of 25 times: the threshold stops just above it.
    t = threshold_for(p, right, 0.98, groups, floor=0.98, least=10)
    assert t == pytest.approx(p[wrong - 1])
    # When a's 25 are too few to judge, the average decides.
    assert threshold_for(p, right, 0.98, groups, floor=0.98, least=30) == pytest.approx(0.9)


def test_a_group_too_small_to_judge_still_fails_on_more_wrong_than_chance():
    """Group a keeps 20 items, under ``least``: one wrong among them is
    chance at 98 %, four (its last four) are not, however right the many
    items of b make the average: the threshold rises until what a keeps is
    chance again."""
    p = np.linspace(0.999, 0.9, 400)
    groups = np.array(["a" if k % 20 == 0 else "b" for k in range(400)])
    right = np.ones(400)
    a = np.flatnonzero(groups == "a")
    right[a[-1]] = 0.0
    assert threshold_for(p, right, 0.98, groups, least=50) == pytest.approx(0.9)
    right[a[-4:]] = 0.0
    assert threshold_for(p, right, 0.98) == pytest.approx(0.9)     # 396 of 400 right
    t = threshold_for(p, right, 0.98, groups, least=50)
    # Above a's last two, two wrong among its 18 would come 1 time in 20 at 98 %.
    assert t == pytest.approx(p[a[-2] - 1])


def strip_lines(n):
    ink = np.ones((60, 30), bool)
    return [[segment.Glyph((x, 0, x + 30, 60), ink) for x in range(0, 40 * n, 40)]]


def test_a_number_of_shown_digits_can_still_be_unsure():
    """Calibrated: each digit is over the digit threshold, so none prints as
    '?', but the number's own probability is under the number threshold."""
    ensemble = confidence.Ensemble([None], calibration(0.5, 0.9))
    judged = confidence.Judgement(np.array([1, 2, 3]), np.array([0.9, 0.8, 0.95]),
                                  np.eye(10)[[1, 2, 3]] * 0.9 + 0.01)
    reading = reader.describe(strip_lines(3), judged, True, ensemble=ensemble)
    assert reading["calibrated"] and reading["lines"] == ["123"]
    (number,) = reading["numbers"]
    # number_p: sigmoid(logit(product)) with this regression = the product.
    assert number["confidence"] == pytest.approx(0.9 * 0.8 * 0.95, abs=1e-4)
    assert number["unsure"] and not any(d["unsure"] for d in reading["digits"])
    assert [d["confidence"] for d in reading["digits"]] == [0.9, 0.8, 0.95]
    text = "\n".join(reader.format_reading({"file": "f.png", **reading}))
    # Nothing beside it decided: the text says how sure the reader must be.
    assert "number 123: check, 68% likely right, under the 90% needed to vouch for it" in text
    assert number["unread_beside"] == 0
    # Ink left unread just after it is measured, but its digits decided.
    lost = reader.describe(strip_lines(3), judged, True, ensemble=ensemble,
                           unread=[(125, 10, 145, 50)])
    assert lost["numbers"][0]["unread_beside"] == pytest.approx(40 / 60, abs=0.01)
    assert lost["numbers"][0]["doubts"] == []
    text = "\n".join(reader.format_reading({"file": "f.png", **lost}))
    assert "number 123: check, " in text and "not read" not in text
    assert reading["thresholds"] == {"digit": 0.5, "number": 0.9}
    assert "prints as '?'" not in text  # no digit is unsure: no threshold to explain
    doubtful = reader.describe(strip_lines(3), confidence.Judgement(
        judged.digits, np.array([0.9, 0.4, 0.95]), judged.probs), True, ensemble=ensemble)
    text = "\n".join(reader.format_reading({"file": "f.png", **doubtful}))
    assert "a digit under 50% likely right prints as '?'" in text
    ensemble.calibration.digit_threshold = 0.9094   # the shipped one: not "90%"
    text = "\n".join(reader.format_reading({"file": "f.png", **reader.describe(
        strip_lines(3), confidence.Judgement(judged.digits, np.array([0.9, 0.4, 0.95]),
                                             judged.probs), True, ensemble=ensemble)}))
    assert "a digit under 90.9% likely right prints as '?'" in text
    assert "unsure: line 1, digit 2, 40% likely right" in text
    # Just under the bar: a decimal more, so that it does not read as a
    # sure digit or number at the same whole percentage would.
    judged = confidence.Judgement(judged.digits, np.array([0.92, 0.909, 0.95]), judged.probs)
    ensemble.calibration.number_threshold = 1.0
    chance = reader.describe(strip_lines(3), judged, True, ensemble=ensemble)["numbers"][0]
    # A number threshold a hair over the number's chance (its digits all
    # shown: the threshold is what the text names).
    ensemble.calibration.digit_threshold = 0.9
    ensemble.calibration.number_threshold = round(chance["confidence"], 4) + 0.0003
    near = reader.describe(strip_lines(3), judged, True, ensemble=ensemble)
    text = "\n".join(reader.format_reading({"file": "f.png", **near}))
    (number,) = near["numbers"]
    assert number["unsure"] and number["text"] == "123"
    shown, bar = text.split("number 123: check, ")[1].split(" needed")[0].split(
        "% likely right, under the ")
    assert float(shown) < float(bar.rstrip("%"))
    # Over a bar a hair under it, the same number is sure, and says a chance
    # no lower than the bar it cleared ("sure, 68%" beside a bar of 68.4 %
    # read as if it had not).
    ensemble.calibration.number_threshold = round(chance["confidence"], 4) - 0.0003
    over = reader.describe(strip_lines(3), judged, True, ensemble=ensemble)
    text = "\n".join(reader.format_reading({"file": "f.png", **over}))
    sure = text.split("number 123: sure, ")[1].split("%")[0]
    assert float(sure) > 100 * ensemble.calibration.number_threshold - 0.01
    # The digits against theirs: 0.909 under 0.9094 reads under it.
    ensemble.calibration.digit_threshold = 0.9094
    near = reader.describe(strip_lines(3), judged, True, ensemble=ensemble)
    text = "\n".join(reader.format_reading({"file": "f.png", **near}))
    assert "1 92%  ? 90.90%  3 95%" in text
    assert "a digit under 90.94% likely right prints as '?'" in text


def test_a_number_is_never_surer_than_its_weakest_digit():
    """A number regression that, far from what it was fit on, turns a digit
    judged almost surely wrong into a sure number: the number reports at
    most its weakest digit's probability, and stays unsure."""
    backwards = -np.eye(len(NUMBER_FEATURES))[0]  # the less likely the digits, the surer
    ensemble = confidence.Ensemble([None], Calibration(
        linear(np.zeros(len(DIGIT_FEATURES))), linear(backwards), 0.005, 0.9, {}))
    judged = confidence.Judgement(np.array([7, 1]), np.array([0.01, 0.99]),
                                  np.eye(10)[[7, 1]] * 0.9 + 0.01)
    reading = reader.describe(strip_lines(2), judged, True, ensemble=ensemble)
    assert reading["lines"] == ["71"]  # each digit over this digit threshold
    (number,) = reading["numbers"]
    assert number["confidence"] == pytest.approx(0.01, abs=1e-4) and number["unsure"]
    # Where the regression is the lower, it is what counts.
    features = confidence.number_features([0.99, 0.99], [[0, 0, 30, 60], [40, 0, 70, 60]])
    sure = confidence.number_probability(linear(np.eye(len(NUMBER_FEATURES))[0]), features)
    assert sure == pytest.approx(0.99 ** 2, abs=1e-6)


def test_unread_ink_beside_a_number_is_measured_in_its_heights():
    boxes = [[100, 0, 130, 60], [140, 0, 170, 60]]
    assert confidence.unread_beside(boxes, []) == 0.0
    assert confidence.unread_beside(boxes, [[60, 20, 80, 50]]) == pytest.approx(0.5)
    assert confidence.unread_beside(boxes, [[150, 20, 160, 30]]) == pytest.approx(10 / 60)
    # Past a word gap, over or under the number's band: another line's or another number's.
    assert confidence.unread_beside(boxes, [[20, 20, 39, 50], [100, 70, 130, 100]]) == 0.0
    assert confidence.unread_beside(boxes, [[0, 0, 99, 60]]) == confidence.UNREAD_CAP


def test_unread_ink_beside_a_number_lowers_its_probability():
    """The page's unread ink reaches the number's regression through
    describe: with a regression that weighs it, the same digits beside a
    lost piece make a less likely number, and here an unsure one."""
    coef = np.eye(len(NUMBER_FEATURES))[0] - 8 * np.eye(len(NUMBER_FEATURES))[-1]
    ensemble = confidence.Ensemble([None], Calibration(
        linear(np.zeros(len(DIGIT_FEATURES))), linear(coef), 0.5, 0.9, {}))
    judged = confidence.Judgement(np.array([1, 2]), np.array([0.99, 0.99]),
                                  np.eye(10)[[1, 2]] * 0.9 + 0.01)
    alone = reader.describe(strip_lines(2), judged, True, ensemble=ensemble)
    beside = reader.describe(strip_lines(2), judged, True, ensemble=ensemble,
                             unread=[[-50, 0, -20, 60]])
    assert alone["numbers"][0]["confidence"] == pytest.approx(0.99 ** 2, abs=1e-4)
    assert not alone["numbers"][0]["unsure"]
    assert beside["numbers"][0]["confidence"] < 0.1 and beside["numbers"][0]["unsure"]


def test_a_plain_model_is_read_as_before():
    probs = np.eye(10)[[4, 2]] * 0.97 + 0.003
    probs[1] = np.full(10, 0.1)
    reading = reader.describe(strip_lines(2), probs, True)
    assert not reading["calibrated"] and reading["lines"] == ["4?"]
    assert reading["digits"][0]["confidence"] == reading["digits"][0]["top2"][0][1]
    assert reading["numbers"][0]["unsure"]


def test_the_cuts_of_a_glyph_are_chosen_by_the_reader_model_alone(monkeypatch):
    """The partner never learned that two touching digits are no digit: its
    sure reading of a pair as one digit must not keep the pair whole."""
    outputs = {"reader": np.eye(10)[[3, 5]], "partner": np.eye(10)[[8, 8]]}
    monkeypatch.setattr(confidence, "predict", lambda model, crops: outputs[model])
    ensemble = confidence.Ensemble(["reader", "partner"], calibration())
    np.testing.assert_array_equal(ensemble.piece_probabilities(np.zeros((2, 28, 28))),
                                  outputs["reader"])
    np.testing.assert_array_equal(ensemble.probabilities(np.zeros((2, 28, 28))),
                                  (outputs["reader"] + outputs["partner"]) / 2)


def stroke(height, width):
    """A glyph's mask: a '1', one upright stroke a fifth of its width."""
    mask = np.zeros((height, width), bool)
    mask[:, 2 * width // 5:3 * width // 5] = True
    return mask


def test_a_number_of_nothing_but_marks_is_set_aside_as_no_digit():
    """A calibrated reader sets aside a number whose every glyph reads as
    no digit (an even spread, almost surely wrong); a doubtful glyph inside
    a number of digits stays, as a '?'."""
    lines = [[segment.Glyph((x, 0, x + 30, 60), stroke(60, 30))
              for x in (0, 40, 80, 400)]]          # '12?' then, far off, a scribble
    even = np.full(10, 0.1)
    probs = np.stack([np.eye(10)[1] * 0.9 + 0.01, np.eye(10)[2] * 0.9 + 0.01, even, even])
    judged = confidence.Judgement(probs.argmax(axis=1), np.array([0.99, 0.99, 0.01, 0.01]),
                                  probs)
    kept_lines, kept_judged, kept_index, kept, aside = reader.set_aside_non_digits(
        lines, judged, calibrated=True)
    assert [g.box[0] for g in aside] == [400] and kept.tolist() == [0, 1, 2]
    assert kept_index == [0] and len(kept_judged.digits) == 3
    reading = reader.describe(kept_lines, kept_judged, True, marks=[[]],
                              ensemble=confidence.Ensemble([None], calibration()),
                              not_digits=aside)
    assert reading["lines"] == ["12?"] and reading["not_digits"] == [[400, 0, 430, 60]]
    # A plain model never learned what is no digit: nothing is set aside.
    assert reader.set_aside_non_digits(lines, judged, calibrated=False)[4] == []


def test_a_number_not_vouched_for_because_of_what_lies_beside_it_says_so():
    """Sure digits, a number under the threshold only because of unread ink
    beside it or another number close by: the reading names that doubt, and
    only that one."""
    coef = np.zeros(len(NUMBER_FEATURES))
    coef[NUMBER_FEATURES.index("logit_product")] = 1.0
    coef[NUMBER_FEATURES.index("neighbour_gap")] = 1.0
    coef[NUMBER_FEATURES.index("unread_beside")] = -6.0
    number = linear(coef)
    number.intercept = -4.0
    ensemble = confidence.Ensemble([None], Calibration(
        linear(np.zeros(len(DIGIT_FEATURES))), number, 0.5, 0.9, {"data": "test"}))
    judged = confidence.Judgement(np.array([1, 2, 3]), np.full(3, 0.99),
                                  np.eye(10)[[1, 2, 3]] * 0.9 + 0.01)
    alone = reader.describe(strip_lines(3), judged, True, ensemble=ensemble)
    assert not alone["numbers"][0]["unsure"] and alone["numbers"][0]["doubts"] == []
    lost = reader.describe(strip_lines(3), judged, True, ensemble=ensemble,
                           unread=[(125, 10, 145, 50)])
    assert lost["numbers"][0]["unsure"]
    assert lost["numbers"][0]["doubts"] == ["ink beside it was not read"]
    text = "\n".join(reader.format_reading({"file": "f.png", **lost}))
    assert "number 123: check, " in text and text.endswith("; ink beside it was not read")
    # Two numbers 1.2 of their height apart (a gap over one height parts them).
    pair = [[segment.Glyph((x, 0, x + 30, 60), np.ones((60, 30), bool))
             for x in (0, 40, 80, 180, 220, 260)]]
    judged = confidence.Judgement(np.array([1, 2, 3, 4, 5, 6]), np.full(6, 0.99),
                                  np.eye(10)[[1, 2, 3, 4, 5, 6]] * 0.9 + 0.01)
    close = reader.describe(pair, judged, True, ensemble=ensemble, walls=())
    assert [n["text"] for n in close["numbers"]] == ["123", "456"]
    for found in close["numbers"]:
        assert found["unsure"] and found["doubts"][0].startswith(
            "another number stands 1.2 digit heights from it")
    # Digits too weak to vouch for either number alone: the neighbour does
    # not decide it, but takes most of its chance ("check, 0%" beside digits
    # at 90 % said nothing of why), so it is named; unread ink that costs
    # only a little is not.
    weak = confidence.Judgement(judged.digits, np.full(6, 0.9), judged.probs)
    single = reader.describe([pair[0][:3]], confidence.Judgement(
        weak.digits[:3], weak.p_right[:3], weak.probs[:3]), True, ensemble=ensemble)
    assert single["numbers"][0]["unsure"] and single["numbers"][0]["doubts"] == []
    near = reader.describe(pair, weak, True, ensemble=ensemble, walls=())
    for found in near["numbers"]:
        assert found["confidence"] < single["numbers"][0]["confidence"] / 2
        assert found["doubts"][0].startswith("another number stands 1.2 digit heights")
    coef[NUMBER_FEATURES.index("unread_beside")] = -0.1
    number = linear(coef)
    number.intercept = -4.0
    ensemble = confidence.Ensemble([None], Calibration(
        linear(np.zeros(len(DIGIT_FEATURES))), number, 0.5, 0.9, {"data": "test"}))
    lost = reader.describe(strip_lines(3), confidence.Judgement(
        weak.digits[:3], weak.p_right[:3], weak.probs[:3]), True, ensemble=ensemble,
        unread=[(125, 10, 145, 50)])
    assert lost["numbers"][0]["unsure"] and lost["numbers"][0]["doubts"] == []


def test_a_number_held_down_by_its_own_shape_says_which():
    """Sure digits, a number under the threshold because one glyph is wider
    than its digits usually are (the calibration's mean width): the reading
    says so; and nothing where its digits alone keep it unsure."""
    coef = np.zeros(len(NUMBER_FEATURES))
    coef[NUMBER_FEATURES.index("logit_product")] = 1.0
    coef[NUMBER_FEATURES.index("widest")] = -8.0
    number = linear(coef)
    number.mean = np.zeros(len(NUMBER_FEATURES))
    number.mean[NUMBER_FEATURES.index("widest")] = 0.6   # digits fit on: 0.6 heights wide
    ensemble = confidence.Ensemble([None], Calibration(
        linear(np.zeros(len(DIGIT_FEATURES))), number, 0.5, 0.9, {"data": "test"}))
    judged = confidence.Judgement(np.array([1, 2, 3]), np.full(3, 0.99),
                                  np.eye(10)[[1, 2, 3]] * 0.9 + 0.01)
    usual = reader.describe(strip_lines(3), judged, True, ensemble=ensemble)["numbers"][0]
    assert not usual["unsure"] and usual["doubts"] == []
    wide = strip_lines(3)
    wide[0][1] = segment.Glyph((40, 0, 100, 60), np.ones((60, 60), bool))   # 1.0 heights
    wide[0][2] = segment.Glyph((110, 0, 140, 60), np.ones((60, 30), bool))
    found = reader.describe(wide, judged, True, ensemble=ensemble)["numbers"][0]
    assert found["unsure"] and found["text"] == "123"
    assert found["doubts"] == [confidence.SHAPE_DOUBTS["widest"]]
    text = "\n".join(reader.format_reading({"file": "f.png", **reader.describe(
        wide, judged, True, ensemble=ensemble)}))
    assert text.endswith("; " + confidence.SHAPE_DOUBTS["widest"])
    # Digits too weak for the number whatever its shape: nothing to name.
    weak = confidence.Judgement(judged.digits, np.full(3, 0.9), judged.probs)
    found = reader.describe(strip_lines(3), weak, True, ensemble=ensemble)["numbers"][0]
    assert found["unsure"] and found["doubts"] == []


def test_a_number_with_a_gap_that_may_part_two_is_never_vouched_for():
    """Sure digits with a gap of 0.9 of their height in the middle (two
    numbers a little closer than the reader parts them): unsure, and the
    reading says why, with a calibration that knows the group's share
    right and with one from before it did."""
    line = [[segment.Glyph((x, 0, x + 30, 60), np.ones((60, 30), bool))
             for x in (0, 40, 124, 164)]]
    judged = confidence.Judgement(np.array([2, 7, 5, 8]), np.full(4, 0.99),
                                  np.eye(10)[[2, 7, 5, 8]] * 0.9 + 0.01)
    for gap_right in (0.6, None):
        cal = calibration(0.5, 0.9)
        cal.gap_right = gap_right
        reading = reader.describe(line, judged, True, ensemble=confidence.Ensemble([None], cal))
        (number,) = reading["numbers"]
        assert number["text"] == "2758" and number["unsure"]
        assert number["doubts"] == [confidence.GAP_DOUBT.format(54 / 60)]
        if gap_right is not None:
            assert number["confidence"] == pytest.approx(0.6)
        text = "\n".join(reader.format_reading({"file": "f.png", **reading}))
        assert "number 2758: check, " in text and "(one number, or two?)" in text
    # In a box field, the cell wall taken off between them makes them one.
    (number,) = reader.describe(line, judged, True, walls=[(95, -5, 99, 65)],
                                ensemble=confidence.Ensemble([None], calibration(0.5, 0.9)))[
        "numbers"]
    assert number["text"] == "2758" and not number["unsure"] and number["doubts"] == []
    # The same digits a usual gap apart are vouched for.
    close = [[segment.Glyph((x, 0, x + 30, 60), np.ones((60, 30), bool))
              for x in (0, 40, 80, 120)]]
    (number,) = reader.describe(close, judged, True,
                                ensemble=confidence.Ensemble([None], calibration(0.5, 0.9)))[
        "numbers"]
    assert not number["unsure"] and number["doubts"] == []


def test_a_number_of_dots_is_no_digit_whatever_the_model_says():
    """A lone dot, or a row of them, is set aside even by a plain model sure
    it is a '0'; a dot-sized '0' drawn as a ring is kept."""
    yy, xx = np.mgrid[:16, :16]
    disk = (yy - 7.5) ** 2 + (xx - 7.5) ** 2 <= 64
    ring = disk & ((yy - 7.5) ** 2 + (xx - 7.5) ** 2 >= 25)
    sure_zero = np.tile(np.eye(10)[0] * 0.97 + 0.003, (2, 1))
    judged = confidence.Judgement(np.zeros(2, int), np.full(2, 0.99), sure_zero)
    for calibrated in (True, False):
        dots = [[segment.Glyph((x, 0, x + 16, 16), disk) for x in (0, 30)]]
        assert len(reader.set_aside_non_digits(dots, judged, calibrated)[4]) == 2
        zeros = [[segment.Glyph((x, 0, x + 16, 16), ring) for x in (0, 30)]]
        assert reader.set_aside_non_digits(zeros, judged, calibrated)[4] == []


def test_a_line_of_small_writing_must_read_as_sure_digits_or_is_set_aside():
    """A row of small print passes for small writing by its sizes; it is
    kept only where at least half of its digits are sure."""
    lines = [[segment.Glyph((x, 0, x + 14, 28), stroke(28, 14), small=True)
              for x in (0, 18, 36, 54)]]
    probs = np.tile(np.eye(10)[1] * 0.9 + 0.01, (4, 1))
    for p_right, kept_count in (([0.99, 0.2, 0.99, 0.3], 4), ([0.99, 0.2, 0.1, 0.3], 0)):
        judged = confidence.Judgement(probs.argmax(axis=1), np.array(p_right), probs)
        kept = reader.set_aside_non_digits(lines, judged, True, (), [True], 0.9)[3]
        assert len(kept) == kept_count
        # The same line at the page's own size keeps its doubtful digits as '?'s.
        assert len(reader.set_aside_non_digits(lines, judged, True, (), [False], 0.9)[3]) == 4


def test_a_page_of_only_a_scribble_is_found_no_digit(monkeypatch):
    """read_page answers "no digit found" when all it finds is set aside."""
    grey = np.ones((120, 200), np.float32)
    grey[30:90, 40:160] = 0.0                                 # one dark blot
    even = np.full(10, 0.1)

    class Doubtful(confidence.Ensemble):
        def probabilities(self, crops):
            return np.tile(even, (len(crops), 1))

        piece_probabilities = probabilities

        def judge(self, crops, geometry, probs=None):
            n = len(crops)
            return confidence.Judgement(np.zeros(n, int), np.full(n, 0.01),
                                        np.tile(even, (n, 1)))

    with pytest.raises(reader.ImageError, match="no digit found"):
        reader.read_page(Doubtful([None], calibration()), grey)


def test_numbers_side_by_side_are_vouched_for_as_numbers_alone_are(sample):
    """A line of two or three numbers (a date, a phone number) is not read
    as one number cut in two: the shipped reader vouches for its numbers
    about as often as for the same digits written one number a line."""
    from benchmarks.reading import benchmark, pages

    x, y = sample["x_test"], sample["y_test"]
    ensemble = confidence.load_reader(SHIPPED / "model.keras")
    vouched = {}
    for name in ("standard", "numbers side by side"):
        judged = []
        for seed in range(12):
            page, truth = pages.make_page(np.random.default_rng(seed), x, y,
                                          pages.CONDITIONS[name])
            reading, _ = benchmark.read_grey(ensemble, page, None)
            judged += benchmark.score_page(truth, reading)["judged_numbers"]
        sure = [n for n in judged if n[2]]
        assert all(right for _, right, _ in sure), name
        vouched[name] = len(sure) / len(judged)
    assert vouched["numbers side by side"] > 0.6 * vouched["standard"] > 0.15, vouched
