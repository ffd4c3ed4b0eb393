"""The crisis profile: every shipped pack has a valid one, and a bad one is named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.profile import ProfileError, load_profile
from bot.settings import PROJECT_ROOT, SettingsError, load_settings
from tests.conftest import TEST_ENVIRONMENT

PACKS = sorted(path for path in (PROJECT_ROOT / "packs").iterdir() if path.is_dir())


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    shutil.copytree(PROJECT_ROOT / "packs" / "dairy-recall", tmp_path / "pack")
    return tmp_path / "pack"


@pytest.mark.parametrize("pack_dir", PACKS, ids=lambda path: path.name)
def test_every_shipped_pack_has_a_profile_in_both_languages(pack_dir: Path) -> None:
    profile = load_profile(pack_dir)
    for language in ("fr", "en"):
        values = profile.placeholders(language)
        assert all(values.values()), values
        assert profile.emergency("health", language)
        assert profile.emergency("self_harm", language)
    assert profile.about["fr"] != profile.about["en"]


def test_the_pack_setting_selects_the_profile(pack: Path) -> None:
    profile = pack / "profile.yml"
    profile.write_text(
        profile.read_text("utf-8").replace("brand: Montval", "brand: Laiterie Test"),
        "utf-8",
    )
    settings = load_settings({**TEST_ENVIRONMENT, "RELAIS_PACK": str(pack)})
    assert settings.profile.brand == "Laiterie Test"
    assert settings.faq_dir == pack / "faq"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("brand: Montval", "brand: ''", "brand is missing"),
        ("email: rappel@montval.fr", "email: rappel", "contact.email 'rappel' is not"),
        ("  en: the Montval fresh cheese recall\n", "", "about.en is missing"),
        ("about:\n", "about: le rappel\nold_about:\n", "about needs a French and an"),
        ("brand: Montval", "brand: Montval\nupdates_button: 2", "updates_button 2"),
    ],
)
def test_a_bad_profile_is_named_field_by_field(
    pack: Path, old: str, new: str, message: str
) -> None:
    profile = pack / "profile.yml"
    text = profile.read_text("utf-8")
    assert old in text
    profile.write_text(text.replace(old, new, 1), "utf-8")
    with pytest.raises(ProfileError, match=message):
        load_profile(pack)


def test_a_pack_without_a_profile_stops_start_up_with_a_message(pack: Path) -> None:
    (pack / "profile.yml").unlink()
    with pytest.raises(SettingsError, match=r"profile\.yml is missing"):
        load_settings({**TEST_ENVIRONMENT, "RELAIS_PACK": str(pack)})


def test_the_environment_overrides_the_profiles_team_hours(pack: Path) -> None:
    without = {
        k: v for k, v in TEST_ENVIRONMENT.items() if not k.startswith("RELAIS_TEAM")
    }
    settings = load_settings({**without, "RELAIS_PACK": str(pack)})
    assert f"{settings.team_opens:%H:%M}-{settings.team_closes:%H:%M}" == "08:00-20:00"
    overridden = load_settings({**without, "RELAIS_TEAM_HOURS": "09:00-17:00"})
    assert f"{overridden.team_opens:%H:%M}" == "09:00"


def test_nothing_in_domain_or_code_names_a_shipped_brand() -> None:
    brands = [
        load_profile(pack).brand.lower()
        for pack in (PROJECT_ROOT / "packs").iterdir()
        if pack.is_dir()
    ]
    files = [PROJECT_ROOT / "domain.yml", *(PROJECT_ROOT / "data").rglob("*.yml")]
    for folder in ("bot", "actions"):
        files += [
            path
            for path in (PROJECT_ROOT / folder).rglob("*")
            if path.suffix in (".py", ".html", ".js", ".yml")
        ]
    named = [
        f"{path.relative_to(PROJECT_ROOT)}: {brand}"
        for path in files
        for brand in brands
        if brand in path.read_text("utf-8").lower()
    ]
    assert named == []


def test_responses_sent_without_the_actions_hold_no_placeholder() -> None:
    # The console sends these as they are (bot/handoff/agent.py reads the
    # domain's text): a {placeholder} would reach the person literally.
    from bot.handoff.agent import CLOSING_RESPONSE

    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text("utf-8"))
    for variation in domain["responses"][CLOSING_RESPONSE]:
        assert "{" not in variation["text"], variation


@pytest.mark.parametrize(
    ("written", "target"), [(None, 0.03), ("1 %", 0.01), ("2%", 0.02), (0.01, 0.01)]
)
def test_a_brand_may_choose_a_stricter_wrong_answer_target(
    pack: Path, written: object, target: float
) -> None:
    profile = pack / "profile.yml"
    if written is not None:
        content = yaml.safe_load(profile.read_text("utf-8"))
        profile.write_text(
            yaml.safe_dump({**content, "wrong_answers_at_most": written}), "utf-8"
        )
    assert load_profile(pack).wrong_answers_at_most == target


def test_a_target_the_gate_is_not_calibrated_for_is_refused(pack: Path) -> None:
    profile = pack / "profile.yml"
    profile.write_text(
        profile.read_text("utf-8") + "wrong_answers_at_most: 5 %\n", "utf-8"
    )
    with pytest.raises(ProfileError, match="must be one of 1%, 2%, 3%"):
        load_profile(pack)
