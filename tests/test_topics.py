"""The FAQ topic classifier: picks topics, leaves uncovered questions unsure,
survives persistence, ships no pickle."""

from __future__ import annotations

import json
import tarfile

import pytest
import spacy
import yaml
from spacy.language import Language

from bot.faq import load_pack
from bot.faq.pack import parse_examples
from bot.nlu.components import TOPIC_MODEL_FILE
from bot.nlu.evaluation import load_questions
from bot.nlu.topics import (
    NOT_IN_FAQ,
    DerivedThreshold,
    HeldOut,
    Question,
    TopicModel,
    answer_sentences,
    derive_threshold,
    margin_of,
    safest_limits,
)
from bot.settings import PROJECT_ROOT
from tests.projects import MODEL


@pytest.fixture(scope="module")
def nlp() -> Language:
    return spacy.load("fr_core_news_md", disable=["parser", "ner"])


@pytest.fixture(scope="module")
def ask(nlp: Language):
    def question(text: str) -> Question:
        # As in Rasa: SpacyNLP parses the lower-cased text.
        return Question.from_doc(text, nlp(text.lower()))

    return question


def _out_of_scope_examples() -> list[str]:
    files = [
        PROJECT_ROOT / "data" / "nlu" / "basics.yml",
        PROJECT_ROOT / "packs" / "dairy-recall" / "nlu" / "out_of_scope.yml",
    ]
    return [
        text
        for path in files
        for block in yaml.safe_load(path.read_text())["nlu"]
        if block["intent"] == "out_of_scope"
        for text in parse_examples(block["examples"])
    ]


@pytest.fixture(scope="module")
def faq_examples(ask) -> tuple[list[Question], list[str]]:
    questions, topics = [], []
    for key, topic in load_pack(
        PROJECT_ROOT / "packs" / "dairy-recall" / "faq"
    ).items():
        for examples in topic.examples.values():
            questions.extend(ask(text) for text in examples)
            topics.extend([f"faq/{key}"] * len(examples))
    return questions, topics


@pytest.fixture(scope="module")
def model(faq_examples, ask) -> TopicModel:
    questions, topics = faq_examples
    return TopicModel.train(
        questions, topics, [ask(text) for text in _out_of_scope_examples()]
    )


def test_lemmas_leave_out_punctuation_and_lower_the_case(ask) -> None:
    question = ask("Les produits rappelés ?")
    assert question.text == "Les produits rappelés ?"
    assert question.lemmas == ("le", "produit", "rappeler")


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("rembourcement sans tiket de caisse", "faq/refund_no_receipt"),
        ("where's the lot number on the lid", "faq/find_lot_number"),
        ("ma femme enceinte en a mangé", "faq/pregnancy"),
    ],
)
def test_typos_and_both_languages(
    model: TopicModel,
    ask,
    text: str,
    topic: str,
) -> None:
    assert model.rank(ask(text))[0][0] == topic


def test_ranking_lists_every_topic_best_first(model: TopicModel, ask) -> None:
    ranking = model.rank(ask("quels lots sont concernés"))
    confidences = [confidence for _, confidence in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) <= 1.0
    assert {key for key, _ in ranking} == {
        f"faq/{key}"
        for key in load_pack(PROJECT_ROOT / "packs" / "dairy-recall" / "faq")
    }
    assert NOT_IN_FAQ not in {key for key, _ in ranking}


def test_examples_of_what_the_faq_does_not_cover_lower_the_confidence(
    model: TopicModel,
    faq_examples,
    ask,
) -> None:
    without = TopicModel.train(*faq_examples)
    uncovered = ask("la faisselle d'une autre marque est rappelée aussi ?")
    assert model.rank(uncovered)[0][1] < without.rank(uncovered)[0][1] - 0.1
    # ... and leave a covered question confident.
    covered = ask("quels lots sont concernés")
    topic, confidence = model.rank(covered)[0]
    assert topic == "faq/lot_numbers"
    assert confidence > 0.5


def test_round_trip_through_json_gives_the_same_ranking(
    model: TopicModel,
    ask,
) -> None:
    restored = TopicModel.from_dict(json.loads(json.dumps(model.to_dict())))
    question = ask("je suis enceinte et j'ai mangé de la faisselle")
    assert restored.rank(question) == pytest.approx(model.rank(question))


def test_one_topic_is_not_enough() -> None:
    with pytest.raises(ValueError, match="at least two topics"):
        TopicModel.train(
            [Question("a", ("a",)), Question("b", ("b",))], ["faq/only", "faq/only"]
        )


def test_the_not_in_faq_class_is_not_a_topic_name() -> None:
    with pytest.raises(ValueError, match="reserved"):
        TopicModel.train(
            [Question("a", ("a",)), Question("b", ("b",))], ["faq/a", NOT_IN_FAQ]
        )


def test_answers_are_cut_into_sentences_that_say_something() -> None:
    answer = (
        "Oui.\n• en magasin, en rapportant le produit ;\n"
        "• ou en ligne. Le virement arrive sous 10 jours."
    )
    assert answer_sentences(answer) == [
        "en magasin, en rapportant le produit ;",
        "Le virement arrive sous 10 jours.",
    ]


def _first(examples_per_language: int, ask) -> tuple[list[Question], list[str]]:
    questions, topics = [], []
    for key, topic in load_pack(
        PROJECT_ROOT / "packs" / "dairy-recall" / "faq"
    ).items():
        for examples in topic.examples.values():
            kept = examples[:examples_per_language]
            questions.extend(ask(text) for text in kept)
            topics.extend([f"faq/{key}"] * len(kept))
    return questions, topics


def _known(ask) -> list[tuple[Question, str]]:
    return [
        (ask(text), f"faq/{key}")
        for key, topic in load_pack(
            PROJECT_ROOT / "packs" / "dairy-recall" / "faq"
        ).items()
        for language in ("fr", "en")
        for text in [
            topic.title(language),
            *answer_sentences(topic.answers.get(language, "")),
        ]
    ]


def test_with_one_example_per_topic_the_answers_find_the_topic(ask) -> None:
    """What the pack already says about a topic counts as much as an example."""
    questions, topics = _first(1, ask)
    held_out = [
        q
        for q in load_questions(PROJECT_ROOT / "packs" / "dairy-recall" / "heldout")
        if q.group != NOT_IN_FAQ
    ]
    known = _known(ask)

    def right(model: TopicModel) -> int:
        return sum(model.rank(ask(q.text))[0][0] == q.expected for q in held_out)

    alone = TopicModel.train(questions, topics)
    with_answers = TopicModel.train(
        [*questions, *(q for q, _ in known)], [*topics, *(t for _, t in known)]
    )
    assert right(with_answers) > right(alone) * 1.1


def _limits_of_the_shipped_model() -> DerivedThreshold:
    """The limits `make train` derived for the whole dairy pack, as the model
    in use keeps them (a minute of cross-validation not done again here)."""
    pack = MODEL.parent / "relais.pack"
    if not MODEL.exists() or "dairy-recall" not in pack.read_text("utf-8"):
        pytest.fail(f"{MODEL} of the dairy pack is missing: run `make train`.")
    with tarfile.open(MODEL) as tar:
        (name,) = [n for n in tar.getnames() if n.endswith("/" + TOPIC_MODEL_FILE)]
        content = tar.extractfile(name)
        assert content is not None
        threshold = json.load(content)["threshold"]
    assert threshold is not None, "the dairy pack's model derived no limits"
    return DerivedThreshold.from_dict(threshold)


@pytest.mark.slow
def test_the_limits_fit_the_pack(ask) -> None:
    """Three examples per topic cannot be held to the limits of thirty: the
    derived confidence is lower, and it still keeps uncovered questions out."""
    not_covered = [ask(text) for text in _out_of_scope_examples()]
    known = _known(ask)
    few = derive_threshold(*_first(3, ask), not_covered, known)
    many = _limits_of_the_shipped_model()
    assert few is not None
    assert few.confidence < many.confidence

    model = TopicModel.train(
        [*_first(3, ask)[0], *(q for q, _ in known)],
        [*_first(3, ask)[1], *(t for _, t in known)],
        not_covered,
    )
    held_out = load_questions(PROJECT_ROOT / "packs" / "dairy-recall" / "heldout")
    ranked = [(q, model.rank(ask(q.text))) for q in held_out]
    answered = [
        (q, ranking)
        for q, ranking in ranked
        if ranking[0][1] >= few.confidence and margin_of(ranking) >= few.margin
    ]
    covered = [q for q in held_out if q.group != NOT_IN_FAQ]
    wrong = [q for q, ranking in answered if ranking[0][0] != q.expected]
    # The derived limits answer a good share of the held-out questions within
    # the wrong-answer target (3 %). Not a blind measure: the cross-validation
    # rates were chosen on these questions; this guards against regressions.
    assert len(answered) > 0.4 * len(covered)
    assert len(wrong) <= 0.03 * len(held_out)


def test_one_example_per_topic_and_language_keeps_the_fixed_limits(ask) -> None:
    """Cross-validation needs a few examples of each topic in each language."""
    questions, topics, groups = [], [], []
    for key, topic in load_pack(
        PROJECT_ROOT / "packs" / "dairy-recall" / "faq"
    ).items():
        for language, examples in topic.examples.items():
            questions.append(ask(examples[0]))
            topics.append(f"faq/{key}")
            groups.append(f"faq/{key} {language}")
    assert derive_threshold(questions, topics, groups=groups) is None


def test_topics_are_offered_where_few_uncovered_questions_reach() -> None:
    """Twenty "not in the FAQ" examples, two of them (10 %) above 0.2: from
    0.225 on, a topic is offered as a button rather than "out of scope"."""
    covered = [HeldOut(0.9, 0.8, True)] * 10 + [HeldOut(0.35, 0.1, False)]
    uncovered = [HeldOut(c, c, False) for c in [0.05] * 17 + [0.2, 0.3, 0.31]]
    limits = safest_limits(covered, uncovered, wrong_rate=0.15, min_caught=0.9)
    assert limits.offer == 0.225
    assert limits.offer <= limits.confidence
    # A model trained before `offer` existed offers nothing beyond its limits.
    old = {k: v for k, v in limits.as_dict().items() if k != "offer"}
    assert DerivedThreshold.from_dict(old).offer == limits.confidence
