"""The shipped FAQ packs are complete in both languages, and their held-out
sets are large enough and really held out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from bot.faq import FaqError, load_pack
from bot.faq.pack import parse_topic_file
from bot.publish.evaluation import load_questions
from bot.settings import PROJECT_ROOT

FAQ_DIR = PROJECT_ROOT / "packs" / "dairy-recall" / "faq"
PACKS = sorted(path for path in (PROJECT_ROOT / "packs").iterdir() if path.is_dir())
each_pack = pytest.mark.parametrize("pack", PACKS, ids=lambda path: path.name)


def normalise(text: str) -> str:
    return re.sub(r"[^\w]+", " ", text.lower()).strip()


def training_texts(pack: Path) -> set[str]:
    """Every example `rasa train` reads for `pack`: data/, its faq/ and nlu/."""
    texts = set()
    for topic in load_pack(pack / "faq").values():
        for examples in topic.examples.values():
            texts.update(normalise(example) for example in examples)
    for path in [*(PROJECT_ROOT / "data").rglob("*.yml"), *pack.glob("nlu/*.yml")]:
        texts.update(
            normalise(line.strip()[2:])
            for line in path.read_text("utf-8").splitlines()
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


@each_pack
def test_held_out_set_has_at_least_five_french_and_three_english_per_topic(
    pack: Path,
) -> None:
    questions = load_questions(pack / "heldout")
    for key in load_pack(pack / "faq"):
        asked = [q.group for q in questions if q.expected == f"faq/{key}"]
        assert asked.count("fr") >= 5 and asked.count("en") >= 3, key
    assert [q.group for q in questions].count("out_of_scope") >= 20


@each_pack
def test_held_out_questions_never_appear_in_training_data(pack: Path) -> None:
    training = training_texts(pack)
    leaked = [
        question.text
        for question in load_questions(pack / "heldout")
        if normalise(question.text) in training
    ]
    assert leaked == []


# Character n-gram similarity between two phrasings of the same words in
# another order, or with a word or two changed, is above this.
NEAR_COPY = 0.9


@each_pack
def test_held_out_questions_are_not_near_copies_of_training_examples(
    pack: Path,
) -> None:
    training = sorted(training_texts(pack))
    held_out = [q.text for q in load_questions(pack / "heldout")]
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


@each_pack
def test_held_out_topics_exist(pack: Path) -> None:
    topics = set(load_pack(pack / "faq"))
    for question in load_questions(pack / "heldout"):
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
