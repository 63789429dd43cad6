"""How far a reading can be trusted: each digit's and each number's
calibrated probability of being right.

A softmax's top probability is not that probability on other people's
writing: a model trained on MNIST is as sure of a stranger's crossed 7 read
as "4" as of a textbook 4. The reader judges a digit by signals that do
move when it is wrong:

- two differently trained seed CNNs (the reader, trained for pages, and
  its partner, ``train_cnn.py``'s default recipe on full MNIST) read every
  glyph; the digit is the class their average makes most likely, and their
  disagreement is doubt;
- each of them also reads a few views of the same crop (one pixel shifts,
  a wider pen): a digit whose class flips under them was a guess;
- the glyph itself: its height against its line's, its shape, its share of
  ink, whether it was cut out of a wider glyph.

A logistic regression over these and their pairwise products maps them to
P(right) for a digit, and a second one maps a number's digits (their
probabilities, the weakest, how many, their sizes and gaps) to P(number
right). Both are fit by ``benchmarks/calibrate_reader.py`` on pages
written with MNIST's validation digits in every benchmark condition: never
on a test digit, never on the real-writer set the benchmark measures with.
The fit lives in ``calibration.json`` beside the model; a model without one
(any ``train_cnn.py`` run) is read with its plain softmax probability, and
the reading says it is not calibrated.

    ensemble = load_reader("models/reader/model.keras")
    probs = ensemble.piece_probabilities(crops)      # (n, 10): lattice choices
    judged = ensemble.judge(crops, glyphs, heights)  # Judgement per digit
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from digitsuite.errors import ModelFileError

CALIBRATION_FILE = "calibration.json"
PARTNER_FILE = "partner.keras"
CALIBRATION_FORMAT = 1
# Views each model reads of a crop besides the crop itself: one-pixel shifts
# (the centring of a glyph is the preparation's guess) and a wider pen.
SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))
DIGIT_FEATURES = ("log_odds", "margin", "agreement", "weakest", "height_off", "aspect",
                  "ink", "cut")
NUMBER_FEATURES = ("logit_product", "logit_weakest", "digits", "widest", "widest_gap",
                   "height_spread", "neighbour_gap", "unread_beside")
NEIGHBOUR_CAP = 5.0  # heights: a number further than this from the next one stands alone
DOUBT_FACTOR = 2.0   # what beside a number at least halves its chance is named as a doubt
# Unread ink this close to a number's ends (in its heights) could have been
# one of its digits: the gap beyond which two glyphs are two numbers.
UNREAD_REACH = 1.0
UNREAD_CAP = 1.5  # heights: a piece this tall is as telling as any larger one
UNCALIBRATED_MIN = 0.8  # a plain model's top probability under this prints as '?'
# A gap inside a number this wide (x its digits' median height) is close to
# the word gap that parts two numbers (segment.WORD_GAP, x the line's
# height): whether it is one number or two is a guess, which people make
# either way ("27 58" a digit's height apart). Such a number is never
# vouched for, and the regression, which cannot draw so sharp a line, is
# neither fit on it nor asked about it (Calibration.gap_right).
AMBIGUOUS_GAP = 0.75
GAP_DOUBT = ("a gap of {:.1f} digit heights between two of its digits (one number, "
             "or two?)")
# What a number's own glyphs may show that its digits' probabilities cannot,
# each said when more of it than usual is what keeps the number unsure.
SHAPE_DOUBTS = {
    "widest": "a glyph in it is wider than a digit usually is (two digits read as one?)",
    "widest_gap": "a wide gap between two of its digits (a digit lost, or two numbers "
                  "read as one?)",
    "height_spread": "its glyphs differ in height (a mark or a piece read as a digit?)",
}


def views(crops):
    """The crops (n, 28, 28) and the views the judge reads of them, as a
    list of arrays: the crops, each shifted one pixel four ways, a pen one
    pixel wider."""
    out = [crops]
    for dy, dx in SHIFTS:
        out.append(ndimage.shift(crops, (0, dy, dx), order=0, mode="constant"))
    out.append(ndimage.grey_dilation(crops, size=(1, 2, 2)))
    return out


def predict(model, crops):
    """A Keras classifier's probabilities (n, 10) for float crops (n, 28, 28)
    in 0-1, through the suite's compiled prediction (the seed CNN's cheaper
    forward pass included)."""
    from digitsuite.inference.predict import predict_proba

    return predict_proba(model, np.asarray(crops, np.float32) * 255.0).astype(np.float64)


def logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def digit_features(all_probs, geometry):
    """Features (n, len(DIGIT_FEATURES)) and the chosen class (n,).

    ``all_probs`` (k, n, 10): every model's probabilities on every view.
    ``geometry`` (n, 5): per glyph its width, height, line height, ink share
    of its box and 1 if it was cut out of a wider glyph.
    """
    mean = all_probs.mean(axis=0)
    chosen = mean.argmax(axis=1)
    index = np.arange(len(chosen))
    top = np.sort(mean, axis=1)
    width, height, line, ink, cut = np.asarray(geometry, np.float64).reshape(-1, 5).T
    features = np.stack([
        logit(mean[index, chosen]),
        top[:, -1] - top[:, -2],
        (all_probs.argmax(axis=2) == chosen).mean(axis=0),
        np.log(np.clip(all_probs[:, index, chosen].min(axis=0), 1e-6, 1.0)),
        np.abs(np.log(np.maximum(height, 1) / np.maximum(line, 1))),
        np.log(np.maximum(width, 1) / np.maximum(height, 1)),
        ink,
        cut,
    ], axis=1)
    return features, chosen


def neighbour_gaps(numbers):
    """For each number (dicts with ``line`` and ``box``), the gap to the
    nearest other number on its line, in its heights, at most NEIGHBOUR_CAP:
    a number close to another may be one number cut in two, or two read as
    one, which none of its digits can tell."""
    gaps = []
    for n in numbers:
        x0, y0, x1, y1 = n["box"]
        near = [max(m["box"][0] - x1, x0 - m["box"][2]) for m in numbers
                if m is not n and m["line"] == n["line"]]
        gaps.append(min([NEIGHBOUR_CAP, *(max(g, 0) / max(y1 - y0, 1) for g in near)]))
    return gaps


def unread_beside(boxes, unread):
    """The longest side of the largest piece of ``unread`` ink (boxes, see
    :class:`digitsuite.reading.reader.Page`) among or beside a number's
    glyph ``boxes``: within UNREAD_REACH of its ends, its centre inside the
    number's band. In the number's median glyph heights, at most
    UNREAD_CAP; 0 when there is none. A digit the segmentation lost (too
    faint, too small, taken for a fragment) leaves such a piece, and the
    digits that were read cannot tell."""
    x0, y0, x1, y1 = np.asarray(boxes, np.float64).reshape(-1, 4).T
    height = max(float(np.median(y1 - y0)), 1.0)
    left, right = x0.min() - UNREAD_REACH * height, x1.max() + UNREAD_REACH * height
    # One array pass: a page of noise may leave thousands of pieces.
    u = np.asarray(unread, np.float64).reshape(-1, 4)
    centre = (u[:, 1] + u[:, 3]) / 2
    near = (u[:, 2] > left) & (u[:, 0] < right) & (centre >= y0.min()) & (centre <= y1.max())
    sizes = np.maximum(u[near, 2] - u[near, 0], u[near, 3] - u[near, 1])
    return min(float(sizes.max(initial=0.0)) / height, UNREAD_CAP)


def number_features(digit_p, boxes, neighbour_gap=NEIGHBOUR_CAP, unread=0.0):
    """Features (len(NUMBER_FEATURES),) of a number from its digits' P(right)
    and boxes [x0, y0, x1, y1] in reading order: the log-odds of the
    product and of the weakest (log-odds, so a number of sure digits can
    reach a probability near 1), how many digits, and what a digit lost or
    two merged leave behind, none of which a digit's own probability sees:
    the widest glyph, the widest gap between neighbours and the spread of
    heights, each against the number's median height, ``neighbour_gap``
    (:func:`neighbour_gaps`) and ``unread`` (:func:`unread_beside`)."""
    p = np.clip(np.asarray(digit_p, np.float64), 1e-6, 1.0)
    x0, y0, x1, y1 = np.asarray(boxes, np.float64).reshape(-1, 4).T
    height = max(float(np.median(y1 - y0)), 1.0)
    gaps = x0[1:] - x1[:-1]
    return np.array([logit(np.exp(np.log(p).sum())), logit(p.min()), float(len(p)),
                     float((x1 - x0).max()) / height,
                     float(gaps.max()) / height if len(gaps) else 0.0,
                     float((y1 - y0).max() - (y1 - y0).min()) / height,
                     float(neighbour_gap), float(unread)])


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def number_probability(regression, features, gap_right=None, ambiguous=False):
    """P(a number is read right) from the number ``regression``
    (:class:`Logistic`) at its ``features`` (:func:`number_features`, one
    row or many), never above its weakest digit's P(right): a number is
    right only if each digit is, and the regression's squared terms, far
    from the numbers it was fit on, can say otherwise (a lone digit judged
    almost surely wrong came out as a number right at 0.9999). A number
    with an ``ambiguous`` gap (:func:`ambiguous_gap`; one flag, or one per
    row) gets ``gap_right``, the share of such numbers read right, when
    given."""
    features = np.asarray(features, np.float64)
    weakest = sigmoid(features[..., NUMBER_FEATURES.index("logit_weakest")])
    p = np.minimum(regression(features), weakest)
    if gap_right is not None:
        p = np.where(ambiguous, np.minimum(gap_right, weakest), p)
    return p


def open_gap(boxes, walls=()):
    """The widest gap between neighbouring digit boxes [x0, y0, x1, y1] of a
    number (in reading order), in its median digit height, 0 for none. A
    gap with a cell wall in it is left out: it is a box field's, where the
    walls say the digits are one number."""
    from digitsuite.reading.segment import walls_between

    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if len(boxes) < 2:
        return 0.0
    height = max(float(np.median(boxes[:, 3] - boxes[:, 1])), 1.0)
    gaps = [max(right[0] - left[2], 0.0) / height for left, right in zip(boxes, boxes[1:])
            if not walls_between(left, right, walls)]
    return max(gaps, default=0.0)


def ambiguous_gap(boxes, walls=()):
    """Whether a number holds a gap a reader could take for the gap between
    two numbers (:func:`open_gap` over AMBIGUOUS_GAP)."""
    return open_gap(boxes, walls) > AMBIGUOUS_GAP


def quadratic(z):
    """Each row of ``z`` (n, d) with every product of two of its columns
    (squares included) after it: (n, d + d(d+1)/2). A straight line in the
    features cannot be both sure of a clean digit and doubtful of a cut one."""
    z = np.asarray(z, np.float64).reshape(len(z), -1)
    i, j = np.triu_indices(z.shape[1])
    return np.concatenate([z, z[:, i] * z[:, j]], axis=1)


@dataclass
class Logistic:
    """A fitted logistic regression over standardised features and their
    pairwise products: P = sigmoid(quadratic((x - mean) / scale) @ coef +
    intercept)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def terms(self, features):
        z = (np.asarray(features, np.float64).reshape(-1, len(self.mean)) - self.mean)
        return quadratic(z / self.scale)

    def __call__(self, features):
        single = np.ndim(features) == 1
        p = sigmoid(self.terms(features) @ self.coef + self.intercept)
        return p[0] if single else p

    @classmethod
    def fit(cls, features, right, strength=0.1):
        """Fit to ``features`` (n, d) and ``right`` (n,) with L2 ``strength``
        (scikit-learn's C)."""
        from sklearn.linear_model import LogisticRegression

        features = np.asarray(features, np.float64)
        mean, scale = features.mean(axis=0), features.std(axis=0)
        scale[scale < 1e-9] = 1.0  # a feature that never varies here adds nothing
        blank = cls(mean, scale, np.zeros(0), 0.0)
        fitted = LogisticRegression(C=strength, max_iter=20000).fit(
            blank.terms(features), np.asarray(right, int))
        return cls(mean, scale, fitted.coef_[0], float(fitted.intercept_[0]))

    def as_dict(self):
        return {name: [round(float(v), 6) for v in getattr(self, name)]
                for name in ("mean", "scale", "coef")} | {
            "intercept": round(float(self.intercept), 6)}


@dataclass
class Calibration:
    """What ``calibration.json`` holds: the two regressions, the thresholds
    under which a digit or a number is unsure, and how they were fit."""

    digit: Logistic
    number: Logistic
    digit_threshold: float
    number_threshold: float
    fit: dict
    # The share of numbers with an ambiguous gap read right on the pages fit
    # on: their probability (None in a file from before it was measured).
    gap_right: float | None = None

    def as_dict(self):
        return {"format": CALIBRATION_FORMAT, "partner": PARTNER_FILE,
                "digit_features": list(DIGIT_FEATURES), "digit": self.digit.as_dict(),
                "number_features": list(NUMBER_FEATURES), "number": self.number.as_dict(),
                "digit_threshold": self.digit_threshold,
                "number_threshold": self.number_threshold, "gap_right": self.gap_right,
                "fit": self.fit}

    def number_p(self, features, ambiguous=False):
        """P(right) of numbers with these :func:`number_features`, and
        whether each has an ambiguous gap (:func:`ambiguous_gap`)."""
        return number_probability(self.number, features, self.gap_right, ambiguous)


def read_calibration(path):
    """The :class:`Calibration` in the JSON file ``path``. A file that is not
    the one :func:`Calibration.as_dict` writes (someone's model folder may
    hold anything) raises ModelFileError in one line."""
    problem = f"{path} is not a reader calibration"
    fix = ("; delete it to read with the plain model, or rerun "
           "benchmarks/calibrate_reader.py")
    try:
        if path.stat().st_size > 1_000_000:
            raise ModelFileError(f"{problem} (over 1 MB){fix}")
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != CALIBRATION_FORMAT:
            raise ModelFileError(f"{problem} of format {CALIBRATION_FORMAT}{fix}")

        def logistic(key, names):
            part = data[key]
            d = len(names)
            arrays = {name: np.array([float(v) for v in part[name]])
                      for name in ("mean", "scale", "coef")}
            values = np.concatenate([*arrays.values(), [float(part["intercept"])]])
            if (list(data[f"{key}_features"]) != list(names)
                    or [len(a) for a in arrays.values()] != [d, d, d + d * (d + 1) // 2]
                    or not np.isfinite(values).all() or (arrays["scale"] <= 0).any()):
                raise ValueError(f"its {key} regression is not one over this version's "
                                 f"features {', '.join(names)}")
            return Logistic(**arrays, intercept=float(part["intercept"]))

        thresholds = float(data["digit_threshold"]), float(data["number_threshold"])
        gap_right = data.get("gap_right")
        gap_right = None if gap_right is None else float(gap_right)
        shares = [*thresholds] + ([] if gap_right is None else [gap_right])
        if not all(0.0 <= t <= 1.0 for t in shares):
            raise ValueError("a threshold or share is not a probability")
        return Calibration(logistic("digit", DIGIT_FEATURES),
                           logistic("number", NUMBER_FEATURES), *thresholds,
                           data.get("fit") if isinstance(data.get("fit"), dict) else {},
                           gap_right)
    except ModelFileError:
        raise
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc.strerror or exc}{fix}") from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelFileError(f"{problem} ({type(exc).__name__}: {exc}){fix}") from exc
    except RecursionError:  # arrays nested past Python's limit: [[[[...
        raise ModelFileError(f"{problem} (nested too deep){fix}") from None


@dataclass
class Judgement:
    """The judged digits of a page: class and P(right) per digit, and the
    softmax probabilities (averaged over models) they came from."""

    digits: np.ndarray       # int (n,)
    p_right: np.ndarray      # float (n,)
    probs: np.ndarray        # float (n, 10)


class Ensemble:
    """The reader's models and their calibration, called like one model.

    ``models`` holds one or two Keras classifiers; with ``calibration``
    None, digits are judged by the (averaged) softmax alone.
    """

    def __init__(self, models, calibration=None):
        self.models = list(models)
        self.calibration = calibration

    @property
    def output_shape(self):
        return self.models[0].output_shape

    @property
    def calibrated(self):
        return self.calibration is not None

    def probabilities(self, crops):
        """The models' average probabilities (n, 10) on the crops as they are."""
        return np.mean([predict(model, crops) for model in self.models], axis=0)

    def piece_probabilities(self, crops):
        """The reader model's probabilities (n, 10) on the crops as they are:
        what chooses between the ways to cut a glyph. The partner is left
        out: a plain MNIST CNN never saw two touching digits in one crop and
        reads such a crop as one digit with confidence, so its vote keeps
        them whole; the reader was trained to doubt what is no single digit."""
        return predict(self.models[0], crops)

    def judge(self, crops, geometry, probs=None):
        """A :class:`Judgement` of chosen crops (n, 28, 28) whose glyphs have
        ``geometry`` (see :func:`digit_features`). ``probs``, the average
        probabilities on the crops as they are, saves reading them again."""
        if not self.calibrated:
            probs = self.probabilities(crops) if probs is None else probs
            return Judgement(probs.argmax(axis=1), probs.max(axis=1), probs)
        features, chosen, mean = self.features(crops, geometry)
        return Judgement(chosen, self.calibration.digit(features), mean)

    def features(self, crops, geometry):
        """(digit features, chosen classes, mean probabilities) of the crops:
        every model reads every view (:func:`views`)."""
        shown = views(crops)  # the same views for every model
        stacked = np.concatenate([np.stack([predict(model, v) for v in shown])
                                  for model in self.models])
        features, chosen = digit_features(stacked, geometry)
        return features, chosen, stacked.mean(axis=0)

    def number_p(self, digit_p, boxes, neighbour_gap=NEIGHBOUR_CAP, unread=0.0,
                 ambiguous=False):
        """P(a number is read right) from its digits' P(right) and boxes, the
        gap to the next number on its line and the unread ink beside it
        (:func:`number_features`), and whether it holds an ``ambiguous``
        gap (:func:`ambiguous_gap`)."""
        if not len(digit_p):
            return 0.0
        if not self.calibrated:
            return float(np.prod(digit_p))
        return float(self.calibration.number_p(
            number_features(digit_p, boxes, neighbour_gap, unread), ambiguous))

    def doubts(self, digit_p, boxes, neighbour_gap=NEIGHBOUR_CAP, unread=0.0,
               ambiguous=False, walls=()):
        """Why a number whose digits are all shown is not vouched for, in a
        few words each: a gap in it that may part two numbers (never
        vouched for: AMBIGUOUS_GAP); else what on the page beside it, or in
        the shape of its own glyphs (:data:`SHAPE_DOUBTS`), it would be
        vouched for without (its chance reaching the number threshold), or
        at least DOUBT_FACTOR times as likely right. [] when it is vouched
        for, or when its digits alone decide."""
        if not self.calibrated:
            return []
        if ambiguous:   # whatever its chance: see AMBIGUOUS_GAP
            return [GAP_DOUBT.format(open_gap(boxes, walls))]
        features = number_features(digit_p, boxes, neighbour_gap, unread)
        chance = self.calibration.number_p(features)
        if chance >= self.number_threshold:
            return []

        def decides(name, value):
            # Without it the number would be vouched for, or twice as likely
            # right: a 97 % number made 0 % by a neighbour says so, not
            # only one that it kept under the threshold.
            changed = features.copy()
            changed[NUMBER_FEATURES.index(name)] = value
            without = self.calibration.number_p(changed)
            return without >= self.number_threshold or without >= DOUBT_FACTOR * chance

        reasons = []
        if neighbour_gap < NEIGHBOUR_CAP and decides("neighbour_gap", NEIGHBOUR_CAP):
            # How near, in its digits' heights: "close" alone read oddly at
            # four heights, which the calibration still counts as near.
            reasons.append(f"another number stands {neighbour_gap:.1f} digit heights from it "
                           "(two read as one, or one cut in two?)")
        if unread > 0 and decides("unread_beside", 0.0):
            reasons.append("ink beside it was not read")
        # A number of sure digits held far under them by its own shape ("12"
        # at 55 % with digits at 91 and 99 % said nothing of why): the shape
        # is compared with the numbers the calibration was fit on (its mean).
        usual = self.calibration.number.mean
        for name, reason in SHAPE_DOUBTS.items():
            i = NUMBER_FEATURES.index(name)
            if features[i] > usual[i] and decides(name, usual[i]):
                reasons.append(reason)
        return reasons

    @property
    def digit_threshold(self):
        return self.calibration.digit_threshold if self.calibrated else UNCALIBRATED_MIN

    @property
    def number_threshold(self):
        return self.calibration.number_threshold if self.calibrated else UNCALIBRATED_MIN


def as_ensemble(model):
    """``model`` as an :class:`Ensemble` (a Keras model alone is one, uncalibrated)."""
    return model if isinstance(model, Ensemble) else Ensemble([model])


def load_reader(path):
    """The reader at ``path`` (a .keras classifier) as an :class:`Ensemble`:
    with its partner model and calibration when both lie beside it, else
    the model alone. A partner or calibration that is there but unusable
    raises ModelFileError, naming it."""
    from digitsuite.inference.modelio import load_keras_model
    from digitsuite.reading.reader import check_classifier

    path = Path(path)
    model = load_keras_model(path, expect_input_shape=(28, 28, 1))
    check_classifier(model, path)
    partner_path, calibration_path = path.parent / PARTNER_FILE, path.parent / CALIBRATION_FILE
    if path.name == PARTNER_FILE or not calibration_path.is_file():
        return Ensemble([model])
    calibration = read_calibration(calibration_path)
    partner = load_keras_model(partner_path, expect_input_shape=(28, 28, 1))
    check_classifier(partner, partner_path)
    check_fit_for(calibration, calibration_path, {"model": path, "partner": partner_path})
    return Ensemble([model, partner], calibration)


def check_fit_for(calibration, calibration_path, paths):
    """Raise ModelFileError when ``calibration`` was fit for other model files
    than ``paths`` ({"model": path, "partner": path}): a model retrained in
    its folder leaves a calibration whose probabilities mean nothing for it.
    A calibration that recorded no checksums is taken as it is."""
    from digitsuite.data.datasets import sha256

    for role, model_path in paths.items():
        recorded = calibration.fit.get(f"{role}_sha256")
        if recorded and recorded != sha256(model_path):
            raise ModelFileError(
                f"{calibration_path} was fit for another {model_path.name} than the one "
                f"beside it; run benchmarks/calibrate_reader.py again, or move "
                f"{calibration_path.name} away to read with {paths['model'].name} alone")


# --------------------------------------------------------------------------
# Measuring a calibration


RELIABILITY_BINS = 10


def calibration_error(p, right, bins=RELIABILITY_BINS):
    """Expected calibration error: the gap between the probability given and
    the share right, averaged over equal-width bins of ``p``, weighted by
    how many fall in each (None for no items)."""
    p, right = np.asarray(p, np.float64), np.asarray(right, np.float64)
    if not len(p):
        return None
    which = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.mean() * abs(p[inside].mean() - right[inside].mean())
    return float(total)


def reliability(p, right, bins=RELIABILITY_BINS):
    """Per bin of ``p``: (mean probability given, share right, count)."""
    p, right = np.asarray(p, np.float64), np.asarray(right, np.float64)
    which = np.minimum((p * bins).astype(int), bins - 1)
    return [(float(p[which == b].mean()), float(right[which == b].mean()),
             int((which == b).sum())) for b in range(bins) if (which == b).any()]


def coverage_precision(p, right, total=None):
    """The coverage-precision curve of answering only items with ``p`` at
    least a threshold, for every threshold: (coverage, precision) arrays,
    most confident first. ``total`` (default: the items) is what coverage
    is a share of."""
    order = np.argsort(-np.asarray(p, np.float64), kind="stable")
    hits = np.cumsum(np.asarray(right, np.float64)[order])
    answered = np.arange(1, len(order) + 1)
    return answered / (total or max(len(order), 1)), hits / np.maximum(answered, 1)


def coverage_at(p, right, precision, total=None):
    """The largest share of items that can be answered with at least
    ``precision`` of them right, answering the most confident first."""
    coverage, achieved = coverage_precision(p, right, total)
    ok = np.flatnonzero(achieved >= precision)
    return float(coverage[ok.max()]) if len(ok) else 0.0
