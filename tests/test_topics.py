"""The FAQ topic classifier: picks topics, survives persistence, ships no pickle."""

from __future__ import annotations

import json

import pytest

from bot.faq import load_pack
from bot.nlu.topics import TopicModel
from bot.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def model() -> TopicModel:
    texts, topics = [], []
    for key, topic in load_pack(PROJECT_ROOT / "data" / "faq").items():
        for examples in topic.examples.values():
            texts.extend(examples)
            topics.extend([f"faq/{key}"] * len(examples))
    return TopicModel.train(texts, topics)


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("rembourcement sans tiket de caisse", "faq/refund_no_receipt"),
        ("where's the lot number on the lid", "faq/find_lot_number"),
        ("ma femme enceinte en a mangé", "faq/pregnancy"),
    ],
)
def test_typos_and_both_languages(model: TopicModel, text: str, topic: str) -> None:
    assert model.rank(text)[0][0] == topic


def test_ranking_is_a_probability_distribution(model: TopicModel) -> None:
    ranking = model.rank("quels lots sont concernés")
    confidences = [confidence for _, confidence in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) == pytest.approx(1.0)
    assert len(ranking) == len(load_pack(PROJECT_ROOT / "data" / "faq"))


def test_round_trip_through_json_gives_the_same_ranking(model: TopicModel) -> None:
    restored = TopicModel.from_dict(json.loads(json.dumps(model.to_dict())))
    text = "je suis enceinte et j'ai mangé de la faisselle"
    assert restored.rank(text) == pytest.approx(model.rank(text))


def test_one_topic_is_not_enough() -> None:
    with pytest.raises(ValueError, match="at least two topics"):
        TopicModel.train(["a", "b"], ["faq/only", "faq/only"])
