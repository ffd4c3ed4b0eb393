"""The nginx in front of a scaled-out Relais (bot/nginx.py), with Debian's
nginx in front of a small stand-in server: what it refuses before any Rasa
process sees it, and where it sends each request."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from bot.cli import main
from bot.nginx import Layout, nginx_binary, write_config
from tests.servers import free_port, wait_until_up


class Upstreams:
    """Stand-ins for every process behind nginx: each answers with its name."""

    def __init__(self, names: list[str]) -> None:
        self.ports = {name: free_port() for name in names}
        self.servers = []
        for name, port in self.ports.items():
            server = ThreadingHTTPServer(("127.0.0.1", port), self._handler(name))
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers.append(server)

    @staticmethod
    def _handler(name: str) -> type[BaseHTTPRequestHandler]:
        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                body = json.dumps({"by": name, "path": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """nginx at a low rate (5 messages/s per address) in front of stand-ins;
    yields its public, API and action addresses."""
    upstreams = Upstreams(["rasa_a", "rasa_b", "actions_a", "actions_b", "console"])
    ports = upstreams.ports
    public, api, actions = free_port(), free_port(), free_port()
    config = write_config(
        Layout(
            public=f"127.0.0.1:{public}",
            api=str(api),
            actions_listen=str(actions),
            rasa=(str(ports["rasa_a"]), str(ports["rasa_b"])),
            actions=(str(ports["actions_a"]), str(ports["actions_b"])),
            console=str(ports["console"]),
            rate=5,
        ),
        tmp_path / "nginx",
    )
    log = tmp_path / "nginx.log"
    process = subprocess.Popen(
        [nginx_binary(), "-p", str(tmp_path / "nginx"), "-c", str(config)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{public}/health", process, log)
        yield (
            f"http://127.0.0.1:{public}",
            f"http://127.0.0.1:{api}",
            f"http://127.0.0.1:{actions}",
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
        upstreams.close()


def post(url: str, body: bytes = b'{"sender": "a", "message": "bonjour"}') -> int:
    return requests.post(url, data=body, timeout=30).status_code


def test_a_body_over_64_kb_never_reaches_rasa(proxy: tuple[str, str, str]) -> None:
    public, _, _ = proxy
    webhook = f"{public}/webhooks/rest/webhook"
    assert post(webhook, b"x" * 60_000) == 200
    assert post(webhook, b"x" * 70_000) == 413


def test_one_address_flooding_the_webhook_is_slowed_down(
    proxy: tuple[str, str, str],
) -> None:
    public, _, _ = proxy
    webhook = f"{public}/webhooks/rest/webhook"
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: post(webhook), range(60)))
    # A burst of three seconds' worth goes through, the rest is told to wait.
    assert statuses.count(200) >= 15
    assert statuses.count(429) >= 20
    assert set(statuses) <= {200, 429}


def test_a_providers_batched_webhooks_are_not_slowed_down(
    proxy: tuple[str, str, str],
) -> None:
    """Meta posts every person's messages from a few addresses: a limit per
    address would refuse a crowd."""
    public, _, _ = proxy
    webhook = f"{public}/webhooks/whatsapp/webhook"
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: post(webhook), range(60)))
    assert statuses == [200] * 60
    assert post(webhook, b"x" * 500_000) == 200  # a batch of many messages


def test_each_path_goes_where_it_belongs(proxy: tuple[str, str, str]) -> None:
    public, api, actions = proxy

    def by(url: str) -> str:
        return str(requests.get(url, timeout=30).json()["by"])

    assert by(f"{public}/chat") == "console"
    assert by(f"{public}/conversations/x/tracker") == "console"  # the API is not public
    assert {by(f"{api}/status") for _ in range(6)} == {"rasa_a", "rasa_b"}
    assert {by(f"{actions}/health") for _ in range(6)} == {"actions_a", "actions_b"}


def test_a_web_chat_conversation_stays_on_one_rasa_process(
    proxy: tuple[str, str, str],
) -> None:
    public, _, _ = proxy
    reached: dict[str, set[str]] = {}
    for conversation in (f"conversation-{n}" for n in range(12)):
        reached[conversation] = {
            requests.get(
                f"{public}/socket.io/",
                params={"relais_session": conversation, "EIO": "4", "n": str(n)},
                timeout=30,
            ).json()["by"]
            for n in range(5)
        }
    assert all(len(processes) == 1 for processes in reached.values()), reached
    # Conversations are spread over both processes.
    assert set().union(*reached.values()) == {"rasa_a", "rasa_b"}


def test_relais_nginx_checks_its_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    arguments = ["nginx", "--api", "5004", "--actions-listen", "5054",
                 "--rasa", "5005", "--actions", "5055",
                 "--console", "8000"]  # fmt: skip
    assert main([*arguments[:6], "not-a-port", *arguments[7:], "--check"]) == 2
    assert "'not-a-port' is not a port" in capsys.readouterr().err
    assert main([*arguments, "--rate", "0", "--check"]) == 2
    assert "--rate is at least 1" in capsys.readouterr().err
