"""Rasa graph components wrapping bot.nlu.topics, bot.nlu.language and bot.nlu.gate.

Listed in config.yml after the tokenizer and the intent classifier:

    - name: bot.nlu.components.FaqTopicClassifier
    - name: bot.nlu.components.LanguageDetector
    - name: bot.nlu.components.FaqConfidenceGate
    - name: bot.nlu.components.EscalationDetector
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import rasa.shared.utils.io
import spacy
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS, TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    INTENT_RESPONSE_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import encoder
from bot.nlu.calibration import limits_for, median_phrasings
from bot.nlu.gate import (
    FALLBACK_INTENT,
    FAQ_INTENT,
    MessageFacts,
    Thresholds,
    decide,
    rating_like,
)
from bot.nlu.language import FrenchEnglishModel, detect, words
from bot.nlu.topics import Question, TopicModel, answer_sentences, meaning
from bot.nlu.triggers import TriggerDetector

logger = logging.getLogger(__name__)

LANGUAGE_PROPERTY = "language"
GATE_PROPERTY = "gate"
ESCALATION_PROPERTY = "escalation"
# The intent whose rule runs action_handoff.
HANDOFF_INTENT = "request_human"
MODEL_FILE = "french_english.json"
TOPIC_MODEL_FILE = "faq_topics.json"
RESPONSE_SELECTOR_PROPERTY = "response_selector"
RANKING_LENGTH = 10
# The code and calibration the topic model trains with (see
# FaqTopicClassifier's config).
TRAINING_CODE = hashlib.sha256(
    b"".join(
        (Path(__file__).parent / name).read_bytes()
        for name in ("components.py", "topics.py", "calibration.py", "calibration.json")
    )
).hexdigest()[:16]


def _question(message: Message, encoded: bool = True) -> Question:
    """The message as the topic model sees it: lemmas from the spaCy tokenizer,
    word vectors from SpacyNLP's parse, the sentence's meaning from the
    encoder (once per text and process: bot/nlu/encoder.py)."""
    tokens = message.get(TOKENS_NAMES[TEXT]) or []
    doc = message.get(SPACY_DOCS[TEXT])
    text = message.get(TEXT) or ""
    return Question.from_tokens(
        text,
        ((token.text, token.lemma or "") for token in tokens),
        meaning(doc) if doc is not None else None,
        # Training encodes every example at once (bot.nlu.topics.with_meaning).
        encoder.encode([text])[0] if encoded else None,
    )


def _what_the_pack_says(training_data: TrainingData) -> list[tuple[str, str]]:
    """(text, topic key) for each topic's titles and answer sentences."""
    topics = {
        message.get(INTENT_RESPONSE_KEY)
        for message in training_data.training_examples
        if message.get(INTENT) == FAQ_INTENT and message.get(INTENT_RESPONSE_KEY)
    }
    said: set[tuple[str, str]] = set()
    for message in training_data.training_examples:
        key = message.get(INTENT_RESPONSE_KEY)
        title = ((message.get("metadata") or {}).get("intent") or {}).get("title")
        if key in topics and title:
            said.add((str(title), key))
    for name, variations in (training_data.responses or {}).items():
        key = name.removeprefix("utter_")
        if key not in topics:
            continue
        for variation in variations:
            said.update(
                (sentence, key)
                for sentence in answer_sentences(str(variation.get("text") or ""))
            )
    return sorted(said)


def _set_intent(message: Message, intent: dict[str, Any]) -> None:
    """Makes `intent` the message's intent, first in its ranking (once)."""
    ranking = [
        item
        for item in message.get(INTENT_RANKING_KEY) or []
        if item.get(INTENT_NAME_KEY) != intent[INTENT_NAME_KEY]
    ]
    message.set(INTENT, intent, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [intent, *ranking], add_to_output=True)


def _example_language(message: Message) -> str | None:
    metadata = message.get("metadata") or {}
    for level in ("example", "intent"):
        language = (metadata.get(level) or {}).get("lang")
        if language:
            return str(language)
    return None


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class FaqTopicClassifier(GraphComponent):
    """Ranks the FAQ topics for each message (see bot.nlu.topics).

    Takes the place of Rasa's ResponseSelector and reports in the same shape
    (`response_selector.faq.response` and `.ranking`), so the gate, the
    actions and Rasa's tracker read it as they would read the ResponseSelector.
    It also reports the limits the gate holds the best topic to for this pack
    (`response_selector.faq.threshold`: confidence and margin), calibrated
    across many packs for this pack's number of phrasings per topic
    (bot.nlu.calibration).
    """

    def __init__(
        self,
        model_storage: ModelStorage,
        resource: Resource,
        model: TopicModel | None = None,
        spacy_model: str = "fr_core_news_md",
    ) -> None:
        self._model_storage = model_storage
        self._resource = resource
        self._model = model
        self._spacy_model = spacy_model

    @staticmethod
    def required_components() -> list[type]:
        # The lemmas come from the tokenizer (SpacyTokenizer in config.yml).
        return [Tokenizer]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FaqTopicClassifier:
        return cls(model_storage, resource, spacy_model=str(config["spacy_model"]))

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # The pipeline that parses titles and answers the way SpacyNLP
            # parses messages (training only).
            "spacy_model": "fr_core_news_md",
            # Rasa's training cache keys a component on its config and data,
            # not its code: this hash of the code makes a changed topic model
            # retrain instead of coming back stale from the cache.
            "code": TRAINING_CODE,
        }

    def train(self, training_data: TrainingData) -> Resource:
        faq_messages = [
            message
            for message in training_data.training_examples
            if message.get(INTENT) == FAQ_INTENT and message.get(INTENT_RESPONSE_KEY)
        ]
        examples = [
            (_question(message, encoded=False), message.get(INTENT_RESPONSE_KEY))
            for message in faq_messages
        ]
        # Everything that is not an FAQ question: out of scope, small talk,
        # requests for a human. The gate lets a sure topic overrule small talk
        # ("bonjour, mon retrait est bloqué"), so the topic model must know
        # what a plain "bonjour" looks like.
        not_in_faq = [
            _question(message, encoded=False)
            for message in training_data.training_examples
            if message.get(INTENT) and message.get(INTENT) != FAQ_INTENT
        ]
        nlp = spacy.load(self._spacy_model, exclude=["parser", "ner"])
        known = [
            (Question.from_doc(text, nlp(text.lower())), key)
            for text, key in _what_the_pack_says(training_data)
        ]
        questions = [question for question, _ in examples]
        keys = [str(key) for _, key in examples]
        phrasings = median_phrasings(
            Counter(
                (key, _example_language(message))
                for key, message in zip(keys, faq_messages, strict=True)
            ).values()
        )
        self._model = TopicModel.train(
            [*questions, *(question for question, _ in known)],
            [*keys, *(key for _, key in known)],
            not_in_faq,
        )
        self._model.threshold = limits_for(phrasings)
        logger.info(
            "FAQ topics: %.0f phrasings per topic and language; the gate answers "
            "from confidence %.3f and margin %.3f (calibrated at %d phrasings).",
            phrasings,
            self._model.threshold.confidence,
            self._model.threshold.margin,
            self._model.threshold.calibrated_at,
        )
        with self._model_storage.write_to(self._resource) as directory:
            rasa.shared.utils.io.dump_obj_as_json_to_file(
                directory / TOPIC_MODEL_FILE, self._model.to_dict()
            )
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> FaqTopicClassifier:
        with model_storage.read_from(resource) as directory:
            data = rasa.shared.utils.io.read_json_file(directory / TOPIC_MODEL_FILE)
        model = TopicModel.from_dict(data)
        # Load the sentence encoder now, not on the first person's message.
        encoder.encode(["bonjour"])
        return cls(model_storage, resource, model)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        if self._model is None:
            raise RuntimeError("FaqTopicClassifier used before training")
        for message in messages:
            question = _question(message)
            ranking = self._model.rank(question)[:RANKING_LENGTH]
            if question.encoded is not None:
                # Computed once here, read again by whoever needs the
                # message's meaning (gap groups, suggestions).
                message.set(
                    encoder.PARSE_KEY,
                    encoder.to_text(question.encoded),
                    add_to_output=True,
                )
            best_key, best_confidence = ranking[0]
            message.set(
                RESPONSE_SELECTOR_PROPERTY,
                {
                    "all_retrieval_intents": [FAQ_INTENT],
                    FAQ_INTENT: {
                        "response": {
                            "intent_response_key": best_key,
                            "utter_action": f"utter_{best_key}",
                            "confidence": best_confidence,
                        },
                        "ranking": [
                            {"intent_response_key": key, "confidence": confidence}
                            for key, confidence in ranking
                        ],
                        "threshold": (
                            self._model.threshold.as_dict()
                            if self._model.threshold
                            else None
                        ),
                    },
                },
                add_to_output=True,
            )
            intent = message.get(INTENT) or {}
            if intent.get(INTENT_NAME_KEY) == FAQ_INTENT:
                intent["full_retrieval_intent_name"] = best_key
        return messages


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True
)
class LanguageDetector(GraphComponent):
    """Tags each message with its language and fills the `language` entity."""

    def __init__(
        self,
        model_storage: ModelStorage,
        resource: Resource,
        model: FrenchEnglishModel | None = None,
    ) -> None:
        self._model_storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetector:
        return cls(model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        pairs = [
            (message.get(TEXT), language)
            for message in training_data.training_examples
            if (language := _example_language(message)) is not None
        ]
        if not pairs:
            raise ValueError(
                "LanguageDetector found no training example with `lang: fr|en` "
                "metadata; add it to each example block (see data/faq/)."
            )
        self._model = FrenchEnglishModel.train(pairs)
        with self._model_storage.write_to(self._resource) as directory:
            rasa.shared.utils.io.dump_obj_as_json_to_file(
                directory / MODEL_FILE, self._model.to_dict()
            )
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LanguageDetector:
        with model_storage.read_from(resource) as directory:
            data = rasa.shared.utils.io.read_json_file(directory / MODEL_FILE)
        return cls(model_storage, resource, FrenchEnglishModel.from_dict(data))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        if self._model is None:
            raise RuntimeError("LanguageDetector used before training")
        for message in messages:
            text = message.get(TEXT) or ""
            detection = detect(text, self._model)
            message.set(
                LANGUAGE_PROPERTY,
                {
                    "language": detection.language,
                    "foreign": detection.foreign,
                    "probability_english": detection.probability_english,
                    "known_word_share": detection.known_word_share,
                },
                add_to_output=True,
            )
            if detection.language is not None:
                entity = {
                    "entity": "language",
                    "value": detection.language,
                    "start": 0,
                    "end": len(text),
                    "confidence": 1.0,
                    "extractor": self.__class__.__name__,
                }
                message.set(
                    ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True
                )
        return messages


def _profile_wrong_target() -> float:
    """The brand's wrong-answer target (profile.yml of RELAIS_PACK), read when
    the model is loaded: changing it needs a restart, not a training."""
    from bot.profile import ProfileError, load_profile
    from bot.settings import pack_dir_from_environment

    try:
        return load_profile(pack_dir_from_environment()).wrong_answers_at_most
    except (ProfileError, OSError) as error:
        logger.warning("FAQ gate: %s; wrong answers kept under 3 %%.", error)
        return Thresholds().wrong_target


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class FaqConfidenceGate(GraphComponent):
    """Replaces an unsure prediction with `nlu_fallback` (see bot.nlu.gate)."""

    def __init__(self, thresholds: Thresholds) -> None:
        self._thresholds = thresholds

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        defaults = Thresholds()
        return {
            "intent_threshold": defaults.intent_threshold,
            "intent_margin": defaults.intent_margin,
            "faq_threshold": defaults.faq_threshold,
            "faq_margin": defaults.faq_margin,
            # Most wrong answers; None: the profile's wrong_answers_at_most.
            "wrong_target": None,
        }

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FaqConfidenceGate:
        def optional(name: str) -> float | None:
            value = config.get(name)
            return None if value is None else float(value)

        return cls(
            Thresholds(
                intent_threshold=float(config["intent_threshold"]),
                intent_margin=float(config["intent_margin"]),
                faq_threshold=optional("faq_threshold"),
                faq_margin=optional("faq_margin"),
                wrong_target=optional("wrong_target") or _profile_wrong_target(),
            )
        )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            language = message.get(LANGUAGE_PROPERTY) or {}
            text = message.get(TEXT) or ""
            decision = decide(
                intent_ranking=message.get(INTENT_RANKING_KEY) or [],
                response_selector=message.get("response_selector"),
                message=MessageFacts(
                    length=len(text),
                    word_count=len(words(text)),
                    known_word_share=float(language.get("known_word_share") or 0.0),
                    foreign=bool(language.get("foreign")),
                    rating_like=rating_like(text),
                ),
                thresholds=self._thresholds,
            )
            message.set(GATE_PROPERTY, decision.as_dict(), add_to_output=True)
            if decision.answered_as_faq:
                self._answer_as_faq(message)
            if not decision.answer:
                intent = message.get(INTENT) or {}
                fallback = {
                    INTENT_NAME_KEY: FALLBACK_INTENT,
                    PREDICTED_CONFIDENCE_KEY: float(
                        intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0
                    ),
                }
                _set_intent(message, fallback)
        return messages

    @staticmethod
    def _answer_as_faq(message: Message) -> None:
        """The message becomes the FAQ question the topic model was sure of."""
        selector = message.get(RESPONSE_SELECTOR_PROPERTY) or {}
        best = (selector.get(FAQ_INTENT) or {}).get("response") or {}
        faq = {
            INTENT_NAME_KEY: FAQ_INTENT,
            PREDICTED_CONFIDENCE_KEY: float(best.get("confidence") or 0.0),
            "full_retrieval_intent_name": best.get("intent_response_key"),
        }
        _set_intent(message, faq)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class EscalationDetector(GraphComponent):
    """Sends sensitive messages to a human, whatever the classifiers said.

    Runs last. When bot.nlu.triggers finds a trigger (health, self-harm,
    press, legal, data protection, strong anger), the message's intent becomes
    `request_human` (whose rule runs action_handoff) and `escalation` carries
    the reason and priority for the action and for the agent, and the FAQ
    topic when the gate had let one through. The FAQ ranking and the gate's
    decision stay in the parse data as they were.
    """

    def __init__(self) -> None:
        self._detector: TriggerDetector | None = None

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EscalationDetector:
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            doc = message.get(SPACY_DOCS[TEXT])
            if doc is None:  # SpacyNLP parses no empty message: nothing to find
                continue
            if self._detector is None:
                self._detector = TriggerDetector(doc.vocab)
            trigger = self._detector.detect(doc, message.get(TEXT) or "")
            if trigger is None:
                continue
            escalation = trigger.as_dict()
            # An FAQ the gate was sure of still goes out (after any emergency
            # guidance): the person gets the official answer while waiting.
            intent = message.get(INTENT) or {}
            if intent.get(INTENT_NAME_KEY) == FAQ_INTENT:
                selector = message.get(RESPONSE_SELECTOR_PROPERTY) or {}
                key = ((selector.get(FAQ_INTENT) or {}).get("response") or {}).get(
                    "intent_response_key"
                )
                if key and key.startswith(f"{FAQ_INTENT}/"):
                    escalation["faq_topic"] = key.split("/", 1)[1]
            message.set(ESCALATION_PROPERTY, escalation, add_to_output=True)
            _set_intent(
                message,
                {INTENT_NAME_KEY: HANDOFF_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0},
            )
        return messages
