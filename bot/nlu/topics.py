"""Which FAQ topic a message is about.

A logistic regression over TF-IDF character n-grams (2 to 5 letters, word
boundaries respected), trained on the FAQ examples of both languages. On this
project's held-out questions it picks the right topic more often than Rasa's
ResponseSelector (92 % against 85 % top-1, see docs/benchmarks.md), trains in
seconds instead of minutes, and character n-grams shrug off typos and the
French/English mix. The model is persisted as plain JSON (vocabulary, idf,
coefficients): no pickle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

NGRAM_RANGE = (2, 5)
REGULARISATION = 30.0  # LogisticRegression's C


@dataclass
class TopicModel:
    """A fitted vectoriser and classifier."""

    vectorizer: TfidfVectorizer
    classifier: LogisticRegression

    @classmethod
    def train(cls, texts: Sequence[str], topics: Sequence[str]) -> TopicModel:
        """Fits on example texts and their topic keys."""
        if len(set(topics)) < 2:
            raise ValueError("the FAQ needs at least two topics to tell them apart")
        vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=NGRAM_RANGE, sublinear_tf=True
        )
        features = vectorizer.fit_transform(texts)
        classifier = LogisticRegression(C=REGULARISATION, max_iter=5000)
        classifier.fit(features, list(topics))
        return cls(vectorizer, classifier)

    def rank(self, text: str) -> list[tuple[str, float]]:
        """All topics with their probability for `text`, best first."""
        probabilities = self.classifier.predict_proba(
            self.vectorizer.transform([text])
        )[0]
        order = np.argsort(-probabilities)
        return [
            (str(self.classifier.classes_[i]), float(probabilities[i])) for i in order
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "vocabulary": {
                term: int(i) for term, i in self.vectorizer.vocabulary_.items()
            },
            "idf": self.vectorizer.idf_.tolist(),
            "classes": [str(c) for c in self.classifier.classes_],
            "coef": self.classifier.coef_.tolist(),
            "intercept": self.classifier.intercept_.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TopicModel:
        vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=NGRAM_RANGE, sublinear_tf=True
        )
        vectorizer.vocabulary_ = data["vocabulary"]
        vectorizer.idf_ = np.array(data["idf"])
        classifier = LogisticRegression(C=REGULARISATION)
        classifier.classes_ = np.array(data["classes"])
        classifier.coef_ = np.array(data["coef"])
        classifier.intercept_ = np.array(data["intercept"])
        return cls(vectorizer, classifier)
