"""Starts the real Rasa server and action server for end-to-end tests and benchmarks.

Both run as the `rasa` commands a deployment runs, with `make run`'s
endpoints.yml on free ports and throw-away SQLite databases in `work`;
`running_scaled` runs `make run-scaled`'s whole deployment the same way.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from bot.settings import PROJECT_ROOT
from tests.projects import MODEL

# Waiting for the servers to come up is not a performance assertion: a slow
# machine only makes the wait longer.
STARTUP_SECONDS = 600


class ServerError(RuntimeError):
    """A server did not start; the message ends with its log."""


# Each pytest-xdist worker hands out ports from a block of its own, below the
# kernel's ephemeral range (32768-60999 here), never the same one twice in a
# run: a port one worker has chosen for a server that is still starting can
# neither go to the other worker nor to an outgoing connection. (Binding port
# 0 and closing it left a window in which the other worker got the same one.)
FIRST_PORT, PORT_BLOCK = 20000, 2000
_ports_given = itertools.count()


def free_port() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    start = FIRST_PORT + (int(worker) if worker.isdigit() else 0) * PORT_BLOCK
    for _ in range(PORT_BLOCK):
        port = start + next(_ports_given) % PORT_BLOCK
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # another program has it
            return port
    raise ServerError(f"no free port between {start} and {start + PORT_BLOCK - 1}")


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


def _start(
    command: list[str], env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _rasa_server(port: int, model: Path, token: str, endpoints: Path) -> list[str]:
    """The `rasa run` command of make run's Procfile, on `port`."""
    return [
        str(Path(sys.executable).parent / "rasa"), "run",
        "--model", str(model),
        "--enable-api", "--auth-token", token,
        "--interface", "127.0.0.1", "--port", str(port),
        "--cors", "*",
        "--credentials", str(PROJECT_ROOT / "credentials.yml"),
        "--endpoints", str(endpoints),
    ]  # fmt: skip


def _action_server(port: int) -> list[str]:
    """The action server of make run's Procfile, on `port`."""
    return [str(Path(sys.executable).parent / "relais"), "actions",
            "--port", str(port)]  # fmt: skip


@contextmanager
def _serving(
    command: list[str], env: dict[str, str], log: Path, port: int
) -> Iterator[str]:
    """Runs one server on `port`; yields its URL once /health answers."""
    process = _start(command, env, log)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/health", process, log)
        yield url
    finally:
        _stop([process])


@contextmanager
def running_action_server(work: Path, env: dict[str, str]) -> Iterator[str]:
    """Runs `relais actions` alone with `env`; yields its URL once it answers."""
    port = free_port()
    with _serving(_action_server(port), env, work / "actions.log", port) as url:
        yield url


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
    (work / "endpoints.yml").write_text(yaml.safe_dump(endpoints), "utf-8")
    action_log, rasa_log = work / "actions.log", work / "rasa.log"
    endpoints_file = work / "endpoints.yml"
    actions = (
        _start(_action_server(action_port), env, action_log) if with_actions else None
    )
    server = _start(
        _rasa_server(rasa_port, model, token, endpoints_file), env, rasa_log
    )
    try:
        if actions is not None:
            wait_until_up(f"http://127.0.0.1:{action_port}/health", actions, action_log)
        url = f"http://127.0.0.1:{rasa_port}"
        wait_until_up(f"{url}/status?token={token}", server, rasa_log)
        yield url
    finally:
        _stop([p for p in (server, actions) if p is not None])


@contextmanager
def running_console(work: Path, env: dict[str, str]) -> Iterator[str]:
    """Runs `relais console` with `env` on a free port; yields its URL."""
    port = free_port()
    with _serving(
        [str(Path(sys.executable).parent / "relais"), "console"],
        {**env, "RELAIS_CONSOLE_PORT": str(port)},
        work / "console.log",
        port,
    ) as url:
        yield url


@dataclass(frozen=True)
class Scaled:
    """A running scaled-out deployment (make run-scaled's parts)."""

    public: str  # nginx: web chat, console, channels
    api: str  # nginx: Rasa's HTTP API, either process
    rasa: tuple[str, str]  # each Rasa process, directly
    console: str
    env: dict[str, str]  # what the `relais` command needs to act on it
    tracker_url: str  # Rasa's conversations (PostgreSQL)
    actions: tuple[str, str]  # each action server, directly


@contextmanager
def running_scaled(
    work: Path,
    env: dict[str, str],
    token: str,
    postgres_admin_url: str,
    rate: int = 1000,
    pack_b: Path | None = None,
) -> Iterator[Scaled]:
    """Runs `make run-scaled`'s deployment on free ports: two Rasa processes,
    two action servers, the console and nginx, with endpoints.scaled.yml on
    this run's own PostgreSQL databases, Redis key prefix and RabbitMQ queue
    (all removed afterwards). `rate`: nginx's messages per second per address.
    `pack_b`: action server B's own copy of the pack, as on another machine.
    """
    from sqlalchemy.engine import make_url

    from bot.db import create_database, get_engine, upgrade
    from bot.nginx import Layout, write_config

    run = uuid.uuid4().hex[:10]
    admin = make_url(postgres_admin_url)
    queue_url = admin.set(database=f"relais_scaled_{run}").render_as_string(False)
    tracker_db = f"relais_rasa_{run}"
    events_queue = f"relais-test-{run}"
    ports = {name: free_port() for name in (
        "public", "api", "actions_lb", "rasa_a", "rasa_b", "actions_a", "actions_b",
        "console")}  # fmt: skip
    endpoints = yaml.safe_load(
        (PROJECT_ROOT / "endpoints.scaled.yml").read_text("utf-8")
    )
    endpoints["action_endpoint"]["url"] = (
        f"http://127.0.0.1:{ports['actions_lb']}/webhook"
    )
    endpoints["tracker_store"].update(
        url=admin.host or "127.0.0.1", port=admin.port or 5432,
        username=admin.username or "postgres", db=tracker_db,
    )  # fmt: skip
    endpoints["lock_store"]["key_prefix"] = f"relaistest{run}"
    endpoints["event_broker"]["queues"] = [events_queue]
    (work / "endpoints.scaled.yml").write_text(yaml.safe_dump(endpoints), "utf-8")

    public = f"http://127.0.0.1:{ports['public']}"
    api = f"http://127.0.0.1:{ports['api']}"
    rasa_urls = (
        f"http://127.0.0.1:{ports['rasa_a']}",
        f"http://127.0.0.1:{ports['rasa_b']}",
    )
    env = {
        **env,
        "DATABASE_URL": queue_url,
        "RELAIS_EVENTS_URL": "amqp://guest:guest@127.0.0.1:5672/",
        "RELAIS_EVENTS_QUEUE": events_queue,
        "RELAIS_SOCKETIO_REDIS_URL": "redis://127.0.0.1:6379/2",
        "RASA_URL": api,
        "RELAIS_RASA_URLS": ",".join(rasa_urls),
        "RELAIS_PUBLIC_RASA_URL": public,
        "RELAIS_CONSOLE_PORT": str(ports["console"]),
    }
    create_database(queue_url)
    upgrade(queue_url)
    write_config(
        Layout(
            public=f"127.0.0.1:{ports['public']}",
            api=f"127.0.0.1:{ports['api']}",
            actions_listen=f"127.0.0.1:{ports['actions_lb']}",
            rasa=(f"127.0.0.1:{ports['rasa_a']}", f"127.0.0.1:{ports['rasa_b']}"),
            actions=(
                f"127.0.0.1:{ports['actions_a']}",
                f"127.0.0.1:{ports['actions_b']}",
            ),
            console=f"127.0.0.1:{ports['console']}",
            rate=rate,
        ),
        work / "nginx",
    )
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name in ("actions_a", "actions_b"):
            own = {"RELAIS_PACK": str(pack_b)} if pack_b and name == "actions_b" else {}
            processes.append(
                _start(
                    _action_server(ports[name]), {**env, **own}, work / f"{name}.log"
                )
            )
        for name in ("rasa_a", "rasa_b"):
            command = _rasa_server(
                ports[name], MODEL, token, work / "endpoints.scaled.yml"
            )
            processes.append(_start(command, env, work / f"{name}.log"))
        console = _start(
            [str(Path(sys.executable).parent / "relais"), "console"],
            env,
            work / "console.log",
        )
        processes.append(console)
        nginx = _start(
            ["/usr/sbin/nginx", "-p", str(work / "nginx"),
             "-c", str(work / "nginx" / "nginx.conf")],
            env, work / "nginx.log",
        )  # fmt: skip
        processes.append(nginx)
        for name, process in zip(
            ("actions_a", "actions_b"), processes[:2], strict=True
        ):
            wait_until_up(
                f"http://127.0.0.1:{ports[name]}/health", process, work / f"{name}.log"
            )
        for url, name, process in zip(
            rasa_urls, ("rasa_a", "rasa_b"), processes[2:4], strict=True
        ):
            wait_until_up(f"{url}/status?token={token}", process, work / f"{name}.log")
        console_url = f"http://127.0.0.1:{ports['console']}"
        wait_until_up(f"{console_url}/health", console, work / "console.log")
        wait_until_up(f"{public}/health", nginx, work / "nginx.log")
        yield Scaled(
            public=public,
            api=api,
            rasa=rasa_urls,
            console=console_url,
            env=env,
            tracker_url=admin.set(database=tracker_db).render_as_string(False),
            actions=(
                f"http://127.0.0.1:{ports['actions_a']}",
                f"http://127.0.0.1:{ports['actions_b']}",
            ),
        )
    finally:
        _stop(processes)
        get_engine(queue_url).dispose()  # this process's own connections
        _clean_up(
            postgres_admin_url,
            (str(make_url(queue_url).database), tracker_db),
            events_queue,
        )


def _clean_up(admin_url: str, databases: tuple[str, ...], events_queue: str) -> None:
    """Drops the run's databases and deletes its RabbitMQ queue."""
    import asyncio

    import aio_pika
    from sqlalchemy import create_engine

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in databases:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()

    async def delete_queue() -> None:
        connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(events_queue)

    asyncio.run(delete_queue())
