"""Reads the FAQ pack that editors maintain in `data/faq/<topic>.yml`.

Each file is ordinary Rasa training data: one `faq/<topic>` example block per
language, whose metadata carries the language and the topic's short title
(the French block also carries the topic's `owner`, `review_by` date and
`enabled` flag), and a `utter_faq/<topic>` response with a French default and an English
variation conditioned on the `language` slot. Rasa trains on these files
as they are; this module reads the same files for what Rasa does not need to
know about, such as the titles shown on "did you mean" buttons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("fr", "en")
RETRIEVAL_INTENT = "faq"


class FaqError(ValueError):
    """A FAQ file is malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class Topic:
    """One FAQ topic in both languages."""

    key: str
    titles: dict[str, str] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    owner: str | None = None  # who answers for the content (an e-mail address)
    review_by: date | None = None  # the facts must be checked again by then
    enabled: bool = True

    def title(self, language: str) -> str:
        """The title in `language`, falling back to French then to the key."""
        return self.titles.get(language) or self.titles.get("fr") or self.key


def parse_examples(block: str) -> list[str]:
    """Splits a Rasa multi-line `examples: |` block into example texts."""
    examples = []
    for line in block.splitlines():
        line = line.strip()
        if line.startswith("- "):
            examples.append(line[2:].strip())
    return examples


def _variation_language(variation: dict[str, Any]) -> str:
    for condition in variation.get("condition") or []:
        if condition.get("type") == "slot" and condition.get("name") == "language":
            return str(condition.get("value"))
    return "fr"


def parse_topic_file(path: Path) -> Topic:
    """Parses one topic file.

    Args:
        path: A `data/faq/<topic>.yml` file.

    Returns:
        The topic, keyed by the file's name.

    Raises:
        FaqError: The file is not valid YAML or does not describe its topic.
    """
    key = path.stem
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise FaqError(f"{path.name}: not valid YAML ({error})") from error

    intent = f"{RETRIEVAL_INTENT}/{key}"
    titles: dict[str, str] = {}
    examples: dict[str, list[str]] = {}
    topic_fields: dict[str, Any] = {}
    for block in content.get("nlu") or []:
        if block.get("intent") != intent:
            raise FaqError(
                f"{path.name}: intent {block.get('intent')!r} should be {intent!r}"
            )
        metadata = block.get("metadata") or {}
        language = metadata.get("lang")
        if language not in LANGUAGES:
            raise FaqError(f"{path.name}: each example block needs lang: fr or en")
        if metadata.get("title"):
            titles[language] = str(metadata["title"])
        examples.setdefault(language, []).extend(
            parse_examples(block.get("examples") or "")
        )
        for name in ("owner", "review_by", "enabled"):
            if name in metadata:
                if name in topic_fields and topic_fields[name] != metadata[name]:
                    raise FaqError(f"{path.name}: two different values for {name}")
                topic_fields[name] = metadata[name]

    answers: dict[str, str] = {}
    responses = content.get("responses") or {}
    for variation in responses.get(f"utter_{intent}") or []:
        answers[_variation_language(variation)] = str(variation.get("text", ""))

    if not answers:
        raise FaqError(f"{path.name}: no answer under responses: utter_{intent}")
    review_by = topic_fields.get("review_by")
    if review_by is not None and not isinstance(review_by, date):
        try:
            review_by = date.fromisoformat(str(review_by))
        except ValueError:
            raise FaqError(
                f"{path.name}: review_by must be a date like 2026-12-31, "
                f"not {review_by!r}"
            ) from None
    enabled = topic_fields.get("enabled", True)
    if not isinstance(enabled, bool):
        raise FaqError(f"{path.name}: enabled must be true or false, not {enabled!r}")
    owner = topic_fields.get("owner")
    return Topic(
        key=key,
        titles=titles,
        answers=answers,
        examples=examples,
        owner=str(owner) if owner else None,
        review_by=review_by,
        enabled=enabled,
    )


@lru_cache(maxsize=4)
def load_pack(faq_dir: Path) -> dict[str, Topic]:
    """Loads every topic of the pack, keyed by topic name (cached per directory)."""
    return {path.stem: parse_topic_file(path) for path in sorted(faq_dir.glob("*.yml"))}
