"""Calibrate the reader: fit what turns its models' outputs into each digit's
and each number's probability of being right (digitsuite.reading.confidence).

Pages are written in every benchmark condition (benchmarks/reading/pages.py)
with MNIST's validation digits, the 10 % of the training split that
train_cnn.py and train_reader.py hold out (same fraction, same seed), read by
the reader and its partner model, and scored against their truth. Two
logistic regressions are fit on the even pages; the odd pages measure them
(calibration error) and set the thresholds under which a digit prints as
'?' and a number is not vouched for (NUMBER_PRECISION overall, and
CONDITION_PRECISION on each kind of page). Each condition writes its own
digits. The digits are drawn twice (--drawings): as MNIST gives them, grey
and anti-aliased, and thresholded to hard bitmaps with one-pixel edges, as a
bilevel scanner or a fax gives writing, so that the probabilities are fit
on more than one way ink reaches the page. Never a test digit, never
optdigits.

Writes calibration.json and partner.keras (the partner without its
optimizer's state) beside the reader model, plus calibration.md:

    python benchmarks/calibrate_reader.py --partner runs/cnn/model.keras \\
        --data-dir DIR                    # completes models/reader/
    python benchmarks/calibrate_reader.py --dry-run --partner runs/cnn/model.keras
"""

import math
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.reading.pages import MNIST_BITMAP_DRAWING, MNIST_DRAWING, bitmaps  # noqa: E402
from digitsuite import cli  # noqa: E402
from digitsuite.inference.runs import READER_MODEL  # noqa: E402

DIGIT_PRECISION = 0.995   # a digit shown (not '?') is right this often on validation pages
NUMBER_PRECISION = 0.995  # a vouched-for number is right this often on validation pages
# ...shown by the held-out pages with this confidence (a one-sided Clopper-
# Pearson bound on the share wrong), not only on average: a threshold set
# where the held-out share just reaches the bar is under it on other pages
# about half of the time.
BOUND_CONFIDENCE = 0.9
# ...and at least this often on each kind of page (condition) where the
# threshold vouches for CONDITION_MIN numbers or more: an average over easy
# pages can hide a kind the reader is wrong on. Each condition's pages of
# both drawings count together. A share of 98 % can only be measured on 50
# numbers or more: under 50, one wrong number fails it, which is chance.
CONDITION_PRECISION = 0.98
CONDITION_MIN = 50
# Under CONDITION_MIN a condition still fails when its wrong numbers are
# more than chance allows at CONDITION_PRECISION: this many or more would
# come less often than this (5 wrong of 39 would come 1 time in 1,000).
CONDITION_CHANCE = 0.01
# How the validation digits are drawn: (pages.Drawing, what is done to the images).
DRAWINGS = {"mnist": (MNIST_DRAWING, lambda images: images),
            "bitmap": (MNIST_BITMAP_DRAWING, bitmaps)}
DRAWING_TEXT = {"mnist": "as MNIST's grey images", "bitmap": "as thresholded bitmaps"}


def parse_args(argv=None):
    parser = cli.Parser(__doc__)
    parser.add_argument("--model", type=Path, default=READER_MODEL,
                        help="the reader model (default: models/reader/model.keras)")
    parser.add_argument("--partner", type=Path, required=True,
                        help="a second, differently trained seed CNN, e.g. "
                             "runs/cnn/model.keras from train_cnn.py on full MNIST")
    parser.add_argument("--pages", type=cli.positive_int, default=60,
                        help="validation pages per condition and drawing (default: 60)")
    parser.add_argument("--drawings", nargs="+", choices=DRAWINGS, default=list(DRAWINGS),
                        help="how the digits are drawn on the pages: 'mnist' as MNIST's grey "
                             "images, 'bitmap' thresholded to hard ink (default: both)")
    cli.add_data_args(parser, datasets=["mnist"])
    cli.add_output_args(parser, None, what="calibration.json, partner.keras and "
                        "calibration.md", default_text="the reader model's folder",
                        dry_run="3 pages per condition of the bundled sample, written "
                                "under runs/dry-run/calibrate_reader")
    args = parser.parse_args(argv)
    if args.out_dir is None:
        # A smoke test never replaces the shipped calibration.
        args.out_dir = (Path("runs", "dry-run", "calibrate_reader") if args.dry_run
                        else args.model.parent)
    return args


def validation_pages(images, labels, pages, seed, drawings=("mnist",)):
    """``pages`` pages per benchmark condition and drawing (:data:`DRAWINGS`),
    written with the validation digits ``images``/``labels``: yields
    ((condition, drawing), uint8 page, truth)."""
    import numpy as np

    from benchmarks.reading.pages import CONDITIONS, make_page

    for kind in dict.fromkeys(drawings):
        drawing, drawn = DRAWINGS[kind]
        number = list(DRAWINGS).index(kind)  # a drawing's pages, whichever others are asked
        digits = drawn(images)
        for index, (name, style) in enumerate(CONDITIONS.items()):
            # Each condition (and drawing) writes other digits: with one seed
            # for all, a digit read wrong in one condition was read wrong,
            # and weighed, in most. MNIST's drawing keeps its pages of old.
            rng = np.random.default_rng((seed, index) if kind == "mnist" else
                                        (seed, index, number))
            for _ in range(pages):
                yield ((name, kind), *make_page(rng, digits, labels, style, drawing=drawing))


def read_validation_pages(ensemble, images, labels, pages, seed, drawings=("mnist",),
                          log=print):
    """Write and read ``pages`` pages per condition and drawing
    (:func:`validation_pages`): per page read, what :func:`judge_page`
    returns."""
    import numpy as np

    from digitsuite.errors import ImageError
    from digitsuite.reading import reader

    out, start, done = [], time.perf_counter(), {}
    for kind, page_image, truth in validation_pages(images, labels, pages, seed, drawings):
        try:
            page = reader.prepare_page(page_image.astype(np.float32) / 255.0)
        except ImageError:
            page = None  # a page of nothing readable has nothing to calibrate
        if page is not None:
            out.append(judge_page(ensemble, kind, page, truth))
        done[kind] = done.get(kind, 0) + 1
        if done[kind] == pages:
            log(f"{kind[0]}, {kind[1]} drawing: {pages} pages read "
                f"({time.perf_counter() - start:.0f} s so far)")
    return out


def judge_page(ensemble, name, page, truth):
    """One prepared page (:class:`digitsuite.reading.reader.Page`) of
    kind ``name`` (its condition and drawing) read and scored against its
    ``truth``: (kind, digit features, digit right, numbers, number right);
    each number is (its digit indices, their boxes, the gap to the next
    number on its line, the unread ink beside it, whether it holds an
    ambiguous gap: confidence.ambiguous_gap)."""
    import numpy as np

    from benchmarks.reading.benchmark import judged_numbers, number_places, pair_digits, true_digits
    from digitsuite.reading import confidence, reader

    pieces = reader.classify_pieces(ensemble, page.crops)
    lines, probs, crops, cut = reader.resolve(page, pieces)
    features, chosen, mean = ensemble.features(crops, reader.geometry(lines, cut))
    judged = confidence.Judgement(chosen, np.ones(len(chosen)), mean)
    reading = reader.describe(lines, judged, page.ink_dark, 0.0, page.marks, walls=page.walls)
    true = true_digits(truth)
    match = pair_digits(true, reading["digits"])
    owner = {b: a for a, b in match.items()}
    right = np.array([b in owner and int(chosen[b]) == true[owner[b]][2]
                      for b in range(len(chosen))])
    members = {}
    for k, (m, _) in (number_places(reading) or {}).items():
        members.setdefault(m, []).append(k)
    numbers = [sorted(members.get(m, [])) for m in range(len(reading["numbers"]))]
    boxes = [[reading["digits"][k]["box"] for k in ks] for ks in numbers]
    gaps = confidence.neighbour_gaps(reading["numbers"])
    unread = np.asarray(page.unread, np.float64).reshape(-1, 4)
    beside = [confidence.unread_beside(b, unread) if b else 0.0 for b in boxes]
    number_right = np.array([r for _, r, _ in judged_numbers(truth, reading, true, match)])
    ambiguous = [confidence.ambiguous_gap(b, page.walls) for b in boxes]
    return (name, features, right, list(zip(numbers, boxes, gaps, beside, ambiguous)),
            number_right)


def shipped_command(args, pages):
    """The command that made the calibration, with folders as placeholders
    (a dry run's pages as the number it read)."""
    return ("python benchmarks/calibrate_reader.py --partner PARTNER.keras --data-dir DIR "
            f"--pages {pages} --drawings {' '.join(args.drawings)} --seed {args.seed}"
            + ("" if args.split_seed is None else f" --split-seed {args.split_seed}"))


def holds(wrong, seen, precision, confidence):
    """Whether ``seen`` items with ``wrong`` among them show a share right of
    at least ``precision`` with ``confidence``: the one-sided
    Clopper-Pearson upper bound of the share wrong is at most 1 - precision
    (with confidence 0.5, about the share itself). Arrays, elementwise."""
    import numpy as np
    from scipy.stats import beta

    wrong, seen = np.asarray(wrong, np.float64), np.asarray(seen, np.float64)
    upper = beta.ppf(confidence, wrong + 1, np.maximum(seen - wrong, 1e-9))
    return (seen > wrong) & (upper <= 1 - precision)


def threshold_for(p, right, precision, groups=None, floor=CONDITION_PRECISION,
                  least=CONDITION_MIN, chance=CONDITION_CHANCE, strata=None,
                  confidence=None):
    """The lowest threshold whose items at or above it are right at least
    ``precision`` of the time (with ``confidence``: shown so by them with
    that confidence, :func:`holds`), or, when none is, the one with the
    best precision. With ``groups`` (a label per item), also at least
    ``floor`` in each group with ``least`` items or more at or above it,
    and in every group no more wrong items than a share ``floor`` right
    would give with a probability of ``chance`` or more. With ``strata``
    (a label per item), each stratum's own share right is at least
    ``precision`` too."""
    import numpy as np
    from scipy.stats import binom

    order = np.argsort(-p, kind="stable")
    seen_all = np.arange(1, len(order) + 1)
    hits = np.cumsum(right[order]) / seen_all
    ok = (hits >= precision if confidence is None
          else holds(seen_all - np.cumsum(right[order]), seen_all, precision, confidence))
    for stratum in np.unique(strata) if strata is not None else []:
        member = (strata == stratum)[order]
        seen = np.cumsum(member)
        wrong = np.cumsum((1 - right[order]) * member)
        # On its own share: a bound on each half of the items would ask
        # for more than the whole can show.
        ok &= wrong <= (1 - precision) * seen
    if groups is not None:
        for group in np.unique(groups):
            member = (groups == group)[order]
            seen = np.cumsum(member)
            wrong = np.cumsum((1 - right[order]) * member)
            share = (seen - wrong) / np.maximum(seen, 1)
            # An easy condition's many right numbers must not hide a hard
            # one's few wrong ones in the pooled share.
            ok &= (((seen < least) | (share >= floor))
                   & (binom.sf(wrong - 1, seen, 1 - floor) >= chance))
    # Only a cut between two different probabilities is a threshold.
    ok &= np.append(p[order][1:] < p[order][:-1], True)
    ok = np.flatnonzero(ok)
    k = ok.max() if len(ok) else int(np.argmax(hits))
    return float(p[order][k])


def _numbers(digit, part):
    """Each number on the pages ``part``: (features (n, k), right (n,),
    condition (n,), drawing (n,), ambiguous gap (n,)), its digits judged by
    ``digit``."""
    import numpy as np

    from digitsuite.reading import confidence

    feats, right, conditions, drawings, ambiguous = [], [], [], [], []
    for (name, drawing), features, _, members, number_right in part:
        p = digit(features) if len(features) else np.zeros(0)
        for (ks, boxes, gap, unread, wide), r in zip(members, number_right):
            if ks:
                feats.append(confidence.number_features(p[ks], boxes, gap, unread))
                right.append(r)
                conditions.append(name)
                drawings.append(drawing)
                ambiguous.append(wide)
    return (np.array(feats).reshape(-1, len(confidence.NUMBER_FEATURES)), np.array(right),
            np.array(conditions), np.array(drawings), np.array(ambiguous, bool))


def measure(calibration, held):
    """How ``calibration`` does on the pages ``held``; with thresholds of
    None, it sets them there first (the lowest that hold DIGIT_PRECISION,
    and NUMBER_PRECISION with CONDITION_PRECISION in each condition).
    Returns (digit threshold, number threshold, measures)."""
    import numpy as np

    from digitsuite.reading import confidence

    hx = np.concatenate([p[1] for p in held])
    hy = np.concatenate([p[2] for p in held]).astype(float)
    hp = calibration.digit(hx)
    hnx, hny, conditions, drawings, ambiguous = _numbers(calibration.digit, held)
    hnp = calibration.number_p(hnx, ambiguous)
    digit_threshold = calibration.digit_threshold
    number_threshold = calibration.number_threshold
    if digit_threshold is None:
        digit_threshold = threshold_for(hp, hy, DIGIT_PRECISION, confidence=BOUND_CONFIDENCE)
        # Each way of drawing the writing holds the precision on its own: the
        # easier one must not carry the other over the bar.
        number_threshold = threshold_for(hnp, hny.astype(float), NUMBER_PRECISION, conditions,
                                         strata=drawings, confidence=BOUND_CONFIDENCE)
    # The threshold holds on average; the condition it holds worst on.
    vouched = hnp >= number_threshold
    by_condition = {str(c): float(hny[vouched & (conditions == c)].mean())
               for c in np.unique(conditions) if (vouched & (conditions == c)).any()}
    worst = min(by_condition, key=by_condition.get, default=None)
    measures = {
        "held_out_digits": int(len(hy)), "held_out_numbers": int(len(hny)),
        "digit_calibration_error": confidence.calibration_error(hp, hy),
        "number_calibration_error": confidence.calibration_error(hnp, hny),
        "digits_right": float(hy.mean()), "numbers_right": float(hny.mean()),
        "digit_threshold": digit_threshold, "number_threshold": number_threshold,
        "digits_shown": float((hp >= digit_threshold).mean()),
        "digits_shown_right": float(hy[hp >= digit_threshold].mean()),
        "numbers_vouched": float(vouched.mean()),
        "numbers_vouched_right": float(hny[vouched].mean()),
    }
    for drawing in np.unique(drawings):
        on = drawings == drawing
        measures.update({
            f"{drawing} drawing: number calibration error":
                confidence.calibration_error(hnp[on], hny[on]),
            f"{drawing} drawing: numbers vouched": float(vouched[on].mean()),
            f"{drawing} drawing: numbers vouched right":
                float(hny[vouched & on].mean()) if (vouched & on).any() else None})
    measures.update({"worst_condition": worst,
                     "worst_condition_vouched_right": by_condition.get(worst)})
    return digit_threshold, number_threshold, measures


def fit(pages_read):
    """Fit on even pages, measure on odd ones: (Calibration, measures)."""
    import numpy as np

    from digitsuite.reading import confidence

    fit_on, held = pages_read[0::2], pages_read[1::2]
    x = np.concatenate([p[1] for p in fit_on])
    y = np.concatenate([p[2] for p in fit_on]).astype(int)
    digit = confidence.Logistic.fit(x, y)
    nx, ny, _, _, ambiguous = _numbers(digit, fit_on)
    # A number whose gap may part two numbers is judged as one of a group
    # (confidence.AMBIGUOUS_GAP): fit on, such numbers pulled the regression
    # down for every number near them in the other features.
    number = confidence.Logistic.fit(nx[~ambiguous], ny[~ambiguous])
    gap_right = float(ny[ambiguous].mean()) if ambiguous.any() else None
    calibration = confidence.Calibration(digit, number, None, None, {}, gap_right)
    digit_threshold, number_threshold, _ = measure(calibration, held)
    # Rounded up: rounded down, a threshold would let in items under the cut
    # it was chosen at, and those are where the wrong ones are. The figures
    # are those of the thresholds as written.
    calibration.digit_threshold = math.ceil(digit_threshold * 1e4) / 1e4
    calibration.number_threshold = math.ceil(number_threshold * 1e4) / 1e4
    *_, measures = measure(calibration, held)
    return calibration, {"fit_pages": len(fit_on), "held_out_pages": len(held),
                         "fit_digits": int(len(y)), "fit_numbers": int(len(ny)),
                         "fit_numbers_with_an_ambiguous_gap": int(ambiguous.sum()),
                         "ambiguous_gap_right": gap_right, **measures}


def main(args):
    from digitsuite.data.datasets import load_splits, sha256
    from digitsuite.fileio import prepare_out_dir, write_json, write_text
    from digitsuite.inference.modelio import drop_training_state, load_keras_model
    from digitsuite.markdown import table
    from digitsuite.reading import confidence, reader

    models = []
    for path in (args.model, args.partner):
        model = load_keras_model(path, expect_input_shape=(28, 28, 1))
        reader.check_classifier(model, path)
        models.append(model)
    splits = load_splits("mnist", args.data_dir, val_fraction=args.val_fraction,
                         seed=cli.split_seed(args), dry_run=args.dry_run)
    images, labels = splits.val
    pages = 3 if args.dry_run else args.pages
    print(f"validation digits: {len(labels):,} from {splits.dataset.source}; "
          f"{pages} pages per condition, drawn {' and '.join(args.drawings)}")
    out_dir = prepare_out_dir(args.out_dir)
    read = read_validation_pages(confidence.Ensemble(models), images, labels, pages, args.seed,
                                 args.drawings)
    calibration, measures = fit(read)
    # Only names, never this machine's folders: the file ships with the model.
    calibration.fit = {"data": f"{splits.dataset.name} validation split "
                               f"({args.val_fraction:.0%} of {len(splits.dataset.x_train):,} "
                               f"training digits, seed {cli.split_seed(args)}), drawn "
                               f"{' and '.join(DRAWING_TEXT[d] for d in args.drawings)}",
                       "drawings": list(args.drawings),
                       "validation_digits": int(len(labels)),
                       "pages_per_condition": pages, "partner_from": args.partner.name,
                       "command": shipped_command(args, pages), **measures}
    partner_path = out_dir / confidence.PARTNER_FILE
    if args.partner.resolve() != partner_path.resolve():
        shutil.copyfile(args.partner, partner_path)
        drop_training_state(partner_path)
    # The files it was fit for: load_reader refuses it beside any other.
    calibration.fit.update(model_sha256=sha256(args.model), partner_sha256=sha256(partner_path))
    write_json(out_dir / confidence.CALIBRATION_FILE, calibration.as_dict())
    rows = [[k.replace("_", " "), f"{v:.4f}" if isinstance(v, float)
             else "none" if v is None else v if isinstance(v, str) else f"{v:,}"]
            for k, v in measures.items()]
    write_text(out_dir / "calibration.md", "\n".join([
        "# Reader calibration", "", f"`{calibration.fit['command']}`", "",
        f"Fit on the even pages of {pages} validation pages per condition and drawing "
        f"({calibration.fit['data']}); measured on the "
        "odd ones, which also set the thresholds: the lowest at which these pages show, "
        f"with {BOUND_CONFIDENCE:.0%} confidence, that {DIGIT_PRECISION:.1%} of the digits "
        f"shown and {NUMBER_PRECISION:.1%} of the numbers vouched for are right, with "
        f"{NUMBER_PRECISION:.1%} of the numbers of each drawing right, and "
        f"{CONDITION_PRECISION:.0%} of the numbers in "
        f"each condition (its pages of every drawing together) where {CONDITION_MIN} or "
        "more are vouched for; in a condition with fewer, no more wrong than "
        f"{CONDITION_PRECISION:.0%} right would give {CONDITION_CHANCE:.0%} of the time. "
        "A number with a gap between two of its digits wider than "
        f"{confidence.AMBIGUOUS_GAP:g} of their height (one number, or two?) is never "
        "vouched for: the number regression is fit without such numbers, and they "
        "get the share of them right on the pages fit on.", "",
        *table(["measure", "value"], rows),
        ""]))
    print(f"digit calibration error {measures['digit_calibration_error']:.4f}, number "
          f"{measures['number_calibration_error']:.4f} (held-out validation pages); "
          f"thresholds: digit {calibration.digit_threshold:.3f}, number "
          f"{calibration.number_threshold:.3f}; vouched for "
          f"{measures['numbers_vouched']:.1%} of numbers, "
          f"{measures['numbers_vouched_right']:.2%} of them right")
    print(f"wrote calibration.json, {confidence.PARTNER_FILE} and calibration.md to {out_dir}/")
    return measures


if __name__ == "__main__":
    cli.run(main, parse_args())
