"""A correction sent to 10,000 people across channels: sends per second under
the providers' rate limits, and the job's memory as it goes.

The job runs as the console starts it: `relais corrections send ID --job`, a
process of its own, against a database of 10,000 people who got an earlier
answer (Telegram, Messenger, WhatsApp, Instagram, the web chat and the REST
API; most wrote within 24 hours, some longer ago). Rasa is a stand-in that
plays the providers: each conversation's channel takes at most its
provider's rate (Telegram 30 messages a second, Meta's Send API and WhatsApp
Cloud set here at 25), and a send faster than that is refused with 429, as
the provider would. The baseline, in the same run, is the same job for 1,000
people: memory that stays flat is the same peak for both; the send rate is
compared with the ceiling the providers' limits allow for the channels'
mix. No timing is asserted; figures go to docs/benchmarks.md.

    make bench-corrections            # or: python scripts/bench_corrections.py
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.console import accounts  # noqa: E402
from bot.corrections import drafts  # noqa: E402
from bot.db import get_session_factory, upgrade, utcnow  # noqa: E402
from bot.faq.audit import AnswerSent  # noqa: E402
from bot.faq.pack import load_pack  # noqa: E402
from bot.insights.models import MessageFact  # noqa: E402

PACK_DIR = ROOT / "packs" / "dairy-recall"
TOPIC = "affected_products"
# The channels' mix: (channel, share of people).
MIX = [("telegram", 0.30), ("messenger", 0.25), ("whatsapp", 0.15),
       ("instagram", 0.10), ("socketio", 0.15), ("rest", 0.05)]  # fmt: skip
# What each provider takes, messages a second (the stand-in refuses more).
PROVIDER_LIMITS = {"telegram": 30.0, "messenger": 25.0, "instagram": 25.0,
                   "whatsapp": 25.0}  # fmt: skip
# Share of people whose last message is older than 24 hours.
OLD_SHARE = 0.2


class Providers:
    """Rasa's events endpoint, delivering at each provider's rate."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last: dict[str, float] = {}
        self.sent: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    def deliver(self, channel: str) -> bool:
        limit = PROVIDER_LIMITS.get(channel)
        now = time.monotonic()
        with self.lock:
            if (
                limit is not None
                and now - self.last.get(channel, -1e9) < (1.0 / limit) * 0.95
            ):  # 5 % for the clocks of two processes
                self.refused[channel] += 1
                return False
            self.last[channel] = now
            self.sent[channel] += 1
            return True


def stand_in(providers: Providers) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _json(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # a resumed person: their tracker
            self._json(200, {"events": []})

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            channel = parse_qs(url.query).get("output_channel", [""])[0]
            match = re.match(r"/conversations/([^/]+)/tracker/events", url.path)
            if match is None:
                self._json(404, {})
            elif providers.deliver(channel):
                self._json(200, {"sender_id": unquote(match[1]), "events": []})
            else:
                self._json(429, {"message": "rate limited"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def prepare(database_url: str, people: int) -> int:
    """People who got the earlier answer, and an approved correction."""
    upgrade(database_url)
    pack = load_pack(PACK_DIR / "faq")
    topic = pack[TOPIC]
    rng = random.Random(people)
    now = utcnow()
    channels = [c for c, _ in MIX]
    weights = [w for _, w in MIX]
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        for n in range(people):
            channel = rng.choices(channels, weights)[0]
            conversation = f"{channel}:{n}"
            old = rng.random() < OLD_SHARE
            hours = rng.uniform(25, 70) if old else rng.uniform(0, 20)
            at = now - timedelta(hours=hours)
            session.add(AnswerSent(conversation_id=conversation, topic=TOPIC,
                                   language=rng.choice(["fr", "fr", "en"]),
                                   version="000000000000", text="(earlier)",
                                   sent_at=at))  # fmt: skip
            session.add(MessageFact(conversation_id=conversation, at=at,
                                    channel=channel, language="fr",
                                    text="lots ?"))  # fmt: skip
        for name in ("claire", "malik"):
            accounts.add_agent(session=session, name=name, role="editor",
                               password="bench-password-123")  # fmt: skip
        correction = drafts.draft(session=session, topic=topic, author="claire",
                                  changed="deux lots de plus")  # fmt: skip
        drafts.approve(session=session, correction_id=correction.id,
                       approver="malik", is_admin=False, topic=topic)  # fmt: skip
        return int(correction.id)


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run(people: int) -> dict[str, object]:
    providers = Providers()
    server = stand_in(providers)
    with tempfile.TemporaryDirectory() as work:
        database_url = f"sqlite:///{work}/relais.db"
        correction_id = prepare(database_url, people)
        env = {
            **os.environ,
            "RELAIS_ENV": "local",
            "DATABASE_URL": database_url,
            "RASA_URL": f"http://127.0.0.1:{server.server_port}",
            "RASA_TOKEN": "bench",
            "RELAIS_PACK": str(PACK_DIR),
            "RELAIS_CONSOLE_SECRET": "bench-console-secret",
            "RELAIS_ACTIONS_SECRET": "bench-actions-secret",
        }
        started = time.monotonic()
        job = subprocess.Popen(
            [str(Path(sys.executable).parent / "relais"), "corrections", "send",
             str(correction_id)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        samples: list[tuple[float, int, float]] = []  # (seconds, sent, MB)
        while job.poll() is None:
            mb = rss_mb(job.pid)
            if mb is not None:
                sent = sum(providers.sent.values())
                samples.append((time.monotonic() - started, sent, mb))
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        output = job.stdout.read() if job.stdout else ""
        server.shutdown()
    sent = sum(providers.sent.values())
    by_channel = defaultdict(int, providers.sent)
    first_send = next((t for t, n, _ in samples if n > 0), 0.0)
    sending_seconds = max(elapsed - first_send, 1e-9)
    # The fastest the providers' limits allow, given how many go to each:
    # the busiest channel paced at its limit.
    ceiling_seconds = max(
        by_channel[c] / PROVIDER_LIMITS.get(c, 1e9) for c in by_channel
    )
    mbs = [mb for _, n, mb in samples if n > 0]
    quarters = [mbs[int(len(mbs) * q)] for q in (0.1, 0.5, 0.9)] if mbs else []
    return {
        "people": people,
        "sent": sent,
        "by_channel": dict(by_channel),
        "refused_429": sum(providers.refused.values()),
        "seconds_sending": sending_seconds,
        "startup_seconds": first_send,
        "rate": sent / sending_seconds,
        "ceiling_rate": sent / ceiling_seconds if ceiling_seconds else 0.0,
        "rss_at_10_50_90": quarters,
        "rss_peak": max(mbs) if mbs else None,
        "exit": job.returncode,
        "summary": [
            line
            for line in output.splitlines()
            if line.startswith("  ") and "…" not in line
        ],
    }


def main() -> None:
    results = [run(1_000), run(10_000)]
    for r in results:
        print(f"\n{r['people']:,} people: {r['sent']:,} sent {r['by_channel']}")
        print(
            f"  job exit {r['exit']}; refused by a provider (429): {r['refused_429']}"
        )
        print(
            f"  start-up (reading who to correct) {r['startup_seconds']:.1f} s; "
            f"sending {r['seconds_sending']:.1f} s"
        )
        print(
            f"  {r['rate']:.1f} sends/s; the providers' limits allow "
            f"{r['ceiling_rate']:.1f}/s for this mix "
            f"({r['rate'] / r['ceiling_rate']:.0%} of it)"
        )
        rss = ", ".join(f"{mb:.0f}" for mb in r["rss_at_10_50_90"])
        print(
            f"  job memory at 10/50/90 % of the sending: {rss} MB; "
            f"peak {r['rss_peak']:.0f} MB"
        )
        for line in r["summary"]:
            print("  " + line.strip())
    small, large = results
    print(
        f"\nPeak memory, 10,000 people against 1,000: "
        f"{large['rss_peak'] / small['rss_peak']:.2f}x"
    )


if __name__ == "__main__":
    main()
