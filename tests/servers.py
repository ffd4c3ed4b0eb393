"""Starts the real Rasa server and action server for end-to-end tests and benchmarks.

Both run as the `rasa` commands a deployment runs, with `make run`'s
endpoints.yml on free ports and throw-away SQLite databases in `work`.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
import yaml

from bot.settings import PROJECT_ROOT

MODEL = PROJECT_ROOT / "models" / "relais.tar.gz"
# Waiting for the servers to come up is not a performance assertion: a slow
# machine only makes the wait longer.
STARTUP_SECONDS = 600


class ServerError(RuntimeError):
    """A server did not start; the message ends with its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"{url} exited early:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise ServerError(f"{url} did not come up:\n{log.read_text()[-3000:]}")


def copy_project(target: Path) -> Path:
    """A copy of what `relais publish` works on, to edit as an editor would:
    config.yml, domain.yml, data/, packs/ and the trained model."""
    if not MODEL.exists():
        raise ServerError(f"{MODEL} is missing: run `make train` (make test does it).")
    for name in ("config.yml", "domain.yml"):
        shutil.copy(PROJECT_ROOT / name, target / name)
    shutil.copytree(PROJECT_ROOT / "data", target / "data")
    shutil.copytree(PROJECT_ROOT / "packs", target / "packs")
    (target / "models").mkdir()
    shutil.copy(MODEL, target / "models" / MODEL.name)
    return target


@contextmanager
def running_relais(
    work: Path,
    env: dict[str, str],
    token: str,
    model: Path = MODEL,
    with_actions: bool = True,
) -> Iterator[str]:
    """Runs both servers with `env` on `model`; yields the Rasa server's URL.

    `with_actions=False` leaves the action server out (its port stays free),
    as when it crashed.
    """
    if not model.exists():
        raise ServerError(f"{model} is missing: run `make train` (make test does it).")
    rasa_port, action_port = free_port(), free_port()
    # make run's endpoints.yml, with this run's ports and databases.
    endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text("utf-8"))
    endpoints["action_endpoint"]["url"] = f"http://127.0.0.1:{action_port}/webhook"
    endpoints["tracker_store"]["db"] = str(work / "tracker.db")
    endpoints["event_broker"]["db"] = str(work / "events.db")
    (work / "endpoints.yml").write_text(yaml.safe_dump(endpoints), "utf-8")
    rasa = str(Path(sys.executable).parent / "rasa")
    action_log, rasa_log = work / "actions.log", work / "rasa.log"
    actions = (
        subprocess.Popen(
            [rasa, "run", "actions", "--port", str(action_port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=action_log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        if with_actions
        else None
    )
    server = subprocess.Popen(
        [
            rasa, "run",
            "--model", str(model),
            "--enable-api", "--auth-token", token,
            "--interface", "127.0.0.1", "--port", str(rasa_port),
            "--cors", "*",
            "--credentials", str(PROJECT_ROOT / "credentials.yml"),
            "--endpoints", str(work / "endpoints.yml"),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=rasa_log.open("wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        if actions is not None:
            wait_until_up(f"http://127.0.0.1:{action_port}/health", actions, action_log)
        url = f"http://127.0.0.1:{rasa_port}"
        wait_until_up(f"{url}/status?token={token}", server, rasa_log)
        yield url
    finally:
        processes = [p for p in (server, actions) if p is not None]
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def running_console(work: Path, env: dict[str, str]) -> Iterator[str]:
    """Runs `relais console` with `env` on a free port; yields its URL."""
    port = free_port()
    log = work / "console.log"
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "relais"), "console"],
        cwd=PROJECT_ROOT,
        env={**env, "RELAIS_CONSOLE_PORT": str(port)},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/health", process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
