"""A correction's sending as a background job the console starts and follows.

The console records the job on the correction's row and starts `relais
corrections send ID --job` as a process of its own (its own session), so the
sending goes on when the page is closed or the console restarts. Progress is
the people's rows (bot/corrections/sending.py): the page counts them.

Cancelling writes who asked on the row; the job reads it between two people
and stops there (every person is either sent or not, never half). A job
whose process died (a crash, the machine restarted) is marked failed when
someone next looks; starting it again goes on where it stopped, and nobody
gets the correction twice.

`relais corrections send ID` typed in a terminal records itself the same
way, so the console shows it running and can stop it; one job at a time per
correction.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot.corrections.drafts import APPROVED, Correction, CorrectionError, get
from bot.db import get_session_factory, utcnow
from bot.publish.jobs import process_alive
from bot.settings import PROJECT_ROOT, Settings

logger = logging.getLogger(__name__)

RUNNING, FINISHED, CANCELLED, FAILED = "running", "finished", "cancelled", "failed"
# A job whose process never recorded itself (the console stopped while it
# was starting it) is given up after this.
NO_PROCESS_AFTER = timedelta(minutes=2)
LOG_DIR = PROJECT_ROOT / "var" / "corrections"
# How often a running job looks whether it was asked to stop.
CANCEL_CHECK_SECONDS = 0.5


def reap(correction: Correction, now: datetime | None = None) -> None:
    """Marks failed a job of this machine whose process is gone."""
    if correction.job_state != RUNNING or correction.job_host != socket.gethostname():
        return
    now = now or utcnow()
    if correction.job_pid is None:
        gone = correction.job_started_at is None or (
            now - correction.job_started_at > NO_PROCESS_AFTER
        )
    else:
        gone = not process_alive(int(correction.job_pid))
    if gone:
        correction.job_state, correction.job_finished_at = FAILED, now
        correction.job_detail = (
            "The sending stopped before its end (the process is gone): "
            "send again to go on; nobody gets it twice."
        )


def claim(
    *, session: Session, correction_id: int, by: str, pid: int | None
) -> Correction:
    """Records a new job on an approved correction, or refuses while one runs."""
    correction = get(session=session, correction_id=correction_id)
    if correction.state != APPROVED:
        raise CorrectionError(
            f"Correction #{correction_id} is {correction.state}: only an approved "
            "correction is sent."
        )
    reap(correction)
    if correction.job_state == RUNNING:
        raise CorrectionError(
            f"Correction #{correction_id} is being sent already (started by "
            f"{correction.job_by} at {correction.job_started_at:%H:%M} UTC)."
        )
    correction.job_state, correction.job_by = RUNNING, by
    correction.job_host, correction.job_pid = socket.gethostname(), pid
    correction.job_started_at, correction.job_finished_at = utcnow(), None
    correction.job_detail = correction.cancel_requested_by = None
    session.flush()
    return correction


def start(settings: Settings, *, correction_id: int, by: str) -> None:
    """Records the job and starts its process (the console's Send button)."""
    factory = get_session_factory(settings.database_url)
    with factory.begin() as session:
        claim(session=session, correction_id=correction_id, by=by, pid=None)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(sys.executable).parent / "relais"),
        "corrections", "send", str(correction_id), "--job",
    ]  # fmt: skip
    try:
        with (LOG_DIR / f"correction-{correction_id}.log").open("ab") as log:
            subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # lives on when the console stops
            )
    except OSError as error:
        finish(factory, correction_id, FAILED, f"The sending could not start: {error}")
        raise CorrectionError(f"The sending could not start: {error}") from None


def cancel(*, session: Session, correction_id: int, by: str) -> None:
    correction = get(session=session, correction_id=correction_id)
    reap(correction)
    if correction.job_state != RUNNING:
        raise CorrectionError(f"Correction #{correction_id} is not being sent.")
    correction.cancel_requested_by = by
    session.flush()


def finish(
    factory: sessionmaker[Session], correction_id: int, state: str, detail: str = ""
) -> None:
    with factory.begin() as session:
        correction = session.get(Correction, correction_id)
        if correction is not None:
            correction.job_state, correction.job_finished_at = state, utcnow()
            correction.job_detail = detail or None


class CancelWatch:
    """`cancelled()` for the sending loop: reads the row at most every half second."""

    def __init__(self, factory: sessionmaker[Session], correction_id: int) -> None:
        self.factory, self.correction_id = factory, correction_id
        self.by: str | None = None
        self.read_at = 0.0

    def __call__(self) -> bool:
        if self.by is None and time.monotonic() - self.read_at >= CANCEL_CHECK_SECONDS:
            self.read_at = time.monotonic()
            with self.factory.begin() as session:
                correction = session.get(Correction, self.correction_id)
                self.by = None if correction is None else correction.cancel_requested_by
        return self.by is not None
