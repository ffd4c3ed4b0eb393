"""Team hours and how waits and returns are said to the person."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.handoff.hours import TeamHours, say_wait, say_when

PARIS = ZoneInfo("Europe/Paris")
WEEKDAYS = TeamHours(time(8), time(20), (0, 1, 2, 3, 4), PARIS)


def paris(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in November 2026, Paris time (the 23rd is a Monday)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (paris(23, 7, 59), False),
        (paris(23, 8), True),
        (paris(27, 19, 59), True),
        (paris(27, 20), False),
        (paris(28, 12), False),  # Saturday
    ],
)
def test_is_open(moment: datetime, is_open: bool) -> None:
    assert WEEKDAYS.is_open(moment) is is_open


def test_the_team_is_back_monday_after_a_friday_evening() -> None:
    friday_night = paris(27, 21)
    back = WEEKDAYS.next_opening(friday_night)
    assert back == paris(30, 8)
    assert say_when(back, friday_night, "fr") == "lundi à 08:00"
    assert say_when(back, friday_night, "en") == "on Monday at 08:00"


def test_early_morning_and_late_evening() -> None:
    early = paris(24, 6)
    assert say_when(WEEKDAYS.next_opening(early), early, "fr") == "aujourd'hui à 08:00"
    late = paris(24, 22)
    assert say_when(WEEKDAYS.next_opening(late), late, "en") == "tomorrow at 08:00"


def test_utc_input_is_read_in_the_team_time_zone() -> None:
    # 07:30 UTC is 08:30 in Paris in November.
    moment = datetime(2026, 11, 23, 7, 30, tzinfo=ZoneInfo("UTC"))
    assert WEEKDAYS.is_open(moment)


@pytest.mark.parametrize(
    ("minutes", "fr", "en"),
    [
        (1, "moins de 2 minutes", "under 2 minutes"),
        (3, "environ 5 minutes", "about 5 minutes"),
        (14, "environ 15 minutes", "about 15 minutes"),
        (60, "environ 1 h", "about 1 h"),
        (95, "environ 1 h 40", "about 1 h 40"),
    ],
)
def test_waits_are_rounded_and_said_in_the_language(
    minutes: int, fr: str, en: str
) -> None:
    assert say_wait(timedelta(minutes=minutes), "fr") == fr
    assert say_wait(timedelta(minutes=minutes), "en") == en
