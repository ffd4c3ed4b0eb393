"""The editors' page: the holding statement, the crisis switches, model publishes.

GET  /editor                  (editors and admins)
POST /editor/statement        a new version (a draft with four-eyes approval on)
POST /editor/statement-approve, /editor/statement-reject
POST /editor/clear-statement  withdraws it
POST /editor/all-to-humans, /editor/queue-closed
POST /editor/rollback         puts an earlier publish's model back
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.console import accounts
from bot.console.i18n import Words
from bot.console.pages import render_page as _page
from bot.console.security import Viewer, flash, requires, settings_of
from bot.console.streams import event_stream, stream
from bot.db import get_session_factory
from bot.faq import statement as statements
from bot.faq import versions
from bot.faq.versions import Change
from bot.handoff import switches
from bot.publish import history as publish_history
from bot.publish import jobs
from bot.publish.compare import Figures
from bot.publish.service import Project, PublishError, live_model_id, rollback
from bot.publish.store import ModelStore, StoreError
from bot.rasa_api import RasaError
from bot.settings import Settings

EDITORS = accounts.EDITOR_ROLES


def editor_state(settings: Settings) -> dict[str, Any]:
    project = models_project(settings)
    live_id = live_model_id(project, settings)
    with get_session_factory(settings.database_url).begin() as session:
        active = statements.active_statement(session=session)
        waiting = statements.pending_statement(session=session)
        history = statements.statement_history(session=session, limit=10)
        crisis = switches.read_switches(session=session)
        return {
            "statement": None
            if active is None
            else {
                "fr": active.text_fr,
                "en": active.text_en,
                "message_fr": statements.statement_message(
                    active, "fr", settings.timezone, settings.profile.brand
                ),
            },
            "four_eyes": settings.four_eyes,
            "draft": None
            if waiting is None
            else {
                "id": waiting.id,
                "by": waiting.published_by,
                "at": waiting.published_at.astimezone(settings.timezone).strftime(
                    "%d/%m %H:%M"
                ),
                "fr": waiting.text_fr,
                "en": waiting.text_en,
                "changes": [
                    Change(
                        label,
                        versions.word_changes(
                            getattr(active, name) if active else "",
                            getattr(waiting, name),
                        ),
                    )
                    for name, label in (("text_fr", "French"), ("text_en", "English"))
                ],
            },
            "history": [
                {
                    "id": row.id,
                    "fr": row.text_fr,
                    "by": row.published_by,
                    "approved_by": row.reviewed_by if not row.urgent else None,
                    "urgent": row.urgent,
                    "at": row.published_at.astimezone(settings.timezone).strftime(
                        "%d/%m %H:%M"
                    ),
                    "active": row.cleared_at is None,
                }
                for row in history
            ],
            "all_to_humans": crisis.all_to_humans,
            "queue_closed": crisis.queue_closed,
            "publishes": publish_rows(
                publish_history.recent(session=session, limit=PUBLISHES_SHOWN),
                live_id,
                project.store,
                settings,
            ),
        }


PUBLISHES_SHOWN = 15


def models_project(settings: Settings) -> Project:
    """The project whose models/ the console shows and rolls back."""
    return Project(settings.project_dir, settings.pack_dir, settings.model_cache)


def _put_back(settings: Settings, viewer: Viewer, publish_id: int) -> str:
    """Loads the model of an earlier publish into Rasa (relais rollback --to)."""
    row = rollback(
        models_project(settings),
        settings,
        author=viewer.name,
        report=lambda line: None,
        to=publish_id,
    )
    if row.outcome != "published":
        raise PublishError(f"Nothing changed: {row.detail}")
    return f"{row.detail.splitlines()[0]} Its model is live."


def publish_rows(
    rows: list[publish_history.ModelPublish],
    live_id: str | None,
    store: ModelStore,
    settings: Settings,
) -> list[dict[str, Any]]:
    """The last publishes for the editors' page, the live model's row marked."""
    shown, marked = [], False
    for row in rows:
        live = not marked and row.outcome == "published" and row.model_id == live_id
        marked = marked or live
        # A published model still kept can be put back (relais rollback --to).
        restorable = (
            row.action == publish_history.PUBLISH
            and row.outcome == "published"
            and row.model_id != live_id
            and store.archive(row.model_file) is not None
        )
        shown.append(
            {
                "id": row.id,
                "at": row.finished_at.astimezone(settings.timezone).strftime(
                    "%d/%m %H:%M"
                ),
                "action": row.action,
                "outcome": row.outcome,
                "by": row.author,
                "figures": Figures.from_dict(row.figures),
                "live_figures": Figures.from_dict(row.live_figures),
                "note": (row.detail or "").splitlines()[0] if row.detail else "",
                "live": live,
                "restorable": restorable,
            }
        )
    return shown


@requires(EDITORS)
async def editor_page(request: Request, viewer: Viewer) -> Response:
    settings = settings_of(request)
    state = await run_in_threadpool(editor_state, settings)
    job = await run_in_threadpool(latest_job, settings)
    return _page(request, "editor.html", viewer, job=job, **state)


def _edit(settings: Settings, action: str, viewer: Viewer, form: FormData) -> str:
    _ = Words(viewer.language).gettext
    with get_session_factory(settings.database_url).begin() as session:
        is_admin = viewer.role == accounts.ADMIN
        urgent = form.get("urgent") == "on" and is_admin
        if action == "statement":
            statement = statements.publish_statement(
                session=session,
                text_fr=str(form.get("text_fr") or ""),
                text_en=str(form.get("text_en") or ""),
                author=viewer.name,
                approval_needed=settings.four_eyes,
                urgent=urgent,
            )
            if statement.state == statements.DRAFT:
                return _(
                    "Statement saved as a draft: people see it once another editor or an admin approves it."  # noqa: E501
                )
            return _("Statement published: new conversations start with it.")
        if action in ("statement-approve", "statement-reject"):
            statement_id = str(form.get("statement") or "")
            if not statement_id.isdigit():
                raise statements.StatementError("Choose the statement.")
            if action == "statement-reject":
                statements.reject_statement(
                    session=session,
                    statement_id=int(statement_id),
                    reviewer=viewer.name,
                )
                return _("Draft statement rejected: people never saw it.")
            statements.approve_statement(
                session=session,
                statement_id=int(statement_id),
                approver=viewer.name,
                is_admin=is_admin,
                urgent=urgent,
            )
            return _(
                "Statement approved and published: new conversations start with it."
            )
        if action == "clear-statement":
            cleared = statements.clear_statement(session=session, author=viewer.name)
            return (
                _("Statement withdrawn.") if cleared else _("There was no statement.")
            )
        if action in switches.NAMES:
            enabled = form.get("enabled") == "on"
            switches.set_switch(
                session=session, name=action, enabled=enabled, author=viewer.name
            )
            return _(
                "{switch}: {state}.",
                switch=action,
                state=_("ON") if enabled else _("off"),
            )
    raise HTTPException(404, "No such action.")


@requires(EDITORS)
async def editor_action(request: Request, viewer: Viewer, form: FormData) -> Response:
    action = str(request.path_params["action"])
    try:
        if action == "rollback":
            publish_id = str(form.get("to") or "")
            if not publish_id.isdigit():
                raise PublishError("Choose the publish to go back to.")
            message = await run_in_threadpool(
                _put_back, settings_of(request), viewer, int(publish_id)
            )
        else:
            message = await run_in_threadpool(
                _edit, settings_of(request), action, viewer, form
            )
        flash(request, message)
    except (statements.StatementError, PublishError, StoreError, RasaError) as error:
        flash(request, str(error), "error")
    return RedirectResponse("/editor", status_code=303)


# --- publishing in the background ---------------------------------------------------

STEP_LABELS = {
    "checks": "Checks",
    "training": "Training",
    "comparing": "The gate: both models on the held-out questions",
    "loading": "Loading into Rasa",
}


def job_state(settings: Settings, job_id: int) -> dict[str, Any]:
    """A publish job as its panel shows it (bot/publish/jobs.py)."""
    with get_session_factory(settings.database_url).begin() as session:
        jobs.reap(session=session)
        job = session.get(jobs.PublishJob, job_id)
        if job is None:
            raise HTTPException(404, "No such publish.")
        outcome = None
        if job.publish_id is not None:
            row = session.get(publish_history.ModelPublish, job.publish_id)
            outcome = row.outcome if row is not None else None
        reached = jobs.STEPS.index(job.step) if job.step in jobs.STEPS else 0
        return {
            "id": job.id,
            "state": job.state,
            "step": job.step,
            "steps": [
                {
                    "name": name,
                    "label": label,
                    "done": jobs.STEPS.index(name) < reached
                    or (job.step == "done" and job.state == jobs.FINISHED),
                    "current": name == job.step and job.state == jobs.RUNNING,
                }
                for name, label in STEP_LABELS.items()
            ],
            "author": job.author,
            "started": job.started_at.astimezone(settings.timezone).strftime(
                "%d/%m %H:%M"
            ),
            "lines": job.lines,
            "detail": job.detail or "",
            "outcome": outcome,
            "cancellable": job.state == jobs.RUNNING and job.step in jobs.CANCELLABLE,
            "cancel_requested_by": job.cancel_requested_by,
        }


def latest_job(settings: Settings) -> dict[str, Any] | None:
    with get_session_factory(settings.database_url).begin() as session:
        job = jobs.latest(session=session)
        job_id = None if job is None else int(job.id)
    return None if job_id is None else job_state(settings, job_id)


@requires(EDITORS)
async def publish_start(request: Request, viewer: Viewer, form: FormData) -> Response:
    settings = settings_of(request)
    try:
        await run_in_threadpool(
            jobs.start,
            settings,
            author=viewer.name,
            project_root=models_project(settings).root,
        )
        flash(
            request,
            Words(viewer.language).gettext(
                "Publish started: follow it below. You may close the page."
            ),
        )
    except jobs.JobError as error:
        flash(request, str(error), "error")
    return RedirectResponse("/editor#publish", status_code=303)


def _cancel(settings: Settings, job_id: int, viewer: Viewer) -> str:
    with get_session_factory(settings.database_url).begin() as session:
        return jobs.cancel(session=session, job_id=job_id, by=viewer.name)


@requires(EDITORS)
async def publish_cancel(request: Request, viewer: Viewer, form: FormData) -> Response:
    job_id = int(request.path_params["job_id"])
    try:
        message = await run_in_threadpool(_cancel, settings_of(request), job_id, viewer)
        flash(request, message)
    except jobs.JobError as error:
        flash(request, str(error), "error")
    return RedirectResponse("/editor#publish", status_code=303)


@requires(EDITORS)
async def publish_events(request: Request, viewer: Viewer) -> Response:
    job_id = int(request.path_params["job_id"])
    settings = settings_of(request)
    await run_in_threadpool(job_state, settings, job_id)  # 404 before streaming
    return event_stream(stream(request, job_state, settings, job_id))


routes = [
    Route("/editor", editor_page),
    Route("/editor/publish", publish_start, methods=["POST"]),
    Route("/editor/publish/{job_id:int}/events", publish_events),
    Route("/editor/publish/{job_id:int}/cancel", publish_cancel, methods=["POST"]),
    Route("/editor/{action:str}", editor_action, methods=["POST"]),
]
