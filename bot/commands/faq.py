"""`relais faq`: the FAQ pack from a terminal.

    relais faq lint [--dir DIR]                   # check before publishing
    relais faq export FILE.csv | import FILE.csv  # what the bot says, as a sheet
    relais faq log [--topic T] [--conversation ID]

lint, and export/import with --dir, need only the pack's files (editors lint
on machines without a .env); export and import without --dir read and record
the live versions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.commands import LAST_MESSAGE_WIDTH, one_line
from bot.db import get_session_factory
from bot.faq.live import current_pack
from bot.settings import PROJECT_ROOT, Settings, pack_dir_from_environment


def add_parser(
    commands: argparse._SubParsersAction, as_agent: argparse.ArgumentParser
) -> None:
    from bot.faq.lint import NEAR_DUPLICATE

    faq = commands.add_parser("faq", help="the FAQ pack")
    faq_commands = faq.add_subparsers(dest="subcommand", required=True)
    lint = faq_commands.add_parser("lint", help="check the pack before publishing")
    lint.add_argument("--dir", help="the FAQ folder (default: RELAIS_PACK's faq/)")
    lint.add_argument(
        "--similarity",
        type=float,
        default=NEAR_DUPLICATE,
        help="warn when examples of two topics mean this nearly the same "
        f"(cosine of their sentence vectors, default {NEAR_DUPLICATE})",
    )
    for name, description in (
        ("export", "write what the bot says to a CSV spreadsheet"),
        ("import", "record a CSV spreadsheet's changes as new versions"),
    ):
        command_parser = faq_commands.add_parser(
            name, help=description, parents=[as_agent]
        )
        command_parser.add_argument("file", help="the .csv file")
        command_parser.add_argument(
            "--dir", help="a FAQ folder's files only (a pack not deployed yet)"
        )
    log = faq_commands.add_parser("log", help="which answer versions people received")
    log.add_argument("--topic")
    log.add_argument("--conversation")
    log.add_argument("--limit", type=int, default=50)


def files_only(args: argparse.Namespace) -> bool:
    """The command needs the pack's files, not the rest of the configuration."""
    return args.subcommand == "lint" or bool(getattr(args, "dir", None))


def run_on_files(args: argparse.Namespace) -> int:
    return {"lint": faq_lint, "export": faq_export, "import": faq_import}[
        args.subcommand
    ](args)


def run(settings: Settings, args: argparse.Namespace) -> int:
    return {"log": faq_log, "export": faq_export_live, "import": faq_import_live}[
        args.subcommand
    ](settings, args)


def faq_lint(args: argparse.Namespace) -> int:
    """Needs no other configuration: editors lint on machines without a .env."""
    from bot.faq.lint import ERROR, lint_pack

    faq_dir = _faq_dir(args)
    if not faq_dir.is_dir():
        print(f"{faq_dir} is not a folder.", file=sys.stderr)
        return 2
    findings = lint_pack(faq_dir, threshold=args.similarity)
    errors = [f for f in findings if f.level == ERROR]
    warnings = [f for f in findings if f.level != ERROR]
    for finding in findings:
        print(finding)
    print(
        f"\n{faq_dir}: {len(errors)} error(s), {len(warnings)} warning(s)."
        + (" Fix the errors before publishing." if errors else "")
    )
    if not errors:
        print("\n" + "\n".join(_expectation(faq_dir)))
    return 1 if errors else 0


def _expectation(faq_dir: Path) -> list[str]:
    """What to expect of the pack, at the profile's wrong-answer target."""
    from bot.faq.expectations import expect
    from bot.faq.pack import load_pack
    from bot.profile import ProfileError, load_profile

    try:
        target = load_profile(faq_dir.parent).wrong_answers_at_most
    except ProfileError:
        target = 0.03
    return expect(list(load_pack(faq_dir).values()), target).lines()


def _faq_dir(args: argparse.Namespace) -> Path:
    """--dir, else the pack's faq/ (without needing the rest of the settings)."""
    faq_dir = Path(args.dir) if args.dir else pack_dir_from_environment() / "faq"
    return faq_dir if faq_dir.is_absolute() else PROJECT_ROOT / faq_dir


def faq_export(args: argparse.Namespace) -> int:
    from bot.faq.spreadsheet import export_csv

    count = export_csv(_faq_dir(args), Path(args.file))
    print(f"{count} topics written to {args.file} (two rows each: fr, en).")
    return 0


def faq_import(args: argparse.Namespace) -> int:
    from bot.faq.spreadsheet import SpreadsheetError, import_csv

    source = Path(args.file)
    if not source.is_file():
        print(f"{source} is not a file.", file=sys.stderr)
        return 2
    try:
        written = import_csv(source, _faq_dir(args))
    except SpreadsheetError as error:
        print(f"Nothing was written. Fix these in {source.name}:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(
        f"{len(written)} topics written to {_faq_dir(args)}. Publish to train on them."
    )
    return 0


def faq_export_live(settings: Settings, args: argparse.Namespace) -> int:
    from bot.faq.spreadsheet import write_csv

    count = write_csv(current_pack(settings), Path(args.file))
    print(f"{count} topics, as the bot answers now, written to {args.file} "
          "(two rows each: fr, en).")  # fmt: skip
    return 0


def faq_import_live(settings: Settings, args: argparse.Namespace) -> int:
    from bot.faq.spreadsheet import SpreadsheetError, import_versions

    source = Path(args.file)
    if not source.is_file():
        print(f"{source} is not a file.", file=sys.stderr)
        return 2
    try:
        with get_session_factory(settings.database_url).begin() as session:
            saved = import_versions(
                source,
                session=session,
                faq_dir=settings.faq_dir,
                author=args.agent,
                approval_needed=settings.four_eyes,
            )
            lines = [
                f"  {one.version.topic}: version {one.version.number}, "
                + ("live" if one.live else "a draft waiting for approval")
                for one in saved
            ]
    except SpreadsheetError as error:
        print(f"Nothing was recorded. Fix these in {source.name}:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    if not lines:
        print("Nothing changed: every topic is as the bot answers now.")
        return 0
    print(f"{len(lines)} topics changed:", *lines, sep="\n")
    if any(not one.live for one in saved):
        print("Drafts reach people once another editor or an admin approves them "
              "(console, Topics).")  # fmt: skip
    print("New topics and examples reach the model at the next publish.")
    return 0


def faq_log(settings: Settings, args: argparse.Namespace) -> int:
    from bot.faq.audit import answers_sent

    with get_session_factory(settings.database_url).begin() as session:
        rows = answers_sent(
            session=session,
            topic=args.topic,
            conversation_id=args.conversation,
            limit=args.limit,
        )
        if not rows:
            print("No answer recorded yet.")
        for row in rows:
            when = row.sent_at.astimezone(settings.timezone)
            print(
                f"{when:%Y-%m-%d %H:%M:%S}  {row.topic:<20} {row.language}  "
                f"v{row.version}  {row.conversation_id}  "
                f"{one_line(row.text, LAST_MESSAGE_WIDTH)}"
            )
    return 0
