"""Message vectors for grouping questions by meaning.

Two views of a message, joined: the mean spaCy vector (fr_core_news_md's
static vectors, which cover English words too) of its content words, and its
character 3-5-grams (TF-IDF, reduced by SVD), which catch shared word stems
("congeler", "congelé", "congélation") and typos the vectors miss. Only
spaCy's tokenizer runs (no parser, no tagger): 50,000 messages take seconds.
`VECTOR_WEIGHT` and the clustering threshold in gaps.py were chosen on the
FAQ pack's own examples (`relais` never reads held-out questions to choose
them); docs/benchmarks.md reports both.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Any

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

SPACY_MODEL = "fr_core_news_md"
# Share of the spaCy vector in the joined vector (the rest: character n-grams).
VECTOR_WEIGHT = 0.5
SVD_DIMENSIONS = 96
# English function words: fr_core_news_md only knows French stop words.
ENGLISH_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "he",
        "she",
        "it",
        "its",
        "they",
        "them",
        "their",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "am",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "can",
        "could",
        "will",
        "would",
        "should",
        "may",
        "might",
        "must",
        "shall",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "from",
        "by",
        "with",
        "about",
        "as",
        "into",
        "if",
        "or",
        "and",
        "but",
        "not",
        "no",
        "so",
        "what",
        "which",
        "who",
        "whom",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "when",
        "where",
        "why",
        "how",
        "any",
        "some",
        "all",
        "please",
        "hi",
        "hello",
    ]
)


@cache
def _nlp() -> Any:
    import spacy

    return spacy.load(
        SPACY_MODEL,
        exclude=[
            "tok2vec",
            "morphologizer",
            "parser",
            "senter",
            "attribute_ruler",
            "lemmatizer",
            "ner",
        ],
    )


def fold(text: str) -> str:
    """Lower case, accents removed, spaces tidied: "Congélation" -> "congelation"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return " ".join(
        "".join(c for c in decomposed if not unicodedata.combining(c)).split()
    )


def _content_vectors(texts: list[str]) -> np.ndarray:
    nlp = _nlp()
    width = nlp.vocab.vectors.shape[1]
    vectors = np.zeros((len(texts), width), dtype=np.float32)
    for row, doc in enumerate(nlp.pipe(texts, batch_size=512)):
        words = [
            token.vector
            for token in doc
            if token.has_vector
            and token.is_alpha
            and not token.is_stop
            and token.lower_ not in ENGLISH_STOP_WORDS
        ]
        if words:
            vectors[row] = np.mean(words, axis=0)
    return _unit(vectors)


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def embed(texts: list[str], vector_weight: float = VECTOR_WEIGHT) -> np.ndarray:
    """One unit-length row per text; cosine similarity is the dot product."""
    if not texts:
        return np.zeros((0, 1), dtype=np.float32)
    folded = [fold(text) for text in texts]
    grams = HashingVectorizer(
        analyzer="char_wb", ngram_range=(3, 5), n_features=2**18, alternate_sign=False
    ).transform(folded)
    # Only the n-grams that occur: the SVD then works on thousands of columns,
    # not the 262,144 hashed ones.
    grams = grams.tocsc()[:, np.unique(grams.indices)].tocsr()
    grams = TfidfTransformer(sublinear_tf=True).fit_transform(grams)
    dimensions = min(SVD_DIMENSIONS, grams.shape[0] - 1, grams.shape[1] - 1)
    if dimensions >= 2:
        reduced = TruncatedSVD(dimensions, random_state=0).fit_transform(grams)
    else:
        reduced = grams.toarray()[:, :SVD_DIMENSIONS]
    joined = np.hstack(
        [
            np.sqrt(vector_weight) * _content_vectors(texts),
            np.sqrt(1 - vector_weight) * _unit(reduced.astype(np.float32)),
        ]
    )
    return _unit(joined)
