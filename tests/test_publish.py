"""relais publish and relais rollback: what needs training, the gate, the models.

The end-to-end tests train real models and load them into a real running Rasa
server, on a project made for tests (tests/projects.py: a few topics, a few
epochs) so that each training takes seconds.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine
from starlette.testclient import TestClient

from bot.console import accounts
from bot.console.app import create_app
from bot.console.editor import latest_job
from bot.console.topics import form_values
from bot.db import get_engine, get_session_factory, upgrade
from bot.faq import load_pack
from bot.faq.buttons import faq_payload
from bot.faq.pack import parse_topic_file
from bot.publish import history
from bot.publish.compare import Figures, refusals
from bot.publish.evaluation import load_questions
from bot.publish.fingerprint import training_fingerprint
from bot.publish.history import ModelPublish
from bot.publish.service import (
    PublishError,
    choose_rollback,
    load_everywhere,
    untested_topics,
)
from bot.publish.store import ADVISORY_KEY, ModelStore, StoreError, model_id
from bot.settings import PROJECT_ROOT, Settings, get_settings, load_settings
from tests.conftest import FIXTURES, TEST_ENVIRONMENT, postgres_database
from tests.projects import SHARED_CACHE, copy_small_project
from tests.servers import ServerError, free_port, running_relais
from tests.test_editing import form_of

DAIRY = "packs/dairy-recall/faq"
NEW_TOPIC = FIXTURES / "publish" / "health_survey.yml"
SURVEY_QUESTION = "santé publique france m'a appelé pour une enquête, c'est normal ?"
SURVEY_ANSWER = "Santé publique France et les Agences régionales de santé"


# --- what needs training -------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The training inputs only (no model): enough for fingerprints."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("config.yml", "domain.yml"):
        shutil.copy(PROJECT_ROOT / name, root / name)
    shutil.copytree(PROJECT_ROOT / "data", root / "data")
    shutil.copytree(PROJECT_ROOT / "packs", root / "packs")
    return root


def fingerprint(root: Path) -> str:
    return training_fingerprint(root, root / "packs" / "dairy-recall")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        # An answer text: live from the files, no model needed.
        (f"{DAIRY}/lot_numbers.yml", "de L26304 à L26318", "de L26304 à L26321"),
        (f"{DAIRY}/refund.yml", "enabled: true", "enabled: false"),
        (f"{DAIRY}/refund.yml", "review_by: 2026-12-15", "review_by: 2027-01-15"),
        (f"{DAIRY}/refund.yml", "owner: service", "owner: x-service"),
        (f"{DAIRY}/refund.yml", "title: Remboursement", "title: Rembourser"),
    ],
)  # fmt: skip
def test_answer_texts_and_editor_metadata_need_no_training(
    project: Path, file: str, old: str, new: str
) -> None:
    before = fingerprint(project)
    edit(project / file, old, new)
    assert fingerprint(project) == before


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        # A new example, a changed setting, a bot message that is not an FAQ
        # answer (those come from the model's domain).
        (f"{DAIRY}/refund.yml", "examples: |\n", "examples: |\n    - mes sous svp\n"),
        ("config.yml", "intent_threshold: 0.5", "intent_threshold: 0.6"),
        ("domain.yml", "utter_greet:", "utter_greet_new:"),
    ],
)  # fmt: skip
def test_what_the_model_learns_from_needs_training(
    project: Path, file: str, old: str, new: str
) -> None:
    before = fingerprint(project)
    edit(project / file, old, new)
    assert fingerprint(project) != before


def test_a_new_topic_needs_training(project: Path) -> None:
    before = fingerprint(project)
    shutil.copy(NEW_TOPIC, project / "packs" / "dairy-recall" / "faq")
    assert fingerprint(project) != before


def test_the_fingerprint_does_not_depend_on_where_the_project_is(
    project: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(project, elsewhere)
    assert fingerprint(elsewhere) == fingerprint(project)


def test_publish_names_the_topics_no_held_out_question_measures(
    project: Path,
) -> None:
    questions = load_questions(PROJECT_ROOT / "packs" / "dairy-recall" / "heldout")
    faq_dir = project / "packs" / "dairy-recall" / "faq"
    assert untested_topics(faq_dir, questions) == []
    shutil.copy(NEW_TOPIC, faq_dir)
    assert untested_topics(faq_dir, questions) == ["health_survey"]


@pytest.mark.slow
def test_a_pack_with_errors_is_refused_before_any_training(
    project: Path, tmp_path: Path
) -> None:
    env = publish_environment(tmp_path, f"http://127.0.0.1:{free_port()}")
    env["RELAIS_PACK"] = str(project / "packs" / "dairy-recall")
    edit(
        project / "packs" / "dairy-recall" / "faq" / "refund.yml",
        "lang: en",
        "lang: fr",
    )
    result = relais(env, "publish", "--project", project, "--agent", "lea")
    assert result.returncode == 1
    assert "refund" in result.stdout and "Training" not in result.stdout
    assert not (project / "models" / "published").exists()
    listing = relais(env, "publish", "--list", "--project", project).stdout
    assert "publish  refused" in listing and "problem(s) in the data" in listing


# --- the gate --------------------------------------------------------------


def figures(**changes: float) -> Figures:
    values: dict[str, Any] = {
        "right": 85.5, "wrong": 2.1, "declined": 12.4,
        "caught": 98.4, "covered": 242, "not_covered": 62,
    }  # fmt: skip
    values.update(changes)
    return Figures(**values)


def test_a_model_as_good_or_better_passes() -> None:
    live = figures()
    assert refusals(figures(), live) == []
    assert refusals(figures(right=86.0, wrong=1.7), live) == []
    # A question or two of noise is tolerated.
    assert refusals(figures(wrong=3.0, caught=96.8, right=81.0), live) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"wrong": 3.3}, "answered wrong rose from 2.1 % to 3.3 %"),
        ({"caught": 95.2}, "not-covered questions caught fell from 98.4 % to 95.2 %"),
        ({"right": 80.0}, "answered right fell from 85.5 % to 80.0 %"),
    ],
)
def test_a_worse_model_is_refused_with_both_figures(
    changes: dict[str, float], expected: str
) -> None:
    reasons = refusals(figures(**changes), figures())
    assert len(reasons) == 1
    assert reasons[0].startswith(expected)


# --- which model a rollback goes back to -----------------------------------


def published(*model_ids: str) -> list[ModelPublish]:
    """Publish rows, newest first, as history.published_models returns them."""
    count = len(model_ids)
    return [
        ModelPublish(id=count - index, model_id=model, model_file=f"{model}.tar.gz")
        for index, model in enumerate(model_ids)
    ]


def test_rollback_goes_back_one_published_model_at_a_time() -> None:
    rows = published("C", "B", "A")
    assert choose_rollback(rows, "C", None).model_id == "B"
    assert choose_rollback(rows, "B", None).model_id == "A"
    with pytest.raises(PublishError, match="no earlier published model"):
        choose_rollback(rows, "A", None)


def test_rollback_to_a_chosen_publish() -> None:
    rows = published("C", "B", "A")
    assert choose_rollback(rows, "A", to=3).model_id == "C"
    with pytest.raises(PublishError, match="already live"):
        choose_rollback(rows, "B", to=2)
    with pytest.raises(PublishError, match="#9 did not put a model live"):
        choose_rollback(rows, "B", to=9)


def test_rollback_from_a_model_never_published_takes_the_newest() -> None:
    assert choose_rollback(published("C", "B"), "made-by-make", None).model_id == "C"


# --- the models folder -------------------------------------------------------


def test_only_the_last_published_models_are_kept(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    store.published.mkdir(parents=True)
    for day in range(1, 13):
        (store.published / f"relais-202611{day:02d}-120000.tar.gz").write_bytes(b"x")
    removed = store.prune(keep=10)
    assert removed == ["relais-20261102-120000.tar.gz", "relais-20261101-120000.tar.gz"]
    assert len(list(store.published.iterdir())) == 10


def test_a_second_publish_waits_for_the_first(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    with (
        store.locked(),
        pytest.raises(StoreError, match="Another publish or rollback"),
        store.locked(),
    ):
        pass
    with store.locked():  # released
        pass


def test_two_machines_on_one_postgresql_database_never_publish_at_once(
    tmp_path: Path,
) -> None:
    """Each machine has its own models/ folder (so its own file lock): the
    queue's PostgreSQL database is what they share."""
    first = ModelStore(tmp_path / "machine-1" / "models")
    second = ModelStore(tmp_path / "machine-2" / "models")
    with postgres_database() as url:
        with (
            first.locked(url),
            pytest.raises(StoreError, match="Another publish or rollback"),
            second.locked(url),
        ):
            pass
        with second.locked(url):  # released
            pass
        # A publisher that dies loses its connection, and the lock with it.
        engine = create_engine(url)
        dying = engine.connect()
        dying.exec_driver_sql(f"SELECT pg_advisory_lock({ADVISORY_KEY})")
        with pytest.raises(StoreError, match="Another publish"), first.locked(url):
            pass
        dying.close()
        engine.dispose()
        with first.locked(url):
            pass
        get_engine(url).dispose()


def test_a_file_that_is_not_a_model_is_named(tmp_path: Path) -> None:
    bogus = tmp_path / "relais.tar.gz"
    bogus.write_bytes(b"not a tar")
    with pytest.raises(StoreError, match="not a readable Rasa model"):
        model_id(bogus)


def test_the_history_keeps_the_figures(database_url: str) -> None:
    factory = get_session_factory(database_url)
    with factory.begin() as session:
        history.record(session=session, action="publish", outcome="published",
                       author="lea", model_id="m1", model_file="relais-1.tar.gz",
                       figures=figures().as_dict(), detail="")  # fmt: skip
        history.record(session=session, action="publish", outcome="refused",
                       author="lea", figures=figures(wrong=9.0).as_dict(),
                       live_figures=figures().as_dict(), detail="worse")  # fmt: skip
    with factory.begin() as session:
        rows = history.recent(session=session)
        assert [row.outcome for row in rows] == ["refused", "published"]
        assert Figures.from_dict(rows[0].figures) == figures(wrong=9.0)
        assert Figures.from_dict(rows[0].live_figures) == figures()
        assert history.by_model_id(session=session, model_id="m1") is not None
        assert [row.model_id for row in history.published_models(session=session)] == [
            "m1"
        ]


# --- end to end: real training, a real Rasa server ------------------------

TOKEN = "publish-token"
PASSWORD = "correct horse battery"
# Waiting for a publish is not a performance assertion: a slow machine waits.
JOB_WAIT_SECONDS = 1200


def csrf_in(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF token in the page"
    return match.group(1)


def relais(env: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "relais"), *(str(a) for a in args)],
        env=env,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )


def publish_environment(
    work: Path, rasa_url: str, cache: Path = SHARED_CACHE
) -> dict[str, str]:
    """The command line's environment. `cache`: the model cache publishes use;
    an empty one of the test's own where a training must really run."""
    database_url = f"sqlite:///{work / 'relais.db'}"
    upgrade(database_url)
    return {
        **os.environ,
        **TEST_ENVIRONMENT,
        "RASA_TOKEN": TOKEN,
        "RASA_URL": rasa_url,
        "RASA_TELEMETRY_ENABLED": "false",
        "DATABASE_URL": database_url,
        "RELAIS_PACK": str(work / "project" / "packs" / "dairy-recall"),
        "RELAIS_SPOOL_DIR": str(work / "spool"),
        "RELAIS_MODEL_CACHE": str(cache),
    }


class Person:
    """Someone on the REST channel, one conversation."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sender = f"person-{uuid.uuid4().hex[:8]}"

    def ask(self, text: str) -> str:
        response = requests.post(
            f"{self.url}/webhooks/rest/webhook",
            json={"sender": self.sender, "message": text},
            timeout=120,
        )
        assert response.status_code == 200, response.text
        return "\n".join(message.get("text", "") for message in response.json())

    def user_messages(self) -> list[str]:
        tracker = requests.get(
            f"{self.url}/conversations/{self.sender}/tracker",
            params={"token": TOKEN},
            timeout=30,
        ).json()
        return [e["text"] for e in tracker["events"] if e["event"] == "user"]


def running_model(url: str) -> str:
    status = requests.get(f"{url}/status", params={"token": TOKEN}, timeout=30)
    return str(status.json()["model_id"])


@pytest.fixture(scope="module")
def publish_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("publish")
    (work / "project").mkdir()
    copy_small_project(work / "project")
    return work


@pytest.fixture(scope="module")
def running(publish_work: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """Relais on the project's live model; yields Rasa's URL and the CLI's env,
    whose model cache starts empty: the first publish trains for real."""
    env = publish_environment(
        publish_work, "http://127.0.0.1:1", cache=publish_work / "cache"
    )
    model = publish_work / "project" / "models" / "relais.tar.gz"
    try:
        with running_relais(publish_work, env, TOKEN, model=model) as url:
            yield url, {**env, "RASA_URL": url}
    except ServerError as error:
        pytest.fail(str(error))


class Console:
    """An editor, lea, in the console of the project's deployment."""

    def __init__(
        self, env: dict[str, str], project: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for name in ("DATABASE_URL", "RASA_URL", "RASA_TOKEN", "RELAIS_PACK",
                     "RELAIS_MODEL_CACHE"):  # fmt: skip
            monkeypatch.setenv(name, env[name])
        monkeypatch.setenv("RELAIS_PROJECT", str(project))
        get_settings.cache_clear()
        self.settings = get_settings()
        with get_session_factory(self.settings.database_url).begin() as session:
            if accounts.find_agent(session=session, name="lea") is None:
                accounts.add_agent(
                    session=session, name="lea", role="editor", password=PASSWORD
                )
        self.browser = TestClient(create_app(self.settings), follow_redirects=False)
        token = csrf_in(self.browser.get("/login").text)
        self.browser.post("/login", data={"name": "lea", "password": PASSWORD,
                                          "csrf": token, "next": "/"})  # fmt: skip
        self.token = csrf_in(self.browser.get("/editor").text)

    def post(self, path: str, data: dict[str, Any]) -> Any:
        return self.browser.post(path, data={**data, "csrf": self.token})

    def job(self) -> dict[str, Any]:
        state = latest_job(self.settings)
        assert state is not None
        return state

    def publish(self, until: Callable[[dict[str, Any]], bool] | None = None) -> dict:
        """Starts a publish; waits until it ends (or `until` holds); its panel."""
        started = self.post("/editor/publish", {})
        assert started.status_code == 303, started.text
        deadline = time.monotonic() + JOB_WAIT_SECONDS
        while time.monotonic() < deadline:
            job = self.job()
            if job["state"] != "running" or (until is not None and until(job)):
                return job
            time.sleep(0.5)
        raise AssertionError(f"the publish did not end: {self.job()}")


@pytest.mark.e2e
def test_add_a_topic_publish_it_and_roll_back(
    publish_work: Path,
    running: tuple[str, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, env = running
    project = publish_work / "project"
    live = project / "models" / "relais.tar.gz"
    original = running_model(url)
    person = Person(url)
    assert "L26304" in person.ask("Quels lots sont concernés par le rappel ?")
    # An editor adds a topic in the console: the live model does not know it yet.
    editor = Console(env, project, monkeypatch)
    topic = parse_topic_file(NEW_TOPIC)
    fields = {**form_values(topic), "key": topic.key, "enabled": "on"}
    added = editor.post("/topics/new", fields)
    assert added.headers["location"] == "/topics/health_survey", added.text
    assert SURVEY_ANSWER not in person.ask(SURVEY_QUESTION)

    # She publishes from the console, and follows it there.
    job = editor.publish()
    assert job["state"] == "finished" and job["outcome"] == "published", job
    assert [step["done"] for step in job["steps"]] == [True] * 4
    assert re.search(r"Trained in \d+ s", job["lines"]), job["lines"]
    assert "live model   new model" in job["lines"]  # the gate's table
    assert f"{url}: loaded in" in job["lines"]
    page = editor.browser.get("/editor").text
    assert f"Publish #{job['id']} by lea" in page and "live model   new model" in page
    new = running_model(url)
    assert new != original
    assert model_id(live) == new  # what a restart loads
    # The same conversation goes on, on the new model.
    assert SURVEY_ANSWER in person.ask(SURVEY_QUESTION)
    assert person.user_messages()[0] == "Quels lots sont concernés par le rappel ?"

    # Nothing the model learns from changed: no training, nothing reloaded.
    again = relais(env, "publish", "--project", project, "--agent", "lea")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "no training needed" in again.stdout
    assert "Training" not in again.stdout
    assert running_model(url) == new

    back = relais(env, "rollback", "--project", project, "--agent", "lea")
    assert back.returncode == 0, back.stdout + back.stderr
    assert running_model(url) == original
    assert model_id(live) == original
    assert SURVEY_ANSWER not in person.ask(SURVEY_QUESTION)

    listing = relais(env, "publish", "--list", "--project", project).stdout.splitlines()
    assert [line.split()[3:5] for line in listing] == [
        ["rollback", "published"],
        ["publish", "unchanged"],
        ["publish", "published"],
        ["publish", "published"],  # the model that was live before, kept
    ]
    assert listing[0].endswith("LIVE")
    assert "(before publish)" in listing[3]

    # Published again: the model trained from exactly these inputs is reused.
    again = relais(env, "publish", "--project", project, "--agent", "lea")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "that model is reused, nothing to train" in again.stdout
    assert "Trained in" not in again.stdout
    assert "live model   new model" in again.stdout  # still checked
    assert running_model(url) == new
    assert SURVEY_ANSWER in person.ask(SURVEY_QUESTION)
    # Back to the first model, for the next test.
    back = relais(env, "rollback", "--project", project, "--agent", "lea")
    assert back.returncode == 0, back.stdout + back.stderr
    assert running_model(url) == original


@pytest.mark.e2e
def test_a_worse_model_is_refused_and_the_live_one_stays(tmp_path: Path) -> None:
    """An engineer "answers more" by dropping the confidence gate's thresholds.

    Rasa is not running here: the live model is the file a start would load.
    """
    (tmp_path / "project").mkdir()
    project = copy_small_project(tmp_path / "project")
    env = publish_environment(tmp_path, f"http://127.0.0.1:{free_port()}")
    live = project / "models" / "relais.tar.gz"
    before = live.read_bytes()
    # The topic limits are derived from the pack; set in config.yml they win.
    edit(project / "config.yml", "intent_threshold: 0.5", "intent_threshold: 0.0")
    edit(
        project / "config.yml",
        "intent_margin: 0.1",
        "intent_margin: 0.1\n    faq_threshold: 0.0",
    )

    result = relais(env, "publish", "--project", project, "--agent", "lea")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Worse than the live model" in result.stdout
    assert "not-covered questions caught fell from" in result.stdout
    assert live.read_bytes() == before
    assert list((project / "models" / "candidates").iterdir()) == []
    assert not (project / "models" / "published").exists()
    listing = relais(env, "publish", "--list", "--project", project).stdout
    assert "publish  refused" in listing
    assert "Worse than the live model" in listing


# --- several Rasa processes -------------------------------------------------


class FakeRasa(http.server.ThreadingHTTPServer):
    """Rasa's PUT /model and GET /status, as far as publishing uses them."""

    def __init__(self, refuses: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), FakeRasaHandler)
        self.refuses = refuses
        self.loaded: list[str] = []  # model files, in order
        self.ids = {"new.tar.gz": "new", "old.tar.gz": "old"}
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class FakeRasaHandler(http.server.BaseHTTPRequestHandler):
    server: FakeRasa

    def log_message(self, *args: Any) -> None:
        pass

    def do_PUT(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.server.refuses:
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b'{"message": "LoadingError"}')
            return
        self.server.loaded.append(Path(body["model_file"]).name)
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:
        current = self.server.loaded[-1] if self.server.loaded else "old.tar.gz"
        payload = json.dumps({"model_id": self.server.ids[current]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload)


def several(*urls: str) -> Settings:
    environment = {**TEST_ENVIRONMENT, "RELAIS_RASA_URLS": ",".join(urls)}
    return load_settings(environment)


@pytest.mark.e2e
def test_a_console_publish_is_cancelled_while_it_trains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rasa is not running: cancelled before loading, it never needs it."""
    (tmp_path / "project").mkdir()
    project = copy_small_project(tmp_path / "project")
    # An empty model cache: the training starts for real.
    env = publish_environment(
        tmp_path, f"http://127.0.0.1:{free_port()}", cache=tmp_path / "cache"
    )
    live = project / "models" / "relais.tar.gz"
    before = model_id(live)
    editor = Console(env, project, monkeypatch)
    # A new example: what the model learns from changed.
    form = form_of(editor.browser.get("/topics/refund").text)
    form["examples_fr"] += "\nje veux récupérer mon argent pour le fromage rappelé"
    saved = editor.post("/topics/refund", form)
    assert saved.status_code == 303, saved.text

    job = editor.publish(until=lambda job: job["step"] == "training")
    assert job["state"] == "running" and job["cancellable"], job
    # One at a time.
    editor.post("/editor/publish", {})
    assert "still running: one at a time" in editor.browser.get("/editor").text
    cancelled = editor.post(f"/editor/publish/{job['id']}/cancel", {})
    assert cancelled.status_code == 303
    deadline = time.monotonic() + JOB_WAIT_SECONDS
    while editor.job()["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.5)
    job = editor.job()
    assert job["state"] == "cancelled", job
    assert "Cancelled: nothing changed." in job["lines"]
    assert model_id(live) == before
    assert list((project / "models" / "candidates").glob("*.tar.gz")) == []
    with ModelStore(project / "models").locked(env["DATABASE_URL"]):
        pass  # the lock was released
    with get_session_factory(env["DATABASE_URL"]).begin() as session:
        assert history.recent(session=session, limit=5) == []  # nothing recorded


def test_processes_load_the_model_one_after_the_other(tmp_path: Path) -> None:
    first, second = FakeRasa(), FakeRasa()
    stopped = f"http://127.0.0.1:{free_port()}"
    settings = several(first.url, stopped, second.url)
    lines: list[str] = []
    loaded, _ = load_everywhere(
        settings, tmp_path / "new.tar.gz", "new", tmp_path / "old.tar.gz", lines.append
    )
    assert loaded
    assert first.loaded == second.loaded == ["new.tar.gz"]
    assert lines[1] == f"{stopped}: not running; it will load the new model at start"


def test_when_one_process_refuses_the_others_go_back(tmp_path: Path) -> None:
    first, refusing, last = FakeRasa(), FakeRasa(refuses=True), FakeRasa()
    settings = several(first.url, refusing.url, last.url)
    lines: list[str] = []
    loaded, _ = load_everywhere(
        settings, tmp_path / "new.tar.gz", "new", tmp_path / "old.tar.gz", lines.append
    )
    assert not loaded
    assert first.loaded == ["new.tar.gz", "old.tar.gz"]
    assert last.loaded == []  # never asked
    assert lines[1].startswith(f"{refusing.url}: could not load new.tar.gz")
    assert lines[2] == f"{first.url}: back on the previous model"


@pytest.mark.e2e
def test_a_clicked_clarification_is_answered_directly_after_accept_and_publish(
    publish_work: Path, running: tuple[str, dict[str, str]]
) -> None:
    """Issue 10's loop: people click "did you mean", an editor accepts what
    they taught, the next publish answers the same question directly."""
    url, env = running
    project = publish_work / "project"
    vague = "j'ai des corticoïdes"
    answer = load_pack.__wrapped__(project / "packs" / "dairy-recall" / "faq")[
        "vulnerable_people"
    ].answers["fr"]
    person = Person(url)
    clarified = requests.post(
        f"{url}/webhooks/rest/webhook",
        json={"sender": person.sender, "message": vague},
        timeout=120,
    ).json()
    payloads = [b["payload"] for m in clarified for b in m.get("buttons") or []]
    assert faq_payload("vulnerable_people") in payloads, clarified
    assert person.ask(faq_payload("vulnerable_people")) == answer

    listing = relais(env, "suggestions", "list")
    assert vague in listing.stdout, listing.stdout + listing.stderr
    accepted = relais(env, "suggestions", "accept", "--topic", "vulnerable_people",
                      "--agent", "lea")  # fmt: skip
    assert "vulnerable_people: 1 example(s) added" in accepted.stdout, accepted.stderr
    assert Person(url).ask(vague) != answer  # nothing live before a publish

    # The shared model cache: add-a-topic proved a real training already; this
    # test's inputs are trained once per machine, then reused.
    shared = {**env, "RELAIS_MODEL_CACHE": str(SHARED_CACHE)}
    result = relais(shared, "publish", "--project", project, "--agent", "lea")
    assert result.returncode == 0, result.stdout + result.stderr
    assert Person(url).ask(vague) == answer
