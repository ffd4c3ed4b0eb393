"""When the community managers are there, and how to say when they are back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.settings import Settings

_DAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
           "Sunday"),
}  # fmt: skip


@dataclass(frozen=True)
class TeamHours:
    """Opening hours, the same on every working day, in one time zone."""

    opens: time
    closes: time
    days: tuple[int, ...]  # 0 = Monday
    timezone: ZoneInfo

    @classmethod
    def from_settings(cls, settings: Settings) -> TeamHours:
        return cls(
            settings.team_opens,
            settings.team_closes,
            settings.team_days,
            settings.timezone,
        )

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(self.timezone)
        return local.weekday() in self.days and self.opens <= local.time() < self.closes

    def next_opening(self, now: datetime) -> datetime:
        """The next time the team starts work, strictly after `now` if closed."""
        local = now.astimezone(self.timezone)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            opening = datetime.combine(day, self.opens, tzinfo=self.timezone)
            if day.weekday() in self.days and opening > local:
                return opening
        raise ValueError("team hours have no working day")

    def describe(self) -> str:
        return f"{self.opens:%H:%M}–{self.closes:%H:%M}"


def say_when(moment: datetime, now: datetime, language: str) -> str:
    """ "demain à 08:00", "on Monday at 08:00"... in the moment's time zone."""
    local_now = now.astimezone(moment.tzinfo)
    days = (moment.date() - local_now.date()).days
    clock = f"{moment:%H:%M}"
    if language == "en":
        return {0: f"today at {clock}", 1: f"tomorrow at {clock}"}.get(
            days, f"on {_day_name(moment.date(), 'en')} at {clock}"
        )
    return {0: f"aujourd'hui à {clock}", 1: f"demain à {clock}"}.get(
        days, f"{_day_name(moment.date(), 'fr')} à {clock}"
    )


def say_wait(wait: timedelta, language: str) -> str:
    """A rounded, honest wait: "environ 15 minutes", "about 1 h 30"."""
    english = language == "en"
    minutes = wait.total_seconds() / 60
    if minutes < 2:
        return "under 2 minutes" if english else "moins de 2 minutes"
    if minutes < 60:
        amount = f"{max(5, round(minutes / 5) * 5)} minutes"
    else:
        hours, rest = divmod(round(minutes / 10) * 10, 60)
        amount = f"{hours} h {rest:02d}" if rest else f"{hours} h"
    return f"about {amount}" if english else f"environ {amount}"


def _day_name(day: date, language: str) -> str:
    return _DAYS[language][day.weekday()]
