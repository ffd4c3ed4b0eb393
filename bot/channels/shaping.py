"""Answers cut to what each channel carries, buttons to what it shows.

Pure functions, no Rasa: the channels (meta.py, telegram.py) call them, and
the tests check them against the providers' documented limits.

- A text longer than the channel takes is split into several messages at
  sentence ends (a paragraph end first, then a sentence, then a word, a long
  word last), never in the middle of a word when a word fits.
- A button title longer than the channel shows is shortened at a word, with
  "…"; a button may carry its own `short_title` (the "talk to a person"
  button does), used first when it fits; titles stay different.
- Past the channel's number of buttons, the first ones are kept and the last
  (the way to a human) too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Measure = Callable[[str], int]

# Where a text may be cut: after a paragraph, a sentence, then any space.
_PARAGRAPH = re.compile(r"(?<=\n)\s*\n")
_SENTENCE = re.compile(r"(?<=[.!?…])\s+|\n")
_WORD = re.compile(r"\s+")
ELLIPSIS = "…"


def characters(text: str) -> int:
    return len(text)


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


@dataclass(frozen=True)
class Limits:
    """What one channel carries, from its provider's documentation.

    Attributes:
        text: The longest text message, in `measure` units.
        buttons: How many buttons one message carries.
        title: The longest button title (None: no limit worth shortening at).
        text_with_buttons: The longest text a message with buttons carries,
            when smaller than `text` (WhatsApp's interactive body).
        measure: How the provider counts (characters, or UTF-8 bytes).
    """

    text: int
    buttons: int
    title: int | None
    text_with_buttons: int | None = None
    measure: Measure = characters


def split_text(text: str, limit: int, measure: Measure = characters) -> list[str]:
    """`text` as messages of at most `limit`, cut at the best place.

    Args:
        text: The answer.
        limit: The longest message, in `measure` units.
        measure: How the provider counts.

    Returns:
        The messages, in order; one when the text fits; none when it is empty.
    """
    text = text.strip()
    if not text:
        return []
    if measure(text) <= limit:
        return [text]
    return _pack(text, limit, measure, (_PARAGRAPH, _SENTENCE, _WORD))


def _pieces(text: str, cut: re.Pattern[str]) -> list[str]:
    """`text` split after each match of `cut`, keeping the separators."""
    pieces, start = [], 0
    for match in cut.finditer(text):
        if match.end() > start:
            pieces.append(text[start : match.end()])
            start = match.end()
    pieces.append(text[start:])
    return [piece for piece in pieces if piece]


def _pack(
    text: str, limit: int, measure: Measure, cuts: tuple[re.Pattern[str], ...]
) -> list[str]:
    if not cuts:  # one word longer than a message: cut it where it must be
        return _hard_cut(text, limit, measure)
    messages: list[str] = []
    current = ""
    for piece in _pieces(text, cuts[0]):
        if measure((current + piece).strip()) <= limit:
            current += piece
            continue
        if current.strip():
            messages.append(current.strip())
        if measure(piece.strip()) <= limit:
            current = piece
        else:
            *whole, current = _pack(piece, limit, measure, cuts[1:]) or [""]
            messages.extend(whole)
    if current.strip():
        messages.append(current.strip())
    return messages


def _hard_cut(text: str, limit: int, measure: Measure) -> list[str]:
    messages, current = [], ""
    for character in text:
        if measure(current + character) > limit:
            messages.append(current)
            current = ""
        current += character
    return [*messages, current] if current else messages


def shorten_title(title: str, limit: int | None, measure: Measure = characters) -> str:
    """`title` in at most `limit`: whole words and "…" when it must be cut."""
    title = " ".join(title.split())
    if limit is None or measure(title) <= limit:
        return title
    room = limit - measure(ELLIPSIS)
    words, kept = title.split(" "), ""
    for word in words:
        candidate = f"{kept} {word}" if kept else word
        if measure(candidate) > room:
            break
        kept = candidate
    if not kept:  # the first word alone is too long
        kept = _hard_cut(title, room, measure)[0]
    return kept.rstrip(" ,;:—-") + ELLIPSIS


def button_title(button: dict[str, Any], limit: int | None) -> str:
    """The title a channel shows: the button's short title when the full one
    does not fit and the short one does, else the full one shortened."""
    title = str(button.get("title") or button.get("payload") or "")
    short = button.get("short_title")
    if limit is not None and len(title) > limit and short and len(short) <= limit:
        return str(short)
    return shorten_title(title, limit)


def button_titles(buttons: Sequence[dict[str, Any]], limit: int | None) -> list[str]:
    """Each button's title within `limit`, all different (WhatsApp refuses
    two buttons with the same title): a title shortened into another's gets
    a number."""
    titles: list[str] = []
    for button in buttons:
        title = button_title(button, limit)
        number = 2
        while title in titles:
            suffix = f" {number}"
            room = None if limit is None else limit - len(suffix)
            title = shorten_title(str(button.get("title") or ""), room) + suffix
            number += 1
        titles.append(title)
    return titles


def fit_buttons(buttons: Sequence[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """At most `count` buttons: the first ones, and always the last one (the
    way to a human, in Relais' "did you mean")."""
    buttons = list(buttons)
    if len(buttons) <= count:
        return buttons
    return [*buttons[: count - 1], buttons[-1]]


def split_for_buttons(text: str, limits: Limits) -> list[str]:
    """The messages of a text that ends with buttons: the last one short
    enough to carry them (at least one message, for the buttons)."""
    messages = split_text(text, limits.text, limits.measure) or [""]
    last_limit = limits.text_with_buttons
    if last_limit is not None and limits.measure(messages[-1]) > last_limit:
        messages[-1:] = split_text(messages[-1], last_limit, limits.measure)
    return messages
