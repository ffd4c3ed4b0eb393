"""Writing topics back into the pack: linted first, each file replaced whole.

The spreadsheet import and accepted suggestions both change topic files. The
new pack (the folder with these topics replaced) is staged in a temporary
folder and linted; any lint error refuses the whole change and no file is
touched. Each file is then replaced by a rename, never left half-written.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import date
from pathlib import Path

from bot.faq.lint import ERROR, lint_pack
from bot.faq.pack import LANGUAGES, Topic, load_pack


class PackRefused(ValueError):
    """The change would leave the pack with lint errors; `problems` lists them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def topic_yaml(topic: Topic) -> str:
    """The topic as a Rasa training data file, in the pack's layout."""

    def block(text: str, indent: int) -> str:
        pad = " " * indent
        return "\n".join(pad + line if line else "" for line in text.splitlines())

    def scalar(value: str) -> str:
        # A JSON string is a valid double-quoted YAML scalar.
        return json.dumps(value, ensure_ascii=False)

    lines = ['version: "3.1"', "", "nlu:"]
    for language in LANGUAGES:
        lines += [
            f"- intent: faq/{topic.key}",
            "  metadata:",
            f"    lang: {language}",
            f"    title: {scalar(topic.titles[language])}",
        ]
        if language == "fr":
            if topic.owner:
                lines.append(f"    owner: {scalar(topic.owner)}")
            if topic.review_by:
                lines.append(f"    review_by: {topic.review_by.isoformat()}")
            lines.append(f"    enabled: {'true' if topic.enabled else 'false'}")
        lines.append("  examples: |")
        lines += [f"    - {example}" for example in topic.examples[language]]
    lines += [
        "",
        "responses:",
        f"  utter_faq/{topic.key}:",
        "  - text: |-",
        block(topic.answers["fr"], 6),
        "  - condition:",
        "    - type: slot",
        "      name: language",
        "      value: en",
        "    text: |-",
        block(topic.answers["en"], 6),
    ]
    return "\n".join(lines) + "\n"


def _staged_errors(
    faq_dir: Path, staged: Path, topics: list[Topic], today: date | None
) -> list[str]:
    shutil.copytree(faq_dir, staged)
    for topic in topics:
        (staged / f"{topic.key}.yml").write_text(topic_yaml(topic), "utf-8")
    return [
        str(finding)
        for finding in lint_pack(staged, today=today)
        if finding.level == ERROR
    ]


def check_topics(faq_dir: Path, topics: list[Topic], today: date | None = None) -> None:
    """Lints the pack as it would be with `topics`, writing nothing.

    Raises:
        PackRefused: The resulting pack would have lint errors.
    """
    with tempfile.TemporaryDirectory() as scratch:
        errors = _staged_errors(faq_dir, Path(scratch) / "faq", topics, today)
    if errors:
        raise PackRefused(errors)


def write_topics(
    faq_dir: Path, topics: list[Topic], today: date | None = None, lint: bool = True
) -> None:
    """Writes `topics` into `faq_dir`, or nothing at all.

    Args:
        lint: False when the caller has just run `check_topics` on them.

    Raises:
        PackRefused: The resulting pack has lint errors; nothing was written.
    """
    if lint:
        check_topics(faq_dir, topics, today)
    for topic in topics:
        # Each file replaced whole, by a rename: never half-written.
        temporary = faq_dir / f".{topic.key}.yml.tmp"
        temporary.write_text(topic_yaml(topic), "utf-8")
        temporary.replace(faq_dir / f"{topic.key}.yml")
    load_pack.cache_clear()
