"""The gate's limits come from a calibration across many packs: on every
calibration pack they keep wrong answers under the target and out-of-scope
questions out, and a pack between two calibrated sizes gets the stricter."""

from __future__ import annotations

import json

import pytest

from bot.nlu.calibration import (
    CALIBRATION_FILE,
    MIN_CAUGHT,
    SAFETY,
    SIZES,
    TARGETS,
    Sample,
    Scored,
    calibrate,
    limits_for,
    shared_limits,
)


def _sample(
    pack: str,
    right: list[float],
    wrong: list[float],
    oos: list[float] = (),
    size: int = 3,
    phrasings: float | None = None,
):
    """Held-out questions whose margin equals their confidence."""
    points = (
        [Scored(c, c, True, True, True) for c in right]
        + [Scored(c, c, False, True, False) for c in wrong]
        + [Scored(c, c, False, False) for c in oos]
    )
    return Sample(
        pack, size, 0, tuple(points), size if phrasings is None else phrasings
    )


def test_the_limits_hold_on_every_pack_not_on_average() -> None:
    """An easy pack alone would answer from 0.3; the hard one has wrong
    answers up to 0.6, so the shared limits start above them."""
    easy = _sample("easy", right=[0.9] * 50 + [0.4] * 50, wrong=[0.3] * 5)
    hard = _sample("hard", right=[0.9] * 50 + [0.5] * 40, wrong=[0.6] * 10)
    alone = shared_limits([easy], 0.03)
    both = shared_limits([easy, hard], 0.03)
    assert alone.confidence <= 0.4
    assert both.confidence > 0.6
    assert both.wrong <= SAFETY * 0.03
    assert both.right == pytest.approx((0.5 / 1.05 + 0.5 / 1.0) / 2, abs=1e-3)


def test_out_of_scope_questions_push_the_limits_up() -> None:
    """Near-topic questions the FAQ does not answer at 0.7: at most 5 % of
    them may be answered, so the limits rise above most of them."""
    points = dict(right=[0.9] * 90 + [0.6] * 10, wrong=[])
    without = shared_limits([_sample("a", **points)], 0.03)
    near = _sample("a", **points, oos=[0.7] * 10 + [0.1] * 10)
    with_them = shared_limits([near], 0.03)
    assert without.confidence <= 0.6
    assert with_them.confidence > 0.7
    assert with_them.caught >= MIN_CAUGHT
    # Offered as a button from where at most 5 % of them reach.
    assert 0.1 < with_them.offer <= 0.7 + 0.025


def test_nothing_safe_answers_nothing() -> None:
    hopeless = _sample("x", right=[0.5] * 10, wrong=[0.99] * 10)
    assert shared_limits([hopeless], 0.03).confidence == 1.0


def _table(per_size: dict[int, tuple[float, float]]) -> dict:
    return {
        "limits": {
            f"{target:.2f}": {
                str(size): {
                    "confidence": c, "margin": m, "offer": c / 2,
                    "right": 0.5, "wrong": 0.01, "caught": 1.0,
                }
                for size, (c, m) in per_size.items()
            }
            for target in TARGETS
        }
    }  # fmt: skip


def test_between_two_sizes_a_pack_gets_the_stricter_of_each_limit() -> None:
    table = _table({3: (0.65, 0.65), 8: (0.8, 0.0)})
    five = limits_for(5, table=table)
    assert (five.confidence, five.margin) == (0.8, 0.65)
    assert five.calibrated_at == 3
    assert limits_for(3, table=table).confidence == 0.65
    # Beyond the largest size, the largest's; below the smallest, the smallest's.
    assert limits_for(40, table=table).calibrated_at == 8
    assert limits_for(1, table=table).calibrated_at == 3


def test_a_target_nobody_calibrated_is_refused_with_the_calibrated_ones() -> None:
    with pytest.raises(ValueError, match=r"5%.*1%, 2%, 3%"):
        limits_for(3, target=0.05, table=_table({3: (0.6, 0.6)}))


def test_the_shipped_calibration_covers_every_size_and_target() -> None:
    """calibration.json as scripts/calibrate_gate.py wrote it: limits for each
    target and size, a stricter target never looser, every calibration pack
    within its target."""
    table = json.loads(CALIBRATION_FILE.read_text("utf-8"))
    assert len(table["packs"]) >= 7
    for size in SIZES[:6]:
        previous = None
        for target in TARGETS:
            limits = table["limits"][f"{target:.2f}"][str(size)]
            assert limits["wrong"] <= SAFETY * target + 1e-9
            assert limits["caught"] >= MIN_CAUGHT
            if previous is not None:
                assert limits["right"] >= previous["right"]
            previous = limits


def test_calibrate_writes_what_limits_for_reads() -> None:
    samples = [
        _sample("a", right=[0.9] * 40, wrong=[0.2] * 2),
        _sample("b", right=[0.8] * 40, wrong=[0.3] * 2, oos=[0.1] * 20),
        _sample("c", right=[0.7] * 40, wrong=[0.25] * 2),
    ]
    table = calibrate(samples)
    assert table["packs"] == ["a", "b", "c"]
    limits = limits_for(3, table=table)
    assert limits.confidence > 0.3
    assert set(limits.by_target) == {f"{t:.2f}" for t in TARGETS}


def test_a_pack_poorer_than_a_size_does_not_decide_its_limits() -> None:
    """A noisy pack with 7 phrasings per topic, cut "to 8", is the same cut as
    at 7: it must not make packs that really have 8 wait for 0.95."""
    clean = [
        _sample(name, right=[0.9] * 40 + [0.6] * 40, wrong=[0.4] * 2, size=8)
        for name in ("a", "b", "c")
    ]
    noisy = _sample("noisy", right=[0.9] * 40, wrong=[0.9] * 10, size=8, phrasings=7)
    eight = calibrate([*clean, noisy])["limits"]["0.03"]["8"]
    assert eight["confidence"] <= 0.6
    assert "noisy" not in eight["packs"]


def test_a_size_fewer_than_three_packs_reach_is_not_calibrated() -> None:
    """Two packs alone do not decide limits: a pack with 8 phrasings keeps
    the largest size that enough packs reached."""
    samples = [
        *(_sample(n, right=[0.9] * 40, wrong=[0.3] * 2) for n in ("a", "b", "c")),
        *(_sample(n, right=[0.9] * 40, wrong=[0.3] * 2, size=8) for n in ("a", "b")),
    ]
    table = calibrate(samples)
    assert set(table["limits"]["0.03"]) == {"3"}
    assert limits_for(8, table=table).calibrated_at == 3
