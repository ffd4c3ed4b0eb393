"""DIET's intent scores for one message, in numpy.

Relais trains DIET without transformer layers and without entities
(config.yml). Then a message's intent depends on its sentence-level features
only: the sparse ones through DIET's sparse-to-dense layer, joined to the
dense ones, brought to the size of the token features by one dense layer
with GELU, embedded by another, and compared with the intents' embeddings
(computed once when the model is loaded). Rasa runs this as a TensorFlow
function over a batch of one, building its padded batch of every feature
first: 5.5 ms per message under load, 60 % of it the TensorFlow call
(issue 29, docs/benchmarks.md). The same arithmetic on one row in numpy
takes a fraction of that.

`IntentScorer.of(diet)` takes the trained weights out of the loaded model,
or returns None for any configuration it does not cover (transformer layers,
entities, hidden layers, a response selector), which Rasa then serves as
before. `scores(message)` returns None for a message without the features
DIET was trained on, which Rasa also serves as before.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import erf

logger = logging.getLogger(__name__)


def gelu(x: np.ndarray) -> np.ndarray:
    """tf.nn.gelu (the exact form, not the tanh approximation)."""
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


@dataclass(frozen=True)
class Dense:
    """`activation(x @ kernel + bias)`."""

    kernel: np.ndarray
    bias: np.ndarray | None
    activation: bool  # GELU when True, linear otherwise

    def __call__(self, x: Any) -> np.ndarray:
        out = np.asarray(x @ self.kernel)
        if self.bias is not None:
            out = out + self.bias
        return gelu(out) if self.activation else out


def _dense(layer: Any, *, activation: bool = False, masked: bool = False) -> Dense:
    kernel = layer.kernel.numpy()
    if masked and getattr(layer, "density", 1.0) < 1.0:
        # RandomlyConnectedDense zeroes the weights outside its mask when called.
        kernel = kernel * layer.kernel_mask.numpy()
    bias = layer.bias.numpy() if layer.use_bias else None
    return Dense(kernel=kernel, bias=bias, activation=activation)


@dataclass(frozen=True)
class IntentScorer:
    """What DIET computes for the intent of one message, as numpy weights."""

    featurizers: list[str]
    # The sentence-level features in the order DIET concatenates them:
    # (is_sparse, units) each.
    signature: list[tuple[bool, int]]
    sparse_to_dense: Dense | None
    unify: Dense | None
    embed: Dense
    labels: np.ndarray  # (number of intents, embedding size)
    cosine: bool
    softmax: bool

    @classmethod
    def of(cls, diet: Any) -> IntentScorer | None:
        """The scorer of a loaded DIETClassifier, or None when its
        configuration is not one this module computes."""
        from rasa.nlu.classifiers.diet_classifier import DIETClassifier
        from rasa.utils.tensorflow.constants import (
            COSINE,
            ENTITY_RECOGNITION,
            FEATURIZERS,
            HIDDEN_LAYERS_SIZES,
            INNER,
            INTENT_CLASSIFICATION,
            NUM_TRANSFORMER_LAYERS,
            SENTENCE,
            SOFTMAX,
        )

        config = diet.component_config
        layers = config[NUM_TRANSFORMER_LAYERS]
        if isinstance(layers, dict):
            layers = layers.get("text", 0)
        if (
            type(diet) is not DIETClassifier
            or diet.model is None
            or layers != 0
            or config[ENTITY_RECOGNITION]
            or not config[INTENT_CLASSIFICATION]
            or config[HIDDEN_LAYERS_SIZES].get("text")
        ):
            return None
        model = diet.model
        try:
            loss = model._tf_layers["loss.label"]
            if loss.similarity_type not in (INNER, COSINE):
                return None
            sequence_layer = model._tf_layers["sequence_layer.text"]
            combining = sequence_layer._tf_layers["feature_combining"]
            concat = combining._tf_layers[f"sparse_dense.{SENTENCE}"]
            sparse_layer = concat._tf_layers.get(concat.SPARSE_TO_DENSE)
            unify = combining._tf_layers.get(
                f"unify_dims_before_seq_sent_concat.{SENTENCE}"
            )
            unify_layers = [] if unify is None else list(unify._ffn_layers[::2])
            signature = [
                (s.is_sparse, s.units)
                for s in model.predict_data_signature["text"][SENTENCE]
            ]
            if len(unify_layers) > 1 or sum(s for s, _ in signature) > 1:
                return None
            if model.all_labels_embed is None:
                model.prepare_for_predict()
            return cls(
                featurizers=list(config[FEATURIZERS]),
                signature=signature,
                sparse_to_dense=None if sparse_layer is None else _dense(sparse_layer),
                unify=(
                    _dense(unify_layers[0], activation=True, masked=True)
                    if unify_layers
                    else None
                ),
                embed=_dense(model._tf_layers["embed.text"]._dense),
                labels=np.asarray(model.all_labels_embed.numpy()),
                cosine=loss.similarity_type == COSINE,
                softmax=loss.model_confidence == SOFTMAX,
            )
        except (KeyError, AttributeError) as error:
            # A layout of DIET's layers this module does not know.
            logger.info("DIET's intents stay with TensorFlow (%s).", error)
            return None

    def scores(self, message: Any) -> np.ndarray | None:
        """The intents' confidences for `message`, in the order of DIET's
        labels, shaped (1, number of intents) as DIET returns them; None when
        the message lacks the sentence features DIET was trained on."""
        sparse: list[Any] = []
        dense: list[Any] = []
        for feature in message.features:
            if (
                feature.attribute == "text"
                and feature.type == "sentence"
                and (not self.featurizers or feature.origin in self.featurizers)
            ):
                (sparse if feature.is_sparse() else dense).append(feature.features)
        parts = []
        for is_sparse, units in self.signature:
            if is_sparse:
                part = self._sparse_to_dense(sparse, units)
            else:
                part = _joined(dense, units)
            if part is None:
                return None
            parts.append(part)
        if not parts:
            return None
        sentence = np.concatenate(parts, axis=-1).reshape(1, -1)
        if self.unify is not None:
            sentence = self.unify(sentence)
        embedded = self.embed(sentence)
        labels = self.labels
        if self.cosine:
            embedded = embedded / max(float(np.linalg.norm(embedded)), 1e-12)
            norms = np.linalg.norm(labels, axis=-1, keepdims=True)
            labels = labels / np.maximum(norms, 1e-12)
        similarities = (embedded @ labels.T).astype(np.float32)
        if not self.softmax:
            return similarities
        shifted = np.exp(similarities - similarities.max())
        return shifted / shifted.sum()

    def _sparse_to_dense(self, matrices: list[Any], units: int) -> np.ndarray | None:
        """DIET's sparse-to-dense layer over the featurizers' sparse rows, as
        Rasa joins them side by side: each row times its block of the kernel."""
        layer = self.sparse_to_dense
        if layer is None or not matrices:
            return None
        if sum(m.shape[-1] for m in matrices) != units:
            return None
        out = np.zeros((1, layer.kernel.shape[1]), dtype=np.float32)
        offset = 0
        for matrix in matrices:
            if matrix.shape[0] != 1:
                return None
            row = matrix.tocoo()
            block = layer.kernel[offset + row.col]
            out += (row.data.astype(np.float32)[:, None] * block).sum(axis=0)
            offset += matrix.shape[-1]
        if layer.bias is not None:
            out = out + layer.bias
        return gelu(out) if layer.activation else out


def _joined(matrices: list[Any], units: int) -> np.ndarray | None:
    """The featurizers' dense rows side by side, as Rasa joins them."""
    if not matrices or sum(m.shape[-1] for m in matrices) != units:
        return None
    return np.concatenate([np.asarray(m, dtype=np.float32) for m in matrices], axis=-1)
