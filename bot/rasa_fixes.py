"""Known costs of Rasa 3.6, fixed once, in the Rasa process.

Rasa 3.6 is the last open-source release: what it does slowly stays slow
unless fixed here. Each fix keeps Rasa's behaviour and says what it costs
without it; `install()` applies them, and runs when the Rasa server loads
Relais' channels (bot/channels/guard.py), before the first message.

- Every action server response is checked against Rasa's response schema by
  `jsonschema.validate`, which builds a validator and checks the schema
  itself again on every call: about 47 ms per action here, one or two
  actions per message, about a third of the Rasa process's time under load
  (issue 11). A validator built once checks the same response in about 1 ms,
  and rejects the same invalid responses with the same message.
- SpacyNLP loads the French model without its parser but with its
  named-entity recogniser, which nothing in Relais reads (the escalation
  triggers read lemmas and parts of speech, the featurizers vectors; no
  spaCy entity extractor is in config.yml). It was half of every parse:
  2.6 ms of a message's 23 ms of CPU in the Rasa process (issue 29,
  docs/benchmarks.md). The served model's recogniser is switched off; the
  tokens, lemmas, parts of speech and vectors are the same, so the trained
  model and its features do not change.
- Each model holds the French model twice: the predict graph builds two
  SpacyNLP nodes (`provide_SpacyNLP0`, whose model every parse uses, and
  `run_SpacyNLP0`, which parses with the one it is given), and each loads its
  own, about 330 MB of memory apiece. A published model loaded beside the live
  one loaded a third. Here a model is loaded once per process and shared.
- spaCy's token-to-vector network multiplies its small matrices with blis,
  whose per-call cost dominates for a chat message: with numpy's BLAS
  (OpenBLAS) instead, the French parse of a held-out question takes 1.4 ms
  instead of 2.2 (a scratch measure, 309 questions, the same tokens, lemmas,
  parts of speech and morphology). numpy's BLAS is kept to one thread: the
  server handles many small messages at once, and OpenBLAS's second thread
  spinning for a 12 x 288 matrix made the parse slower under load (7.0 ms
  per message against 5.1 with blis).
- The French model's 712,952 stored strings (the words its vectors and
  tables know, by hash) are loaded into memory, about 130 MB, though nothing
  reads them: spaCy adds the string of every token, lemma and morphological
  feature it makes, and the vectors and lemma tables are looked up by hash.
  The model is loaded without them; what it says of a message is the same.
- Each message runs the model's graph three or four times (the NLU, then a
  prediction after each action), and each run Rasa's DaskGraphRunner works
  out the part of the graph its targets need, builds a dask graph of it and
  has dask's scheduler run it (Rasa's processor and graph runner were 13 %
  of the Rasa process's samples, 3 % after). Here the order of the nodes each
  set of targets needs is worked out once per runner and the nodes are
  called in that order, with the same inputs and the same results.
- DIET computes a message's intent as a TensorFlow function over a padded
  batch of one, built from every feature of the message: 5.5 ms per message
  under load, 60 % of it the TensorFlow call. Relais' DIET has no transformer
  layers and no entities, so the intent depends on the sentence features
  only, and the same arithmetic in numpy takes about 0.06 ms
  (bot/rasa_diet.py); the confidences agree with TensorFlow's to 1e-6.
  Any other configuration, and a parse that asks for diagnostic data, is
  served by TensorFlow as before.
- glibc gives each thread that allocates (TensorFlow's, spaCy's, the
  encoder's) an arena of its own and keeps what is freed: with two arenas at
  most and freed memory given back above 128 KB, the Rasa process holds about
  65 MB less after loading the model and parsing the pack's held-out
  questions (a scratch measure, 1,498 -> 1,431 MB), at no measurable cost.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, lru_cache, partial
from typing import Any

import spacy
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphSchema
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.nlu.utils.spacy_utils import SpacyModel, SpacyNLP
from rasa.shared.constants import DOCS_BASE_URL
from thinc.api import use_ops
from threadpoolctl import threadpool_limits

from bot.rasa_diet import IntentScorer

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def action_response_validator() -> Validator:
    """A validator of action server responses, built (and its schema
    checked) once."""
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(_action: RemoteAction, result: dict[str, Any]) -> bool:
    """RemoteAction._validate_action_result with a validator built once."""
    error = best_match(action_response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, "
        "make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


# spaCy pipes no Relais component reads.
UNUSED_SPACY_PIPES = ("ner",)
_load_spacy_model = SpacyNLP.load_model


@contextmanager
def _without_stored_strings() -> Iterator[None]:
    """spacy.load leaves out the model's stored strings while Rasa loads it."""
    load = spacy.load
    spacy.load = partial(load, exclude=["strings"])
    try:
        yield
    finally:
        spacy.load = load


@cache
def load_spacy_model(spacy_model_name: str) -> SpacyModel:
    """SpacyNLP.load_model, once per process and model name, with the pipes
    nothing reads switched off, multiplying its matrices with numpy's BLAS,
    without the model's stored strings."""
    with use_ops("numpy", use_blis=False), _without_stored_strings():
        loaded = _load_spacy_model(spacy_model_name)
    for name in UNUSED_SPACY_PIPES:
        if name in loaded.model.pipe_names:
            loaded.model.disable_pipe(name)
    return loaded


RASA_GRAPH_RUN = DaskGraphRunner.run


def run_graph(
    runner: DaskGraphRunner,
    inputs: dict[str, Any] | None = None,
    targets: list[str] | None = None,
) -> dict[str, Any]:
    """DaskGraphRunner.run, calling the nodes in an order worked out once per
    set of targets: what each node receives and returns is the same."""
    run_targets = list(targets) if targets else runner._graph_schema.target_names
    values: dict[str, Any] = {}
    for name, value in (inputs or {}).items():
        if name in runner._graph_schema.nodes:
            raise GraphRunError(
                f"Input value '{name}' clashes with a node name. Make sure "
                f"that none of the input names passed to the `run` method are the "
                f"same as node names in the graph schema."
            )
        values[name] = (name, value)
    nodes = runner._instantiated_nodes
    plans = runner.__dict__.setdefault("_relais_plans", {})
    key = tuple(run_targets)
    if key not in plans:
        plans[key] = _plan(runner._graph_schema, key)
    for name, needs in plans[key]:
        # As dask does: a need nothing provides is passed as its own name.
        values[name] = nodes[name](*(values.get(need, need) for need in needs))
    return dict(values[target] for target in run_targets)


def _plan(schema: GraphSchema, targets: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """The nodes `targets` need, each after the nodes it needs, with the
    names of what it needs."""
    plan: list[tuple[str, list[str]]] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen or name not in schema.nodes:
            return  # done already, or an input
        seen.add(name)
        needs = list(schema.nodes[name].needs.values())
        for need in needs:
            visit(need)
        plan.append((name, needs))

    for target in targets:
        visit(target)
    return plan


RASA_DIET_PREDICT = DIETClassifier._predict
_NO_SCORER = object()


def predict_intent(diet: DIETClassifier, message: Any) -> Any:
    """DIETClassifier._predict, in numpy where the model's configuration
    allows (bot/rasa_diet.py), with the same scores."""
    if diet._execution_context.should_add_diagnostic_data:
        return RASA_DIET_PREDICT(diet, message)
    scorer = diet.__dict__.get("_relais_scorer", _NO_SCORER)
    if scorer is _NO_SCORER:
        scorer = diet.__dict__["_relais_scorer"] = IntentScorer.of(diet)
    if scorer is not None:
        scores = scorer.scores(message)
        if scores is not None:
            return {"i_scores": scores}
    return RASA_DIET_PREDICT(diet, message)


# glibc's mallopt parameters (malloc.h).
M_TRIM_THRESHOLD, M_ARENA_MAX = -1, -8


def hold_less_memory() -> bool:
    """Two malloc arenas at most, freed memory above 128 KB given back to the
    system; False where the C library is not glibc (nothing changes)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_ARENA_MAX, 2)) and bool(mallopt(M_TRIM_THRESHOLD, 128 * 1024))


def one_blas_thread() -> None:
    """numpy's BLAS on one thread (see the module's doc)."""
    threadpool_limits(limits=1, user_api="blas")


def install() -> None:
    """Applies the fixes (safe to call more than once)."""
    one_blas_thread()
    if RemoteAction._validate_action_result is not validate_action_result:
        RemoteAction._validate_action_result = validate_action_result
        logger.info("Action server responses are checked by a validator built once.")
    hold_less_memory()
    if DaskGraphRunner.run is not run_graph:
        DaskGraphRunner.run = run_graph
        logger.info("The model's graph runs its nodes in an order worked out once.")
    if DIETClassifier._predict is not predict_intent:
        DIETClassifier._predict = predict_intent
        logger.info("DIET's intents are computed in numpy where its layers allow.")
    if SpacyNLP.load_model is not load_spacy_model:
        SpacyNLP.load_model = staticmethod(load_spacy_model)
        logger.info("spaCy's pipes nothing reads are off: %s", UNUSED_SPACY_PIPES)
