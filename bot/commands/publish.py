"""`relais publish` and `relais rollback`: a new model live, or an earlier one
back.

    relais publish [--list]      # lint, train if needed, evaluate, load
    relais rollback [--to ID] [--list]
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from bot.commands import one_line
from bot.db import get_session_factory
from bot.publish import history as publish_history
from bot.publish.compare import Figures
from bot.publish.service import (
    Project,
    PublishError,
    live_model_id,
    publish,
    rollback,
)
from bot.publish.store import StoreError
from bot.settings import Settings


def add_parser(
    commands: argparse._SubParsersAction, as_agent: argparse.ArgumentParser
) -> None:
    for name, description in (
        ("publish", "lint, train if needed, evaluate, load the model into Rasa"),
        ("rollback", "load the previously published model back"),
    ):
        command_parser = commands.add_parser(name, help=description, parents=[as_agent])
        command_parser.add_argument(
            "--list", action="store_true", help="the last publishes and rollbacks"
        )
        command_parser.add_argument("--limit", type=int, default=20)
        command_parser.add_argument(
            "--project", help="folder with config.yml, domain.yml, data/, models/"
        )
        if name == "rollback":
            command_parser.add_argument(
                "--to", type=int, metavar="ID", help="the publish to go back to"
            )
        else:
            # The console's background publish (bot/publish/jobs.py).
            command_parser.add_argument("--job", type=int, help=argparse.SUPPRESS)


def _project(args: argparse.Namespace, settings: Settings) -> Project:
    root = Path(args.project).resolve() if args.project else settings.project_dir
    return Project(root, settings.pack_dir, settings.model_cache)


def publish_list(settings: Settings, args: argparse.Namespace) -> int:
    """The last publishes and rollbacks, newest first, the live model marked."""
    live_id = live_model_id(_project(args, settings), settings)
    with get_session_factory(settings.database_url).begin() as session:
        rows = publish_history.recent(session=session, limit=args.limit)
    if not rows:
        print("Nothing has been published yet.")
    marked = False  # the newest row that put the live model live
    for row in rows:
        when = row.finished_at.astimezone(settings.timezone)
        figures = Figures.from_dict(row.figures)
        live = ""
        if not marked and row.outcome == "published" and row.model_id == live_id:
            live, marked = "  LIVE", True
        print(
            f"#{row.id:<4} {when:%Y-%m-%d %H:%M}  {row.action:<8} {row.outcome:<9} "
            f"{row.author:<12} {figures.summary() if figures else ''}{live}"
        )
        if row.outcome in ("refused", "failed"):
            print(f"       {one_line(row.detail, 100)}")
    return 0


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.list:
        return publish_list(settings, args)
    if args.command == "publish":
        # Training and evaluation are background work next to a live
        # assistant: the Rasa server keeps the CPU first.
        os.nice(10)
        # Editors read this output: TensorFlow's and Rasa's chatter goes to the
        # training log, not here (Rasa's dependencies add their own warning
        # filters on import, so filters alone do not silence them).
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        warnings.showwarning = lambda *args, **kwargs: None
    project = _project(args, settings)
    if args.command == "publish" and args.job is not None:
        return publish_job(project, settings, args)
    report = lambda line: print(line, flush=True)  # noqa: E731
    try:
        if args.command == "publish":
            row = publish(project, settings, author=args.agent, report=report)
        else:
            row = rollback(
                project, settings, author=args.agent, report=report, to=args.to
            )
    except KeyboardInterrupt:
        print(
            "Interrupted. `relais publish --list` shows which model is live.",
            file=sys.stderr,
        )
        return 130
    print(f"Recorded as #{row.id}: {row.outcome}.")
    return 0 if row.outcome in ("published", "unchanged") else 1


def publish_job(project: Project, settings: Settings, args: argparse.Namespace) -> int:
    """`relais publish --job ID`: a publish the console started and follows."""
    from bot.publish import jobs

    progress = jobs.Progress(settings, args.job)
    progress.begin()
    row = None
    try:
        row = publish(
            project, settings, author=args.agent, report=progress.line,
            step=progress.step,
        )  # fmt: skip
    except jobs.Cancelled:
        project.store.clear_candidates()
        progress.line("Cancelled: nothing changed.")
        progress.finish(jobs.CANCELLED, None, "Cancelled: nothing changed.")
        return 130
    except (PublishError, StoreError) as error:
        progress.line(str(error))
        progress.finish(jobs.FAILED, None, str(error))
        return 1
    except Exception as error:  # the console must hear of it, not wait forever
        progress.line(f"The publish stopped: {type(error).__name__}: {error}")
        progress.finish(jobs.FAILED, row, f"{type(error).__name__}: {error}")
        raise
    if progress.cancel_refused:
        progress.line("The cancel came while the model was loading: it finished.")
    if row.outcome == "published":
        detail = f"Publish #{row.id}: the new model is live in every Rasa process."
    else:
        detail = (row.detail or row.outcome).splitlines()[0]
    progress.finish(jobs.FINISHED, row, detail)
    return 0 if row.outcome in ("published", "unchanged") else 1
