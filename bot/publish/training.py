"""Checking the training inputs and training a model, once per distinct inputs.

`relais publish` and `relais train` (make train) both come here: a model
already trained from exactly the same inputs is taken from the model cache
(bot/publish/cache.py) instead of being trained again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from bot.faq.lint import ERROR, lint_pack
from bot.publish.cache import ModelCache, training_key
from bot.publish.fingerprint import training_data
from bot.publish.store import ModelStore

VALIDATE_LINES = 15  # of `rasa data validate` output shown when it fails
LOG_TAIL_LINES = 20  # of the training log shown when training fails


class TrainingError(Exception):
    """The inputs are refused or `rasa train` failed; the message says why."""


@dataclass(frozen=True)
class Project:
    """Where the training inputs, the held-out questions and the models are."""

    root: Path  # config.yml, domain.yml, data/, models/
    pack_dir: Path  # faq/, nlu/, heldout/ (RELAIS_PACK)
    cache_dir: Path | None = None  # trained models by inputs; models/cache/

    @property
    def faq_dir(self) -> Path:
        return self.pack_dir / "faq"

    @property
    def store(self) -> ModelStore:
        return ModelStore(self.root / "models")

    @property
    def cache(self) -> ModelCache:
        return ModelCache(self.cache_dir or self.root / "models" / "cache")

    @property
    def questions(self) -> Path:
        """The pack's held-out questions, never trained on."""
        return self.pack_dir / "heldout"

    @property
    def logs(self) -> Path:
        return self.root / "var" / "publish"

    def data_paths(self) -> list[Path]:
        """What `rasa train` reads: data/ (every crisis), then the pack's own data."""
        return training_data(self.root, self.pack_dir)


@dataclass(frozen=True)
class Trained:
    """A model ready at `path`: trained now, or taken from the cache."""

    path: Path
    seconds: float  # the training's, 0 when reused
    reused_from: datetime | None  # when the reused model was trained


def rasa_command(*args: str | Path) -> list[str]:
    return [str(Path(sys.executable).parent / "rasa"), *(str(arg) for arg in args)]


def rasa_environment() -> dict[str, str]:
    return {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }


def check_inputs(project: Project) -> list[str]:
    """The problems that stop a training: lint errors, then Rasa's validation."""
    return lint_problems(project) or validation_problems(project)


def lint_problems(project: Project) -> list[str]:
    """The FAQ pack's lint errors (a fraction of a second)."""
    return [str(f) for f in lint_pack(project.faq_dir) if f.level == ERROR]


def validation_problems(project: Project) -> list[str]:
    """What `rasa data validate` refuses (15-20 s: it loads Rasa)."""
    data: list[str | Path] = ["--data", *project.data_paths()]
    result = subprocess.run(
        rasa_command(
            "data", "validate", "--fail-on-warnings",
            "--config", project.root / "config.yml",
            "--domain", project.root / "domain.yml",
            *data,
        ),
        cwd=project.root,
        env=rasa_environment(),
        capture_output=True,
        text=True,
    )  # fmt: skip
    if result.returncode == 0:
        return []
    lines = [
        line.strip()
        for line in (result.stdout + result.stderr).splitlines()
        if "warning" in line.lower() or "error" in line.lower()
    ]
    return ["rasa data validate: " + line for line in lines[-VALIDATE_LINES:]] or [
        f"rasa data validate failed (exit {result.returncode})."
    ]


def _rasa_train(project: Project, target: Path, log: Path | None) -> float:
    """Runs `rasa train` into `target`; returns the seconds it took.

    Its output goes to `log`, or to this process's own when None.

    Raises:
        TrainingError: Training failed; the message ends with the log's tail.
    """
    data: list[str | Path] = ["--data", *project.data_paths()]
    command = rasa_command(
        "train",
        "--config", project.root / "config.yml",
        "--domain", project.root / "domain.yml",
        *data,
        "--out", target.parent,
        "--fixed-model-name", target.name.removesuffix(".tar.gz"),
    )  # fmt: skip
    started = time.perf_counter()
    output: IO[str] | None = log.open("w") if log else None
    try:
        result = subprocess.run(
            command,
            cwd=project.root,
            env=rasa_environment(),
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
        )
    finally:
        if output:
            output.close()
    if result.returncode != 0 or not target.is_file():
        if log is None:
            raise TrainingError(f"Training failed (rasa train: {result.returncode}).")
        tail = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        raise TrainingError(
            f"Training failed (log: {log}):\n" + "\n".join("  " + x for x in tail)
        )
    return time.perf_counter() - started


def trained_model(
    project: Project,
    target: Path,
    *,
    log: Path | None = None,
    force: bool = False,
    check: bool = False,
    validated: bool = False,
) -> Trained:
    """Puts at `target` a model of the project's current inputs: the cached
    one when these exact inputs were trained before, else a new one (kept in
    the cache for the next time).

    Args:
        project: What to train from, and where the cache is.
        target: Where the model goes (models/candidates/NAME.tar.gz).
        log: Where `rasa train` writes; this process's output when None.
        force: Train even when the cache has the model.
        check: Lint the pack and validate the data before training (a model
            from the cache passed these checks when it was trained).
        validated: The caller has checked these inputs already: the cache
            notes it, and `Cached.validated` tells a later publish it need
            not validate them again.

    Raises:
        TrainingError: The checks refused the inputs, or training failed.
    """
    key = training_key(project.root, project.pack_dir)
    cache = project.cache
    with cache.training(key):
        cached = None if force else cache.copy(key, target)
        if cached is not None:
            return Trained(target, 0.0, cached.trained_at)
        if check:
            problems = check_inputs(project)
            if problems:
                raise TrainingError("\n".join(problems))
        seconds = _rasa_train(project, target, log)
        cache.put(
            key,
            target,
            {"project": str(project.root), "pack": str(project.pack_dir)},
            validated=check or validated,
        )
    return Trained(target, seconds, None)
