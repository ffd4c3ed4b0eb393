"""Which FAQ topic a message is about, and how sure to be before answering.

A logistic regression over four views of the message, trained on the FAQ
examples of both languages:

- what the sentence means, from the multilingual sentence encoder
  (bot/nlu/encoder.py): "puis-je encore le manger ?" lands next to "is it
  safe to eat?" though they share no word. On the third-party sets of
  ../shared/dev-data it puts the right topic first 6 to 14 points more often
  than the three views below alone (docs/encoder.md);
- TF-IDF character n-grams (2 to 5 letters, word boundaries respected): they
  shrug off typos, missing accents and the French/English mix;
- TF-IDF words and word pairs over spaCy's lemmas (`rappelés` and `rappel`
  become `rappeler` and `rappel`): they carry the vocabulary of the question
  whatever the inflection;
- the mean spaCy vector of its content words.

Besides the examples, each topic learns from what the pack already says about
it: its titles and the sentences of its answers. At hour one of a crisis a
topic has one question and two rephrasings; its answer is the longest text the
pack has about it (issue 10: with three examples per topic this takes the
right topic from first place 76 % of the time to 80 %).

How sure is sure enough is not derived from the pack's own few phrasings
(issue 27: limits cross-validated on them answered 15 % of a third-party
pack's questions wrongly) but read from a calibration across many packs
nobody here wrote, by the number of phrasings per topic (bot/nlu/calibration.py).

The model is persisted as plain JSON (vocabularies, idf, coefficients): no
pickle.

Besides the topics, the model learns one more class, NOT_IN_FAQ, from the
`out_of_scope` examples: questions near the crisis that the FAQ does not
answer ("is the faisselle from another brand recalled?"). That class is never
ranked, but the probability it takes is missing from every topic, so a
question the FAQ does not cover gets a low topic confidence and the gate
declines it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.nlu import encoder

CHAR_NGRAMS = (2, 5)
LEMMA_NGRAMS = (1, 2)
REGULARISATION = 30.0  # LogisticRegression's C
NOT_IN_FAQ = "out_of_scope"
# How much the meaning (the mean word vector, unit length) weighs beside the
# TF-IDF views (each also of unit length).
VECTOR_WEIGHT = 1.0
VECTOR_SIZE = 300  # fr_core_news_md
# How much the sentence encoder's vector (unit length) weighs. 2 put the
# right topic first more often than 1 on every third-party set of
# ../shared/dev-data at 1, 2, 3 and 8 phrasings, and as often as 3 or 4
# (docs/encoder.md); chosen there, never on the packs' held-out questions.
ENCODED_WEIGHT = 2.0
_WORD_CHARACTER = re.compile(r"\w")
# Answer sentences shorter than this ("Oui.", a bullet's first word) say
# nothing about the topic.
MIN_SENTENCE_LENGTH = 16
_SENTENCE_END = re.compile(r"(?<=[.!?:;•\n])\s+")


@dataclass(frozen=True)
class Question:
    """A message as the topic model sees it."""

    text: str
    lemmas: tuple[str, ...]  # lower-case lemmas of its words, punctuation left out
    # Mean vector of its content words, unit length; None when none has one.
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)
    # What the sentence means (bot/nlu/encoder.py), unit length; None until
    # `with_meaning` is applied.
    encoded: np.ndarray | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_tokens(
        cls,
        text: str,
        tokens: Iterable[tuple[str, str]],
        vector: np.ndarray | None = None,
        encoded: np.ndarray | None = None,
    ) -> Question:
        """Builds a question from its tokens as (text, lemma) pairs."""
        return cls(
            text,
            tuple(
                lemma.lower()
                for token, lemma in tokens
                if _WORD_CHARACTER.search(token) and lemma.strip()
            ),
            vector,
            encoded,
        )

    @classmethod
    def from_doc(cls, text: str, doc: Any) -> Question:
        """Builds a question from a spaCy Doc of the text (lemmas and vectors)."""
        return cls.from_tokens(
            text, ((token.text, token.lemma_) for token in doc), meaning(doc)
        )


def with_meaning(questions: Sequence[Question]) -> list[Question]:
    """The questions with their sentence vectors, encoded in batches."""
    missing = [q for q in questions if q.encoded is None]
    vectors = iter(encoder.encode([q.text for q in missing]))
    return [
        q if q.encoded is not None else dataclasses.replace(q, encoded=next(vectors))
        for q in questions
    ]


def meaning(doc: Any) -> np.ndarray | None:
    """The mean vector of a spaCy Doc's content words, unit length."""
    vectors = [
        token.vector
        for token in doc
        if token.has_vector and not token.is_stop and not token.is_punct
    ]
    if not vectors:
        return None
    mean = np.mean(vectors, axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else None


def answer_sentences(answer: str) -> list[str]:
    """The sentences (and bullet points) of an answer that say something."""
    return [
        sentence.strip()
        for sentence in _SENTENCE_END.split(answer)
        if len(sentence.strip()) >= MIN_SENTENCE_LENGTH
    ]


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


@dataclass(frozen=True)
class DerivedThreshold:
    """The gate's topic limits for one pack (bot/nlu/calibration.py)."""

    confidence: float
    margin: float
    # Below the limits, a best topic at least this confident is offered as a
    # "did you mean" button even when the intent classifier says "out of
    # scope" (few questions the FAQ does not cover reach it).
    offer: float
    phrasings: float = 0.0  # per topic and language in this pack (median)
    calibrated_at: int = 0  # the calibrated size whose limits apply
    target: float = 0.03  # most wrong answers, share of covered questions
    # On the calibration packs of that size: shares answered right, wrong.
    expected_right: float = 0.0
    expected_wrong: float = 0.0
    # The same for every calibrated target ("0.01": {confidence, margin,
    # offer, ...}): the brand's profile may choose a stricter one.
    by_target: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DerivedThreshold:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        # Models trained before `offer` existed offer nothing more.
        return cls(**{"offer": data["confidence"], **known})


@dataclass
class TopicModel:
    """Fitted vectorisers and classifier."""

    chars: TfidfVectorizer
    lemmas: TfidfVectorizer
    classifier: LogisticRegression
    threshold: DerivedThreshold | None = None  # set by whoever derived it

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
        everything = with_meaning([*questions, *not_in_faq])
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
        questions = with_meaning(questions)
        vectors = np.zeros((len(questions), VECTOR_SIZE))
        for row, question in enumerate(questions):
            if question.vector is not None and len(question.vector) == VECTOR_SIZE:
                vectors[row] = question.vector * VECTOR_WEIGHT
        encoded = (
            np.vstack([q.encoded for q in questions if q.encoded is not None])
            * ENCODED_WEIGHT
        )
        return hstack(
            [
                self.chars.transform([q.text for q in questions]),
                self.lemmas.transform([" ".join(q.lemmas) for q in questions]),
                csr_matrix(vectors),
                csr_matrix(encoded),
            ]
        ).tocsr()

    def rank(self, question: Question) -> list[tuple[str, float]]:
        """Every topic with its probability for `question`, best first.

        The probabilities sum to 1 minus the probability that the FAQ does not
        cover the question at all. The same figures as `rank_all`, worked out
        for one question without scikit-learn's checks and sparse matrices,
        which cost more than the arithmetic (issue 29: this runs for every
        message).
        """
        if question.encoded is None:
            question = with_meaning([question])[0]
        return self._scorer.rank(question)

    @cached_property
    def _scorer(self) -> _Scorer:
        return _Scorer(self)

    def rank_all(self, questions: Sequence[Question]) -> list[list[tuple[str, float]]]:
        """`rank` for many questions at once (faster in a batch)."""
        if not questions:
            return []
        classes = [str(c) for c in self.classifier.classes_]
        rankings = []
        for probabilities in self.classifier.predict_proba(self._features(questions)):
            order = np.argsort(-probabilities)
            rankings.append(
                [
                    (classes[i], float(probabilities[i]))
                    for i in order
                    if classes[i] != NOT_IN_FAQ
                ]
            )
        return rankings

    def to_dict(self) -> dict[str, Any]:
        return {
            "chars": _vectorizer_to_dict(self.chars),
            "lemmas": _vectorizer_to_dict(self.lemmas),
            "encoder": encoder.DEFAULT_ENCODER,
            "classes": [str(c) for c in self.classifier.classes_],
            "coef": self.classifier.coef_.tolist(),
            "intercept": self.classifier.intercept_.tolist(),
            "threshold": self.threshold.as_dict() if self.threshold else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TopicModel:
        if data.get("encoder") != encoder.DEFAULT_ENCODER:
            raise ValueError(
                "this topic model was trained with another sentence encoder "
                f"({data.get('encoder') or 'none'}): train the model again"
            )
        classifier = LogisticRegression(C=REGULARISATION)
        classifier.classes_ = np.array(data["classes"])
        classifier.coef_ = np.array(data["coef"])
        classifier.intercept_ = np.array(data["intercept"])
        threshold = data.get("threshold")
        return cls(
            _vectorizer_from_dict(_char_vectorizer(), data["chars"]),
            _vectorizer_from_dict(_lemma_vectorizer(), data["lemmas"]),
            classifier,
            DerivedThreshold.from_dict(threshold) if threshold else None,
        )


class _Scorer:
    """A fitted TopicModel's arithmetic for one question at a time: the same
    TF-IDF rows (counts of the known n-grams, 1 + log, times IDF, unit
    length), the same feature blocks in the same order, and the multinomial
    logistic regression's softmax, in plain numpy."""

    def __init__(self, model: TopicModel) -> None:
        self.classes = [str(c) for c in model.classifier.classes_]
        self.views = [
            (view.build_analyzer(), view.vocabulary_, view.idf_)
            for view in (model.chars, model.lemmas)
        ]
        coef = np.asarray(model.classifier.coef_, dtype=np.float64)
        offsets, start = [], 0
        for _, vocabulary, _ in self.views:
            offsets.append(start)
            start += len(vocabulary)
        self.offsets = offsets
        self.coef = coef
        self.vector_coef = coef[:, start : start + VECTOR_SIZE]
        self.encoded_coef = coef[:, start + VECTOR_SIZE :]
        self.intercept = np.asarray(model.classifier.intercept_, dtype=np.float64)

    def rank(self, question: Question) -> list[tuple[str, float]]:
        logits = self.intercept.copy()
        texts = [question.text, " ".join(question.lemmas)]
        for (analyzer, vocabulary, idf), offset, text in zip(
            self.views, self.offsets, texts, strict=True
        ):
            counts: dict[int, int] = {}
            for term in analyzer(text):
                index = vocabulary.get(term)
                if index is not None:
                    counts[index] = counts.get(index, 0) + 1
            if not counts:
                continue
            indices = np.fromiter(counts, dtype=np.int64, count=len(counts))
            values = np.log(np.fromiter(counts.values(), dtype=np.float64)) + 1.0
            values *= idf[indices]
            norm = np.sqrt(np.dot(values, values))
            if norm:
                logits += self.coef[:, indices + offset] @ (values / norm)
        vector = question.vector
        if vector is not None and len(vector) == VECTOR_SIZE:
            weighted = np.asarray(vector, np.float64) * VECTOR_WEIGHT
            logits += self.vector_coef @ weighted
        if question.encoded is not None:
            encoded = np.asarray(question.encoded, np.float64) * ENCODED_WEIGHT
            logits += self.encoded_coef @ encoded
        logits -= logits.max()
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum()
        order = np.argsort(-probabilities)
        classes = self.classes
        return [
            (classes[i], float(probabilities[i]))
            for i in order
            if classes[i] != NOT_IN_FAQ
        ]


def margin_of(ranking: Sequence[tuple[str, float]]) -> float:
    """How far the best topic leads the runner-up."""
    if not ranking:
        return 0.0
    return ranking[0][1] - (ranking[1][1] if len(ranking) > 1 else 0.0)


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
