"""`make bench-coldstart`: a pack at hour one, against Rasa's default pipeline,
then a simulated crisis day in which people teach the FAQ.

For each shipped pack (or `--pack NAME`), trains Relais' NLU pipeline and
Rasa's default one (the config.yml that `rasa init` writes) on the first 1,
3 and 8 examples of each topic and language, and on all of them, then asks
each model every held-out question in the pack's heldout/. Prints, for
covered questions, how many were answered right, answered wrong, got "did you
mean" buttons (and how many of those buttons held the right topic), or went
elsewhere (a human, "out of scope"); for the others, how many were caught.
Both pipelines see the same examples in the same run; only the examples are
cut, never the held-out questions.

The crisis day starts from the pack with 3 examples per topic and language.
The covered held-out questions are asked in random order (seeded), each by a
new person who clicks the right "did you mean" button when it is offered;
every click goes through bot.faq.suggestions like a real one. Every 100
questions an editor accepts the pending suggestions (they are all right: the
simulated people click the right button) and the pack is retrained. When the
held-out questions run out they are asked again in a new order: people ask
the same things. Each block prints direct answers, wrong answers and
clicks, and how many of its questions had been asked before.

The gate's limits are derived from each cut pack when it is trained
(bot/nlu/topics.py); the cross-validation rates behind them were chosen on
the dairy-recall pack's held-out questions, so its figures are not blind
(docs/benchmarks.md says so).

`--reuse-models` evaluates the models of an earlier run again without
training (after a change to the gate, which is not trained); `--no-day`
skips the crisis day, `--only-day` runs only it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from bench_nlu import rasa_default_config, training_data
from rasa.utils.log_utils import configure_structlog

from bot.faq.pack import parse_examples
from bot.publish.evaluation import HeldOutQuestion, load_questions, predicted_answer

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench-coldstart"
SIZES: tuple[int | None, ...] = (1, 3, 8, None)  # None: every example
# The simulated crisis day.
DAY_START, DAY_BLOCK, DAY_BLOCKS, DAY_SEED = 3, 100, 6, 10


def cut_pack(pack: Path, size: int | None, into: Path) -> Path:
    """What `rasa train` reads for `pack` (data/, faq/, nlu/), with only the
    first `size` examples of each FAQ block."""
    training_data(pack, into)
    if size is None:
        return into
    for path in (into / "faq").glob("*.yml"):
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
        for block in content.get("nlu") or []:
            kept = parse_examples(block.get("examples") or "")[:size]
            block["examples"] = "".join(f"- {text}\n" for text in kept)
        path.write_text(yaml.safe_dump(content, allow_unicode=True), "utf-8")
    return into


def train(name: str, config: Path, data: Path) -> Path:
    """An NLU-only model of `data` (every training file under it)."""
    subprocess.run(
        [
            str(Path(sys.executable).parent / "rasa"), "train", "nlu",
            "--config", str(config), "--nlu", str(data),
            "--domain", str(ROOT / "domain.yml"),
            "--out", str(OUT / "models"), "--fixed-model-name", name,
        ],
        check=True, cwd=ROOT,
        env={**os.environ, "RASA_MAX_CACHE_SIZE": "0"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return OUT / "models" / f"{name}.tar.gz"


def ending(question: HeldOutQuestion, parse: dict[str, Any]) -> str:
    """How one question ended: right, wrong, buttons (right topic offered or
    not), elsewhere (a human, out of scope); caught or answered if uncovered."""
    answer = predicted_answer(parse)
    if question.expected == "out_of_scope":
        return "caught" if answer is None else "answered"
    if answer is not None:
        return "right" if answer == question.expected else "wrong"
    if (parse.get("intent") or {}).get("name") == "nlu_fallback":
        offered = (parse.get("gate") or {}).get("candidates") or []
        topic = question.expected.split("/", 1)[1]
        return "buttons_right" if topic in offered else "buttons_other"
    return "elsewhere"


async def endings(model: Path, questions: list[HeldOutQuestion]) -> Counter[str]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    counts: Counter[str] = Counter()
    for question in questions:
        counts[ending(question, await agent.parse_message(question.text))] += 1
    return counts


async def parses(
    model: Path, questions: list[HeldOutQuestion]
) -> list[tuple[HeldOutQuestion, dict[str, Any]]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    return [(q, await agent.parse_message(q.text)) for q in questions]


def row(label: str, counts: Counter[str]) -> str:
    covered = sum(counts[k] for k in ("right", "wrong", "buttons_right",
                                      "buttons_other", "elsewhere"))  # fmt: skip
    uncovered = counts["caught"] + counts["answered"]

    def share(*keys: str, total: int = covered) -> str:
        return f"{100 * sum(counts[k] for k in keys) / max(1, total):5.1f}"

    return (
        f"{label:<24} {share('right')} {share('wrong')} "
        f"{share('buttons_right', 'buttons_other')} ({share('buttons_right')}) "
        f"{share('elsewhere')}  {share('right', 'buttons_right')}"
        f"   {share('caught', total=uncovered)}"
    )


def cold_start(pack: Path, questions: list[HeldOutQuestion], reuse: bool) -> dict:
    default_config = rasa_default_config(OUT)
    print(
        f"{len(questions)} held-out questions in {pack.name}/heldout/. Columns: "
        "right, wrong, did you mean (right topic among the buttons), elsewhere, "
        "right directly or as a button; not covered, caught. All in %.",
        flush=True,
    )
    report: dict[str, dict[str, int]] = {}
    for size in SIZES:
        label = "all examples" if size is None else f"first {size} per topic+lang"
        data = cut_pack(pack, size, OUT / pack.name / f"data-{size or 'all'}")
        for name, config in (("relais", ROOT / "config.yml"),
                             ("rasa-default", default_config)):  # fmt: skip
            started = time.perf_counter()
            model_name = f"{pack.name}-{name}-{size or 'all'}"
            model = OUT / "models" / f"{model_name}.tar.gz"
            if not (reuse and model.exists()):
                model = train(model_name, config, data)
            counts = asyncio.run(endings(model, questions))
            report[f"{name} {label}"] = dict(counts)
            seconds = time.perf_counter() - started
            print(row(f"{name}, {size or 'all'}", counts), f"  [{seconds:.0f} s]",
                  flush=True)  # fmt: skip
    return report


def crisis_day(pack: Path, questions: list[HeldOutQuestion]) -> list[dict]:
    """Replays the covered questions as people who click the right button;
    every block, an editor accepts the suggestions and the pack is retrained."""
    from bot.db import get_session_factory, upgrade
    from bot.faq import suggestions

    work = OUT / pack.name / "day"
    data = cut_pack(pack, DAY_START, work / "data")
    database = work / "suggestions.db"
    database.unlink(missing_ok=True)
    url = f"sqlite:///{database}"
    upgrade(url)
    factory = get_session_factory(url)
    covered = [q for q in questions if q.expected != "out_of_scope"]
    rng = random.Random(DAY_SEED)
    order: list[HeldOutQuestion] = []
    while len(order) < DAY_BLOCK * DAY_BLOCKS:
        order += rng.sample(covered, len(covered))
    print(
        f"\nCrisis day on {pack.name}: {len(covered)} covered held-out questions "
        f"asked in random order, {DAY_BLOCK} per block, starting from "
        f"{DAY_START} examples per topic and language; after each block an editor "
        "accepts the suggestions and the pack is retrained.\n"
        "block    questions  direct  wrong  clicked  asked before  "
        "direct among first-time  examples added",
        flush=True,
    )
    blocks, seen, asked = [], set(), 0
    for block in range(DAY_BLOCKS):
        started = time.perf_counter()
        model = train(f"{pack.name}-day-{block}", ROOT / "config.yml", data)
        counts: Counter[str] = Counter()
        asking = order[block * DAY_BLOCK : (block + 1) * DAY_BLOCK]
        for question, parse in asyncio.run(parses(model, asking)):
            asked += 1
            repeat = question.text in seen
            seen.add(question.text)
            result = ending(question, parse)
            counts[result] += 1
            counts["repeat"] += repeat
            counts[f"{result}_first"] += not repeat
            counts["first"] += not repeat
            if result == "buttons_right":
                with factory.begin() as session:
                    suggestions.record(
                        session=session, text=question.text,
                        topic=question.expected.split("/", 1)[1],
                        language=question.group, source=suggestions.CLARIFICATION,
                        conversation_id=f"person-{asked}",
                    )  # fmt: skip
        with factory.begin() as session:
            ids = [row.id for row in suggestions.pending(session=session)]
            review = (
                suggestions.accept(
                    session=session, faq_dir=data / "faq", ids=ids, editor="bench"
                )
                if ids
                else suggestions.Review()
            )
        added = sum(review.written.values())
        total = DAY_BLOCK
        figures = {
            "block": block + 1,
            "direct": counts["right"] / total,
            "wrong": counts["wrong"] / total,
            "clicked": counts["buttons_right"] / total,
            "asked_before": counts["repeat"] / total,
            "direct_first_time": counts["right_first"] / max(1, counts["first"]),
            "first_time": counts["first"],
            "added": added,
        }
        blocks.append(figures)
        print(
            f"{block * DAY_BLOCK + 1:>3}-{(block + 1) * DAY_BLOCK:<4} "
            f"{DAY_BLOCK:>9}  {100 * figures['direct']:5.1f}  "
            f"{100 * figures['wrong']:5.1f}  {100 * figures['clicked']:7.1f}  "
            f"{100 * figures['asked_before']:12.1f}  "
            f"{100 * figures['direct_first_time']:13.1f} (of {counts['first']})"
            f"  {added:>14}   [{time.perf_counter() - started:.0f} s]",
            flush=True,
        )
    return blocks


def main() -> int:
    arguments = sys.argv[1:]
    reuse = "--reuse-models" in arguments
    names = [arguments[i + 1] for i, a in enumerate(arguments) if a == "--pack"]
    packs = [ROOT / "packs" / name for name in names] or sorted(
        path for path in (ROOT / "packs").iterdir() if path.is_dir()
    )
    configure_structlog(logging.WARNING)
    report: dict[str, dict] = {}
    for pack in packs:
        print(f"\n=== {pack.name} ===", flush=True)
        questions = load_questions(pack / "heldout")
        report[pack.name] = {}
        if "--only-day" not in arguments:
            report[pack.name]["cold_start"] = cold_start(pack, questions, reuse)
        if "--no-day" not in arguments:
            report[pack.name]["day"] = crisis_day(pack, questions)
        (OUT / "results.json").write_text(json.dumps(report, indent=2))
    print(f"Details: {OUT / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
