"""The server-drawn charts of the overview and the report (bot/insights/charts.py)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from bot.insights import charts

START = datetime(2026, 12, 6, 8, tzinfo=timezone.utc)
HOURS = [START + timedelta(hours=i) for i in range(6)]


def axis_labels(svg: str) -> list[str]:
    return re.findall(r'text-anchor="end" fill="#555">([^<]*)</text>', svg)


def test_a_share_seen_in_one_hour_only_is_drawn() -> None:
    """Issue 28: 14 % negative over the day, an empty chart (one point drew
    no line)."""
    svg = str(
        charts.share_chart(
            HOURS, [None, None, 0.14, None, None, None], "Negative", timezone.utc,
            "Negative", "",
        )
    )  # fmt: skip
    assert svg.count("<circle") == 1
    assert axis_labels(svg) == ["0 %", "4 %", "8 %", "12 %", "16 %", "20 %"]


def test_small_shares_keep_their_tenths_on_the_axis() -> None:
    svg = str(
        charts.share_chart(
            HOURS, [0.002, 0.005, 0.004, 0.0, 0.001, 0.003], "Negative",
            timezone.utc, "Negative", "",
        )
    )  # fmt: skip
    assert axis_labels(svg) == ["0.0 %", "0.2 %", "0.4 %", "0.6 %", "0.8 %", "1.0 %"]
    assert "<circle" not in svg  # a line joins them
