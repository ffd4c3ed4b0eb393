"""What the model learns from, reduced to one hash: retrain only when it changes.

The hash covers config.yml, domain.yml, every training file (data/ and the
pack's faq/ and nlu/) and
the code of Relais' own NLU components, minus the texts of the FAQ answers
(sent from the files at run time) and the topic metadata editors keep for
themselves (title, owner, review-by date, enabled). A topic's language stays
in: the components read it.

The topic model also learns from the answers' sentences and the titles (they
help most when a topic has few examples), but a reworded answer alone does
not call for a new model: the person already gets the new text, and the next
publish that trains for another reason (a new example, a new topic) learns
from it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from bot.faq.pack import RETRIEVAL_INTENT

# Topic metadata the model reads; the rest is for editors only.
TRAINED_METADATA = ("lang",)
FAQ_RESPONSE_PREFIX = f"utter_{RETRIEVAL_INTENT}/"
COMPONENT_CODE = Path(__file__).resolve().parent.parent / "nlu"


def training_data(project: Path, pack_dir: Path) -> list[Path]:
    """What `rasa train` reads: data/ (greetings, rules, generic off-topic
    questions: every crisis), then the pack's FAQ and its own nlu/."""
    paths = [project / "data", pack_dir / "faq"]
    if (pack_dir / "nlu").is_dir():
        paths.append(pack_dir / "nlu")
    return paths


def training_files(project: Path, pack_dir: Path) -> list[Path]:
    """Every training data file of `training_data`."""
    return sorted(
        {
            file
            for path in training_data(project, pack_dir)
            for file in path.rglob("*.yml")
        }
    )


def _without_editor_fields(content: Any) -> Any:
    """A training file as the model sees it."""
    if not isinstance(content, dict):
        return content
    trimmed = dict(content)
    blocks = []
    for block in trimmed.get("nlu") or []:
        if isinstance(block, dict) and isinstance(block.get("metadata"), dict):
            metadata = {
                key: value
                for key, value in block["metadata"].items()
                if key in TRAINED_METADATA
            }
            block = {**block, "metadata": metadata}
        blocks.append(block)
    if blocks:
        trimmed["nlu"] = blocks
    responses = trimmed.get("responses")
    if isinstance(responses, dict):
        # FAQ answers are read from the files when sent: only their names
        # matter to the model (each topic needs one).
        trimmed["responses"] = {
            name: None if str(name).startswith(FAQ_RESPONSE_PREFIX) else variations
            for name, variations in responses.items()
        }
    return trimmed


def training_fingerprint(project: Path, pack_dir: Path) -> str:
    """A hex SHA-256 that changes exactly when a retrain could change the model.

    Args:
        project: The folder holding config.yml, domain.yml and data/.
        pack_dir: The crisis pack (faq/, nlu/), usually under project/packs/.

    Raises:
        OSError, yaml.YAMLError: A file cannot be read; lint reports these first.
    """
    from rasa.version import __version__ as rasa_version

    parts: dict[str, Any] = {"rasa": rasa_version}
    for name in ("config.yml", "domain.yml"):
        parts[name] = yaml.safe_load((project / name).read_text("utf-8"))
    for path in training_files(project, pack_dir):
        content = yaml.safe_load(path.read_text("utf-8"))
        key = path.relative_to(project) if path.is_relative_to(project) else path.name
        parts[f"data:{key}"] = _without_editor_fields(content)
    for path in sorted(COMPONENT_CODE.glob("*.py")):
        parts[f"code:{path.name}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    canonical = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
