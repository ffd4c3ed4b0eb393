"""The model cache: the same inputs are never trained twice, other inputs always are."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.publish.cache import ModelCache, training_key
from bot.publish.store import model_id
from bot.settings import PROJECT_ROOT
from tests.projects import SHARED_CACHE
from tests.test_publish import edit

OUTAGE_MODEL = PROJECT_ROOT / "models" / "pack-network-outage.tar.gz"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    for name in ("config.yml", "domain.yml"):
        shutil.copy(PROJECT_ROOT / name, root / name)
    shutil.copytree(PROJECT_ROOT / "data", root / "data")
    shutil.copytree(PROJECT_ROOT / "packs" / "dairy-recall", root / "pack")
    return root


def key(root: Path) -> str:
    return training_key(root, root / "pack")


def test_the_same_inputs_anywhere_are_the_same_model(
    project: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(project, elsewhere)
    assert key(elsewhere) == key(project)


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        # A reworded answer needs no new model to be sent, but a model trained
        # now would read it: not the same inputs.
        ("pack/faq/refund.yml", "remboursé intégralement", "remboursé en entier"),
        ("config.yml", "epochs: 60", "epochs: 61"),
        ("domain.yml", "utter_greet:", "utter_greet_new:"),
    ],
)
def test_any_change_to_what_rasa_reads_is_another_model(
    project: Path, file: str, old: str, new: str
) -> None:
    before = key(project)
    edit(project / file, old, new)
    assert key(project) != before


def test_a_damaged_cached_model_is_trained_again(tmp_path: Path) -> None:
    cache = ModelCache(tmp_path / "cache")
    cache.root.mkdir()
    (cache.root / "abc.tar.gz").write_bytes(b"cut short by a full disk")
    assert cache.copy("abc", tmp_path / "relais.tar.gz") is None
    assert not (cache.root / "abc.tar.gz").exists()
    assert not (tmp_path / "relais.tar.gz").exists()


def test_the_least_recently_used_models_go_first(tmp_path: Path) -> None:
    cache = ModelCache(tmp_path / "cache")
    cache.root.mkdir()
    for age, name in enumerate(["old", "used", "new"]):
        path = cache.root / f"{name}.tar.gz"
        path.write_bytes(b"x")
        os.utime(path, (time.time() - 100 + age, time.time() - 100 + age))
    os.utime(cache.root / "old.tar.gz")  # used just now
    assert cache.prune(keep=2) == ["used.tar.gz"]


@pytest.mark.e2e
def test_only_inputs_validated_before_training_skip_validation_next_time(
    tmp_path: Path,
) -> None:
    """A publish skips `rasa data validate` for a cached model only when its
    inputs were validated before it was trained."""
    cache = ModelCache(tmp_path / "cache")
    cache.put("checked", OUTAGE_MODEL, {}, validated=True)
    cache.put("unchecked", OUTAGE_MODEL, {}, validated=False)
    checked, unchecked = cache.find("checked"), cache.find("unchecked")
    assert checked is not None and checked.validated
    assert unchecked is not None and not unchecked.validated
    # A cache written before the flag existed: validated again.
    (cache.root / "checked.json").write_text('{"trained_at": "2026-12-01T10:00:00"}')
    older = cache.find("checked")
    assert older is not None and not older.validated


@pytest.mark.e2e
def test_relais_train_reuses_the_model_make_trained(tmp_path: Path) -> None:
    """make test trains models/pack-network-outage.tar.gz with relais train:
    the same command for the same pack copies it, in about a second."""
    out = tmp_path / "outage.tar.gz"
    result = subprocess.run(
        [str(Path(sys.executable).parent / "relais"), "train",
         "--pack", "packs/network-outage", "--out", str(out)],
        env={**os.environ, "RELAIS_MODEL_CACHE": str(SHARED_CACHE)},
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Reused the model trained from exactly these inputs" in result.stdout
    assert model_id(out) == model_id(OUTAGE_MODEL)


@pytest.mark.slow
def test_relais_train_names_what_is_wrong(tmp_path: Path) -> None:
    relais = str(Path(sys.executable).parent / "relais")
    not_a_pack = subprocess.run(
        [relais, "train", "--pack", str(tmp_path)], capture_output=True, text=True
    )
    assert not_a_pack.returncode == 2
    assert "is not a pack: it has no faq/ folder" in not_a_pack.stderr
    bad_out = subprocess.run(
        [relais, "train", "--out", "models/relais"], capture_output=True, text=True
    )
    assert bad_out.returncode == 2
    assert "--out must name a .tar.gz file" in bad_out.stderr
