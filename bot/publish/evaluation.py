"""Scoring the assistant on the held-out questions in tests/nlu/.

A question the FAQ covers ends one of three ways: answered right, answered
wrong (an FAQ answer for another topic, or a small-talk reply), or declined
(the assistant asked "did you mean", said it cannot help, or offered a human).
A question the FAQ does not cover is caught when it is declined.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.faq.pack import parse_examples

# Intents after which the assistant gives no FAQ answer nor small talk.
DECLINING_INTENTS = frozenset({"nlu_fallback", "out_of_scope", "request_human"})
OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True)
class HeldOutQuestion:
    """One held-out question and what it is about."""

    text: str
    expected: str  # "faq/<topic>" or "out_of_scope"
    group: str  # "fr", "en" or "out_of_scope"


def load_questions(directory: Path) -> list[HeldOutQuestion]:
    """Reads fr.yml, en.yml and out_of_scope.yml from `directory`.

    A missing file is no question: a pack written an hour ago may have no
    held-out questions yet (publish then says which topics nothing measures).
    """
    questions = []
    for group in ("fr", "en", "out_of_scope"):
        path = directory / f"{group}.yml"
        if not path.is_file():
            continue
        content = yaml.safe_load(path.read_text("utf-8")) or {}
        for block in content.get("nlu") or []:
            for text in parse_examples(block.get("examples") or ""):
                questions.append(HeldOutQuestion(text, str(block["intent"]), group))
    return questions


def predicted_answer(parse: dict[str, Any]) -> str | None:
    """What the assistant answers for a parse result; None when it declines.

    Returns:
        "faq/<topic>" for an FAQ answer, the intent name for small talk.
    """
    escalation = parse.get("escalation") or {}
    if escalation:
        # A trigger sent it to a human; the FAQ answer goes out too when the
        # gate was sure of it (actions/handoff.py).
        topic = escalation.get("faq_topic")
        return f"faq/{topic}" if topic else None
    intent = (parse.get("intent") or {}).get("name")
    if intent is None or intent in DECLINING_INTENTS:
        return None
    if intent == "faq":
        selectors = parse.get("response_selector") or {}
        # A ResponseSelector without `retrieval_intent` (Rasa's default
        # pipeline) reports under "default".
        selector = selectors.get("faq") or selectors.get("default") or {}
        return (selector.get("response") or {}).get("intent_response_key") or None
    return str(intent)


def outcome(question: HeldOutQuestion, answer: str | None) -> str:
    """ "right", "wrong" or "declined" for covered questions; "caught" or
    "answered" for questions outside the FAQ."""
    if question.expected == OUT_OF_SCOPE:
        return "caught" if answer is None else "answered"
    if answer is None:
        return "declined"
    return "right" if answer == question.expected else "wrong"


@dataclass
class Scores:
    """Outcome counts per group of questions."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, question: HeldOutQuestion, result: str) -> None:
        self.counts.setdefault(question.group, Counter())[result] += 1
        if question.group != OUT_OF_SCOPE:
            self.counts.setdefault("in_scope", Counter())[result] += 1

    def rate(self, group: str, result: str) -> float:
        counter = self.counts.get(group, Counter())
        total = sum(counter.values())
        return counter[result] / total if total else 0.0

    def total(self, group: str) -> int:
        return sum(self.counts.get(group, Counter()).values())


# Targets from the foundation issue: (group, outcome, bound, "max" or "min").
TARGETS = (
    ("in_scope", "wrong", 0.03, "max"),
    ("out_of_scope", "caught", 0.90, "min"),
    ("in_scope", "right", 0.85, "min"),
)


def meets(scores: Scores, group: str, result: str, bound: float, kind: str) -> bool:
    value = scores.rate(group, result)
    return value <= bound if kind == "max" else value >= bound


@dataclass
class Evaluation:
    """One model's answers to the held-out questions."""

    scores: Scores
    # Answered wrong, or answered although not covered: (question, answer).
    mistakes: list[tuple[HeldOutQuestion, str | None]]
    parse_seconds: list[float]
    escalated: Counter[str]  # question group -> sent to a human by a trigger


async def evaluate_model(model: Path, questions: list[HeldOutQuestion]) -> Evaluation:
    """Loads a trained model (seconds: imports TensorFlow) and asks it everything.

    The publish gate and `make bench-nlu` both score through here, so they
    apply the rule the running assistant applies.
    """
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    evaluation = Evaluation(Scores(), [], [], Counter())
    for question in questions:
        started = time.perf_counter()
        parse = await agent.parse_message(question.text)
        evaluation.parse_seconds.append(time.perf_counter() - started)
        if parse.get("escalation"):
            evaluation.escalated[question.group] += 1
        answer = predicted_answer(parse)
        result = outcome(question, answer)
        evaluation.scores.add(question, result)
        if result in ("wrong", "answered"):
            evaluation.mistakes.append((question, answer))
    return evaluation
