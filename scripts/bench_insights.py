"""Crisis figures at scale: one million events, then the overview, the gap
clustering and the report, each against a baseline in the same run.

    make bench-insights                       # SQLite, ~1M events
    .venv/bin/python scripts/bench_insights.py --conversations 5000   # quick

1. A generated crisis day (bot/insights/generator.py) of about one million
   Rasa events is written into the SQL broker's table, and the console's
   watcher reads it (events per second).
2. Overview: the page's figures from the 5-minute buckets, against the same
   figures computed straight from the message facts (the baseline).
3. Gap clustering of 50,000 messages, against 5,000 (how it scales).
4. The report, HTML and PDF, for the day.
5. Grouping quality (B-cubed precision and recall of groups against FAQ
   topics): on both packs' examples (where the distance was chosen, with
   COVID-Q's and banking77's phrasings) and, written apart, both packs'
   held-out questions.

Prints figures; docs/benchmarks.md keeps them.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from bot.db import get_engine, get_session_factory, upgrade
from bot.events.sql import watch_once
from bot.faq.pack import load_pack, parse_examples
from bot.insights import gaps, overview
from bot.insights.facts import bucket_start
from bot.insights.generator import Day
from bot.insights.models import MessageFact
from bot.nlu import encoder
from bot.settings import PROJECT_ROOT

WORK = PROJECT_ROOT / "var" / "bench-insights"
PACK = PROJECT_ROOT / "packs" / "dairy-recall"


def timed(function, repeat: int = 1) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def facts_baseline(url: str, start: datetime, end: datetime) -> Counter[str]:
    """The overview's message figures without the buckets: every message of
    the day read back and counted (what a design without them would do)."""
    counts: Counter[str] = Counter()
    per_5min: Counter[datetime] = Counter()
    with get_session_factory(url).begin() as session:
        for at, outcome, language, topic, mood, started in session.execute(
            select(
                MessageFact.at,
                MessageFact.outcome,
                MessageFact.language,
                MessageFact.topic,
                MessageFact.mood,
                MessageFact.new_conversation,
            ).where(MessageFact.at >= start, MessageFact.at < end)
        ):
            counts[outcome] += 1
            counts[language] += 1
            counts[f"topic {topic}"] += 1
            counts[mood] += 1
            counts["started"] += started
            per_5min[bucket_start(at)] += 1
    return counts


FILLERS = (
    "svp",
    "bonjour",
    "merci",
    "please",
    "urgent",
    "help",
    "stp",
    "hello",
    "??",
    "!",
    "au fait",
    "rapidement",
)


def distinct_texts(count: int, seed: int = 1) -> list[str]:
    """`count` different messages made from both packs' examples."""
    rng = random.Random(seed)
    base = [
        text
        for pack in ("dairy-recall", "network-outage")
        for text in pack_examples(pack)[0]
    ]
    texts: set[str] = set()
    while len(texts) < count:
        words = rng.choice(base).split()
        for _ in range(rng.randint(1, 3)):
            kind = rng.random()
            if kind < 0.3 and len(words) > 2:
                words.pop(rng.randrange(len(words)))
            elif kind < 0.6:
                words.insert(rng.randrange(len(words) + 1), rng.choice(FILLERS))
            elif kind < 0.8:
                index = rng.randrange(len(words))
                word = words[index]
                if len(word) > 3:
                    cut = rng.randrange(len(word))
                    words[index] = word[:cut] + word[cut + 1 :]
            else:
                words.append(f"L{rng.randint(10000, 99999)}")
        texts.add(" ".join(words))
    return sorted(texts)


def bcubed(labels: list[str], groups: list[int]) -> tuple[float, float]:
    pairs = Counter(zip(labels, groups, strict=True))
    by_group, by_label = Counter(groups), Counter(labels)
    precision = sum(n * n / by_group[g] for (_, g), n in pairs.items()) / len(labels)
    recall = sum(n * n / by_label[lab] for (lab, _), n in pairs.items()) / len(labels)
    return precision, recall


def pack_examples(pack: str) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for key, topic in load_pack(PROJECT_ROOT / "packs" / pack / "faq").items():
        for language, examples in topic.examples.items():
            texts += examples
            labels += [f"{key}/{language}"] * len(examples)
    return texts, labels


def heldout(pack: str) -> tuple[list[str], list[str]]:
    import yaml

    texts, labels = [], []
    for language in ("fr", "en"):
        data = yaml.safe_load(
            (PROJECT_ROOT / "packs" / pack / "heldout" / f"{language}.yml").read_text(
                "utf-8"
            )
        )
        for block in data.get("nlu") or []:
            intent = str(block.get("intent") or "")
            if not intent.startswith("faq/"):
                continue
            examples = parse_examples(block.get("examples") or "")
            texts += examples
            labels += [f"{intent[4:]}/{language}"] * len(examples)
    return texts, labels


def quality() -> None:
    print("\nGrouping quality (B-cubed, groups against FAQ topics)")
    for name, (texts, labels) in {
        "dairy-recall examples (tuned on)": pack_examples("dairy-recall"),
        "network-outage examples (tuned on)": pack_examples("network-outage"),
        "dairy-recall held-out questions": heldout("dairy-recall"),
        "network-outage held-out questions": heldout("network-outage"),
    }.items():
        # By topic: the encoder is multilingual, and a group that holds one
        # question in French and English is what an editor wants.
        topics = [label.split("/")[0] for label in labels]
        groups = list(gaps.cluster(encoder.encode(texts)))
        precision, recall = bcubed(topics, groups)
        print(
            f"  {name:50} {len(texts):5} texts  {len(set(groups)):4} groups "
            f"({len(set(topics))} topics)  P {precision:.2f}  R {recall:.2f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--conversations",
        type=int,
        default=58_000,
        help="58,000 make about one million events",
    )
    parser.add_argument("--gap-messages", type=int, default=50_000)
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("RELAIS_ENV", "local")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    url, events_url = f"sqlite:///{WORK}/relais.db", f"sqlite:///{WORK}/events.db"
    upgrade(url)
    start = datetime.fromisoformat("2026-11-28T00:00:00+01:00")
    end = start + timedelta(days=1)
    day = Day(
        PACK,
        start,
        args.conversations,
        start + timedelta(hours=14),
        spike_per_hour=max(60, args.conversations // 100),
    )

    print(f"Generating {args.conversations:,} conversations…")
    seconds, truth = timed(lambda: _write(day, url, events_url))
    print(f"  {truth.events:,} events, {truth.messages:,} messages in {seconds:.0f} s")  # type: ignore[attr-defined]
    seconds, _ = timed(lambda: _drain(url, events_url))
    rate = truth.events / seconds  # type: ignore[attr-defined]
    print(f"Watcher: read them in {seconds:.0f} s ({rate:,.0f} events/s)")

    print("\nOverview of the day (median of 5)")
    with get_session_factory(url).begin() as session:
        ours, figures = timed(lambda: overview.figures_for(session, start, end), 5)
    os.environ.update(
        {
            "DATABASE_URL": url,
            "RASA_TOKEN": "bench",
            "RELAIS_CONSOLE_SECRET": "bench",
            "RELAIS_ACTIONS_SECRET": "bench",
            "RELAIS_PACK": str(PACK),
        }
    )
    from bot.console.overview import panel_context
    from bot.settings import get_settings

    settings = get_settings()
    page, _ = timed(lambda: panel_context(settings, {"day": "2026-11-28"}), 5)
    base, _ = timed(lambda: facts_baseline(url, start, end), 5)
    print(f"  figures from the 5-minute buckets: {1000 * ours:7.0f} ms")
    print(f"  the whole page (figures + charts): {1000 * page:7.0f} ms")
    print(
        f"  baseline, the facts grouped:       {1000 * base:7.0f} ms "
        f"({base / ours:.0f}x slower, and gone after a purge)"
    )
    assert figures.messages == truth.messages  # type: ignore[attr-defined]

    print(f"\nGap clustering (pack of {len(load_pack(PACK / 'faq'))} topics)")
    with get_session_factory(url).begin() as session:
        rows = session.execute(
            select(
                MessageFact.text,
                MessageFact.language,
                MessageFact.at,
                MessageFact.meaning,
            )
            .where(MessageFact.outcome.in_(gaps.GAP_OUTCOMES))
            .limit(args.gap_messages)
        ).all()
    pack = load_pack(PACK / "faq")
    encoder.encode(["warm up: the encoder loads once per process"])
    day_gaps = [gaps.Gap(*row) for row in rows]
    seconds, groups = timed(lambda: gaps.group_gaps(day_gaps, pack, end))
    distinct = len({gaps.fold(g.text) for g in day_gaps})
    print(
        f"  {len(day_gaps):6,} messages of the day ({distinct:,} distinct "
        f"phrasings): {seconds:5.1f} s, {len(groups):,} groups"
    )  # type: ignore[arg-type]
    # Real people rarely write the same thing twice: the same number of
    # messages, every one different (the packs' examples with words dropped,
    # added, misspelt, or a lot number). Each arrives with the vector the
    # Rasa process computed when it parsed it, as in production; what
    # computing them cost (spread over the day, in the Rasa processes) is
    # printed beside.
    for size in (5_000, args.gap_messages):
        texts = distinct_texts(size)
        encoding, vectors = timed(lambda: encoder.encode(texts))  # noqa: B023
        sample = [
            gaps.Gap(text, "fr", end, encoder.to_text(vector))
            for text, vector in zip(texts, vectors, strict=True)  # type: ignore[call-overload]
        ]
        seconds, groups = timed(lambda: gaps.group_gaps(sample, pack, end))  # noqa: B023
        print(
            f"  {size:6,} messages, all distinct: {seconds:5.1f} s, "
            f"{len(groups):,} groups (encoding them: {encoding:.0f} s of the "
            "Rasa processes' time)"
        )  # type: ignore[arg-type]

    print("\nReport of the day")
    from bot.insights.report import make

    html_seconds, html = timed(lambda: make(settings, start, end, "fr", "html"))
    pdf_seconds, pdf = timed(lambda: make(settings, start, end, "fr", "pdf"))
    print(f"  HTML: {html_seconds:5.1f} s ({len(html) // 1024} KB)")  # type: ignore[arg-type]
    print(f"  PDF:  {pdf_seconds:5.1f} s ({len(pdf) // 1024} KB)")  # type: ignore[arg-type]

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nPeak memory of this process: {peak:,.0f} MB")
    if not args.skip_quality:
        quality()
    get_engine(url).dispose()
    return 0


def _write(day: Day, url: str, events_url: str):  # type: ignore[no-untyped-def]
    with get_session_factory(url).begin() as session:
        return day.write(session=session, tracker_url=None, broker_url=events_url)


def _drain(url: str, events_url: str) -> None:
    while watch_once(url, events_url)[0]:
        pass


if __name__ == "__main__":
    sys.exit(main())
