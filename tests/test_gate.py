"""The confidence gate answers only when sure of one specific FAQ topic."""

from __future__ import annotations

from typing import Any

from bot.nlu.gate import (
    MAX_MESSAGE_LENGTH,
    MessageFacts,
    Thresholds,
    decide,
    rating_like,
)

THRESHOLDS = Thresholds(
    intent_threshold=0.5, intent_margin=0.1, faq_threshold=0.5, faq_margin=0.1
)
PLAIN = MessageFacts(length=30, word_count=5, known_word_share=1.0, foreign=False)


def ranking(*pairs: tuple[str, float]) -> list[dict[str, Any]]:
    return [{"name": name, "confidence": confidence} for name, confidence in pairs]


def selector(*pairs: tuple[str, float]) -> dict[str, Any]:
    return {
        "faq": {
            "ranking": [
                {"intent_response_key": f"faq/{topic}", "confidence": confidence}
                for topic, confidence in pairs
            ]
        }
    }


def test_confident_faq_is_answered() -> None:
    decision = decide(
        intent_ranking=ranking(("faq", 0.98), ("greet", 0.01)),
        response_selector=selector(("refund", 0.9), ("refund_no_receipt", 0.05)),
        message=PLAIN,
        thresholds=THRESHOLDS,
    )
    assert decision.answer
    assert decision.candidates[0] == "refund"


def test_sure_it_is_a_faq_but_not_which_one_asks() -> None:
    # The case Rasa's FallbackClassifier lets through: intent `faq` at 0.99.
    decision = decide(
        intent_ranking=ranking(("faq", 0.99), ("greet", 0.01)),
        response_selector=selector(
            ("refund", 0.45), ("refund_no_receipt", 0.40), ("online_orders", 0.1)
        ),
        message=PLAIN,
        thresholds=THRESHOLDS,
    )
    assert not decision.answer
    assert decision.reason == "unsure_faq"
    assert decision.candidates == ["refund", "refund_no_receipt", "online_orders"]


def test_two_close_topics_ask_even_when_the_best_is_above_threshold() -> None:
    decision = decide(
        intent_ranking=ranking(("faq", 0.99)),
        response_selector=selector(("symptoms", 0.52), ("ate_product", 0.47)),
        message=PLAIN,
        thresholds=THRESHOLDS,
    )
    assert not decision.answer
    assert decision.reason == "unsure_faq"


def test_unsure_intent_asks() -> None:
    decision = decide(
        intent_ranking=ranking(("greet", 0.45), ("faq", 0.40)),
        response_selector=selector(("situation", 0.3), ("contact", 0.2)),
        message=PLAIN,
        thresholds=THRESHOLDS,
    )
    assert not decision.answer
    assert decision.reason == "unsure_intent"


def test_confident_small_talk_passes_without_looking_at_topics() -> None:
    decision = decide(
        intent_ranking=ranking(("thanks", 0.97), ("goodbye", 0.02)),
        response_selector=selector(("contact", 0.2), ("refund", 0.19)),
        message=PLAIN,
        thresholds=THRESHOLDS,
    )
    assert decision.answer


def test_weak_topics_are_not_offered_as_buttons() -> None:
    decision = decide(
        intent_ranking=ranking(("faq", 0.6), ("out_of_scope", 0.4)),
        response_selector=selector(("cause", 0.95), ("timeline", 0.04), ("x", 0.01)),
        message=PLAIN,
        thresholds=THRESHOLDS,
    )
    assert decision.candidates == ["cause", "timeline"]


def test_messages_no_model_should_guess_at() -> None:
    confident = {
        "intent_ranking": ranking(("faq", 1.0)),
        "response_selector": selector(("situation", 1.0)),
        "thresholds": THRESHOLDS,
    }
    cases = {
        "no_words": MessageFacts(
            length=4, word_count=0, known_word_share=0.0, foreign=False
        ),
        "foreign_language": MessageFacts(
            length=40, word_count=5, known_word_share=0.2, foreign=True
        ),
        "too_long": MessageFacts(
            length=MAX_MESSAGE_LENGTH + 1,
            word_count=200,
            known_word_share=0.9,
            foreign=False,
        ),
        "unknown_words": MessageFacts(
            length=20, word_count=2, known_word_share=0.0, foreign=False
        ),
    }
    for reason, facts in cases.items():
        decision = decide(message=facts, **confident)  # type: ignore[arg-type]
        assert (decision.answer, decision.reason) == (False, reason)


def _pack_selector(
    limits: tuple[float, float], *pairs: tuple[str, float], offer: float | None = None
) -> dict[str, Any]:
    derived = selector(*pairs)
    derived["faq"]["threshold"] = {"confidence": limits[0], "margin": limits[1]}
    if offer is not None:
        derived["faq"]["threshold"]["offer"] = offer
    return derived


def test_a_pack_with_low_derived_limits_answers_what_fixed_limits_declined() -> None:
    """48 topics with three examples each: the right topic leads, with 0.3."""
    facts = {
        "intent_ranking": ranking(("faq", 0.95), ("greet", 0.02)),
        "response_selector": _pack_selector(
            (0.3, 0.2), ("refund", 0.35), ("lots", 0.05)
        ),
        "message": PLAIN,
    }
    fixed = decide(**facts, thresholds=THRESHOLDS)
    derived = decide(**facts, thresholds=Thresholds())
    assert (fixed.answer, fixed.reason) == (False, "unsure_faq")
    assert derived.answer
    assert derived.topic == {
        "confidence": 0.35,
        "margin": 0.35 - 0.05,
        "needed_confidence": 0.3,
        "needed_margin": 0.2,
        "offered_from": 0.3,  # a model from before `offer`: nothing more offered
        "limits_from": "pack",
    }


def test_a_lead_below_the_packs_margin_is_declined_and_says_why() -> None:
    decision = decide(
        intent_ranking=ranking(("faq", 0.95), ("greet", 0.02)),
        response_selector=_pack_selector((0.4, 0.4), ("refund", 0.6), ("lots", 0.3)),
        message=PLAIN,
        thresholds=Thresholds(),
    )
    assert (decision.answer, decision.reason) == (False, "unsure_faq")
    assert decision.candidates == ["refund", "lots"]
    assert decision.as_dict()["topic"]["needed_margin"] == 0.4


def test_limits_in_config_override_the_packs() -> None:
    decision = decide(
        intent_ranking=ranking(("faq", 0.95), ("greet", 0.02)),
        response_selector=_pack_selector((0.01, 0.01), ("refund", 0.4), ("lots", 0.3)),
        message=PLAIN,
        thresholds=Thresholds(faq_margin=0.2),
    )
    assert not decision.answer
    assert decision.topic is not None and decision.topic["limits_from"] == "config"


def test_without_a_derived_margin_the_defaults_apply() -> None:
    """Rasa's own ResponseSelector reports no threshold."""
    decision = decide(
        intent_ranking=ranking(("faq", 0.95), ("greet", 0.02)),
        response_selector=selector(("refund", 0.45), ("lots", 0.05)),
        message=PLAIN,
        thresholds=Thresholds(),
    )
    assert not decision.answer
    assert decision.topic is not None and decision.topic["limits_from"] == "default"


def test_a_sure_topic_wins_over_an_out_of_scope_intent() -> None:
    """Few examples per topic: DIET takes covered questions for "out of scope"."""
    decision = decide(
        intent_ranking=ranking(("out_of_scope", 0.8), ("faq", 0.15)),
        response_selector=_pack_selector((0.3, 0.2), ("refund", 0.6), ("lots", 0.1)),
        message=PLAIN,
        thresholds=Thresholds(),
    )
    assert decision.answer and decision.answered_as_faq
    assert decision.candidates[0] == "refund"


def test_an_out_of_scope_question_stays_out_of_scope_when_no_topic_is_sure() -> None:
    decision = decide(
        intent_ranking=ranking(("out_of_scope", 0.8), ("faq", 0.15)),
        response_selector=_pack_selector((0.3, 0.2), ("refund", 0.25), ("lots", 0.2)),
        message=PLAIN,
        thresholds=Thresholds(),
    )
    assert decision.answer and not decision.answered_as_faq  # "I can only answer…"


def test_an_out_of_scope_intent_near_a_topic_asks_did_you_mean() -> None:
    """Below the answer limits but above the pack's offer: buttons, not "I
    can only answer about…"; below the offer, still out of scope."""
    near = decide(
        intent_ranking=ranking(("out_of_scope", 0.9), ("faq", 0.05)),
        response_selector=_pack_selector(
            (0.3, 0.2), ("refund", 0.2), ("lots", 0.1), offer=0.15
        ),
        message=PLAIN,
        thresholds=Thresholds(),
    )
    assert (near.answer, near.reason) == (False, "unsure_faq")
    assert near.candidates[:2] == ["refund", "lots"]
    far = decide(
        intent_ranking=ranking(("out_of_scope", 0.9), ("faq", 0.05)),
        response_selector=_pack_selector(
            (0.3, 0.2), ("refund", 0.1), ("lots", 0.05), offer=0.15
        ),
        message=PLAIN,
        thresholds=Thresholds(),
    )
    assert far.answer and not far.answered_as_faq


def test_an_intent_torn_between_faq_and_out_of_scope_leaves_it_to_the_topic() -> None:
    """The intent classifier hesitates (0.45 / 0.40); the topic model, whose
    limits are calibrated, is sure: the question is answered."""
    decision = decide(
        intent_ranking=ranking(("out_of_scope", 0.45), ("faq", 0.40)),
        response_selector=_pack_selector((0.5, 0.3), ("refund", 0.8), ("lots", 0.1)),
        message=PLAIN,
        thresholds=Thresholds(),
    )
    assert decision.answer and decision.answered_as_faq
    unsure_faq = decide(
        intent_ranking=ranking(("faq", 0.45), ("out_of_scope", 0.40)),
        response_selector=_pack_selector((0.5, 0.3), ("refund", 0.8), ("lots", 0.1)),
        message=PLAIN,
        thresholds=Thresholds(),
    )
    assert unsure_faq.answer and not unsure_faq.answered_as_faq


def test_a_brand_with_a_stricter_target_gets_the_stricter_limits() -> None:
    """The model keeps the limits of every calibrated target; the profile's
    wrong_answers_at_most picks one without retraining."""
    response_selector = _pack_selector((0.5, 0.3), ("refund", 0.6), ("lots", 0.1))
    response_selector["faq"]["threshold"]["by_target"] = {
        "0.01": {"confidence": 0.7, "margin": 0.5, "offer": 0.3},
        "0.03": {"confidence": 0.5, "margin": 0.3, "offer": 0.2},
    }
    facts = {
        "intent_ranking": ranking(("faq", 0.9), ("greet", 0.05)),
        "response_selector": response_selector,
        "message": PLAIN,
    }
    assert decide(**facts, thresholds=Thresholds(wrong_target=0.03)).answer
    strict = decide(**facts, thresholds=Thresholds(wrong_target=0.01))
    assert (strict.answer, strict.reason) == (False, "unsure_faq")
    assert strict.topic is not None and strict.topic["needed_confidence"] == 0.7


def test_a_question_taken_for_small_talk_gets_its_answer_when_the_topic_is_sure() -> (
    None
):
    """ "hi, my withdrawal is still pending": DIET says greet, the topic model
    is sure; a plain greeting, whose topic is far from sure, stays small talk."""
    sure = decide(
        intent_ranking=ranking(("greet", 0.9), ("faq", 0.05)),
        response_selector=_pack_selector((0.5, 0.3), ("refund", 0.8), ("lots", 0.1)),
        message=PLAIN,
        thresholds=Thresholds(),
    )
    assert sure.answer and sure.answered_as_faq
    plain = decide(
        intent_ranking=ranking(("greet", 0.9), ("faq", 0.05)),
        response_selector=_pack_selector((0.5, 0.3), ("refund", 0.2), ("lots", 0.1)),
        message=PLAIN,
        thresholds=Thresholds(),
    )
    assert plain.answer and not plain.answered_as_faq


def test_a_request_for_a_human_is_never_overruled_by_a_topic() -> None:
    decision = decide(
        intent_ranking=ranking(("request_human", 0.9), ("faq", 0.05)),
        response_selector=_pack_selector((0.5, 0.3), ("refund", 0.9), ("lots", 0.05)),
        message=PLAIN,
        thresholds=Thresholds(),
    )
    assert decision.answer and not decision.answered_as_faq


def test_a_typed_rating_has_no_words_yet_reaches_the_rating_action() -> None:
    def gate(text: str, intent: str) -> bool:
        facts = MessageFacts(length=len(text), word_count=0, known_word_share=0.0,
                             foreign=False, rating_like=rating_like(text))  # fmt: skip
        return decide(
            intent_ranking=ranking((intent, 0.9), ("faq", 0.05)),
            response_selector=selector(("refund", 0.3), ("lot_numbers", 0.2)),
            message=facts,
            thresholds=THRESHOLDS,
        ).answer

    assert gate("5/5", "rate") and gate("👍", "rate")
    # Without a digit from 1 to 5 or a thumb it is no rating, whatever the
    # model says; and a rating-like message the model reads otherwise is
    # judged as any other.
    assert not gate("!!!", "rate")
    assert not gate("5/5", "greet")
