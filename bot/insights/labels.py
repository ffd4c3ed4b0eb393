"""What the figures are called, in the report's two languages and the console."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "answered": "Répondu par le bot",
        "did_you_mean": "« Vouliez-vous dire »",
        "declined": "Non compris, hors sujet",
        "humans": "Avec l'équipe",
        "messages": "Messages",
        "conversations": "Conversations",
        "negative": "Messages négatifs",
        "queue": "En attente",
        "reason.health": "Santé",
        "reason.self_harm": "Détresse",
        "reason.anger": "Colère",
        "reason.press": "Presse",
        "reason.legal": "Juridique",
        "reason.data_protection": "Données personnelles",
        "reason.asked_for_human": "A demandé un humain",
        "reason.misunderstood": "Pas compris deux fois",
        "reason.all_to_humans": "Tout vers l'équipe",
        "priority.urgent": "Urgent",
        "priority.high": "Haute",
        "priority.normal": "Normale",
        "language.fr": "Français",
        "language.en": "Anglais",
        "language.other": "Autre langue",
    },
    "en": {
        "answered": "Answered by the bot",
        "did_you_mean": "\u201cDid you mean\u201d",
        "declined": "Not understood, out of scope",
        "humans": "With the team",
        "messages": "Messages",
        "conversations": "Conversations",
        "negative": "Negative messages",
        "queue": "Waiting",
        "reason.health": "Health",
        "reason.self_harm": "Distress",
        "reason.anger": "Anger",
        "reason.press": "Press",
        "reason.legal": "Legal",
        "reason.data_protection": "Personal data",
        "reason.asked_for_human": "Asked for a human",
        "reason.misunderstood": "Not understood twice",
        "reason.all_to_humans": "All to humans",
        "priority.urgent": "Urgent",
        "priority.high": "High",
        "priority.normal": "Normal",
        "language.fr": "French",
        "language.en": "English",
        "language.other": "Other language",
    },
}


def label(key: str, language: str = "en") -> str:
    """The name of `key` in `language`; the key itself when it has none."""
    return LABELS.get(language, LABELS["en"]).get(key) or key.split(".", 1)[-1]


def count(value: int) -> str:
    """5 761: thousands apart with a narrow space, as French and the
    console both read them."""
    return f"{value:,}".replace(",", "\u202f")


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"


def duration(seconds: float | None) -> str:
    """45 s, 7 min 05, 2 h 10."""
    if seconds is None:
        return "–"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d}"
    return f"{whole // 3600} h {whole % 3600 // 60:02d}"
