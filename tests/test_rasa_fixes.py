"""Rasa 3.6, fixed where it costs (bot/rasa_fixes.py): the action response
check with a validator built once, spaCy without the pipes nothing reads and
loaded once, the model's graph run without dask, DIET's intents in numpy."""

from __future__ import annotations

import time

import jsonschema
import numpy as np
import pytest
import spacy
import yaml
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.core.agent import Agent
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.nlu.utils.spacy_utils import SpacyNLP
from rasa.utils.endpoints import EndpointConfig

from bot import rasa_fixes
from bot.publish.evaluation import load_questions
from bot.settings import PROJECT_ROOT

ORDINARY = PROJECT_ROOT / "tests" / "triggers" / "ordinary.yml"
HELDOUT = load_questions(PROJECT_ROOT / "packs" / "dairy-recall" / "heldout")

RESPONSE = {
    "events": [
        {"event": "slot", "name": "asked_to_clarify", "value": False},
        {"event": "bot", "text": "Les lots concernés sont…", "data": {}},
    ],
    "responses": [{"text": "Les lots concernés sont…", "buttons": []}],
}


@pytest.fixture
def action() -> RemoteAction:
    rasa_fixes.install()
    return RemoteAction("action_answer_faq", EndpointConfig("http://127.0.0.1:1"))


def test_a_valid_response_passes(action: RemoteAction) -> None:
    assert action._validate_action_result(RESPONSE) is True


@pytest.mark.parametrize(
    "response",
    [
        {"events": [{"event": "no_such_event"}]},
        {"events": "not a list"},
        {"responses": ["not an object"]},
    ],
)
def test_an_invalid_response_is_rejected_as_rasa_rejects_it(
    action: RemoteAction, response: dict
) -> None:
    with pytest.raises(ValidationError) as ours:
        action._validate_action_result(response)
    with pytest.raises(ValidationError) as rasas:
        jsonschema.validate(response, RemoteAction.action_response_format_spec())
    assert ours.value.message.startswith(rasas.value.message)
    assert "Failed to validate Action server response" in ours.value.message


def test_the_schema_is_checked_once_not_per_response(
    action: RemoteAction, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = []
    validator_class = type(rasa_fixes.action_response_validator())
    original = validator_class.check_schema
    monkeypatch.setattr(
        validator_class,
        "check_schema",
        classmethod(lambda cls, schema: checks.append(1) or original(schema)),
    )
    started = time.perf_counter()
    for _ in range(50):
        action._validate_action_result(RESPONSE)
    ours = time.perf_counter() - started
    assert checks == []
    # For the record (never asserted on time): Rasa's own way, same responses.
    started = time.perf_counter()
    for _ in range(5):
        jsonschema.validate(RESPONSE, RemoteAction.action_response_format_spec())
    print(f"\n{ours / 50 * 1000:.2f} ms per response against "
          f"{(time.perf_counter() - started) / 5 * 1000:.2f} ms")  # fmt: skip


def test_spacy_is_served_without_the_entity_recogniser_and_reads_the_same() -> None:
    """Issue 29: the French NER was half of every parse and nothing reads it,
    and blis cost more than the arithmetic. What the triggers and featurizers
    read stays the same."""
    rasa_fixes.install()
    served = SpacyNLP.load_model("fr_core_news_md").model
    assert "ner" not in served.pipe_names and "lemmatizer" in served.pipe_names
    # The predict graph's two SpacyNLP nodes hold one model, not one each
    # (about 330 MB of memory apiece).
    assert SpacyNLP.load_model("fr_core_news_md").model is served
    # Its network multiplies with numpy's BLAS, not blis (a third faster on
    # chat-sized messages); the full model below uses blis, as spaCy does.
    assert served.get_pipe("tok2vec").model.ops.use_blis is False
    full = spacy.load("fr_core_news_md", disable=["parser"])
    ordinary = yaml.safe_load(ORDINARY.read_text(encoding="utf-8"))
    texts = [
        t.lower() for group in ordinary.values() for ts in group.values() for t in ts
    ] + [q.text for q in HELDOUT]
    # Served without the model's stored strings (about 130 MB of memory).
    assert len(served.vocab.strings) < len(full.vocab.strings) / 10
    for text in texts:
        mine, theirs = served(text), full(text)
        assert [(t.text, t.lemma_, t.pos_, str(t.morph)) for t in mine] == [
            (t.text, t.lemma_, t.pos_, str(t.morph)) for t in theirs
        ], text
        assert (mine.vector == theirs.vector).all(), text


@pytest.fixture(scope="module")
def agent() -> Agent:
    """The shipped model, served with the fixes."""
    rasa_fixes.install()
    return Agent.load(str(PROJECT_ROOT / "models" / "relais.tar.gz"))


async def test_the_graph_runs_its_nodes_in_order_with_rasas_results(
    agent: Agent,
) -> None:
    """Issue 29: the served model's graph runs without dask, node by node in
    an order worked out once; what the NLU says of a message and what the
    policies predict next are what Rasa's DaskGraphRunner gives."""
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    processor = agent.processor
    assert processor is not None
    texts = [q.text for q in HELDOUT[::12]] + ["agent please", "bonjour", ""]

    async def outcomes() -> list[tuple[object, ...]]:
        seen = []
        for text in texts:
            parse = await agent.parse_message(text)
            tracker = DialogueStateTracker.from_events(
                "someone",
                [ActionExecuted("action_listen"), UserUttered(text, parse_data=parse)],
                agent.domain.slots if agent.domain else [],
            )
            predicted = processor._predict_next_with_tracker(tracker)
            seen.append((parse, predicted.max_confidence_index, predicted.policy_name))
        return seen

    ours = await outcomes()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DaskGraphRunner, "run", rasa_fixes.RASA_GRAPH_RUN)
        theirs = await outcomes()
    assert ours == theirs
    assert {parse["intent"]["name"] for parse, *_ in ours} >= {"faq", "request_human"}


async def test_diet_gives_tensorflows_intents_in_numpy(agent: Agent) -> None:
    """Issue 29: DIET's intent for one message was a TensorFlow call over a
    padded batch (5.5 ms under load); in numpy it is the same ranking with the
    same confidences, in French and in English, and a message without
    features still gets no intent."""
    texts = [q.text for q in HELDOUT] + ["agent please", "bonjour", "!!!", ""]
    seen: list[tuple[str, object, object]] = []

    def both(diet: DIETClassifier, message: object) -> object:
        ours = rasa_fixes.predict_intent(diet, message)
        # The numpy path served it, not TensorFlow.
        assert diet.__dict__["_relais_scorer"] is not None
        theirs = rasa_fixes.RASA_DIET_PREDICT(diet, message)
        seen.append((str(message.get("text")), ours, theirs))  # type: ignore[attr-defined]
        return ours

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DIETClassifier, "_predict", both)
        for text in texts:
            await agent.parse_message(text)
    assert len(seen) == len(texts)
    assert {q.group for q in HELDOUT} >= {"fr", "en"}
    for text, ours, theirs in seen:
        if text == "":
            assert ours is None and theirs is None
            continue
        mine = ours["i_scores"]  # type: ignore[index]
        rasa = theirs["i_scores"]  # type: ignore[index]
        assert mine.shape == rasa.shape
        assert np.abs(mine - rasa).max() < 1e-5, text
        assert list(np.argsort(-mine[0])[:3]) == list(np.argsort(-rasa[0])[:3]), text


def test_a_diet_the_numpy_path_does_not_cover_stays_with_tensorflow(
    agent: Agent,
) -> None:
    """A brand whose config.yml gives DIET transformer layers or entities is
    served by TensorFlow, as Rasa serves it."""
    from bot.rasa_diet import IntentScorer

    diet = next(
        node._component
        for node in agent.processor.graph_runner._instantiated_nodes.values()  # type: ignore[union-attr]
        if isinstance(getattr(node, "_component", None), DIETClassifier)
    )
    assert IntentScorer.of(diet) is not None
    uncovered = {"number_of_transformer_layers": 2, "entity_recognition": True}
    for key, value in uncovered.items():
        with pytest.MonkeyPatch.context() as patch:
            patch.setitem(diet.component_config, key, value)
            assert IntentScorer.of(diet) is None, key


def test_numpys_blas_runs_on_one_thread_in_the_rasa_process() -> None:
    """Issue 29: with two threads OpenBLAS spun for each of spaCy's small
    matrices while other messages waited (7.0 ms per parse under load)."""
    from threadpoolctl import threadpool_info

    rasa_fixes.install()
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == 1 for pool in blas)


def test_glibc_takes_the_memory_settings() -> None:
    """Issue 29: two malloc arenas and freed memory given back, on these
    machines' glibc (elsewhere the call says it changed nothing)."""
    assert rasa_fixes.hold_less_memory() is True
