"""Publishing from the console: `relais publish` as a background job.

The console records a job and starts `relais publish --job ID` as a process
of its own (its own session and process group), so the publish goes on when
the page is closed or the console restarts. The process writes its progress
into the job's row: the step it is at (checks, training, comparing, loading)
and every line `relais publish` prints, the gate's table of both models
included. The console's page follows the row.

One publish at a time: a job is refused while another runs, and the publish
itself takes the models folder's lock (and PostgreSQL's advisory lock), so a
`relais publish` from a terminal cannot run beside it either.

Cancelling sends SIGTERM to the job's process group: training stops at once
and nothing changes. Once loading has begun it is not cancelled (it takes
seconds, and stopping halfway would leave the Rasa processes on different
models): the job says so and finishes. A job whose process died (the machine
restarted) is marked failed when the console next looks at it.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType

from sqlalchemy import Column, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Session

from bot.db import Base, UTCDateTime, get_session_factory, utcnow
from bot.publish.history import ModelPublish
from bot.settings import Settings

logger = logging.getLogger(__name__)

RUNNING, FINISHED, CANCELLED, FAILED = "running", "finished", "cancelled", "failed"
STEPS = ("starting", "checks", "training", "comparing", "loading", "done")
CANCELLABLE = ("starting", "checks", "training", "comparing")
MAX_LINES = 400
# A job whose process never recorded itself (the console stopped while it
# was starting it) is given up after this.
NO_PROCESS_AFTER = timedelta(minutes=5)


class PublishJob(Base):
    __tablename__ = "publish_job"

    id = Column(Integer, primary_key=True)
    state = Column(String(10), nullable=False, default=RUNNING)
    step = Column(String(10), nullable=False, default="starting")
    author = Column(String(100), nullable=False)
    started_at = Column(UTCDateTime, nullable=False, default=utcnow)
    finished_at = Column(UTCDateTime)
    host = Column(String(255), nullable=False)
    pid = Column(Integer)
    lines = Column(Text, nullable=False, default="")
    cancel_requested_by = Column(String(100))
    publish_id = Column(Integer, ForeignKey("model_publish.id"))
    detail = Column(Text)


class JobError(ValueError):
    """A job that cannot start or be cancelled; the message says why."""


class Cancelled(Exception):
    """Raised in the job's process when its cancellation arrives in time."""


def latest(*, session: Session) -> PublishJob | None:
    return session.execute(
        select(PublishJob).order_by(PublishJob.id.desc()).limit(1)
    ).scalar_one_or_none()


def running(*, session: Session) -> PublishJob | None:
    return session.execute(
        select(PublishJob).where(PublishJob.state == RUNNING).limit(1)
    ).scalar_one_or_none()


def process_alive(pid: int) -> bool:
    """Whether the process `pid` still runs (a finished child nobody waited
    for is reaped and counts as gone). The corrections' jobs use it too."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A finished child that nobody waited for yet still answers kill(0).
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True  # not our child: it exists
    return finished == 0


def reap(*, session: Session, now: datetime | None = None) -> None:
    """Marks failed the running jobs of this machine whose process is gone."""
    job = running(session=session)
    if job is None or job.host != socket.gethostname():
        return
    now = now or utcnow()
    never_started = job.pid is None and now - job.started_at > NO_PROCESS_AFTER
    if never_started or (job.pid is not None and not process_alive(job.pid)):
        job.finished_at = now
        if job.cancel_requested_by:
            job.state = CANCELLED
            job.detail = f"Cancelled by {job.cancel_requested_by}: nothing changed."
        else:
            job.state = FAILED
            job.detail = "The publish process stopped before it finished."
        session.flush()


def create(*, session: Session, author: str) -> PublishJob:
    """Records a new job, or refuses while one runs."""
    reap(session=session)
    current = running(session=session)
    if current is not None:
        raise JobError(
            f"{current.author}'s publish (started "
            f"{current.started_at:%H:%M} UTC) is still running: one at a time."
        )
    job = PublishJob(author=author, host=socket.gethostname(), started_at=utcnow())
    session.add(job)
    session.flush()
    return job


def start(settings: Settings, *, author: str, project_root: Path) -> int:
    """Records a job and starts its process; returns the job's id."""
    factory = get_session_factory(settings.database_url)
    with factory.begin() as session:
        job_id = int(create(session=session, author=author).id)
    log_dir = project_root / "var" / "publish"
    log_dir.mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(sys.executable).parent / "relais"),
        "publish",
        "--job",
        str(job_id),
        "--agent",
        author,
        "--project",
        str(project_root),
    ]
    try:
        with (log_dir / f"job-{job_id}.log").open("wb") as log:
            process = subprocess.Popen(
                command,
                cwd=project_root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # lives on when the console stops
            )
    except OSError as error:
        # Never leave a job "running" that no process runs: it would refuse
        # every publish after it.
        with factory.begin() as session:
            job = session.get(PublishJob, job_id)
            assert job is not None
            job.state, job.finished_at = FAILED, utcnow()
            job.detail = f"The publish could not start: {error}"
        raise JobError(f"The publish could not start: {error}") from None
    with factory.begin() as session:
        job = session.get(PublishJob, job_id)
        assert job is not None
        if job.pid is None:
            job.pid = process.pid
    return job_id


def cancel(*, session: Session, job_id: int, by: str) -> str:
    """Asks a running job to stop; returns what the person is told."""
    job = session.get(PublishJob, job_id)
    if job is None or job.state != RUNNING:
        raise JobError("That publish is not running any more.")
    if job.step not in CANCELLABLE:
        raise JobError(
            "The new model is being loaded into Rasa: that takes seconds and is "
            "not stopped halfway. Roll back afterwards if needed."
        )
    if job.host != socket.gethostname() or job.pid is None:
        raise JobError("That publish runs on another machine: cancel it there.")
    job.cancel_requested_by = by
    session.flush()
    try:
        os.killpg(job.pid, signal.SIGTERM)
    except ProcessLookupError:
        reap(session=session)
        return "The publish had already stopped."
    return "Cancelling: the publish stops and nothing changes."


# --- in the job's own process ------------------------------------------------------


class Progress:
    """What `relais publish --job` reports into its job's row."""

    def __init__(self, settings: Settings, job_id: int) -> None:
        self.factory = get_session_factory(settings.database_url)
        self.job_id = job_id
        self.step_now = "starting"
        self.cancel_refused = False

    def _update(self, **fields: object) -> None:
        with self.factory.begin() as session:
            job = session.get(PublishJob, self.job_id)
            if job is None:
                raise JobError(f"No publish job {self.job_id}.")
            for name, value in fields.items():
                setattr(job, name, value)

    def begin(self) -> None:
        signal.signal(signal.SIGTERM, self._terminate)
        self._update(pid=os.getpid())

    def _terminate(self, signum: int, frame: FrameType | None) -> None:
        if self.step_now in CANCELLABLE:
            raise Cancelled
        self.cancel_refused = True

    def line(self, text: str) -> None:
        print(text, flush=True)
        with self.factory.begin() as session:
            job = session.get(PublishJob, self.job_id)
            if job is None:
                return
            lines = (job.lines + text + "\n").splitlines()[-MAX_LINES:]
            job.lines = "\n".join(lines) + "\n"

    def step(self, name: str) -> None:
        self.step_now = name
        self._update(step=name)

    def finish(self, state: str, publish: ModelPublish | None, detail: str) -> None:
        self.step_now = "done"
        self._update(
            state=state,
            step="done",
            finished_at=utcnow(),
            publish_id=publish.id if publish is not None else None,
            detail=detail,
        )
