"""Trained models kept by what they were trained from: the same inputs are
never trained twice.

`rasa train` reuses parts of a model only from the `.rasa/cache` of the folder
it runs in, and never skips a whole training. A publish trains in a fresh
candidates folder, so a rollback followed by a publish of the same content
trained again for minutes, and so did every test project copied elsewhere.
Here a whole model is kept under a key that covers, byte for byte:

- config.yml, domain.yml and every training file (data/, then the pack's faq/
  and nlu/), each with its place (the order Rasa reads them in);
- the code of Relais' trainable components (bot/nlu/);
- Python's version and those of the libraries that train (Rasa, TensorFlow,
  spaCy and its French model, scikit-learn, NumPy).

Unlike the publish fingerprint (bot/publish/fingerprint.py), which decides
whether a publish needs a new model at all, nothing is left out: a reworded
answer is another key, since the topic model reads the answers.

    models/cache/<key>.tar.gz   the newest KEEP_CACHED models (RELAIS_MODEL_CACHE
                                moves the folder: several projects can share it)
    models/cache/<key>.lock     held while that model trains: a second training
                                of the same inputs waits, then reuses it
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from bot.publish.fingerprint import COMPONENT_CODE, training_data
from bot.publish.store import StoreError, model_id

KEEP_CACHED = 12  # about 25 MB each for a 30-topic pack
# What a model's weights depend on beyond its inputs.
TRAINING_LIBRARIES = (
    "rasa",
    "tensorflow",
    "spacy",
    "thinc",
    "fr_core_news_md",
    "scikit-learn",
    "numpy",
)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def training_key(project: Path, pack_dir: Path, config: Path | None = None) -> str:
    """A hex SHA-256 of everything a training reads (see the module's text).

    Args:
        project: The folder holding config.yml, domain.yml and data/.
        pack_dir: The crisis pack (faq/, nlu/).
        config: Another configuration than project/config.yml.

    Raises:
        OSError: A file cannot be read.
    """
    digest = hashlib.sha256()

    def add(label: str, content: bytes) -> None:
        digest.update(f"{label}\0{len(content)}\0".encode())
        digest.update(content)

    add("python", sys.version.encode())
    for name in TRAINING_LIBRARIES:
        add(f"library:{name}", _version(name).encode())
    add("config.yml", (config or project / "config.yml").read_bytes())
    add("domain.yml", (project / "domain.yml").read_bytes())
    for position, root in enumerate(training_data(project, pack_dir)):
        for path in sorted(root.rglob("*.yml")):
            add(f"data:{position}:{path.relative_to(root)}", path.read_bytes())
    for path in sorted(COMPONENT_CODE.glob("*.py")):
        add(f"code:{path.name}", path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Cached:
    """A model found in the cache."""

    path: Path
    trained_at: datetime  # when it was trained (UTC)
    # Its inputs passed the pack's lint and `rasa data validate` before it
    # was trained (the key covers every input and Rasa's version).
    validated: bool = False


@dataclass(frozen=True)
class ModelCache:
    root: Path

    def _model(self, key: str) -> Path:
        return self.root / f"{key}.tar.gz"

    def find(self, key: str) -> Cached | None:
        """The model trained for `key`, if it is kept and readable.

        A damaged file (a disk that filled up, a copy cut short) is removed
        and reported as missing: the caller trains again.
        """
        path = self._model(key)
        if not path.is_file():
            return None
        try:
            model_id(path)
        except StoreError:
            path.unlink(missing_ok=True)
            return None
        validated = False
        try:
            about = json.loads((self.root / f"{key}.json").read_text("utf-8"))
            trained_at = datetime.fromisoformat(about["trained_at"])
            validated = about.get("validated") is True
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            trained_at = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        os.utime(path)  # recently used: pruned last
        return Cached(path, trained_at, validated)

    def copy(self, key: str, target: Path) -> Cached | None:
        """Puts the model trained for `key` at `target` (atomically); None
        when there is none."""
        cached = self.find(key)
        if cached is None:
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.{os.getpid()}.staging")
        shutil.copyfile(cached.path, staging)
        os.replace(staging, target)
        return cached

    def put(
        self, key: str, model: Path, about: dict[str, str], *, validated: bool
    ) -> Path:
        """Keeps a copy of `model` as the one trained for `key`.

        `about` (what it was trained from, for people) goes beside it, with
        the time and whether its inputs were validated before the training.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._model(key)
        staging = path.with_name(f".{path.name}.{os.getpid()}.staging")
        shutil.copyfile(model, staging)
        os.replace(staging, path)
        (self.root / f"{key}.json").write_text(
            json.dumps(
                {
                    **about,
                    "trained_at": datetime.now(timezone.utc).isoformat(),
                    "validated": validated,
                },
                indent=2,
                sort_keys=True,
            ),
            encoding="utf-8",
        )
        self.prune()
        return path

    @contextmanager
    def training(self, key: str) -> Iterator[None]:
        """Held while the model for `key` trains: another process that trains
        the same inputs waits here, then finds it in the cache."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / f"{key}.lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def prune(self, keep: int = KEEP_CACHED) -> list[str]:
        """Removes all but the `keep` most recently used models; their names."""
        models = sorted(
            self.root.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        removed = []
        for path in models[keep:]:
            path.unlink(missing_ok=True)
            path.with_suffix("").with_suffix(".json").unlink(missing_ok=True)
            removed.append(path.name)
        return removed
