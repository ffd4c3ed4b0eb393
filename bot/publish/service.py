"""`relais publish` and `relais rollback`, step by step.

Publish: check the pack and the training data -> train, only when what the
model learns from changed since the live model -> answer the held-out
questions with both models -> refuse a worse model (bot/publish/compare.py)
-> load the new model into every running Rasa process -> make it the model a
restart loads. Rollback loads an earlier published model the same way.

Whatever happens is recorded in the model_publish table, refusals included,
and nothing half-done is left live: a model Rasa cannot load is taken back
out of the processes that already loaded it.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.db import get_session_factory, utcnow
from bot.faq.pack import RETRIEVAL_INTENT
from bot.publish import history
from bot.publish.cache import training_key
from bot.publish.compare import Figures, refusals
from bot.publish.evaluation import HeldOutQuestion, evaluate_model, load_questions
from bot.publish.fingerprint import training_fingerprint
from bot.publish.history import (
    FAILED,
    PUBLISH,
    PUBLISHED,
    REFUSED,
    ROLLBACK,
    UNCHANGED,
    ModelPublish,
)
from bot.publish.store import KEEP_MODELS, ModelStore, StoreError, model_id
from bot.publish.training import (
    Project,
    TrainingError,
    lint_problems,
    trained_model,
    validation_problems,
)
from bot.rasa_api import RasaClient, RasaError, RasaUnreachable
from bot.settings import Settings

# Author of the record that keeps the model live before the first publish.
BEFORE_PUBLISH = "(before publish)"
# Loading a model takes seconds; this only stops waiting on a server that hangs.
LOAD_TIMEOUT_SECONDS = 600

Report = Callable[[str], None]


class PublishError(Exception):
    """Publish or rollback cannot start; nothing was changed."""


@dataclass(frozen=True)
class LiveModel:
    """The model people are talking to now."""

    model_id: str | None
    path: Path | None  # its file here, when there is one
    record: ModelPublish | None  # its publish, when it went through relais publish
    running: bool  # the first Rasa process answered


def running_model_id(settings: Settings) -> tuple[bool, str | None]:
    """Whether the first Rasa process answers, and the id of the model it runs."""
    try:
        status = RasaClient(settings.rasa_urls[0], settings.rasa_token).status()
    except RasaUnreachable:
        return False, None
    return True, status.get("model_id")


def live_model_id(project: Project, settings: Settings) -> str | None:
    """The live model's id for display: Rasa's, else the file's; None if unknown."""
    try:
        running, live_id = running_model_id(settings)
        if running:
            return live_id
        return model_id(project.store.live) if project.store.live.is_file() else None
    except (RasaError, StoreError):
        return None


def find_live(project: Project, settings: Settings, *, session: Session) -> LiveModel:
    """Asks the first Rasa process which model it runs; models/ if it is down.

    Raises:
        PublishError: Rasa runs a model that is not in models/, so there is
            nothing to compare a new model with, or to roll back from.
    """
    store = project.store
    running, live_id = running_model_id(settings)
    file_id = model_id(store.live) if store.live.is_file() else None
    if not running:
        live_id = file_id
    record = history.by_model_id(session=session, model_id=live_id) if live_id else None
    path = None
    if live_id and live_id == file_id:
        path = store.live
    elif record is not None:
        path = store.archive(record.model_file)
    if live_id and path is None:
        raise PublishError(
            f"Rasa at {settings.rasa_urls[0]} runs model {live_id}, which is not "
            f"in {store.root}: restart it on {store.live} (make run) first."
        )
    return LiveModel(live_id, path, record, running)


def load_everywhere(
    settings: Settings,
    archive: Path,
    expected_id: str,
    fallback: Path | None,
    report: Report,
) -> tuple[bool, list[str]]:
    """Loads `archive` into every Rasa process, one after the other.

    Returns:
        Whether no process refused it, and one line per process. A process
        that is not running is not an error: it loads the live model when it
        starts. When one refuses, those already switched go back to `fallback`.
    """
    lines: list[str] = []
    switched: list[RasaClient] = []
    for url in settings.rasa_urls:
        client = RasaClient(url, settings.rasa_token, timeout=LOAD_TIMEOUT_SECONDS)
        started = time.perf_counter()
        try:
            client.load_model(str(archive.resolve()))
            loaded_id = client.status().get("model_id")
        except RasaUnreachable:
            lines.append(f"{url}: not running; it will load the new model at start")
            report(lines[-1])
            continue
        except RasaError as error:
            loaded_id, problem = None, str(error)
        else:
            problem = f"it runs {loaded_id} instead of {expected_id}"
        if loaded_id != expected_id:
            lines.append(f"{url}: could not load {archive.name}: {problem}")
            report(lines[-1])
            for done in switched:
                if fallback is not None:
                    done.load_model(str(fallback.resolve()))
                    lines.append(f"{done.url}: back on the previous model")
                    report(lines[-1])
            return False, lines
        switched.append(client)
        warmed = ""
        try:
            client.warm_up()
        except RasaError as error:  # a slower first answer, nothing worse
            warmed = f" (not warmed up: {error})"
        lines.append(f"{url}: loaded in {time.perf_counter() - started:.1f} s{warmed}")
        report(lines[-1])
    return True, lines


def comparison_table(live: Figures | None, new: Figures) -> str:
    rows = (
        ("covered, answered right", "right"),
        ("covered, answered wrong", "wrong"),
        ("covered, declined", "declined"),
        ("not covered, caught", "caught"),
    )
    lines = [f"  {'':28}{'live model':>12}{'new model':>12}"]
    for label, name in rows:
        before = f"{getattr(live, name):.1f} %" if live else "-"
        lines.append(f"  {label:28}{before:>12}{getattr(new, name):>10.1f} %")
    return "\n".join(lines)


def _evaluate(model: Path, questions: list[HeldOutQuestion]) -> Figures:
    from rasa.utils.log_utils import configure_structlog

    # Rasa logs every parsed message otherwise.
    configure_structlog(logging.WARNING)
    evaluation = asyncio.run(evaluate_model(model, questions))
    return Figures.from_scores(evaluation.scores)


def untested_topics(faq_dir: Path, questions: list[HeldOutQuestion]) -> list[str]:
    """Topics no held-out question is about: the gate cannot measure them."""
    asked = {question.expected for question in questions}
    return sorted(
        path.stem
        for path in faq_dir.glob("*.yml")
        if f"{RETRIEVAL_INTENT}/{path.stem}" not in asked
    )


def _no_step(name: str) -> None:
    pass


def publish(
    project: Project,
    settings: Settings,
    *,
    author: str,
    report: Report,
    step: Report = _no_step,
) -> ModelPublish:
    """Runs the whole publish; returns what was recorded.

    `step` hears where it is: checks, training, comparing, loading (the
    console's job shows it, bot/publish/jobs.py).

    Raises:
        PublishError, StoreError: It could not start (another one is running,
            Rasa runs a model that is not in models/); nothing was changed.
    """
    store = project.store
    factory = get_session_factory(settings.database_url)
    started_at = utcnow()

    def save(**fields: Any) -> ModelPublish:
        with factory.begin() as session:
            return history.record(
                session=session,
                action=PUBLISH,
                author=author,
                started_at=started_at,
                finished_at=utcnow(),
                **fields,
            )

    with store.locked(settings.database_url):
        store.clear_candidates()
        step("checks")
        report("Checking the FAQ pack and the training data...")

        def refused(problems: list[str]) -> ModelPublish:
            for problem in problems:
                report(f"  {problem}")
            return save(
                outcome=REFUSED,
                detail=f"{len(problems)} problem(s) in the data: " + problems[0],
            )

        problems = lint_problems(project)
        if problems:
            return refused(problems)
        fingerprint = training_fingerprint(project.root, project.pack_dir)
        with factory.begin() as session:
            live = find_live(project, settings, session=session)
        if live.record is not None and live.record.fingerprint == fingerprint:
            detail = (
                f"Nothing the model learns from changed since publish "
                f"#{live.record.id}: no training needed. Answer texts are live "
                "already (read each time they are sent)."
            )
            report(detail)
            return save(
                outcome=UNCHANGED,
                fingerprint=fingerprint,
                model_id=live.model_id,
                model_file=live.record.model_file,
                detail=detail,
            )
        # Inputs a cached model was trained from passed Rasa's validation
        # then: the same bytes and the same Rasa pass it again.
        cached = project.cache.find(training_key(project.root, project.pack_dir))
        if cached is None or not cached.validated:
            problems = validation_problems(project)
            if problems:
                return refused(problems)
        if live.model_id and live.record is None:
            report("The live model was not published with relais publish.")

        name = store.new_name(started_at)
        step("training")
        if cached is None:
            report(f"Training {name} (1-2 minutes; log in {project.logs})...")
        project.logs.mkdir(parents=True, exist_ok=True)
        try:
            trained = trained_model(
                project,
                store.candidates / f"{name}.tar.gz",
                log=project.logs / f"{name}-train.log",
                validated=True,
            )
        except TrainingError as error:
            report(str(error))
            return save(outcome=FAILED, fingerprint=fingerprint, detail=str(error))
        candidate, train_seconds = trained.path, trained.seconds
        candidate_id = model_id(candidate)
        if trained.reused_from is not None:
            report(
                "These exact inputs were trained on "
                f"{trained.reused_from.astimezone(settings.timezone):%Y-%m-%d %H:%M}: "
                "that model is reused, nothing to train."
            )
        else:
            report(f"Trained in {train_seconds:.0f} s.")

        step("comparing")
        report(f"Answering the held-out questions in {project.questions}...")
        questions = load_questions(project.questions)
        figures = _evaluate(candidate, questions)
        live_figures = _evaluate(live.path, questions) if live.path else None
        report(comparison_table(live_figures, figures))
        untested = untested_topics(project.faq_dir, questions)
        if untested:
            report(
                "No held-out question in the pack's heldout/ is about "
                f"{', '.join(untested)}: the comparison cannot tell how the new "
                "model answers them. Add a few (phrasings not in the training data)."
            )
        common: dict[str, Any] = {
            "model_id": candidate_id,
            "fingerprint": fingerprint,
            "trained": True,
            "train_seconds": round(train_seconds),
            "figures": figures.as_dict(),
            "live_model_id": live.model_id,
            "live_figures": live_figures.as_dict() if live_figures else None,
        }
        reasons = refusals(figures, live_figures) if live_figures else []
        if reasons:
            candidate.unlink()
            detail = "Worse than the live model: " + "; ".join(reasons) + "."
            report(detail)
            report(
                "The live model stays. Your changes are still in the files: fix "
                "them and publish again, or undo them."
            )
            return save(outcome=REFUSED, detail=detail, **common)
        if live_figures is None:
            report("No live model to compare with: this one becomes the first.")

        if live.path is not None and live.record is None:
            adopt(live, live_figures, store, factory, report)
        step("loading")
        archive = store.keep(candidate)
        report("Loading it into Rasa (messages wait for the few seconds it takes)...")
        loaded, lines = load_everywhere(
            settings, archive, candidate_id, live.path, report
        )
        if not loaded:
            archive.unlink()
            return save(outcome=FAILED, detail="\n".join(lines), **common)
        store.make_live(archive)
        store.prune()
        report(f"Published {archive.name}.")
        return save(
            outcome=PUBLISHED,
            model_file=archive.name,
            detail="\n".join(lines),
            **common,
        )


def adopt(
    live: LiveModel,
    figures: Figures | None,
    store: ModelStore,
    factory: sessionmaker[Session],
    report: Report,
) -> None:
    """Keeps a live model that did not come from relais publish (`make train`
    made it), so that `relais rollback` can go back to it."""
    assert live.path is not None
    trained = datetime.fromtimestamp(live.path.stat().st_mtime, timezone.utc)
    store.published.mkdir(parents=True, exist_ok=True)
    archive = store.published / f"{store.new_name(trained)}.tar.gz"
    shutil.copyfile(live.path, archive)
    with factory.begin() as session:
        history.record(
            session=session,
            action=PUBLISH,
            outcome=PUBLISHED,
            author=BEFORE_PUBLISH,
            started_at=trained,
            finished_at=trained,
            model_file=archive.name,
            model_id=live.model_id,
            figures=figures.as_dict() if figures else None,
            detail="The model that was live before the first relais publish, "
            "kept so that relais rollback can go back to it.",
        )
    report(f"The model that was live is kept as {archive.name} for rollback.")


def choose_rollback(
    published: list[ModelPublish], live_id: str | None, to: int | None
) -> ModelPublish:
    """The publish to go back to: `to`, else the one before the live model.

    Raises:
        PublishError: There is no such publish, or it is the live one.
    """
    if to is not None:
        target = next((row for row in published if row.id == to), None)
        if target is None:
            raise PublishError(
                f"Publish #{to} did not put a model live (relais publish --list)."
            )
    else:
        ids = [row.model_id for row in published]
        start = ids.index(live_id) + 1 if live_id in ids else 0
        target = next(
            (row for row in published[start:] if row.model_id != live_id), None
        )
        if target is None:
            raise PublishError("There is no earlier published model to go back to.")
    if target.model_id == live_id:
        raise PublishError(f"The model of publish #{target.id} is already live.")
    return target


def rollback(
    project: Project,
    settings: Settings,
    *,
    author: str,
    report: Report,
    to: int | None = None,
) -> ModelPublish:
    """Loads an earlier published model back, without evaluating it again.

    Raises:
        PublishError, StoreError: Nothing to go back to; nothing was changed.
    """
    store = project.store
    factory = get_session_factory(settings.database_url)
    started_at = utcnow()
    with store.locked(settings.database_url):
        with factory.begin() as session:
            live = find_live(project, settings, session=session)
            target = choose_rollback(
                history.published_models(session=session), live.model_id, to
            )
        archive = store.archive(target.model_file)
        if archive is None:
            raise StoreError(
                f"The model of publish #{target.id} is no longer kept (only the "
                f"last {KEEP_MODELS} are)."
            )
        figures = Figures.from_dict(target.figures)
        report(
            f"Going back to the model of publish #{target.id} "
            f"({target.finished_at.astimezone(settings.timezone):%Y-%m-%d %H:%M}, "
            f"by {target.author})" + (f": {figures.summary()}." if figures else ".")
        )
        loaded, lines = load_everywhere(
            settings, archive, str(target.model_id), live.path, report
        )
        if loaded:
            store.make_live(archive)
        with factory.begin() as session:
            return history.record(
                session=session,
                action=ROLLBACK,
                outcome=PUBLISHED if loaded else FAILED,
                author=author,
                started_at=started_at,
                finished_at=utcnow(),
                model_file=target.model_file,
                model_id=target.model_id,
                fingerprint=target.fingerprint,
                figures=target.figures,
                live_model_id=live.model_id,
                live_figures=live.record.figures if live.record else None,
                detail=f"Back to publish #{target.id}.\n" + "\n".join(lines),
            )
