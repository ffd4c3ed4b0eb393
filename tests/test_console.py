"""The console over HTTP: sign-in, roles on every route, CSRF, escaping, races.

Rasa is not running here (RASA_URL points at a closed port): pages fall back
to the transcript saved with the ticket, and actions that need Rasa say so and
change nothing. tests/test_browser.py drives the real thing in Chromium.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.console import accounts
from bot.console.app import create_app
from bot.db import get_session_factory
from bot.faq import load_pack, suggestions
from bot.faq import statement as statements
from bot.handoff import queue, switches
from bot.settings import PROJECT_ROOT, get_settings
from tests.test_cli import closed_port

PASSWORD = "correct horse battery"
XSS = "<script>alert('x')</script><img src=x onerror=alert(1)>"
QUEUE_ROUTES = [
    ("GET", "/"),
    ("GET", "/queue/events"),
    ("POST", "/queue/next"),
    ("GET", "/tickets/1"),
    ("GET", "/tickets/1/events"),
    *[("POST", f"/tickets/1/{action}") for action in
      ("claim", "release", "close", "reply", "note", "transfer", "invite")],
]  # fmt: skip


@pytest.fixture
def app_url(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("RASA_URL", f"http://127.0.0.1:{closed_port()}")
    get_settings.cache_clear()
    with get_session_factory(database_url).begin() as session:
        for name, role in (("alice", "agent"), ("bob", "agent"), ("eve", "editor"),
                           ("root", "admin")):  # fmt: skip
            accounts.add_agent(session=session, name=name, role=role, password=PASSWORD)
        queue.enqueue(session=session, request=queue.HandoffRequest(
            "visitor-1", "socketio", "fr", "health", "urgent", XSS,
            [{"role": "user", "text": XSS}]))  # fmt: skip
    yield database_url


def client() -> TestClient:
    app = create_app(get_settings())
    app.state.stream_events = 1  # a test reads one event, then the stream ends
    return TestClient(app, follow_redirects=False)


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF token in the page"
    return match.group(1)


def log_in(browser: TestClient, name: str) -> str:
    """Signs `name` in on `browser`; returns the session's CSRF token."""
    token = csrf_of(browser.get("/login").text)
    response = browser.post(
        "/login", data={"name": name, "password": PASSWORD, "csrf": token, "next": "/"}
    )
    assert response.status_code == 303, response.text
    return csrf_of(browser.get("/overview").text)


def signed_in(name: str) -> tuple[TestClient, str]:
    browser = client()
    token = csrf_of(browser.get("/login").text)
    response = browser.post(
        "/login", data={"name": name, "password": PASSWORD, "csrf": token, "next": "/"}
    )
    assert response.status_code == 303, response.text
    page = browser.get("/tickets/1", headers={"accept": "text/html"})
    return browser, csrf_of(page.text) if page.status_code == 200 else token


def test_every_queue_route_needs_a_signed_in_agent(app_url: str) -> None:
    anonymous = client()
    for method, path in QUEUE_ROUTES:
        response = anonymous.request(
            method, path, headers={"accept": "application/json"}
        )
        assert response.status_code == 401, (method, path)
        if method == "GET":
            page = anonymous.get(path, headers={"accept": "text/html"})
            assert page.status_code == 303 and page.headers["location"].startswith(
                "/login?next="
            ), path
    editor, token = signed_in("eve")
    for method, path in QUEUE_ROUTES:
        response = editor.request(method, path, data={"csrf": token},
                                  headers={"accept": "application/json"})  # fmt: skip
        assert response.status_code == 403, (method, path)


def test_sign_in_cookie_and_wrong_password(app_url: str) -> None:
    browser = client()
    token = csrf_of(browser.get("/login").text)
    wrong = browser.post("/login", data={"name": "alice", "password": "nope",
                                         "csrf": token})  # fmt: skip
    assert wrong.status_code == 401 and "Wrong name or password." in wrong.text
    form = {"name": "alice", "password": PASSWORD, "csrf": token}
    right = browser.post("/login", data={**form, "next": "//evil.example"})
    assert right.status_code == 303 and right.headers["location"] == "/"
    cookie = right.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert browser.get("/").status_code == 200


def test_sign_in_without_the_form_token_is_refused(app_url: str) -> None:
    response = client().post("/login", data={"name": "alice", "password": PASSWORD})
    assert response.status_code == 403


def test_repeated_failures_slow_sign_in_down(app_url: str) -> None:
    browser = client()
    token = csrf_of(browser.get("/login").text)
    for _ in range(accounts.FREE_FAILURES):
        browser.post("/login", data={"name": "alice", "password": "x", "csrf": token})
    response = browser.post("/login", data={"name": "alice", "password": PASSWORD,
                                            "csrf": token})  # fmt: skip
    assert response.status_code == 429
    assert "Too many failed attempts: wait" in response.text


def test_behind_nginx_one_strangers_failures_lock_nobody_else_out(
    app_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 26: behind nginx every sign-in came from 127.0.0.1, so a few
    failures from anyone locked out the whole team. The address counted is
    the one nginx saw, whatever the client wrote before it."""
    monkeypatch.setenv("RELAIS_TRUSTED_PROXIES", "testclient")  # the test's proxy
    get_settings.cache_clear()
    browser = client()
    token = csrf_of(browser.get("/login").text)

    def sign_in(name: str, password: str, forwarded: str) -> int:
        return browser.post(
            "/login",
            data={"name": name, "password": password, "csrf": token},
            headers={"x-forwarded-for": forwarded},
        ).status_code

    stranger = "203.0.113.9"
    for _ in range(accounts.FREE_FAILURES):
        assert sign_in("mallory", "guess", stranger) == 401
    assert sign_in("mallory", "guess", stranger) == 429
    # Writing another address first does not help: nginx appends the real one.
    assert sign_in("nobody", "guess", f"198.51.100.1, {stranger}") == 429
    # Alice, from her own address, signs in at once.
    assert sign_in("alice", PASSWORD, "198.51.100.7") == 303


def test_signing_out_ends_the_session_on_the_server(app_url: str) -> None:
    """A copy of the cookie taken before signing out opens nothing after."""
    browser, token = signed_in("alice")
    copy = client()
    copy.cookies.update(browser.cookies)
    assert copy.get("/").status_code == 200
    assert browser.post("/logout", data={"csrf": token}).status_code == 303
    assert copy.get("/", headers={"accept": "application/json"}).status_code == 401
    assert browser.get("/", headers={"accept": "application/json"}).status_code == 401
    # Signing in again works.
    assert signed_in("alice")[0].get("/").status_code == 200


def test_posts_need_the_csrf_token(app_url: str) -> None:
    browser, token = signed_in("alice")
    assert browser.post("/tickets/1/claim").status_code == 403
    assert browser.post("/tickets/1/claim", data={"csrf": "forged"}).status_code == 403
    ok = browser.post("/tickets/1/claim", data={"csrf": token},
                      headers={"accept": "application/json"})  # fmt: skip
    assert ok.status_code == 200 and ok.json()["ok"]


def test_what_people_typed_is_shown_as_text(app_url: str) -> None:
    browser, _ = signed_in("alice")
    for path in ("/", "/tickets/1"):
        page = browser.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page, path
        assert "&lt;script&gt;alert(" in page, path
    headers = browser.get("/").headers
    # Even an escaping mistake could not run a script: no inline scripts allowed.
    assert "script-src 'self';" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"


def test_two_agents_claiming_at_once_one_wins_the_other_sees_who(app_url: str) -> None:
    agents = {name: signed_in(name) for name in ("alice", "bob")}
    results: dict[str, tuple[int, str]] = {}
    barrier = threading.Barrier(2)

    def claim(name: str) -> None:
        browser, token = agents[name]
        barrier.wait()
        response = browser.post("/tickets/1/claim", data={"csrf": token},
                                headers={"accept": "application/json"})  # fmt: skip
        results[name] = (response.status_code, response.json()["message"])

    threads = [threading.Thread(target=claim, args=(name,)) for name in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(code for code, _ in results.values())
    assert codes == [200, 409], results
    winner = next(name for name, (code, _) in results.items() if code == 200)
    loser_message = next(message for code, message in results.values() if code == 409)
    assert loser_message == f"Ticket 1 is already held by {winner}."
    loser = "bob" if winner == "alice" else "alice"
    page = agents[loser][0].get("/tickets/1").text
    assert f"{winner} has this conversation: only they can answer it." in page
    assert 'id="send-button" disabled' in page


def test_actions_that_need_rasa_change_nothing_when_it_is_down(app_url: str) -> None:
    browser, token = signed_in("alice")
    browser.post("/tickets/1/claim", data={"csrf": token})
    response = browser.post("/tickets/1/reply", data={"csrf": token, "text": "Bonjour"},
                            headers={"accept": "application/json"})  # fmt: skip
    assert response.status_code == 502
    assert response.json()["message"].startswith(
        "Nothing changed: Rasa is not reachable"
    )
    closing = browser.post("/tickets/1/close", data={"csrf": token},
                           headers={"accept": "application/json"})  # fmt: skip
    assert closing.status_code == 502
    with get_session_factory(app_url).begin() as session:
        assert queue.get_ticket(session=session, ticket_id=1).status == "assigned"


def test_transfer_release_and_notes(app_url: str) -> None:
    browser, token = signed_in("alice")
    browser.post("/tickets/1/claim", data={"csrf": token})
    note = browser.post(
        "/tickets/1/note", data={"csrf": token, "text": "rappeler à 14 h"}
    )
    assert note.status_code == 303
    assert "rappeler à 14 h" in browser.get("/tickets/1").text

    def refused_transfer(to: str) -> tuple[int, str]:
        answer = browser.post("/tickets/1/transfer", data={"csrf": token, "to": to},
                              headers={"accept": "application/json"})  # fmt: skip
        return answer.status_code, answer.json()["message"]

    assert refused_transfer("eve") == (409, "eve cannot take conversations.")
    with get_session_factory(app_url).begin() as session:
        accounts.disable(session=session, name="bob", by="root")
    assert refused_transfer("bob") == (
        409, "bob's account is closed: choose someone else."
    )  # fmt: skip
    with get_session_factory(app_url).begin() as session:
        assert queue.get_ticket(session=session, ticket_id=1).agent == "alice"
        accounts.enable(session=session, name="bob")
    moved = browser.post("/tickets/1/transfer", data={"csrf": token, "to": "bob"})
    assert moved.status_code == 303
    bob, bob_token = signed_in("bob")
    assert bob.post("/tickets/1/release", data={"csrf": bob_token}).status_code == 303
    with get_session_factory(app_url).begin() as session:
        ticket = queue.get_ticket(session=session, ticket_id=1)
        assert (ticket.status, ticket.agent) == ("waiting", None)


def test_an_admin_takes_over_a_conversation_someone_else_holds(app_url: str) -> None:
    """Issue 26: the holder is away and nobody else could answer the person."""
    alice, alice_token = signed_in("alice")
    alice.post("/tickets/1/claim", data={"csrf": alice_token})
    bob, bob_token = signed_in("bob")
    refused = bob.post("/tickets/1/take-over", data={"csrf": bob_token},
                       headers={"accept": "application/json"})  # fmt: skip
    assert refused.status_code == 403
    root, root_token = signed_in("root")
    assert "Take over from alice" in root.get("/tickets/1").text
    taken = root.post("/tickets/1/take-over", data={"csrf": root_token})
    assert taken.status_code == 303
    page = root.get("/tickets/1").text
    assert "Taken over from alice." in page and 'id="release-button"' in page
    with get_session_factory(app_url).begin() as session:
        ticket = queue.get_ticket(session=session, ticket_id=1)
        assert (ticket.status, ticket.agent) == ("assigned", "root")


def test_the_queue_stream_sends_the_queue(app_url: str) -> None:
    browser, _ = signed_in("alice")
    with browser.stream("GET", "/queue/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        first = next(line for line in response.iter_lines() if line.startswith("data:"))
    snapshot = json.loads(first[len("data:") :])
    assert snapshot["waiting"] == 1
    assert snapshot["tickets"][0]["priority"] == "urgent"
    assert snapshot["tickets"][0]["last_message"].startswith(
        "<script>"
    )  # JSON, shown as text


def test_the_web_chat_is_public_and_the_token_stays_on_the_server(app_url: str) -> None:
    anonymous = client()
    chat = anonymous.get("/chat")
    assert chat.status_code == 200
    assert 'data-socket-url="http://127.0.0.1:' in chat.text
    token = get_settings().rasa_token
    browser, _ = signed_in("alice")
    for page in (chat.text, browser.get("/").text, browser.get("/tickets/1").text):
        assert token not in page


EDITOR_ROUTES = [
    ("GET", "/editor"),
    ("POST", "/editor/statement"),
    ("POST", "/editor/clear-statement"),
    ("POST", "/editor/all-to-humans"),
    ("POST", "/editor/queue-closed"),
    ("POST", "/editor/rollback"),
    ("GET", "/suggestions"),
    ("POST", "/suggestions/accept"),
    ("POST", "/suggestions/accept-topic"),
    ("POST", "/suggestions/reject"),
]


def test_editor_pages_are_for_editors_and_admins_only(app_url: str) -> None:
    anonymous = client()
    for method, path in EDITOR_ROUTES:
        response = anonymous.request(
            method, path, headers={"accept": "application/json"}
        )
        assert response.status_code == 401, (method, path)
    agent, token = signed_in("alice")
    for method, path in EDITOR_ROUTES:
        response = agent.request(method, path, data={"csrf": token},
                                 headers={"accept": "application/json"})  # fmt: skip
        assert response.status_code == 403, (method, path)
    admin, _ = signed_in("root")
    assert admin.get("/editor").status_code == 200


def test_an_editor_publishes_the_statement_and_flips_a_switch(app_url: str) -> None:
    browser = client()
    token = csrf_of(browser.get("/login").text)
    landed = browser.post("/login", data={"name": "eve", "password": PASSWORD,
                                          "csrf": token})  # fmt: skip
    assert landed.headers["location"] == "/editor"  # editors land on their page
    token = csrf_of(browser.get("/editor").text)
    assert (
        browser.post(
            "/editor/statement", data={"text_fr": XSS, "text_en": "Official text."}
        ).status_code
        == 403
    )  # no CSRF
    published = browser.post("/editor/statement", data={
        "csrf": token, "text_fr": XSS, "text_en": "Official text."})  # fmt: skip
    assert published.status_code == 303
    page = browser.get("/editor").text
    assert "Statement published" in page
    assert "&lt;script&gt;alert(" in page and "<script>alert" not in page
    half = {"csrf": token, "text_fr": "x", "text_en": " "}
    assert browser.post("/editor/statement", data=half).status_code == 303
    assert "The English text is empty" in browser.get("/editor").text
    browser.post("/editor/queue-closed", data={"csrf": token, "enabled": "on"})
    assert "queue-closed: ON." in browser.get("/editor").text
    with get_session_factory(app_url).begin() as session:
        assert switches.read_switches(session=session).queue_closed
        assert statements.active_statement(session=session).text_en == "Official text."


def test_editors_see_the_last_publishes_with_their_figures(
    app_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.publish import history

    live = {"right": 86.0, "wrong": 1.7, "declined": 12.3, "caught": 98.4,
            "covered": 242, "not_covered": 62}  # fmt: skip
    with get_session_factory(app_url).begin() as session:
        history.record(session=session, action="publish", outcome="published",
                       author="eve", model_id="m1", figures=live)  # fmt: skip
        history.record(
            session=session, action="publish", outcome="refused", author="eve",
            figures={**live, "wrong": 9.2, "caught": 27.4}, live_figures=live,
            detail=f"Worse than the live model: {XSS}\nsecond line",
        )  # fmt: skip
    monkeypatch.setattr("bot.console.editor.live_model_id", lambda *args: "m1")
    browser, _ = signed_in("eve")
    page = browser.get("/editor").text
    table = page[page.index('id="publishes"') :]
    rows = re.findall(r"<tr class=\"outcome-(\w+)( live)?\">", table)
    assert rows == [("refused", ""), ("published", " live")]
    refused = table[: table.index("outcome-published")]
    assert "9.2 %" in refused and "before 1.7 %" in refused
    assert "27.4 %" in refused and "before 98.4 %" in refused
    assert "Worse than the live model: &lt;script&gt;" in refused
    assert "second line" not in page


def fake_model(path: Path, model_id: str) -> None:
    """A model archive as far as telling models apart goes (its metadata)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = json.dumps({"model_id": model_id}).encode()
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("metadata.json")
        info.size = len(metadata)
        tar.addfile(info, io.BytesIO(metadata))


def test_an_editor_puts_an_earlier_model_back(
    app_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Rasa is not running: the model put back is the one its next start loads."""
    from bot.publish import history
    from bot.publish.service import Project
    from bot.publish.store import model_id

    project = Project(tmp_path, tmp_path / "faq")
    store = project.store
    fake_model(store.published / "relais-20261127-090000.tar.gz", "m0")
    fake_model(store.published / "relais-20261127-100000.tar.gz", "m1")
    shutil.copy(store.published / "relais-20261127-100000.tar.gz", store.live)
    with get_session_factory(app_url).begin() as session:
        for name, model in (("090000", "m0"), ("100000", "m1")):
            history.record(session=session, action="publish", outcome="published",
                           author="eve", model_id=model,
                           model_file=f"relais-20261127-{name}.tar.gz")  # fmt: skip
    monkeypatch.setattr("bot.console.editor.models_project", lambda settings: project)
    browser, _ = signed_in("eve")
    page = browser.get("/editor").text
    token = csrf_of(page)
    assert 'id="put-back-1"' in page and 'id="put-back-2"' not in page  # 2 is live
    assert browser.post("/editor/rollback", data={"to": "1"}).status_code == 403
    done = browser.post("/editor/rollback", data={"csrf": token, "to": "1"})
    assert done.status_code == 303
    page = browser.get("/editor").text
    assert "Back to publish #1. Its model is live." in page
    assert model_id(store.live) == "m0"
    assert 'id="put-back-2"' in page and 'id="put-back-1"' not in page
    browser.post("/editor/rollback", data={"csrf": token, "to": "9"})
    assert "Publish #9 did not put a model live" in browser.get("/editor").text
    assert model_id(store.live) == "m0"


def test_an_editor_reviews_suggestions_by_topic_and_accepts_into_the_pack(
    app_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(PROJECT_ROOT / "packs" / "dairy-recall", tmp_path / "pack")
    monkeypatch.setenv("RELAIS_PACK", str(tmp_path / "pack"))
    get_settings.cache_clear()
    asked = [("c'est dangereux pour bébé ?", "symptoms", "c1"),
             ("c'est dangereux pour bébé ?", "symptoms", "c2"),
             (XSS, "symptoms", "c3"),
             ("et pour une femme enceinte", "symptoms", "c4"),
             ("jusqu'à quand rembourser", "refund", "c5")]  # fmt: skip
    with get_session_factory(app_url).begin() as session:
        ids = [
            suggestions.record(session=session, text=text, topic=topic, language="fr",
                               source=suggestions.CLARIFICATION,
                               conversation_id=conversation).id
            for text, topic, conversation in asked
        ]  # fmt: skip
    browser, _ = signed_in("eve")
    page = browser.get("/suggestions").text
    token = csrf_of(page)
    assert page.index("Symptômes") < page.index("Remboursement")  # most asked first
    assert "&lt;script&gt;alert(" in page and "<script>alert" not in page
    assert browser.post("/suggestions/accept", data={"id": ids[0]}).status_code == 403
    browser.post("/suggestions/accept", data={"csrf": token, "id": [ids[0]]})
    browser.post("/suggestions/accept", data={"csrf": token, "id": [ids[3]],
                                              "to": "pregnancy"})  # fmt: skip
    browser.post("/suggestions/reject", data={"csrf": token, "id": [ids[2]]})
    page = browser.get("/suggestions").text
    assert "1 suggestion rejected" in page
    browser.post("/suggestions/accept-topic", data={"csrf": token, "topic": "refund"})
    page = browser.get("/suggestions").text
    assert "Examples added: 1 to refund" in page and "No suggestion waiting" in page
    pack = load_pack.__wrapped__(tmp_path / "pack" / "faq")
    assert "c'est dangereux pour bébé ?" in pack["symptoms"].examples["fr"]
    assert "et pour une femme enceinte" in pack["pregnancy"].examples["fr"]
    assert "jusqu'à quand rembourser" in pack["refund"].examples["fr"]
    assert XSS not in pack["symptoms"].examples["fr"]
    browser.post("/suggestions/accept", data={"csrf": token, "id": ["x"]})
    assert "Unknown suggestion" in browser.get("/suggestions").text


def test_accepting_a_whole_topic_takes_only_confirmed_suggestions(
    app_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 28: "Accept all" made it easy to teach a topic a question it does
    not answer. One person's rephrase, only fairly similar, is shown with its
    evidence and must be chosen by hand."""
    shutil.copytree(PROJECT_ROOT / "packs" / "dairy-recall", tmp_path / "pack")
    monkeypatch.setenv("RELAIS_PACK", str(tmp_path / "pack"))
    get_settings.cache_clear()
    weak, clicked = "remboursé comment", "rembourser un pot ouvert ?"
    with get_session_factory(app_url).begin() as session:
        suggestions.record(
            session=session, text=weak, topic="refund", language="fr",
            source=suggestions.REPHRASE, conversation_id="c1",
            evidence="comment me faire rembourser ?", similarity=0.56,
        )  # fmt: skip
        suggestions.record(
            session=session, text=clicked, topic="refund", language="fr",
            source=suggestions.CLARIFICATION, conversation_id="c2",
        )  # fmt: skip
    browser, _ = signed_in("eve")
    page = browser.get("/suggestions").text
    assert "then asked “comment me faire rembourser ?”" in page
    assert "(similarity 0.56)" in page and ">check</span>" in page
    assert "Accept the 1 confirmed as examples of" in page
    browser.post(
        "/suggestions/accept-topic", data={"csrf": csrf_of(page), "topic": "refund"}
    )
    pack = load_pack.__wrapped__(tmp_path / "pack" / "faq")
    assert clicked in pack["refund"].examples["fr"]
    assert weak not in pack["refund"].examples["fr"]
    page = browser.get("/suggestions").text
    assert weak in page and "Accept the" not in page and "Accept all" not in page
