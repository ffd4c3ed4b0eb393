"""A spreadsheet round trip for editors who do not edit YAML.

    relais faq export faq.csv      # open in LibreOffice or Excel, edit
    relais faq import faq.csv      # checks every row, then records new versions

Without --dir, export writes what the bot says now and import records each
changed topic as a new version, as a console edit would (drafts when
four-eyes approval is on). With --dir, they read and write that folder's
files only (a pack being prepared before it is deployed).

One row per topic and language: topic, language, title, owner, review_by,
enabled, answer, examples (one per line inside the cell). Owner, review date
and enabled go on the French row. Import checks every row and the resulting
pack (`relais faq lint`) before writing anything: a bad row gets an error
naming its row number and the problem, and then no file changes. Topics that
the spreadsheet does not mention are left as they are.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from bot.faq.pack import LANGUAGES, Topic, parse_topic_file
from bot.faq.versions import Saved, save_many
from bot.faq.writer import PackRefused, write_topics

COLUMNS = ["topic", "language", "title", "owner", "review_by", "enabled", "answer",
           "examples"]  # fmt: skip
_KEY = re.compile(r"^[a-z][a-z0-9_]{1,49}$")
_TRUE = {"true", "yes", "oui", "1", "vrai"}
_FALSE = {"false", "no", "non", "0", "faux"}


class SpreadsheetError(ValueError):
    """The spreadsheet cannot be imported; `problems` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def export_csv(faq_dir: Path, target: Path) -> int:
    """Writes the pack's files to `target` (UTF-8 with BOM, which Excel reads right)."""
    # The files as they are now, not a cached copy.
    pack = {path.stem: parse_topic_file(path) for path in sorted(faq_dir.glob("*.yml"))}
    return write_csv(pack, target)


def write_csv(pack: dict[str, Topic], target: Path) -> int:
    """Writes `pack`'s topics to `target`, two rows each; returns how many topics."""
    with target.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for key, topic in pack.items():
            for language in LANGUAGES:
                french = language == "fr"
                writer.writerow({
                    "topic": key,
                    "language": language,
                    "title": topic.titles.get(language, ""),
                    "owner": (topic.owner or "") if french else "",
                    "review_by": topic.review_by.isoformat()
                    if french and topic.review_by else "",
                    "enabled": ("true" if topic.enabled else "false") if french else "",
                    "answer": topic.answers.get(language, ""),
                    "examples": "\n".join(topic.examples.get(language, [])),
                })  # fmt: skip
    return len(pack)


@dataclass
class _Draft:
    key: str
    titles: dict[str, str] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    owner: str | None = None
    review_by: date | None = None
    enabled: bool = True


def _read_rows(source: Path) -> list[dict[str, str]]:
    try:
        text = source.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise SpreadsheetError(
            [f"{source.name}: not UTF-8 text; save the spreadsheet as CSV UTF-8"]
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise SpreadsheetError([f"row 1: missing column(s) {', '.join(missing)}"])
    return [dict(row) for row in reader]


def parse_csv(source: Path) -> list[Topic]:
    """Reads and checks every row; raises SpreadsheetError listing all problems."""
    problems: list[str] = []
    drafts: dict[str, _Draft] = {}
    for number, row in enumerate(_read_rows(source), start=2):  # row 1: header
        where = f"row {number}"
        cell = {name: (row.get(name) or "").strip() for name in COLUMNS}
        key, language = cell["topic"], cell["language"].lower()
        if not _KEY.match(key):
            problems.append(
                f"{where}: topic {key!r} must be lower-case letters, digits and _"
            )
            continue
        if language not in LANGUAGES:
            problems.append(f"{where}: language must be fr or en, not {language!r}")
            continue
        draft = drafts.setdefault(key, _Draft(key))
        if language in draft.answers:
            problems.append(f"{where}: a second {language} row for {key}")
            continue
        for name in ("title", "answer", "examples"):
            if not cell[name]:
                problems.append(f"{where}: {name} is empty")
        draft.titles[language] = cell["title"]
        draft.answers[language] = cell["answer"].replace("\r\n", "\n")
        draft.examples[language] = [
            line.strip().removeprefix("- ").strip()
            for line in cell["examples"].splitlines()
            if line.strip()
        ]
        if language != "fr":
            continue
        draft.owner = cell["owner"] or None
        if cell["review_by"]:
            try:
                draft.review_by = date.fromisoformat(cell["review_by"])
            except ValueError:
                problems.append(
                    f"{where}: review_by {cell['review_by']!r} is not a date "
                    "(write it 2026-12-31)"
                )
        enabled = cell["enabled"].lower() or "true"
        if enabled not in _TRUE | _FALSE:
            problems.append(f"{where}: enabled must be true or false, not {enabled!r}")
        draft.enabled = enabled in _TRUE
    for key, draft in drafts.items():
        for language in LANGUAGES:
            if language not in draft.answers:
                problems.append(f"topic {key}: no {language} row")
    if not drafts and not problems:
        problems.append(f"{source.name}: no topic rows")
    if problems:
        raise SpreadsheetError(problems)
    return [
        Topic(key=d.key, titles=d.titles, answers=d.answers, examples=d.examples,
              owner=d.owner, review_by=d.review_by, enabled=d.enabled)
        for d in drafts.values()
    ]  # fmt: skip


def import_csv(source: Path, faq_dir: Path, today: date | None = None) -> list[str]:
    """Writes the spreadsheet's topics into `faq_dir`, or nothing at all.

    The new pack (the folder with these topics replaced) is written to a
    temporary folder and linted first; any lint error stops the import.

    Returns:
        The keys of the topics written.
    """
    topics = parse_csv(source)
    try:
        write_topics(faq_dir, topics, today=today)
    except PackRefused as error:
        raise SpreadsheetError(error.problems) from None
    return [topic.key for topic in topics]


def import_versions(
    source: Path,
    *,
    session: Session,
    faq_dir: Path,
    author: str,
    approval_needed: bool,
    today: date | None = None,
) -> list[Saved]:
    """Records the spreadsheet's topics as new versions in the deployment, or nothing.

    Topics that did not change are left out; with four-eyes approval on, a
    changed answer, title or enabled flag is a draft (bot/faq/versions.py).
    """
    topics = parse_csv(source)
    try:
        return save_many(
            session=session,
            faq_dir=faq_dir,
            topics=topics,
            author=author,
            approval_needed=approval_needed,
            note=f"spreadsheet {source.name}",
            today=today,
        )
    except PackRefused as error:
        raise SpreadsheetError(error.problems) from None
