"""Every shipped pack lints clean, its training data passes Rasa's
validation, and its conversation tests (packs/*/tests/stories.yml) pass on its
own model.

The same checks as `make validate` and `make test-stories`, run as tests so
that they share the two cores with the others under `make test`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.faq.lint import ERROR, lint_pack
from bot.publish.fingerprint import training_data
from bot.settings import PROJECT_ROOT

PACKS = sorted(path for path in (PROJECT_ROOT / "packs").iterdir() if path.is_dir())
RASA = str(Path(sys.executable).parent / "rasa")


def model_of(pack: Path) -> Path:
    """make test trains models/pack-NAME.tar.gz for every pack but the
    selected one, whose model is models/relais.tar.gz."""
    own = PROJECT_ROOT / "models" / f"pack-{pack.name}.tar.gz"
    if own.is_file():
        return own
    live = PROJECT_ROOT / "models" / "relais.tar.gz"
    selected = PROJECT_ROOT / "models" / "relais.pack"
    if (
        live.is_file()
        and selected.is_file()
        and Path(selected.read_text().strip()).name == pack.name
    ):
        return live
    pytest.fail(f"No model of {pack.name}: run `make train` (make test does it).")


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RASA, *(str(arg) for arg in args)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("pack", PACKS, ids=lambda pack: pack.name)
def test_the_pack_lints_without_errors(pack: Path) -> None:
    assert [str(f) for f in lint_pack(pack / "faq") if f.level == ERROR] == []


@pytest.mark.slow
@pytest.mark.parametrize("pack", PACKS, ids=lambda pack: pack.name)
def test_the_training_data_validates_without_warnings(pack: Path) -> None:
    result = _run(
        "data", "validate", "--fail-on-warnings",
        "--data", *training_data(PROJECT_ROOT, pack),
    )  # fmt: skip
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


@pytest.mark.e2e
@pytest.mark.parametrize("pack", PACKS, ids=lambda pack: pack.name)
def test_the_conversation_tests_pass_on_the_packs_model(
    pack: Path, tmp_path: Path
) -> None:
    result = _run(
        "test", "core",
        "--model", model_of(pack),
        "--stories", pack / "tests" / "stories.yml",
        "--fail-on-prediction-errors",
        "--out", tmp_path,
    )  # fmt: skip
    failed = tmp_path / "failed_test_stories.yml"
    assert result.returncode == 0, (
        failed.read_text() if failed.is_file() else result.stdout + result.stderr
    )[-3000:]
