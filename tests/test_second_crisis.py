"""A second crisis runs from its pack alone: the network-outage example.

The same domain.yml, rules and Python as the dairy recall; only RELAIS_PACK
differs. Real Rasa server and action server on the pack's own model
(`make test` trains models/pack-network-outage.tar.gz), over REST.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import requests

from bot.db import upgrade
from bot.faq import load_pack
from bot.profile import load_profile
from bot.settings import PROJECT_ROOT
from tests.conftest import TEST_ENVIRONMENT
from tests.servers import ServerError, running_relais

pytestmark = pytest.mark.e2e

TOKEN = "outage-token"
OUTAGE = PROJECT_ROOT / "packs" / "network-outage"
MODEL = PROJECT_ROOT / "models" / "pack-network-outage.tar.gz"
PACK = load_pack(OUTAGE / "faq")
PROFILE = load_profile(OUTAGE)
# Words of the other shipped crisis that must never reach this one's public.
DAIRY_WORDS = ("Montval", "fromage", "cheese", "SAMU", "antipoison", "rappel@")


@pytest.fixture(scope="module")
def rasa_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("outage")
    database_url = f"sqlite:///{work / 'relais.db'}"
    upgrade(database_url)
    env = {
        **os.environ,
        **TEST_ENVIRONMENT,
        "RASA_TOKEN": TOKEN,
        "RASA_TELEMETRY_ENABLED": "false",
        "DATABASE_URL": database_url,
        "RELAIS_SPOOL_DIR": str(work / "spool"),
        "RELAIS_PACK": str(OUTAGE),
    }
    try:
        with running_relais(work, env, TOKEN, model=MODEL) as url:
            yield url
    except ServerError as error:
        pytest.fail(str(error))


def ask(url: str, *messages: str) -> list[str]:
    """One new person sends `messages`; returns every text the bot sent back."""
    sender, texts = f"outage-{uuid.uuid4().hex[:8]}", []
    for message in messages:
        response = requests.post(
            f"{url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
            timeout=120,
        )
        assert response.status_code == 200, response.text
        texts += [reply.get("text", "") for reply in response.json()]
    return texts


def test_the_greeting_names_this_brand_and_this_crisis(rasa_url: str) -> None:
    [french] = ask(rasa_url, "bonjour")
    assert "Orvia" in french and PROFILE.about["fr"] in french
    [english] = ask(rasa_url, "hello there")
    assert "Orvia" in english and PROFILE.covers["en"] in english
    assert not any(word in french + english for word in DAIRY_WORDS)


def test_questions_get_this_packs_answers_in_both_languages(rasa_url: str) -> None:
    assert ask(rasa_url, "quand est-ce que le réseau sera rétabli ?") == [
        PACK["restoration"].answers["fr"]
    ]
    assert ask(rasa_url, "can I still call 112 during the outage?") == [
        PACK["emergency_calls"].answers["en"]
    ]


def test_out_of_scope_gives_this_crisis_and_its_contacts(rasa_url: str) -> None:
    [reply] = ask(rasa_url, "raconte moi une blague")
    assert PROFILE.about["fr"] in reply
    assert PROFILE.phone in reply and PROFILE.email in reply


def test_a_person_in_danger_gets_this_crisis_emergency_guidance(
    rasa_url: str,
) -> None:
    replies = ask(
        rasa_url, "mon père a fait un malaise et je n'arrive pas à appeler les secours"
    )
    assert replies[0] == PROFILE.emergency("health", "fr")
    assert "112" in replies[0]
    assert not any(word in " ".join(replies) for word in DAIRY_WORDS)
