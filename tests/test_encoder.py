"""The sentence encoder: meaning across French and English, from weights
inside the installed package, each text encoded once per process."""

from __future__ import annotations

import numpy as np
import pytest

from bot.nlu import encoder


def test_the_same_question_in_both_languages_is_closer_than_another_one() -> None:
    vectors = encoder.encode(
        [
            "Est-ce que je peux encore manger ce fromage ?",
            "Is this cheese still safe to eat?",
            "Comment obtenir un remboursement ?",
        ]
    )
    assert vectors.shape == (3, encoder.dimensions())
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    same, other = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert same > other + 0.2


def test_a_text_is_encoded_once(monkeypatch) -> None:
    cached = encoder._encoder(encoder.DEFAULT_ENCODER)
    calls: list[list[str]] = []
    real = cached.encoder.encode

    def counting(texts):
        calls.append(list(texts))
        return real(texts)

    monkeypatch.setattr(cached.encoder, "encode", counting)
    first = encoder.encode(["Quels lots sont concernés par le rappel ?", "merci"])
    again = encoder.encode(["merci", "Quels lots sont concernés par le rappel ?"])
    assert np.array_equal(first[0], again[1])
    assert sum(len(batch) for batch in calls) <= 2


def test_an_unknown_encoder_is_named_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown sentence encoder 'word2vec'.*use"):
        encoder.encode(["x"], name="word2vec")


def test_no_text_no_vectors() -> None:
    assert encoder.encode([]).shape == (0, encoder.dimensions())


def test_a_vector_travels_with_its_message_and_keeps_its_meaning() -> None:
    """The Rasa process writes each message's vector into its parse data; the
    gap groups and the suggestions read it back instead of encoding again."""
    vectors = encoder.encode(
        ["c'est dangereux ?", "is it dangerous?", "comment me faire rembourser ?"]
    )
    back = np.array([encoder.from_text(encoder.to_text(v)) for v in vectors])
    assert np.abs(back @ back.T - vectors @ vectors.T).max() < 0.002
    assert len(encoder.to_text(vectors[0])) < 800


@pytest.mark.parametrize(
    "stored", [None, "", 42, "use-multilingual-v3:not base64!", "another-encoder:AAAA"]
)
def test_a_missing_or_foreign_vector_is_none_not_an_error(stored: object) -> None:
    assert encoder.from_text(stored) is None
