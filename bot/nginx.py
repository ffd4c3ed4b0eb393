"""The nginx in front of a scaled-out Relais (`make run-scaled`).

One public address serves the web chat, the console and the channels; two
loopback-only addresses serve Relais' own tools. `relais nginx` writes the
configuration from the ports it is given, checks it with `nginx -t`, then
runs Debian's nginx in the foreground (so honcho can stop it):

- `/webhooks/` (REST and messaging channels) goes to the least busy Rasa
  process; a request body over 64 KB is refused (413) before it reaches Rasa,
  and one address may send `rate` messages per second (bursts of a few
  times that), beyond which nginx answers 429. The providers' webhooks
  (Messenger, Instagram, WhatsApp, Telegram) are signed and carry everyone's
  messages from a few addresses: no rate per address, bodies up to 1 MB.
- `/socket.io/` is sticky: a web chat connects with a key of its own (its
  conversation's pass once it has one, `?relais_session=`), and every
  request of that socket goes to the same Rasa process, where its socket
  lives (socket.io's long-polling needs it; a WebSocket is one connection
  anyway). Clients without the parameter stick by address.
- everything else is the console and the web chat page.
- the HTTP API of the Rasa processes (token-protected, for the console and
  the `relais` command) and the action servers are reachable on 127.0.0.1
  only, each spread over its processes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

MAX_BODY = "64k"
NGINX_PATHS = ("/usr/sbin/nginx", "/usr/local/sbin/nginx")


class NginxError(RuntimeError):
    """nginx is missing or refused the configuration; the message says why."""


@dataclass(frozen=True)
class Layout:
    """Where everything listens (host:port or a port on 127.0.0.1)."""

    public: str
    api: str
    actions_listen: str
    rasa: tuple[str, ...]
    actions: tuple[str, ...]
    console: str
    # Messages per second per address on /webhooks/.
    rate: int = 20


def address(value: str) -> str:
    """`5005` or `host:5005` as nginx's host:port."""
    value = value.strip()
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise NginxError(f"{value!r} is not a port or host:port.")
    return f"{host or '127.0.0.1'}:{port}"


def _servers(addresses: tuple[str, ...], keepalive: int) -> str:
    # A process that stops answering is left out for 10 s, then tried again.
    # Connections are kept open and reused, closed by nginx before Sanic's
    # and uvicorn's own 5 s idle limit: a busy Rasa process then never has to
    # accept a new connection per message (under overload its accept queue
    # overflowed and it reset them, losing the messages).
    servers = [
        f"        server {address(a)} max_fails=3 fail_timeout=10s;" for a in addresses
    ]
    servers += [f"        keepalive {keepalive};", "        keepalive_timeout 4s;"]
    return "\n".join(servers)


def render(layout: Layout, run_dir: Path) -> str:
    """The whole nginx.conf for `layout`; temporary files go to `run_dir`."""
    if not layout.rasa or not layout.actions:
        raise NginxError("Name at least one Rasa process and one action server.")
    burst = layout.rate * 3
    return f"""\
# Written by `relais nginx` (bot/nginx.py) at every start: edit the command's
# arguments, not this file.
worker_processes 1;
daemon off;
pid {run_dir}/nginx.pid;
error_log stderr warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
    client_body_temp_path {run_dir}/client_body;
    proxy_temp_path {run_dir}/proxy;
    fastcgi_temp_path {run_dir}/fastcgi;
    uwsgi_temp_path {run_dir}/uwsgi;
    scgi_temp_path {run_dir}/scgi;

    # Relais reads the first 1,000 characters of a message: a bigger body is
    # refused here, kept in memory until then, and never reaches Rasa.
    client_max_body_size {MAX_BODY};
    client_body_buffer_size {MAX_BODY};
    # Answers are small and streamed as they come.
    proxy_buffering off;
    proxy_http_version 1.1;
    proxy_set_header Host $host;
    proxy_set_header X-Real-IP $remote_addr;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header Connection "";

    limit_req_zone $binary_remote_addr zone=messages:10m rate={layout.rate}r/s;
    limit_req_status 429;

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        "" close;
    }}
    # A web chat's key (chat.js), else the client's address.
    map $arg_relais_session $socket_key {{
        "" $binary_remote_addr;
        default $arg_relais_session;
    }}

    upstream rasa {{
        least_conn;
{_servers(layout.rasa, 64)}
    }}
    upstream rasa_sockets {{
        hash $socket_key consistent;
{_servers(layout.rasa, 16)}
    }}
    upstream actions {{
        least_conn;
{_servers(layout.actions, 32)}
    }}
    upstream console {{
        server {address(layout.console)};
        keepalive 16;
        keepalive_timeout 4s;
    }}

    # The public: web chat, console, channels.
    server {{
        listen {address(layout.public)};

        location /webhooks/ {{
            limit_req zone=messages burst={burst} nodelay;
            proxy_pass http://rasa;
            proxy_read_timeout 120s;
        }}
        # Meta and Telegram post everyone's messages from a few addresses,
        # in batches: no per-address limit (each webhook is signed, and a
        # forged one costs Rasa one HMAC), a provider-sized body.
        location ~ ^/webhooks/(messenger|instagram|whatsapp|telegram)/ {{
            client_max_body_size 1m;
            client_body_buffer_size 1m;
            proxy_pass http://rasa;
            proxy_read_timeout 120s;
        }}
        location /socket.io/ {{
            proxy_pass http://rasa_sockets;
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 1h;
        }}
        location / {{
            proxy_pass http://console;
        }}
    }}

    # Relais' own tools: Rasa's HTTP API (RASA_URL), never public. Bodies
    # are kept in memory, as everywhere here: nginx never writes a temporary
    # file (its workers may not be allowed to).
    server {{
        listen {address(layout.api)};
        client_max_body_size 1m;
        client_body_buffer_size 1m;
        location / {{
            proxy_pass http://rasa;
            proxy_read_timeout 300s;
        }}
    }}

    # Rasa's action calls (endpoints.scaled.yml), never public.
    server {{
        listen {address(layout.actions_listen)};
        client_max_body_size 10m;
        client_body_buffer_size 10m;
        location / {{
            proxy_pass http://actions;
            proxy_read_timeout 60s;
        }}
    }}
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (path for path in NGINX_PATHS if Path(path).exists()), None
    )
    if found is None:
        raise NginxError(
            "nginx is not installed: `make run-scaled` installs Debian's package "
            "(apt-get install nginx)."
        )
    return found


def write_config(layout: Layout, run_dir: Path) -> Path:
    """Writes and checks the configuration; returns its path."""
    run_dir.mkdir(parents=True, exist_ok=True)
    config = run_dir / "nginx.conf"
    config.write_text(render(layout, run_dir), encoding="utf-8")
    check = subprocess.run(
        [nginx_binary(), "-t", "-q", "-p", str(run_dir), "-c", str(config)],
        capture_output=True,
        text=True,
    )
    if check.returncode != 0:
        raise NginxError(f"nginx refused {config}:\n{check.stderr.strip()}")
    return config


def serve(layout: Layout, run_dir: Path) -> None:
    """Writes the configuration, then becomes nginx (in the foreground)."""
    config = write_config(layout, run_dir)
    binary = nginx_binary()
    os.execv(binary, [binary, "-p", str(run_dir), "-c", str(config)])
