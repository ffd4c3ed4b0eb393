"""What people teach the FAQ comes back as suggestions; only an editor's accept
puts it in the pack (on SQLite and on the PostgreSQL server)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import ActionAnswerFaq
from bot.cli import main
from bot.db import get_session_factory
from bot.faq import load_pack, suggestions
from bot.faq.lint import ERROR, lint_pack
from bot.nlu import encoder
from bot.settings import PROJECT_ROOT, get_settings
from tests.conftest import load_tracker

QUESTION = "c'est dangereux pour un bébé ?"


@pytest.fixture
def pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Path:
    """A copy of the shipped pack that the test may write into."""
    shutil.copytree(PROJECT_ROOT / "packs" / "dairy-recall", tmp_path / "pack")
    monkeypatch.setenv("RELAIS_PACK", str(tmp_path / "pack"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    return tmp_path / "pack"


def record(database_url: str, text: str, topic: str = "symptoms", *,
           conversation: str = "c1", language: str = "fr",
           source: str = suggestions.CLARIFICATION) -> int | None:  # fmt: skip
    with get_session_factory(database_url).begin() as session:
        row = suggestions.record(
            session=session, text=text, topic=topic, language=language,
            source=source, conversation_id=conversation,
        )  # fmt: skip
        return None if row is None else row.id


def pending(database_url: str) -> list[tuple[str, str, int]]:
    with get_session_factory(database_url).begin() as session:
        return [
            (r.text, r.topic, r.asked) for r in suggestions.pending(session=session)
        ]


def test_e_mail_addresses_and_phone_numbers_never_reach_an_editor() -> None:
    assert (
        suggestions.scrub(
            "jean.dupont@gmail.com ou 06 12 34 56 78 / +33 6 12 34 56 78, "
            "lot L26308 du 10/12"
        )
        == "[e-mail] ou [phone] / [phone], lot L26308 du 10/12"
    )


def test_the_same_question_counts_once_per_person(database_url: str) -> None:
    first = record(database_url, QUESTION, conversation="c1")
    assert (
        record(database_url, "C'est  dangereux pour un bébé", conversation="c1")
        == first
    )
    record(database_url, "c'est dangereux pour un BÉBÉ ?!", conversation="c2")
    record(database_url, QUESTION, topic="children", conversation="c3")
    assert sorted(pending(database_url)) == [
        (QUESTION, "children", 1),
        (QUESTION, "symptoms", 2),
    ]


def test_button_payloads_and_stories_are_not_examples(database_url: str) -> None:
    assert record(database_url, '/faq{"faq_topic":"refund"}') is None
    assert record(database_url, "mon histoire " * 40) is None
    assert pending(database_url) == []


def user(
    text: str, intent: str, reason: str | None = None, at: float = 0.0
) -> dict[str, Any]:
    parse = {"intent": {"name": intent}, "gate": {"reason": reason} if reason else {}}
    return {"event": "user", "text": text, "parse_data": parse, "timestamp": at}


REPHRASED = "est-ce que c'est risqué pour mon bébé ?"


@pytest.mark.parametrize(
    ("before", "clicked", "expected"),
    [
        (user(QUESTION, "nlu_fallback", "unsure_faq"), True,
         (QUESTION, suggestions.CLARIFICATION)),
        (user(QUESTION, "nlu_fallback", "unknown_words"), False,
         (QUESTION, suggestions.REPHRASE)),
        (user(QUESTION, "faq"), True, None),  # it was answered already
        (user("Welche Chargen?", "nlu_fallback", "foreign_language"), False, None),
        (user("x " * 600, "nlu_fallback", "too_long"), False, None),
        (user("/request_human", "nlu_fallback", "unsure_intent"), True, None),
    ],
)  # fmt: skip
def test_what_an_answer_learns_from_the_message_before(
    before: dict[str, Any], clicked: bool, expected: tuple[str, str] | None
) -> None:
    answered = user('/faq{"faq_topic":"children"}' if clicked else REPHRASED, "faq")
    events = [before, {"event": "bot", "text": "…"}, answered]
    found = suggestions.learned_from(events, clicked=clicked)
    assert (found[:2] if found else None) == expected


@pytest.mark.parametrize(
    ("declined", "then", "minutes_later", "learned"),
    [
        # The same question in other words, a minute later.
        ("c'est dangereux pour un bébé ?", REPHRASED, 1, True),
        # Issue 28: another question got the answer, not the first one.
        ("c'est dangereux ?", "comment me faire rembourser ?", 1, False),
        # The same words the next morning are a new conversation's question.
        ("c'est dangereux pour un bébé ?", REPHRASED, 12 * 60, False),
    ],
)
def test_a_rephrase_teaches_only_when_it_asks_the_same_thing_soon_after(
    declined: str, then: str, minutes_later: int, learned: bool
) -> None:
    events = [
        user(declined, "nlu_fallback", "unsure_faq", at=1000.0),
        {"event": "bot", "text": "Je ne suis pas sûr…"},
        user(then, "faq", at=1000.0 + 60 * minutes_later),
    ]
    found = suggestions.learned_from(events, clicked=False)
    assert (found[:2] if found else None) == (
        (declined, suggestions.REPHRASE) if learned else None
    )
    if found:  # the evidence an editor is shown
        assert found.evidence == then and 0.5 <= (found.similarity or 0) <= 1


def test_a_rephrase_is_judged_on_the_vectors_rasa_computed() -> None:
    """The action server does not encode again what the Rasa process already
    encoded: the vectors in the parse data decide."""

    def encoding_again(first: str, second: str) -> float:
        raise AssertionError("encoded again in the action server")

    def parsed(text: str, intent: str, reason: str | None = None) -> dict[str, Any]:
        event = user(text, intent, reason)
        event["parse_data"][encoder.PARSE_KEY] = encoder.to_text(
            encoder.encode([text])[0]
        )
        return event

    same = [parsed(QUESTION, "nlu_fallback", "unsure_faq"), parsed(REPHRASED, "faq")]
    other = [
        parsed(QUESTION, "nlu_fallback", "unsure_faq"),
        parsed("comment me faire rembourser ?", "faq"),
    ]
    learned = suggestions.learned_from(same, False, encoding_again)
    assert learned is not None and learned[:2] == (QUESTION, suggestions.REPHRASE)
    assert suggestions.learned_from(other, False, encoding_again) is None


def test_the_question_an_agent_answered_skips_greetings_and_requests() -> None:
    events = [
        user("bonjour", "greet"),
        user(QUESTION, "nlu_fallback", "unsure_faq"),
        user("je veux parler à un humain", "request_human"),
    ]
    assert suggestions.question_before_reply(events) == QUESTION


async def test_a_did_you_mean_click_leaves_a_suggestion(
    pack: Path, database_url: str
) -> None:
    tracker = load_tracker(
        "button_click",
        events=[
            user(QUESTION, "nlu_fallback", "unsure_faq"),
            {"event": "bot", "text": "Je ne suis pas sûr…"},
            user('/faq{"faq_topic":"symptoms"}', "faq"),
        ],
    )
    await ActionAnswerFaq().run(CollectingDispatcher(), tracker, domain={})
    assert pending(database_url) == [(QUESTION, "symptoms", 1)]
    # Nothing reached the pack: only an editor's accept does that.
    assert QUESTION not in load_pack(pack / "faq")["symptoms"].examples["fr"]


def test_accept_writes_the_example_into_the_topic_and_its_language(
    pack: Path, database_url: str
) -> None:
    ids = [
        record(database_url, QUESTION),
        record(database_url, "is it bad for babies", language="en"),
    ]
    with get_session_factory(database_url).begin() as session:
        review = suggestions.accept(
            session=session, faq_dir=pack / "faq", ids=ids, editor="eve"
        )
    assert review.written == {"symptoms": 2} and review.skipped == []
    load_pack.cache_clear()
    topic = load_pack(pack / "faq")["symptoms"]
    assert topic.examples["fr"][-1] == QUESTION
    assert topic.examples["en"][-1] == "is it bad for babies"
    assert not [f for f in lint_pack(pack / "faq") if f.level == ERROR]
    assert pending(database_url) == []


def test_move_to_another_topic_and_skip_what_another_topic_has(
    pack: Path, database_url: str
) -> None:
    moved = record(database_url, QUESTION)
    known = record(database_url, "comment me faire rembourser ?", topic="symptoms")
    with get_session_factory(database_url).begin() as session:
        review = suggestions.accept(
            session=session, faq_dir=pack / "faq", ids=[moved, known], editor="eve",
            topic="children",
        )  # fmt: skip
    assert review.written == {"children": 1}
    assert "already an example of refund" in review.skipped[0]
    load_pack.cache_clear()
    assert QUESTION in load_pack(pack / "faq")["children"].examples["fr"]
    assert pending(database_url) == [("comment me faire rembourser ?", "symptoms", 1)]


def test_a_rejected_suggestion_never_comes_back(database_url: str) -> None:
    first = record(database_url, QUESTION, conversation="c1")
    with get_session_factory(database_url).begin() as session:
        assert suggestions.reject(session=session, ids=[first], editor="eve") == 1
    record(database_url, QUESTION, conversation="c2")
    assert pending(database_url) == []


def test_reviewing_twice_or_an_unknown_id_is_refused(
    pack: Path, database_url: str
) -> None:
    first = record(database_url, QUESTION)
    with get_session_factory(database_url).begin() as session:
        suggestions.reject(session=session, ids=[first], editor="eve")
    for ids in ([first], [999]):
        with (
            pytest.raises(suggestions.SuggestionError),
            get_session_factory(database_url).begin() as session,
        ):
            suggestions.accept(
                session=session, faq_dir=pack / "faq", ids=ids, editor="eve"
            )


def test_a_pack_the_lint_refuses_is_not_written(pack: Path, database_url: str) -> None:
    broken = record(database_url, QUESTION)
    (pack / "faq" / "refund.yml").write_text(
        (pack / "faq" / "refund.yml")
        .read_text("utf-8")
        .replace("lang: en", "lang: fr"),
        "utf-8",
    )
    before = (pack / "faq" / "symptoms.yml").read_text("utf-8")
    refused = pytest.raises(suggestions.SuggestionError, match="nothing was written")
    with refused, get_session_factory(database_url).begin() as session:
        suggestions.accept(
            session=session, faq_dir=pack / "faq", ids=[broken], editor="eve"
        )
    assert (pack / "faq" / "symptoms.yml").read_text("utf-8") == before
    assert pending(database_url) == [(QUESTION, "symptoms", 1)]


def test_the_command_line_lists_by_topic_and_accepts_a_whole_topic(
    pack: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    record(database_url, QUESTION, conversation="c1")
    record(database_url, QUESTION, conversation="c2")
    record(database_url, "et si je suis enceinte", topic="pregnancy")
    assert main(["suggestions", "list"]) == 0
    listing = capsys.readouterr().out
    assert listing.index("symptoms") < listing.index("pregnancy")  # most asked first
    assert QUESTION in listing and "    2  fr" in listing
    assert main(["suggestions", "accept", "--topic", "symptoms", "--agent", "eve"]) == 0
    assert "symptoms: 1 example(s) added" in capsys.readouterr().out
    assert main(["suggestions", "reject", "999", "--agent", "eve"]) == 1
    assert "No suggestion 999" in capsys.readouterr().err
    assert [row[0] for row in pending(database_url)] == ["et si je suis enceinte"]


def test_a_rephrase_is_confirmed_by_a_second_person_or_by_being_very_close(
    database_url: str,
) -> None:
    def row(text: str, conversation: str, similarity: float) -> bool:
        with get_session_factory(database_url).begin() as session:
            found = suggestions.record(
                session=session, text=text, topic="symptoms", language="fr",
                source=suggestions.REPHRASE, conversation_id=conversation,
                evidence=REPHRASED, similarity=similarity,
            )  # fmt: skip
            assert found is not None and found.evidence == REPHRASED
            return found.confirmed

    assert not row(QUESTION, "c1", 0.55)  # one person, fairly similar
    assert row(QUESTION, "c2", 0.52)  # a second person made it too
    assert row("et pour un nourrisson ?", "c3", 0.85)  # very close
    assert record(database_url, "et si bébé en a mangé") is not None  # a click
    with get_session_factory(database_url).begin() as session:
        assert all(r.confirmed for r in suggestions.pending(session=session)[-1:])
