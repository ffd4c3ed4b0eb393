"""Editors in the browser, over HTTP: topics, versions, four-eyes approval,
two editors at once, the holding statement's drafts. On SQLite and PostgreSQL.

What the bot says is checked the way the action server reads it
(`current_pack`) and through the FAQ action itself.
"""

from __future__ import annotations

import dataclasses
import html
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import IntegrityError
from starlette.testclient import TestClient

from actions.faq import ActionAnswerFaq
from bot.cli import main
from bot.console import accounts
from bot.console.app import create_app
from bot.db import get_session_factory
from bot.faq import live, versions
from bot.faq import statement as statements
from bot.faq.live import current_pack, files_pack
from bot.faq.pack import parse_topic_file
from bot.faq.spreadsheet import export_csv
from bot.publish import jobs
from bot.settings import PROJECT_ROOT, get_settings
from tests.conftest import load_tracker
from tests.test_cli import closed_port

PASSWORD = "correct horse battery"
XSS = "<script>alert('x')</script><img src=x onerror=alert(1)>"
TOPIC = "lot_numbers"
NEW_ANSWER = "Les lots concernés vont de L26304 à L26330 : vérifiez le couvercle."


def desk_with(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, four_eyes: str
) -> Path:
    """A pack of our own and four accounts; returns the pack's faq/."""
    shutil.copytree(PROJECT_ROOT / "packs" / "dairy-recall", tmp_path / "pack")
    monkeypatch.setenv("RELAIS_PACK", str(tmp_path / "pack"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("RASA_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("RELAIS_FOUR_EYES", four_eyes)
    get_settings.cache_clear()
    with get_session_factory(database_url).begin() as session:
        for name, role in (
            ("alice", "agent"),
            ("eve", "editor"),
            ("fay", "editor"),
            ("root", "admin"),
        ):
            accounts.add_agent(session=session, name=name, role=role, password=PASSWORD)
    return tmp_path / "pack" / "faq"


@pytest.fixture
def desk(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    yield desk_with(database_url, tmp_path, monkeypatch, "off")


@pytest.fixture
def checked_desk(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Four-eyes approval on."""
    yield desk_with(database_url, tmp_path, monkeypatch, "on")


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF token in the page"
    return match.group(1)


def signed_in(name: str) -> tuple[TestClient, str]:
    browser = TestClient(create_app(get_settings()), follow_redirects=False)
    token = csrf_of(browser.get("/login").text)
    response = browser.post(
        "/login", data={"name": name, "password": PASSWORD, "csrf": token, "next": "/"}
    )
    assert response.status_code == 303, response.text
    # Signing in gives a new session, with its own token.
    return browser, csrf_of(browser.get("/overview").text)


def form_of(page: str) -> dict[str, str]:
    """The topic form's fields as the page fills them (what a browser would post)."""
    form = page[page.index('id="topic-form"') :]
    form = form[: form.index("</form>")]
    fields: dict[str, str] = {}
    for name, value in re.findall(r'<input name="(\w+)" value="([^"]*)"', form):
        fields[name] = value
    for name, value in re.findall(
        r'<input type="hidden" name="(\w+)" value="([^"]*)"', form
    ):
        fields[name] = value
    for name, value in re.findall(
        r'<textarea name="(\w+)"[^>]*>(.*?)</textarea>', form, re.S
    ):
        fields[name] = value
    for name in re.findall(r'<input type="checkbox" name="(\w+)" checked>', form):
        fields[name] = "on"
    for name, value in re.findall(
        r'<input name="(\w+)" type="date" value="([^"]*)"', form
    ):
        fields[name] = value
    return {name: html.unescape(value) for name, value in fields.items()}


def opened(browser: TestClient, key: str = TOPIC) -> dict[str, str]:
    page = browser.get(f"/topics/{key}")
    assert page.status_code == 200, page.text
    return form_of(page.text)


def said(key: str = TOPIC, language: str = "fr") -> str:
    """The answer every action server gives now (they look again every 0.5 s;
    tests/test_scaled.py waits that long, this asks at once)."""
    live.forget()
    return current_pack(get_settings())[key].answers[language]


async def bot_answer() -> str:
    live.forget()
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq().run(dispatcher, load_tracker("faq_question_fr"), {})
    return str(dispatcher.messages[0]["text"])


def flash_of(browser: TestClient, path: str) -> str:
    page = browser.get(path).text
    match = re.search(r'<p class="flash (\w+)" role="status">(.*?)</p>', page, re.S)
    return f"{match.group(1)}: {match.group(2)}" if match else ""


# --- routes and roles -------------------------------------------------------------

ROUTES = [
    ("GET", "/topics"),
    ("GET", "/topics/new"),
    ("POST", "/topics/new"),
    ("POST", "/topics/new/lint"),
    ("GET", f"/topics/{TOPIC}"),
    ("POST", f"/topics/{TOPIC}"),
    ("POST", f"/topics/{TOPIC}/lint"),
    *[
        ("POST", f"/topics/{TOPIC}/{action}")
        for action in ("approve", "reject", "restore", "adopt", "rewrite")
    ],
    ("POST", "/editor/publish"),
    ("GET", "/editor/publish/1/events"),
    ("POST", "/editor/publish/1/cancel"),
    ("POST", "/editor/statement-approve"),
    ("POST", "/editor/statement-reject"),
]


def test_topic_pages_are_for_editors_and_admins_only(desk: Path) -> None:
    anonymous = TestClient(create_app(get_settings()), follow_redirects=False)
    agent, agent_token = signed_in("alice")
    for method, path in ROUTES:
        response = anonymous.request(
            method, path, headers={"accept": "application/json"}
        )
        assert response.status_code == 401, (method, path)
        denied = agent.request(
            method,
            path,
            data={"csrf": agent_token},
            headers={"accept": "application/json"},
        )
        assert denied.status_code == 403, (method, path)
    editor, _ = signed_in("eve")
    for method, path in ROUTES:
        if method == "POST":  # no CSRF token: refused before anything happens
            assert editor.post(path, data={"answer_fr": "x"}).status_code == 403, path
    assert editor.get("/topics").status_code == 200
    assert (
        editor.get("/topics/no_such_topic", headers={"accept": "text/html"}).status_code
        == 404
    )
    assert editor.get("/editor/publish/99/events").status_code == 404
    admin, _ = signed_in("root")
    assert admin.get(f"/topics/{TOPIC}").status_code == 200
    assert files_pack(desk)[TOPIC].answers["fr"] == said()  # nothing changed
    with get_session_factory(get_settings().database_url).begin() as session:
        assert jobs.latest(session=session) is None  # no publish was started


# --- one editor (four-eyes off) ---------------------------------------------------


async def test_a_saved_answer_is_what_the_bot_says_next(desk: Path) -> None:
    before = await bot_answer()
    editor, token = signed_in("eve")
    form = opened(editor)
    assert form["base"] == "0" and form["answer_fr"] == before
    saved = editor.post(
        f"/topics/{TOPIC}", data={**form, "csrf": token, "answer_fr": NEW_ANSWER}
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"/topics/{TOPIC}"
    assert await bot_answer() == NEW_ANSWER
    # The pack's file follows (what the next training and git see).
    assert parse_topic_file(desk / f"{TOPIC}.yml").answers["fr"] == NEW_ANSWER
    page = editor.get(f"/topics/{TOPIC}").text
    assert f"Version 2 of {TOPIC} is live" in page
    # The history keeps the pack's version and shows what changed, word by word.
    assert "Version 1</b>" in page and "pack files" in page
    assert "<del>L26318</del><ins>L26330</ins>" in page.replace(" ", "") or (
        "<ins>" in page and "L26330" in page
    )
    assert form_of(page)["base"] == "2"


def test_nothing_changed_is_said_and_nothing_recorded(desk: Path) -> None:
    editor, token = signed_in("eve")
    form = opened(editor)
    editor.post(f"/topics/{TOPIC}", data={**form, "csrf": token})
    assert "Nothing changed" in flash_of(editor, f"/topics/{TOPIC}")
    with get_session_factory(get_settings().database_url).begin() as session:
        assert versions.history(session=session, topic=TOPIC) == []


def test_a_refused_save_keeps_the_editors_text(desk: Path) -> None:
    editor, token = signed_in("eve")
    form = opened(editor)
    too_long = ("Trop long. " * 200).strip()  # Messenger cuts at 2,000
    refused = editor.post(
        f"/topics/{TOPIC}",
        data={**form, "csrf": token, "answer_fr": too_long, "title_en": ""},
    )
    assert refused.status_code == 400
    assert "Write the English title." in refused.text
    assert form_of(refused.text)["answer_fr"] == too_long  # nothing lost
    refused = editor.post(
        f"/topics/{TOPIC}", data={**form, "csrf": token, "answer_fr": too_long}
    )
    assert (
        refused.status_code == 400 and "The lint refuses this version" in refused.text
    )
    assert "Messenger take 2000" in refused.text
    assert form_of(refused.text)["answer_fr"] == too_long
    assert said() == form["answer_fr"]


def test_what_editors_type_is_escaped_everywhere(desk: Path) -> None:
    editor, token = signed_in("eve")
    form = opened(editor)
    editor.post(
        f"/topics/{TOPIC}",
        data={**form, "csrf": token, "answer_fr": XSS, "title_fr": XSS},
    )
    assert said() == XSS
    for path in ("/topics", f"/topics/{TOPIC}"):
        page = editor.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page, path
        assert "&lt;script&gt;alert(" in page, path


def test_the_lint_answers_as_the_editor_types(desk: Path) -> None:
    editor, token = signed_in("eve")
    form = opened(editor)
    clean = editor.post(f"/topics/{TOPIC}/lint", data={**form, "csrf": token})
    assert clean.status_code == 200
    assert [f for f in clean.json()["findings"] if f["level"] == "error"] == []
    other = parse_topic_file(desk / "refund.yml").examples["fr"][0]
    verdict = editor.post(
        f"/topics/{TOPIC}/lint",
        data={
            **form,
            "csrf": token,
            "answer_en": "Too long. " * 210,
            "examples_fr": form["examples_fr"] + "\n" + other,
        },
    ).json()
    messages = [f["message"] for f in verdict["findings"] if f["level"] == "error"]
    assert any("Messenger take 2000" in m for m in messages), messages
    assert any("also an example of refund" in m for m in messages), messages
    missing = editor.post(
        f"/topics/{TOPIC}/lint", data={**form, "csrf": token, "owner": ""}
    ).json()
    assert missing["problems"] == ["Say who answers for this content (owner)."]


def test_an_editor_adds_a_topic(desk: Path) -> None:
    editor, token = signed_in("eve")
    page = editor.get("/topics/new").text
    form = {
        **form_of(page),
        "csrf": token,
        "key": "factory_future",
        "title_fr": "Avenir de l'usine",
        "title_en": "The factory's future",
        "answer_fr": "L'usine reste ouverte.",
        "answer_en": "The factory stays open.",
        "examples_fr": "l'usine va-t-elle fermer ?\nfermeture de l'usine",
        "examples_en": "is the factory closing?",
        "owner": "presse@montval.fr",
        "enabled": "on",
    }
    bad = editor.post("/topics/new", data={**form, "key": "Factory Future!"})
    assert bad.status_code == 400 and "The key is 3 to 50" in bad.text
    taken = editor.post("/topics/new", data={**form, "key": "refund"})
    assert taken.status_code == 409 and "There is already a topic refund" in taken.text
    created = editor.post("/topics/new", data=form)
    assert created.status_code == 303, created.text
    assert created.headers["location"] == "/topics/factory_future"
    assert said("factory_future", "en") == "The factory stays open."
    assert (desk / "factory_future.yml").exists()
    assert "factory_future" in editor.get("/topics").text
    again = editor.post("/topics/new", data=form)
    assert again.status_code == 409
    # The route of an existing topic creates none, whatever its key.
    stray = editor.post("/topics/Bad Key", data={**form, "key": "Bad Key"})
    assert stray.status_code == 404 and "There is no topic Bad Key" in stray.text
    assert not (desk / "Bad Key.yml").exists()


def test_an_old_version_is_restored(desk: Path) -> None:
    editor, token = signed_in("eve")
    original = opened(editor)
    editor.post(
        f"/topics/{TOPIC}", data={**original, "csrf": token, "answer_fr": NEW_ANSWER}
    )
    restored = editor.post(
        f"/topics/{TOPIC}/restore", data={"csrf": token, "number": "1", "base": "2"}
    )
    assert restored.status_code == 303
    assert "Version 1 restored as version 3, live." in flash_of(
        editor, f"/topics/{TOPIC}"
    )
    assert said() == original["answer_fr"]
    # A restore written on an old page is a conflict, not a silent overwrite.
    stale = editor.post(
        f"/topics/{TOPIC}/restore", data={"csrf": token, "number": "2", "base": "2"}
    )
    assert stale.status_code == 303
    assert "saved version 3" in flash_of(editor, f"/topics/{TOPIC}")
    assert said() == original["answer_fr"]


# --- two editors at once ----------------------------------------------------------


def test_the_second_editor_to_save_sees_the_first_ones_version(desk: Path) -> None:
    eve, eve_token = signed_in("eve")
    fay, fay_token = signed_in("fay")
    eve_form, fay_form = opened(eve), opened(fay)
    eve.post(
        f"/topics/{TOPIC}",
        data={**eve_form, "csrf": eve_token, "answer_fr": NEW_ANSWER},
    )
    fay_text = "Réponse de Fay : les lots L26304 à L26318, voir le couvercle."
    late = fay.post(
        f"/topics/{TOPIC}", data={**fay_form, "csrf": fay_token, "answer_fr": fay_text}
    )
    assert late.status_code == 409
    assert "eve saved version 2 of this topic while you were editing it" in late.text
    # Fay's text is still in her form; Eve's is shown beside it.
    assert form_of(late.text)["answer_fr"] == fay_text
    assert NEW_ANSWER in late.text
    assert form_of(late.text)["base"] == "2"
    assert said() == NEW_ANSWER  # nothing overwritten
    # Having merged, Fay saves on top of Eve's version.
    merged = fay.post(
        f"/topics/{TOPIC}", data={**form_of(late.text), "csrf": fay_token}
    )
    assert merged.status_code == 303
    assert said() == fay_text
    with get_session_factory(get_settings().database_url).begin() as session:
        authors = [v.author for v in versions.history(session=session, topic=TOPIC)]
    assert authors == ["fay", "eve", versions.PACK_AUTHOR]


def test_two_saves_at_the_same_moment_lose_nothing(
    desk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both read version 1 and write version 2: the database refuses the second
    (unique topic and number); its editor is told, with their text kept."""
    editor, token = signed_in("eve")
    form = opened(editor)

    def same_moment(**kwargs: object) -> None:
        raise IntegrityError("INSERT INTO topic_version", {}, Exception("unique"))

    monkeypatch.setattr(versions, "save", same_moment)
    late = editor.post(
        f"/topics/{TOPIC}", data={**form, "csrf": token, "answer_fr": NEW_ANSWER}
    )
    assert late.status_code == 409
    assert "Someone saved this topic at the same moment" in late.text
    assert form_of(late.text)["answer_fr"] == NEW_ANSWER


def test_a_publish_that_cannot_start_says_so_and_blocks_nothing(
    desk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    editor, token = signed_in("eve")

    def no_relais(*args: object, **kwargs: object) -> None:
        raise FileNotFoundError(2, "No such file or directory", "relais")

    monkeypatch.setattr(jobs.subprocess, "Popen", no_relais)
    for _ in range(2):  # the failed one does not count as running
        started = editor.post("/editor/publish", data={"csrf": token})
        assert started.status_code == 303
        assert "The publish could not start" in flash_of(editor, "/editor")
    with get_session_factory(get_settings().database_url).begin() as session:
        job = jobs.latest(session=session)
        assert job is not None and job.state == jobs.FAILED


# --- four-eyes approval ------------------------------------------------------------


async def test_a_change_waits_for_a_second_person(checked_desk: Path) -> None:
    before = await bot_answer()
    eve, eve_token = signed_in("eve")
    form = opened(eve)
    eve.post(
        f"/topics/{TOPIC}", data={**form, "csrf": eve_token, "answer_fr": NEW_ANSWER}
    )
    assert "saved as a draft" in flash_of(eve, f"/topics/{TOPIC}")
    # Drafts never reach people, nor the pack's file.
    assert await bot_answer() == before
    assert parse_topic_file(checked_desk / f"{TOPIC}.yml").answers["fr"] == before
    page = eve.get(f"/topics/{TOPIC}").text
    assert "Waiting for approval: version 2 by eve" in page
    assert 'id="approve"' not in page  # not to its author
    draft_id = re.search(r'name="version" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    eve.post(f"/topics/{TOPIC}/approve", data={"csrf": eve_token, "version": draft_id})
    assert "another editor or an admin must approve it" in flash_of(
        eve, f"/topics/{TOPIC}"
    )
    assert await bot_answer() == before
    # Fay sees the difference and approves.
    fay, fay_token = signed_in("fay")
    assert (
        f'<a href="/topics/{TOPIC}">{TOPIC}</a>: version 2 by eve'
        in fay.get("/topics").text
    )
    page = fay.get(f"/topics/{TOPIC}").text
    assert 'id="approve"' in page and "<ins>" in page and "L26330" in page
    fay.post(f"/topics/{TOPIC}/approve", data={"csrf": fay_token, "version": draft_id})
    assert await bot_answer() == NEW_ANSWER
    assert parse_topic_file(checked_desk / f"{TOPIC}.yml").answers["fr"] == NEW_ANSWER
    with get_session_factory(get_settings().database_url).begin() as session:
        live = versions.live_version(session=session, topic=TOPIC)
        assert live is not None
        assert (live.author, live.reviewed_by, live.urgent) == ("eve", "fay", False)
    assert "approved by fay" in fay.get(f"/topics/{TOPIC}").text


async def test_an_admin_may_publish_alone_when_it_cannot_wait(
    checked_desk: Path,
) -> None:
    eve, eve_token = signed_in("eve")
    form = opened(eve)
    # "urgent" from an editor is ignored: still a draft.
    eve.post(
        f"/topics/{TOPIC}",
        data={
            **form,
            "csrf": eve_token,
            "urgent": "on",
            "answer_fr": "Brouillon d'Eve.",
        },
    )
    assert said() == form["answer_fr"]
    root, root_token = signed_in("root")
    page = root.get(f"/topics/{TOPIC}").text
    assert "Urgent: live without a second person" in page
    urgent = "Urgent : ne consommez pas les lots L26304 à L26330."
    root.post(
        f"/topics/{TOPIC}",
        data={**form_of(page), "csrf": root_token, "urgent": "on", "answer_fr": urgent},
    )
    assert await bot_answer() == urgent
    page = root.get(f"/topics/{TOPIC}").text
    assert "urgent, no second person" in page
    with get_session_factory(get_settings().database_url).begin() as session:
        rows = versions.history(session=session, topic=TOPIC)
        assert [(v.author, v.state, v.urgent) for v in rows] == [
            ("root", "approved", True),
            ("eve", "replaced", False),  # root wrote on top of Eve's draft
            (versions.PACK_AUTHOR, "approved", False),
        ]


def test_a_rejected_draft_never_reaches_anyone(checked_desk: Path) -> None:
    eve, eve_token = signed_in("eve")
    form = opened(eve)
    eve.post(f"/topics/{TOPIC}", data={**form, "csrf": eve_token, "enabled": ""})
    assert said() == form["answer_fr"]
    live.forget()
    assert current_pack(get_settings())[TOPIC].enabled  # disabling waits too
    fay, fay_token = signed_in("fay")
    page = fay.get(f"/topics/{TOPIC}").text
    assert "Enabled" in page and "<del>yes</del><ins>no</ins>" in page
    draft_id = re.search(r'name="version" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    fay.post(f"/topics/{TOPIC}/reject", data={"csrf": fay_token, "version": draft_id})
    assert "rejected: people never saw it" in flash_of(fay, f"/topics/{TOPIC}")
    live.forget()
    assert current_pack(get_settings())[TOPIC].enabled
    assert "Waiting for approval" not in fay.get(f"/topics/{TOPIC}").text


def test_new_examples_go_live_under_a_waiting_draft(checked_desk: Path) -> None:
    """Accepted suggestions add examples (nothing anybody reads) at once; the
    waiting draft keeps its change and gains the examples."""
    settings = get_settings()
    eve, eve_token = signed_in("eve")
    form = opened(eve)
    eve.post(
        f"/topics/{TOPIC}", data={**form, "csrf": eve_token, "answer_fr": NEW_ANSWER}
    )
    with get_session_factory(settings.database_url).begin() as session:
        current = versions.live_pack(session=session, faq_dir=settings.faq_dir)[TOPIC]
        more = dict(current.examples)
        more["fr"] = [*more["fr"], "c'est quoi les numéros de lot rappelés"]
        saved = versions.save_many(
            session=session,
            faq_dir=settings.faq_dir,
            topics=[dataclasses.replace(current, examples=more)],
            author="fay",
            approval_needed=True,
            note="accepted suggestions",
        )
        assert [one.live for one in saved] == [True]
    live.forget()
    pack = current_pack(settings)
    assert "c'est quoi les numéros de lot rappelés" in pack[TOPIC].examples["fr"]
    assert pack[TOPIC].answers["fr"] == form["answer_fr"]  # the draft still waits
    fay, fay_token = signed_in("fay")
    page = fay.get(f"/topics/{TOPIC}").text
    draft_id = re.search(r'name="version" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    fay.post(f"/topics/{TOPIC}/approve", data={"csrf": fay_token, "version": draft_id})
    live.forget()
    pack = current_pack(settings)
    assert pack[TOPIC].answers["fr"] == NEW_ANSWER
    assert "c'est quoi les numéros de lot rappelés" in pack[TOPIC].examples["fr"]


def test_the_statement_waits_for_a_second_person(checked_desk: Path) -> None:
    eve, eve_token = signed_in("eve")
    eve.post(
        "/editor/statement",
        data={"csrf": eve_token, "text_fr": "Communiqué A.", "text_en": "Statement A."},
    )
    page = eve.get("/editor").text
    assert "saved as a draft" in page and 'id="approve-statement"' not in page
    # The page says what four-eyes means, not "live at once" (issue 28).
    assert "live at once" not in page and "once another editor" in page
    assert statements.statement_for(get_settings(), "fr") is None
    fay, fay_token = signed_in("fay")
    page = fay.get("/editor").text
    assert "Waiting for approval: a new version by eve" in page
    assert "<ins>Communiqué A.</ins>" in page
    draft = re.search(r'name="statement" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    fay.post("/editor/statement-approve", data={"csrf": fay_token, "statement": draft})
    message = statements.statement_for(get_settings(), "fr")
    assert message is not None and message.endswith("Communiqué A.")
    assert "approved by fay" in fay.get("/editor").text
    # Its author cannot approve their own; an admin may, marked urgent.
    eve.post(
        "/editor/statement",
        data={"csrf": eve_token, "text_fr": "Communiqué B.", "text_en": "Statement B."},
    )
    with get_session_factory(get_settings().database_url).begin() as session:
        waiting = statements.pending_statement(session=session)
        assert waiting is not None
        with pytest.raises(statements.StatementError, match="another editor"):
            statements.approve_statement(
                session=session, statement_id=waiting.id, approver="eve", is_admin=False
            )
    root, root_token = signed_in("root")
    root.post(
        "/editor/statement",
        data={
            "csrf": root_token,
            "urgent": "on",
            "text_fr": "Communiqué C.",
            "text_en": "Statement C.",
        },
    )
    assert statements.statement_for(get_settings(), "en").endswith("Statement C.")  # type: ignore[union-attr]
    assert "urgent, no second person" in root.get("/editor").text
    with get_session_factory(get_settings().database_url).begin() as session:
        assert statements.pending_statement(session=session) is None  # B replaced


# --- files changed outside Relais, and the spreadsheet -----------------------------


def as_a_browser_sends(form: dict[str, str]) -> dict[str, str]:
    """Browsers send a textarea's line breaks as CRLF."""
    return {name: value.replace("\n", "\r\n") for name, value in form.items()}


def changed_labels(page: str) -> list[str]:
    """What the reviewer is told a waiting draft changes."""
    part = page[page.index("What it changes") :]
    part = part[: part.index("</dl>")]
    return re.findall(r"<dt>(.*?)</dt>", part)


def test_line_breaks_from_a_browser_change_nothing_by_themselves(
    checked_desk: Path,
) -> None:
    two_paragraphs = NEW_ANSWER + "\n\nEn cas de doute, rapportez le pot en magasin."
    eve, eve_token = signed_in("eve")
    fay, fay_token = signed_in("fay")

    def propose_and_approve(changes: dict[str, str]) -> list[str]:
        form = as_a_browser_sends({**opened(eve), **changes})
        eve.post(f"/topics/{TOPIC}", data={**form, "csrf": eve_token})
        page = fay.get(f"/topics/{TOPIC}").text
        draft = re.search(r'name="version" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
        fay.post(f"/topics/{TOPIC}/approve", data={"csrf": fay_token, "version": draft})
        return changed_labels(page)

    propose_and_approve({"answer_fr": two_paragraphs})
    assert said() == two_paragraphs
    assert "file changed outside Relais" not in eve.get("/topics").text
    # The next edit touches only the English answer: the reviewer is shown
    # only that, not the French one sent back with CRLF.
    labels = propose_and_approve({"answer_en": "Lots L26304 to L26330."})
    assert labels == ["Answer (English)"]
    assert "file changed outside Relais" not in eve.get("/topics").text


def test_a_file_changed_by_hand_is_shown_and_adopted(desk: Path) -> None:
    editor, token = signed_in("eve")
    form = opened(editor)
    editor.post(
        f"/topics/{TOPIC}", data={**form, "csrf": token, "answer_fr": NEW_ANSWER}
    )
    path = desk / f"{TOPIC}.yml"
    path.write_text(path.read_text("utf-8").replace("L26330", "L26399"), "utf-8")
    assert said() == NEW_ANSWER  # the live version, not the file
    assert "file changed outside Relais" in editor.get("/topics").text
    page = editor.get(f"/topics/{TOPIC}").text
    assert "was changed outside Relais" in page and "<ins>L26399" in page
    editor.post(f"/topics/{TOPIC}/adopt", data={"csrf": token, "base": "2"})
    assert said() == NEW_ANSWER.replace("L26330", "L26399")
    assert "file changed outside Relais" not in editor.get("/topics").text


def test_the_spreadsheet_records_versions(
    checked_desk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "faq.csv"
    export_csv(checked_desk, sheet)
    text = sheet.read_text("utf-8-sig")
    old = parse_topic_file(checked_desk / "refund.yml").answers["fr"]
    sheet.write_text(
        text.replace(old.splitlines()[0], "Remboursement : 28 février."), "utf-8-sig"
    )
    assert main(["faq", "import", str(sheet), "--agent", "eve"]) == 0
    out = capsys.readouterr().out
    assert "refund: version 2, a draft waiting for approval" in out
    assert out.count("version") == 1  # the other topics did not change
    assert said("refund") == old
    with get_session_factory(get_settings().database_url).begin() as session:
        draft = versions.head(session=session, topic="refund")
        assert draft is not None and draft.state == versions.DRAFT
        assert draft.note == "spreadsheet faq.csv"
