"""The publish gate: a new model may not be worse than the live one.

Both models answer the same held-out questions (tests/nlu/) in the same run.
The new one is refused when, beyond a tolerance that absorbs a question or two
of noise:
  - it answers more covered questions with the wrong answer (+1 point at most),
  - it catches fewer questions the FAQ does not cover (-2 points at most: one
    question of the 62),
  - it answers fewer covered questions right (-5 points at most). Not asked
    for by the wrong/caught rule, but a model that declines everything would
    pass those two while helping nobody.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bot.publish.evaluation import OUT_OF_SCOPE, Scores

# Percentage points.
MAX_WRONG_RISE = 1.0
MAX_CAUGHT_DROP = 2.0
MAX_RIGHT_DROP = 5.0


@dataclass(frozen=True)
class Figures:
    """A model's results on the held-out questions, in percent."""

    right: float
    wrong: float
    declined: float
    caught: float
    covered: int  # covered questions asked
    not_covered: int  # out-of-scope questions asked

    @classmethod
    def from_scores(cls, scores: Scores) -> Figures:
        return cls(
            right=round(scores.rate("in_scope", "right") * 100, 1),
            wrong=round(scores.rate("in_scope", "wrong") * 100, 1),
            declined=round(scores.rate("in_scope", "declined") * 100, 1),
            caught=round(scores.rate(OUT_OF_SCOPE, "caught") * 100, 1),
            covered=scores.total("in_scope"),
            not_covered=scores.total(OUT_OF_SCOPE),
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Figures | None:
        return cls(**data) if data else None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"right {self.right:.1f} %, wrong {self.wrong:.1f} %, "
            f"declined {self.declined:.1f} %, not covered caught {self.caught:.1f} %"
        )


def refusals(candidate: Figures, live: Figures) -> list[str]:
    """Why `candidate` may not replace `live`; empty when it may."""
    reasons = []
    if candidate.wrong > live.wrong + MAX_WRONG_RISE:
        reasons.append(
            f"answered wrong rose from {live.wrong:.1f} % to {candidate.wrong:.1f} % "
            f"(tolerance +{MAX_WRONG_RISE:.0f} point)"
        )
    if candidate.caught < live.caught - MAX_CAUGHT_DROP:
        reasons.append(
            f"not-covered questions caught fell from {live.caught:.1f} % to "
            f"{candidate.caught:.1f} % (tolerance -{MAX_CAUGHT_DROP:.0f} points)"
        )
    if candidate.right < live.right - MAX_RIGHT_DROP:
        reasons.append(
            f"answered right fell from {live.right:.1f} % to {candidate.right:.1f} % "
            f"(tolerance -{MAX_RIGHT_DROP:.0f} points)"
        )
    return reasons
