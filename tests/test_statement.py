"""The official holding statement: versions, start of conversations, "what's up?"."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import ActionAnswerFaq
from actions.session import ActionSessionStart
from bot.cli import main
from bot.db import get_session_factory
from bot.faq import load_pack
from bot.faq import statement as statements
from bot.settings import PROJECT_ROOT, get_settings
from tests.conftest import load_tracker

PACK = load_pack(PROJECT_ROOT / "packs" / "dairy-recall" / "faq")
NOON = datetime(2026, 11, 27, 13, 0, tzinfo=timezone.utc)  # 14:00 in Paris


@pytest.fixture
def database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    return database_url


def publish(url: str, fr: str = "Texte officiel.", en: str = "Official text.") -> None:
    with get_session_factory(url).begin() as session:
        statements.publish_statement(
            session=session, text_fr=fr, text_en=en, author="camille", now=NOON
        )


async def texts(action, tracker) -> list[str]:  # type: ignore[no-untyped-def]
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, tracker, {})
    return [message["text"] for message in dispatcher.messages if message["text"]]


def test_every_version_is_kept_and_only_the_last_is_active(database: str) -> None:
    publish(database, "Première version.", "First version.")
    publish(database, "Deuxième version.", "Second version.")
    with get_session_factory(database).begin() as session:
        active = statements.active_statement(session=session)
        assert active.text_fr == "Deuxième version."
        history = statements.statement_history(session=session)
        assert [(s.text_fr, s.cleared_at is None) for s in history] == [
            ("Deuxième version.", True),
            ("Première version.", False),
        ]
        statements.clear_statement(session=session, author="camille")
        assert statements.active_statement(session=session) is None
    with (
        get_session_factory(database).begin() as session,
        pytest.raises(statements.StatementError, match="The English text is empty"),
    ):
        statements.publish_statement(session=session, text_fr="x", text_en=" ",
                                     author="camille")  # fmt: skip


async def test_conversations_start_with_the_statement_in_their_language(
    database: str,
) -> None:
    tracker = load_tracker("handoff_fr", slots={"language": "en"})
    assert await texts(ActionSessionStart(), tracker) == []
    publish(database)
    assert await texts(ActionSessionStart(), tracker) == [
        "Official statement from Montval, published on 27/11/2026 at 14:00:\n"
        "Official text."
    ]


async def test_what_is_going_on_gets_the_statement_then_the_faq(database: str) -> None:
    publish(database)
    tracker = load_tracker(
        "faq_question_fr",
        latest_message={"entities": [{"entity": "faq_topic", "value": "situation"}]},
    )
    sent = await texts(ActionAnswerFaq(), tracker)
    intro = "Communiqué officiel de Montval, publié le 27/11/2026 à 14:00 :"
    assert sent == [f"{intro}\nTexte officiel.", PACK["situation"].answers["fr"]]


async def test_no_database_no_statement_but_the_conversation_starts() -> None:
    # This test's DATABASE_URL has no tables: nothing to show, nothing breaks.
    tracker = load_tracker("handoff_fr")
    assert await texts(ActionSessionStart(), tracker) == []


def test_the_command_line(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["statement", "set", "--fr", "Texte.", "--en", "Text.",
                 "--agent", "camille"]) == 0  # fmt: skip
    assert "published" in capsys.readouterr().out
    assert main(["statement", "show"]) == 0
    assert "ACTIVE" in capsys.readouterr().out
    assert main(["statement", "clear", "--agent", "camille"]) == 0
    assert main(["statement", "show"]) == 0
    assert "withdrawn" in capsys.readouterr().out
    assert main(["statement", "set", "--fr", "", "--en", "x"]) == 1
