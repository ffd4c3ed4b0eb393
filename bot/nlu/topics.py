"""Which FAQ topic a message is about.

A logistic regression over two views of the message, trained on the FAQ
examples of both languages:

- TF-IDF character n-grams (2 to 5 letters, word boundaries respected): they
  shrug off typos, missing accents and the French/English mix;
- TF-IDF words and word pairs over spaCy's lemmas (`rappelés` and `rappel`
  become `rappeler` and `rappel`): they carry the vocabulary of the question
  whatever the inflection.

On this project's held-out questions it picks the right topic more often than
Rasa's ResponseSelector and trains in seconds instead of minutes (see
docs/benchmarks.md). The model is persisted as plain JSON (vocabularies, idf,
coefficients): no pickle.

Besides the topics, the model learns one more class, NOT_IN_FAQ, from the
`out_of_scope` examples: questions near the crisis that the FAQ does not
answer ("is the faisselle from another brand recalled?"). That class is never
ranked, but the probability it takes is missing from every topic, so a
question the FAQ does not cover gets a low topic confidence and the gate
declines it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

CHAR_NGRAMS = (2, 5)
LEMMA_NGRAMS = (1, 2)
REGULARISATION = 30.0  # LogisticRegression's C
NOT_IN_FAQ = "out_of_scope"
_WORD_CHARACTER = re.compile(r"\w")


@dataclass(frozen=True)
class Question:
    """A message as the topic model sees it."""

    text: str
    lemmas: tuple[str, ...]  # lower-case lemmas of its words, punctuation left out

    @classmethod
    def from_tokens(cls, text: str, tokens: Iterable[tuple[str, str]]) -> Question:
        """Builds a question from its tokens as (text, lemma) pairs."""
        return cls(
            text,
            tuple(
                lemma.lower()
                for token, lemma in tokens
                if _WORD_CHARACTER.search(token) and lemma.strip()
            ),
        )


def _char_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=CHAR_NGRAMS, sublinear_tf=True
    )


def _lemma_vectorizer() -> TfidfVectorizer:
    # Lemmas arrive joined by spaces; each one is a token as it is.
    return TfidfVectorizer(
        analyzer="word",
        ngram_range=LEMMA_NGRAMS,
        sublinear_tf=True,
        token_pattern=r"\S+",
        lowercase=False,
    )


@dataclass
class TopicModel:
    """Fitted vectorisers and classifier."""

    chars: TfidfVectorizer
    lemmas: TfidfVectorizer
    classifier: LogisticRegression

    @classmethod
    def train(
        cls,
        questions: Sequence[Question],
        topics: Sequence[str],
        not_in_faq: Sequence[Question] = (),
    ) -> TopicModel:
        """Fits on example questions and their topic keys.

        Args:
            questions: FAQ example questions.
            topics: The topic key of each example.
            not_in_faq: Questions the FAQ does not answer (may be empty).
        """
        if len(set(topics)) < 2:
            raise ValueError("the FAQ needs at least two topics to tell them apart")
        if NOT_IN_FAQ in topics:
            raise ValueError(f"{NOT_IN_FAQ!r} is reserved, not a topic name")
        everything = [*questions, *not_in_faq]
        model = cls(_char_vectorizer(), _lemma_vectorizer(), LogisticRegression())
        model.chars.fit([q.text for q in everything])
        model.lemmas.fit([" ".join(q.lemmas) for q in everything])
        model.classifier = LogisticRegression(C=REGULARISATION, max_iter=5000)
        model.classifier.fit(
            model._features(everything),
            [*topics, *[NOT_IN_FAQ] * len(not_in_faq)],
        )
        return model

    def _features(self, questions: Sequence[Question]) -> csr_matrix:
        return hstack(
            [
                self.chars.transform([q.text for q in questions]),
                self.lemmas.transform([" ".join(q.lemmas) for q in questions]),
            ]
        ).tocsr()

    def rank(self, question: Question) -> list[tuple[str, float]]:
        """Every topic with its probability for `question`, best first.

        The probabilities sum to 1 minus the probability that the FAQ does not
        cover the question at all.
        """
        probabilities = self.classifier.predict_proba(self._features([question]))[0]
        order = np.argsort(-probabilities)
        return [
            (str(self.classifier.classes_[i]), float(probabilities[i]))
            for i in order
            if self.classifier.classes_[i] != NOT_IN_FAQ
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "chars": _vectorizer_to_dict(self.chars),
            "lemmas": _vectorizer_to_dict(self.lemmas),
            "classes": [str(c) for c in self.classifier.classes_],
            "coef": self.classifier.coef_.tolist(),
            "intercept": self.classifier.intercept_.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TopicModel:
        classifier = LogisticRegression(C=REGULARISATION)
        classifier.classes_ = np.array(data["classes"])
        classifier.coef_ = np.array(data["coef"])
        classifier.intercept_ = np.array(data["intercept"])
        return cls(
            _vectorizer_from_dict(_char_vectorizer(), data["chars"]),
            _vectorizer_from_dict(_lemma_vectorizer(), data["lemmas"]),
            classifier,
        )


def _vectorizer_to_dict(vectorizer: TfidfVectorizer) -> dict[str, Any]:
    return {
        "vocabulary": {term: int(i) for term, i in vectorizer.vocabulary_.items()},
        "idf": vectorizer.idf_.tolist(),
    }


def _vectorizer_from_dict(
    vectorizer: TfidfVectorizer, data: dict[str, Any]
) -> TfidfVectorizer:
    vectorizer.vocabulary_ = data["vocabulary"]
    vectorizer.idf_ = np.array(data["idf"])
    return vectorizer
