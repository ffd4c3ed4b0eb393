"""Language detection: answers come in the language of the user's message."""

from __future__ import annotations

import pytest

from bot.faq import load_pack
from bot.nlu.language import FrenchEnglishModel, detect, is_foreign
from bot.publish.evaluation import load_questions
from bot.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def model() -> FrenchEnglishModel:
    pairs = [
        (example, language)
        for topic in load_pack(PROJECT_ROOT / "packs" / "dairy-recall" / "faq").values()
        for language, examples in topic.examples.items()
        for example in examples
    ]
    return FrenchEnglishModel.train(pairs)


@pytest.mark.parametrize("pack", ["dairy-recall", "network-outage"])
def test_held_out_questions_are_rarely_given_the_wrong_language(
    model: FrenchEnglishModel, pack: str
) -> None:
    questions = [
        q
        for q in load_questions(PROJECT_ROOT / "packs" / pack / "heldout")
        if q.group in ("fr", "en")
    ]
    detections = [(q, detect(q.text, model)) for q in questions]
    wrong = [q.text for q, d in detections if d.language not in (None, q.group)]
    undecided = [q.text for q, d in detections if d.language is None]
    # Undecided keeps the conversation's language; a wrong guess switches it.
    assert len(wrong) <= len(questions) * 0.02, wrong
    assert len(undecided) <= len(questions) * 0.05, undecided


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Quels lots sont concernés par le rappel ?", "fr"),
        ("Which lots are affected by the recall?", "en"),
        ("rembourssement svp", "fr"),
        ("refund?", "en"),
        ("numero de lot", "fr"),
        ("agent please", "en"),
    ],
)
def test_short_and_misspelt_messages(
    model: FrenchEnglishModel, text: str, language: str
) -> None:
    assert detect(text, model).language == language


@pytest.mark.parametrize(
    "text",
    [
        "Welche Chargen sind vom Rückruf betroffen?",
        "Ist das Produkt gefährlich für Kinder?",
        "هل المنتج آمن للأطفال؟",
        "¿Qué lotes están afectados por la retirada?",
        "Какие партии затронуты?",
    ],
)
def test_other_languages_are_recognised(text: str) -> None:
    assert is_foreign(text)


def test_no_french_or_english_training_example_looks_foreign() -> None:
    flagged = [
        example
        for topic in load_pack(PROJECT_ROOT / "packs" / "dairy-recall" / "faq").values()
        for examples in topic.examples.values()
        for example in examples
        if is_foreign(example)
    ]
    assert flagged == []


def test_messages_without_words_have_no_language(model: FrenchEnglishModel) -> None:
    for text in ("", "   ", "😀😀😀", "?!", "12345"):
        detection = detect(text, model)
        assert detection.language is None
        assert not detection.foreign
        assert detection.known_word_share == 0.0


def test_model_survives_a_round_trip(model: FrenchEnglishModel) -> None:
    restored = FrenchEnglishModel.from_dict(model.to_dict())
    text = "je suis enceinte, est-ce grave ?"
    assert restored.probability_english(text) == model.probability_english(text)


def test_a_short_unknown_word_keeps_the_conversation_language(
    model: FrenchEnglishModel,
) -> None:
    for text in ("bof", "mdr", "pfff"):
        assert detect(text, model).language is None, text


def test_one_word_both_languages_use_keeps_the_conversation_language() -> None:
    """A French person who writes "stop" to end the news is answered in
    French: the word is French and English alike."""
    model = FrenchEnglishModel.train(
        [
            ("stop", "fr"),
            ("stop svp", "fr"),
            ("arrêtez les messages", "fr"),
            ("did you stop production", "en"),
            ("when was the line stopped", "en"),
            ("stop", "en"),
            ("unsubscribe", "en"),
        ]
    )
    assert detect("stop", model).language is None
    assert detect("STOP", model).language is None
    assert detect("stop svp", model).language == "fr"
    assert detect("unsubscribe", model).language == "en"
