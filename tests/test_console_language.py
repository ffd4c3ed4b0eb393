"""The console in French and English (bot/console/i18n.py, issue 28).

Community managers work in French first: an account that has not chosen
reads the console in the profile's language (French for the shipped packs);
each account can switch, and keeps its choice. Codes the database holds are
shown as words, counts agree with their nouns.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import string
from pathlib import Path

import pytest
import yaml

from bot.console import accounts
from bot.console.i18n import LOCALE_DIR, Words, catalogue
from bot.console.pages import SCRIPT_TEXTS
from bot.console.suggestions import SOURCE_LABELS
from bot.console.topics import MISSING, TOO_LONG_EXAMPLE
from bot.db import get_session_factory
from bot.handoff import queue
from bot.settings import PROJECT_ROOT, get_settings
from tests.test_console import PASSWORD, app_url, client, csrf_of  # noqa: F401
from tests.test_editing import form_of

CONSOLE = Path(__file__).parents[1] / "bot" / "console"
# _("…"), gettext("…"), and what the queue refuses: QueueError("…", …).
MARKED = re.compile(r'''(?:\b_|gettext|QueueError)\(\s*"((?:[^"\\]|\\.)*)"''')
TEXT = r'"((?:[^"\\]|\\.)*)"'
# Finding(ERROR, key, "…"): a lint finding's template.
FINDINGS = re.compile(rf"Finding\(\s*(?:ERROR|WARNING),\s*[^,]+,\s*{TEXT}")
# Both texts of ngettext("…", "…", n), with or without a lint comment between.
PLURALS = re.compile(rf"ngettext\(\s*{TEXT}\s*,\s*(?:#[^\n]*\n\s*)?{TEXT}")
# What the transcript says happened (bot/handoff/agent.py).
EVENTS = ("handed to a human", "bot paused", "bot resumed",
          "trigger: {reason} ({priority}) on “{evidence}”")  # fmt: skip


def marked_texts() -> set[str]:
    # Texts the templates translate from a variable: the transcript's events,
    # a version's state, how a suggestion was learned.
    texts = set(SCRIPT_TEXTS) | set(EVENTS) | set(SOURCE_LABELS.values())
    texts |= {"draft", "rejected", "replaced", "approved"}
    texts |= set(MISSING.values()) | set(TOO_LONG_EXAMPLE.values())
    handoff = CONSOLE.parent / "handoff"
    sources = [*CONSOLE.glob("templates/*.html"), *CONSOLE.glob("*.py")]
    # Shown in the console: the reply window, what the queue refuses.
    sources += [handoff / "window.py", handoff / "queue.py", handoff / "agent.py"]
    # The lint's findings and what editors can expect (bot/faq/).
    faq = CONSOLE.parent / "faq"
    sources.append(faq / "expectations.py")
    lint = (faq / "lint.py").read_text(encoding="utf-8")
    texts |= set(FINDINGS.findall(lint.replace("# fmt: skip", "")))
    for path in sources:
        source = path.read_text(encoding="utf-8")
        texts |= set(MARKED.findall(source))
        texts |= {text for pair in PLURALS.findall(source) for text in pair}
    return texts


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_marked_text_has_its_french_with_the_same_fields() -> None:
    # Read as written: YAML would take a bare ON or no for a boolean.
    raw = yaml.safe_load((LOCALE_DIR / "fr.yml").read_text(encoding="utf-8"))
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items())
    french = catalogue("fr")
    missing = sorted(text for text in marked_texts() if text not in french)
    assert not missing, f"{LOCALE_DIR / 'fr.yml'} lacks: {missing}"
    wrong = [text for text in marked_texts() if fields(french[text]) != fields(text)]
    assert not wrong, f"the French names other fields: {wrong}"


def test_counts_agree_with_their_nouns() -> None:
    singular, plural = "{n} person", "{n} people"
    assert Words("fr").ngettext(singular, plural, 0) == "0 personne"
    assert Words("fr").ngettext(singular, plural, 1) == "1 personne"
    assert Words("fr").ngettext(singular, plural, 2) == "2 personnes"
    assert Words("en").ngettext(singular, plural, 1) == "1 person"
    assert Words("en").ngettext(singular, plural, 0) == "0 people"


@pytest.fixture
def french_default(
    app_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """The console's default as shipped: the profile's language, French."""
    monkeypatch.delenv("RELAIS_CONSOLE_LANGUAGE")
    get_settings.cache_clear()
    with get_session_factory(app_url).begin() as session:
        queue.enqueue(session=session, request=queue.HandoffRequest(
            "visitor-2", "socketio", "fr", "asked_for_human", "normal",
            "je veux parler à quelqu'un", []))  # fmt: skip
    return app_url


def sign_in(name: str):  # type: ignore[no-untyped-def]
    browser = client()
    token = csrf_of(browser.get("/login").text)
    browser.post(
        "/login", data={"name": name, "password": PASSWORD, "csrf": token, "next": "/"}
    )
    return browser


def test_the_console_speaks_french_by_default_with_codes_as_words(
    french_default: str,
) -> None:
    login = client().get("/login").text
    assert '<html lang="fr">' in login and "Mot de passe" in login
    alice = sign_in("alice")
    page = html.unescape(alice.get("/").text)
    assert '<html lang="fr">' in page
    assert "File d'attente" in page and "Personne n'attend" not in page
    row = page[page.index('data-id="2"') :]
    row = row[: row.index("</tr>")]
    for word in ("A demandé un humain", "chat du site", "Français", "en attente"):
        assert word in row
    for code in ("asked_for_human", "socketio", ">fr<", ">waiting<"):
        assert code not in row
    # The words the page's script uses for live updates, in French too.
    script = re.search(r'id="console-words">(.*?)</script>', alice.get("/").text)
    assert script is not None
    words = json.loads(script.group(1))
    assert words["codes"]["reason.self_harm"] == "Détresse"
    assert words["texts"]["Nobody is waiting."] == "Personne n'attend."

    # Acting on a ticket answers in French.
    token = csrf_of(alice.get("/").text)
    alice.post("/tickets/2/claim", data={"csrf": token})
    ticket = html.unescape(alice.get("/tickets/2").text)
    assert "Cette conversation est à vous : la personne vous attend." in ticket
    assert "Prendre en charge" not in ticket and "Clore et rendre la main" in ticket
    # What the queue refuses is said in French too.
    bob = sign_in("bob")
    bob.post("/tickets/2/claim", data={"csrf": csrf_of(bob.get("/").text)})
    refused = html.unescape(bob.get("/tickets/2").text)
    assert "Le ticket n° 2 est déjà suivi par alice." in refused


def test_each_account_chooses_its_language_and_keeps_it(french_default: str) -> None:
    bob = sign_in("bob")
    page = bob.get("/tickets/2").text
    bob.post(
        "/account/language",
        data={"csrf": csrf_of(page), "language": "en"},
        headers={"referer": "http://testserver/tickets/2"},
    )
    assert '<html lang="en">' in bob.get("/tickets/2").text
    assert "Claim" in bob.get("/tickets/2").text
    # On another device, the same choice; other accounts keep the default.
    assert '<html lang="en">' in sign_in("bob").get("/").text
    assert '<html lang="fr">' in sign_in("alice").get("/").text
    refused = bob.post(
        "/account/language",
        data={"csrf": csrf_of(bob.get("/").text), "language": "de"},
    )
    assert refused.status_code == 303
    assert "The console speaks fr or en" in html.unescape(bob.get("/").text)
    with get_session_factory(french_default).begin() as session:
        assert accounts.find_agent(session=session, name="bob").language == "en"  # type: ignore[union-attr]


def topic_form(browser) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return form_of(browser.get("/topics/lot_numbers").text)


PAGES = {
    "/": "File d'attente",
    "/tickets/2": "Réponses de la FAQ",
    "/overview": "Sujets les plus demandés",
    "/gaps": "Aucune question sans réponse",
    "/team": "Nom affiché",
    "/topics": "Sujets de la FAQ",
    "/topics/lot_numbers": "Rétablir cette version",
    "/topics/new": "Ajouter le sujet",
    "/editor": "Interrupteurs de crise",
    "/suggestions": "Aucune suggestion en attente",
}


def test_every_page_reads_in_french_and_in_english(
    french_default: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shutil.copytree(PROJECT_ROOT / "packs" / "dairy-recall", tmp_path / "pack")
    monkeypatch.setenv("RELAIS_PACK", str(tmp_path / "pack"))
    get_settings.cache_clear()
    root = sign_in("root")
    root.post(  # a version to restore on the topic's page
        "/topics/lot_numbers",
        data={**topic_form(root), "csrf": csrf_of(root.get("/topics").text),
              "answer_fr": "Lots L26304 à L26330."},
    )  # fmt: skip
    for language in ("fr", "en"):
        root.post(
            "/account/language",
            data={"csrf": csrf_of(root.get("/").text), "language": language},
        )
        for path, french in PAGES.items():
            page = root.get(path, headers={"accept": "text/html"})
            assert page.status_code == 200, (language, path, page.text[-500:])
            text = html.unescape(page.text)
            assert f'<html lang="{language}">' in text, path
            assert (french in text) == (language == "fr"), (language, path, french)
