"""How the benchmark scores what the assistant would do with a question."""

from __future__ import annotations

from pathlib import Path

from bot.publish.evaluation import (
    HeldOutQuestion,
    Scores,
    load_questions,
    outcome,
    predicted_answer,
)

COVERED = HeldOutQuestion("comment être remboursé", "faq/refund", "fr")
NOT_COVERED = HeldOutQuestion(
    "mon chien a mangé le pot", "out_of_scope", "out_of_scope"
)


def parse(intent: str, topic: str | None = None) -> dict:
    result: dict = {"intent": {"name": intent, "confidence": 0.9}}
    if topic:
        result["response_selector"] = {
            "faq": {"response": {"intent_response_key": f"faq/{topic}"}}
        }
    return result


def test_faq_answers_are_right_or_wrong_by_topic() -> None:
    assert outcome(COVERED, predicted_answer(parse("faq", "refund"))) == "right"
    assert outcome(COVERED, predicted_answer(parse("faq", "contact"))) == "wrong"


def test_small_talk_instead_of_an_answer_counts_as_wrong() -> None:
    assert outcome(COVERED, predicted_answer(parse("greet"))) == "wrong"


def test_clarifying_or_handing_over_counts_as_declined() -> None:
    for intent in ("nlu_fallback", "out_of_scope", "request_human"):
        assert outcome(COVERED, predicted_answer(parse(intent))) == "declined"
        assert outcome(NOT_COVERED, predicted_answer(parse(intent))) == "caught"


def test_answering_a_question_outside_the_faq_is_not_caught() -> None:
    assert outcome(NOT_COVERED, predicted_answer(parse("faq", "ate_product"))) == (
        "answered"
    )


def test_rates_are_per_group_and_overall() -> None:
    scores = Scores()
    scores.add(COVERED, "right")
    scores.add(HeldOutQuestion("refund?", "faq/refund", "en"), "wrong")
    scores.add(NOT_COVERED, "caught")
    assert scores.rate("fr", "right") == 1.0
    assert scores.rate("in_scope", "right") == 0.5
    assert scores.rate("out_of_scope", "caught") == 1.0
    assert scores.total("in_scope") == 2


def test_rasa_default_pipeline_reports_its_topic_under_default() -> None:
    default_parse = {
        "intent": {"name": "faq", "confidence": 1.0},
        "response_selector": {
            "default": {"response": {"intent_response_key": "faq/refund"}}
        },
    }
    assert outcome(COVERED, predicted_answer(default_parse)) == "right"


def test_an_escalated_question_counts_by_what_the_person_receives() -> None:
    escalated = parse("request_human")
    escalated["escalation"] = {"reason": "health", "priority": "urgent"}
    assert outcome(COVERED, predicted_answer(escalated)) == "declined"
    escalated["escalation"]["faq_topic"] = "refund"  # the answer goes out too
    assert outcome(COVERED, predicted_answer(escalated)) == "right"


def test_a_pack_without_held_out_questions_has_none(tmp_path: Path) -> None:
    (tmp_path / "fr.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: faq/refund\n'
        "  examples: |\n    - rembourser ?\n"
    )
    assert load_questions(tmp_path / "missing") == []
    assert [q.text for q in load_questions(tmp_path)] == ["rembourser ?"]
