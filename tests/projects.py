"""Projects for the tests that edit a pack, train and publish, as an editor would.

`copy_project` copies the shipped project with its trained model (what
`make train` made). `copy_small_project` makes the project of the tests that
must see a model trained, checked and loaded for real: the dairy pack cut to a
few topics, DIET on a few epochs (a test configuration made from config.yml),
so each training takes seconds, not minutes. Its starting model comes from the
shared model cache (models/cache/): trained once per distinct inputs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from bot.publish.training import Project, trained_model
from bot.settings import PROJECT_ROOT

MODEL = PROJECT_ROOT / "models" / "relais.tar.gz"
# Every test run shares it with `make train`, and it stays between runs.
SHARED_CACHE = PROJECT_ROOT / "models" / "cache"
# The topics the publish tests ask about, and a few neighbours to tell apart.
SMALL_TOPICS = (
    "lot_numbers",
    "refund",
    "vulnerable_people",
    "pregnancy",
    "symptoms",
    "what_to_do",
    "find_lot_number",
    "affected_products",
)
FULL_EPOCHS, TEST_EPOCHS = "epochs: 60", "epochs: 20"


class ProjectError(RuntimeError):
    """The project cannot be made; the message says why."""


def copy_project(target: Path) -> Path:
    """A copy of what `relais publish` works on, to edit as an editor would:
    config.yml, domain.yml, data/, packs/ and the trained model."""
    if not MODEL.exists():
        raise ProjectError(f"{MODEL} is missing: run `make train` (make test does it).")
    for name in ("config.yml", "domain.yml"):
        shutil.copy(PROJECT_ROOT / name, target / name)
    shutil.copytree(PROJECT_ROOT / "data", target / "data")
    shutil.copytree(PROJECT_ROOT / "packs", target / "packs")
    (target / "models").mkdir()
    shutil.copy(MODEL, target / "models" / MODEL.name)
    return target


def _keep_held_out_of(path: Path, topics: set[str]) -> None:
    content = yaml.safe_load(path.read_text("utf-8"))
    content["nlu"] = [
        block
        for block in content["nlu"]
        if not str(block["intent"]).startswith("faq/")
        or str(block["intent"]).removeprefix("faq/") in topics
    ]
    path.write_text(yaml.safe_dump(content, allow_unicode=True), "utf-8")


def copy_small_project(target: Path) -> Path:
    """The dairy pack cut to SMALL_TOPICS, config.yml on TEST_EPOCHS, and its
    model in models/relais.tar.gz (from the shared cache, else trained)."""
    shutil.copy(PROJECT_ROOT / "domain.yml", target / "domain.yml")
    config = (PROJECT_ROOT / "config.yml").read_text("utf-8")
    if FULL_EPOCHS not in config:
        raise ProjectError(f"config.yml no longer says {FULL_EPOCHS!r}: update me.")
    (target / "config.yml").write_text(
        config.replace(FULL_EPOCHS, TEST_EPOCHS), "utf-8"
    )
    shutil.copytree(PROJECT_ROOT / "data", target / "data")
    pack = target / "packs" / "dairy-recall"
    shutil.copytree(
        PROJECT_ROOT / "packs" / "dairy-recall",
        pack,
        ignore=lambda folder, names: [
            name
            for name in names
            if Path(folder).name == "faq" and Path(name).stem not in SMALL_TOPICS
        ],
    )
    for language in ("fr", "en"):
        _keep_held_out_of(pack / "heldout" / f"{language}.yml", set(SMALL_TOPICS))
    (target / "models").mkdir()
    project = Project(target, pack, SHARED_CACHE)
    project.logs.mkdir(parents=True)
    trained_model(
        project, target / "models" / MODEL.name, log=project.logs / "train.log"
    )
    return target
