"""`relais report`: the post-crisis report (bot/insights/report.py).

    relais report --from 2026-11-28 --to 2026-11-29 --format pdf --out rapport.pdf
    relais report --from "2026-11-28 08:00" --to "2026-11-28 20:00" --language en

--from and --to are local times (RELAIS_TIMEZONE); a day alone means its
midnight. Without --out, the file is written under var/reports/.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from bot.settings import PROJECT_ROOT, Settings

REPORTS = PROJECT_ROOT / "var" / "reports"


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("report", help="the post-crisis report (HTML or PDF)")
    parser.add_argument(
        "--from",
        dest="start",
        required=True,
        help="local start: 2026-11-28 or '2026-11-28 08:00'",
    )
    parser.add_argument("--to", dest="end", required=True, help="local end")
    parser.add_argument("--format", choices=["html", "pdf"], default="pdf")
    parser.add_argument("--language", choices=["fr", "en"], default="fr")
    parser.add_argument("--out", help="the file to write")


def local_time(value: str, settings: Settings) -> datetime:
    """A local date or date-time, as an aware datetime."""
    from bot.insights.report import ReportError

    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ReportError(
            f"“{value}” is not a date: write 2026-11-28 or '2026-11-28 08:00'."
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=settings.timezone)


def run(settings: Settings, args: argparse.Namespace) -> int:
    # Imported here: the report loads scikit-learn (its gap groups), which
    # `relais --help` and the other commands need not wait for.
    from bot.console import accounts
    from bot.corrections.figures import report_part
    from bot.db import get_session_factory
    from bot.insights.report import ReportError, make

    try:
        start, end = local_time(args.start, settings), local_time(args.end, settings)
        with get_session_factory(settings.database_url).begin() as session:
            names = accounts.display_names(session=session)
        content = make(
            settings, start, end, args.language, args.format, parts=[report_part],
            agent_names=names,
        )  # fmt: skip
    except ReportError as error:
        print(error, file=sys.stderr)
        return 2
    out = (
        Path(args.out)
        if args.out
        else (REPORTS / f"report-{start:%Y%m%d-%H%M}-{end:%Y%m%d-%H%M}.{args.format}")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".part")
    partial.write_bytes(content)
    partial.replace(out)  # never a half-written report under the real name
    print(f"Report written: {out} ({len(content) // 1024} KB)")
    return 0
