"""The shipped FAQ pack is complete in both languages, and the held-out set is
large enough and really held out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from bot.faq import FaqError, load_pack
from bot.faq.pack import parse_topic_file
from bot.nlu.evaluation import load_questions
from bot.settings import PROJECT_ROOT

FAQ_DIR = PROJECT_ROOT / "data" / "faq"


def normalise(text: str) -> str:
    return re.sub(r"[^\w]+", " ", text.lower()).strip()


def training_texts() -> set[str]:
    texts = set()
    for topic in load_pack(FAQ_DIR).values():
        for examples in topic.examples.values():
            texts.update(normalise(example) for example in examples)
    basics = (PROJECT_ROOT / "data" / "nlu" / "basics.yml").read_text("utf-8")
    texts.update(
        normalise(line.strip()[2:])
        for line in basics.splitlines()
        if line.strip().startswith("- ")
    )
    return texts


def test_pack_covers_at_least_25_topics() -> None:
    assert len(load_pack(FAQ_DIR)) >= 25


@pytest.mark.parametrize("key", sorted(load_pack(FAQ_DIR)))
def test_each_topic_is_complete_in_both_languages(key: str) -> None:
    topic = load_pack(FAQ_DIR)[key]
    assert len(topic.examples.get("fr", [])) >= 8, "needs 8 French examples"
    assert len(topic.examples.get("en", [])) >= 5, "needs 5 English examples"
    assert topic.answers.get("fr") and topic.answers.get("en")
    assert topic.titles.get("fr") and topic.titles.get("en")
    # Titles go on buttons: keep them short.
    assert all(len(title) <= 40 for title in topic.titles.values())


def test_no_example_is_used_for_two_topics() -> None:
    seen: dict[str, str] = {}
    for topic in load_pack(FAQ_DIR).values():
        for examples in topic.examples.values():
            for example in examples:
                key = normalise(example)
                assert seen.setdefault(key, topic.key) == topic.key, example


def test_held_out_set_has_the_promised_size() -> None:
    questions = load_questions(PROJECT_ROOT / "tests" / "nlu")
    groups = [question.group for question in questions]
    assert groups.count("fr") >= 150
    assert groups.count("en") >= 80
    assert groups.count("out_of_scope") >= 60


def test_held_out_questions_never_appear_in_training_data() -> None:
    training = training_texts()
    leaked = [
        question.text
        for question in load_questions(PROJECT_ROOT / "tests" / "nlu")
        if normalise(question.text) in training
    ]
    assert leaked == []


# Character n-gram similarity between two phrasings of the same words in
# another order, or with a word or two changed, is above this.
NEAR_COPY = 0.9


def test_held_out_questions_are_not_near_copies_of_training_examples() -> None:
    training = sorted(training_texts())
    held_out = [q.text for q in load_questions(PROJECT_ROOT / "tests" / "nlu")]
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5))
    vectorizer.fit(training + held_out)
    similarity = cosine_similarity(
        vectorizer.transform(held_out), vectorizer.transform(training)
    )
    near_copies = [
        (question, training[row.argmax()])
        for question, row in zip(held_out, similarity, strict=True)
        if row.max() >= NEAR_COPY
    ]
    assert near_copies == []


def test_held_out_topics_exist() -> None:
    topics = set(load_pack(FAQ_DIR))
    for question in load_questions(PROJECT_ROOT / "tests" / "nlu"):
        if question.expected != "out_of_scope":
            assert question.expected.removeprefix("faq/") in topics, question


def test_a_malformed_topic_file_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "refund.yml"
    broken.write_text(
        "nlu:\n- intent: faq/other\n  metadata: {lang: fr}\n  examples: |\n    - x\n"
    )
    with pytest.raises(FaqError, match=r"refund\.yml: intent 'faq/other'"):
        parse_topic_file(broken)
    broken.write_text("nlu: [unclosed")
    with pytest.raises(FaqError, match=r"refund\.yml: not valid YAML"):
        parse_topic_file(broken)
