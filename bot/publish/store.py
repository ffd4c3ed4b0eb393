"""The models folder: the live model, the published ones kept for rollback.

models/relais.tar.gz       the live model: what `make run` and a restart load
models/published/          every model published, the last KEEP_MODELS kept
models/candidates/         a model being trained and evaluated
models/.publish.lock       held while a publish or a rollback runs (with
                           PostgreSQL, also an advisory lock: see locked())
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

LIVE_NAME = "relais.tar.gz"
KEEP_MODELS = 10
BUSY = "Another publish or rollback is running; wait for it to finish."
# pg_try_advisory_lock's key for publishing ("rela" in ASCII).
ADVISORY_KEY = 0x72656C61


class StoreError(Exception):
    """The models folder cannot do what was asked; the message says why."""


@contextmanager
def _advisory_lock(database_url: str) -> Iterator[None]:
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from bot.db import get_engine

    try:
        connection = get_engine(database_url).connect()
    except SQLAlchemyError as error:
        raise StoreError(f"The queue database is not reachable: {error}") from None
    try:
        key = {"key": ADVISORY_KEY}
        taken = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), key)
        if not taken.scalar():
            raise StoreError(BUSY)
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)
            connection.commit()
    finally:
        connection.close()


def model_id(archive: Path) -> str:
    """Rasa's id of a trained model, read from the archive's metadata.json."""
    try:
        with tarfile.open(archive) as tar:
            for member in tar:
                if member.name.lstrip("./") == "metadata.json":
                    handle = tar.extractfile(member)
                    if handle is not None:
                        return str(json.load(handle)["model_id"])
    except (OSError, tarfile.TarError, ValueError, KeyError) as error:
        raise StoreError(f"{archive} is not a readable Rasa model ({error}).") from None
    raise StoreError(f"{archive} is not a Rasa model (no metadata.json).")


@dataclass(frozen=True)
class ModelStore:
    root: Path  # the project's models/ folder

    @property
    def live(self) -> Path:
        return self.root / LIVE_NAME

    @property
    def published(self) -> Path:
        return self.root / "published"

    @property
    def candidates(self) -> Path:
        return self.root / "candidates"

    @staticmethod
    def new_name(now: datetime) -> str:
        """`relais-20261127-101530`: archives sort by publication time."""
        return f"relais-{now:%Y%m%d-%H%M%S}"

    @contextmanager
    def locked(self, database_url: str | None = None) -> Iterator[None]:
        """One publish or rollback at a time.

        On this machine, a file lock in the models folder. With the queue on
        PostgreSQL (a deployment of several machines), also a PostgreSQL
        advisory lock, held by a connection of this process: a publish on
        another machine is refused, and a publisher that dies releases it
        with its connection.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".publish.lock").open("w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreError(BUSY) from None
            try:
                if database_url and database_url.startswith("postgresql"):
                    with _advisory_lock(database_url):
                        yield
                else:
                    yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def clear_candidates(self) -> None:
        """Removes what an interrupted publish left behind."""
        shutil.rmtree(self.candidates, ignore_errors=True)
        self.candidates.mkdir(parents=True)

    def keep(self, candidate: Path) -> Path:
        """Moves an accepted candidate among the published models."""
        self.published.mkdir(parents=True, exist_ok=True)
        archive = self.published / candidate.name
        shutil.move(str(candidate), archive)
        return archive

    def archive(self, name: str | None) -> Path | None:
        """The published archive called `name`, if it is still kept."""
        if not name:
            return None
        path = self.published / name
        return path if path.is_file() else None

    def make_live(self, archive: Path) -> None:
        """Makes `archive` the model Rasa loads when it starts, atomically."""
        staging = self.root / f".{LIVE_NAME}.staging"
        shutil.copyfile(archive, staging)
        os.replace(staging, self.live)

    def prune(self, keep: int = KEEP_MODELS) -> list[str]:
        """Deletes published models beyond the newest `keep`; returns their names.

        The live model is a copy, so deleting its archive never stops Rasa.
        """
        archives = sorted(self.published.glob("relais-*.tar.gz"), reverse=True)
        removed = []
        for path in archives[keep:]:
            path.unlink()
            removed.append(path.name)
        return removed
