"""The whole path in a real browser: Debian's Chromium driven by Playwright.

A person uses the web chat (Rasa's socket.io channel), on Relais' page and
embedded in a brand's site on another origin; a community manager works
from the console in a second browser context. Real Rasa server, action
server, console and queue. Screenshots of every step go to
var/test-artifacts/browser/.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

import pytest
from playwright.sync_api import (
    Browser,
    Page,
    WebSocketRoute,
    expect,
    sync_playwright,
)
from sqlalchemy import func, select

from bot.console import accounts
from bot.console.topics import form_values
from bot.db import get_session_factory, upgrade, utcnow
from bot.faq import load_pack
from bot.faq.pack import parse_topic_file
from bot.handoff import queue
from bot.insights import spikes
from bot.insights.generator import Day
from bot.insights.models import MessageFact
from bot.settings import PROJECT_ROOT
from tests.conftest import FIXTURES, TEST_ENVIRONMENT
from tests.projects import SHARED_CACHE, copy_small_project
from tests.servers import ServerError, free_port, running_console, running_relais

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = Path(os.environ.get("RELAIS_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = PROJECT_ROOT / "var" / "test-artifacts" / "browser"
TOKEN = "browser-token"
PASSWORD = "correct horse battery"
# Generous waits: a slow machine waits longer, it never fails for it.
WAIT_MS = 120_000
PACK = load_pack(PROJECT_ROOT / "packs" / "dairy-recall" / "faq")
LOTS = "Quels lots sont concernés par le rappel ?"
PUBLISH_TOPIC = parse_topic_file(FIXTURES / "publish" / "health_survey.yml")
SURVEY_QUESTION = "santé publique france m'a appelé pour une enquête, c'est normal ?"
# A publish trains a model: a minute or two, longer on a slow machine.
PUBLISH_MS = 1_200_000


class Servers(NamedTuple):
    rasa_url: str
    console_url: str
    work: Path


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium.")
    work = tmp_path_factory.mktemp("browser")
    # A project of its own: editors change its pack, publishes its models.
    # The test project (the dairy pack cut to the topics asked here, fewer
    # epochs): the console's publish trains for real in a minute, not four.
    (work / "project").mkdir()
    project = copy_small_project(work / "project")
    database_url = f"sqlite:///{work / 'relais.db'}"
    upgrade(database_url)
    with get_session_factory(database_url).begin() as session:
        for name, role, language in (
            ("camille", "agent", None),
            ("dora", "agent", None),
            ("lea", "agent", "fr"),  # reads the console in French
            ("eve", "editor", None),
            ("fay", "editor", None),
        ):
            accounts.add_agent(
                session=session,
                name=name,
                role=role,
                password=PASSWORD,
                display_name=name.capitalize(),
                language=language,
            )
    env = {
        **os.environ,
        **TEST_ENVIRONMENT,
        "RASA_TOKEN": TOKEN,
        "RASA_TELEMETRY_ENABLED": "false",
        "DATABASE_URL": database_url,
        "RELAIS_SPOOL_DIR": str(work / "spool"),
        "RELAIS_EVENTS_URL": f"sqlite:///{work / 'tracker.db'}",
        "RELAIS_PROJECT": str(project),
        "RELAIS_PACK": str(project / "packs" / "dairy-recall"),
        "RELAIS_FOUR_EYES": "on",
        # The console's publish trains once per distinct content, then reuses.
        "RELAIS_MODEL_CACHE": str(SHARED_CACHE),
    }
    model = project / "models" / "relais.tar.gz"
    try:
        with running_relais(work, env, TOKEN, model=model) as rasa_url:
            env = {**env, "RASA_URL": rasa_url, "RELAIS_PUBLIC_RASA_URL": rasa_url}
            with running_console(work, env) as console_url:
                yield Servers(rasa_url, console_url, work)
    except ServerError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


def shoot(page: Page, step: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{step}.png"), full_page=True)


def ask(chat: Page, text: str) -> None:
    chat.fill("#message", text)
    chat.press("#message", "Enter")


def bot_says(chat: Page, text: str) -> None:
    expect(chat.locator(".message.bot").filter(has_text=text).last).to_be_visible(
        timeout=WAIT_MS
    )


def test_a_person_and_a_community_manager_in_two_browsers(
    servers: Servers, browser: Browser
) -> None:
    console_url = servers.console_url
    chat = browser.new_context(locale="fr-FR").new_page()
    chat.goto(f"{console_url}/chat")

    # 1. The bot answers an FAQ question in the chat.
    ask(chat, "Quels lots sont concernés par le rappel ?")
    bot_says(chat, "L26304")
    shoot(chat, "01-chat-faq-answer")

    # 2. A community manager signs in and watches the queue.
    console = browser.new_context().new_page()
    console.goto(console_url)
    expect(console).to_have_url(re.compile(r"/login\?next=/"))
    console.fill("input[name=name]", "camille")
    console.fill("input[name=password]", PASSWORD)
    console.click("button[type=submit]")
    expect(console.locator("#tickets")).to_contain_text("Nobody is waiting.")
    shoot(console, "02-console-empty-queue")

    # 3. The person asks for a human; the row appears without a reload.
    ask(chat, "je veux parler à quelqu'un")
    bot_says(chat, "dans la file")
    shoot(chat, "03-chat-queued")
    row = console.locator("#tickets tr", has_text="je veux parler à quelqu'un")
    expect(row).to_be_visible(timeout=WAIT_MS)
    expect(console.locator("#count-waiting")).to_have_text("1")
    shoot(console, "04-console-ticket-appears-live")

    # While waiting, the person reports symptoms: emergency guidance at once,
    # and the ticket turns urgent in the open console.
    ask(chat, "mon fils vomit depuis ce matin")
    bot_says(chat, "appelez tout de suite le 15")
    row = console.locator("#tickets tr", has_text="mon fils vomit depuis ce matin")
    expect(row).to_have_class("priority-urgent", timeout=WAIT_MS)
    shoot(chat, "04b-chat-emergency-guidance-while-waiting")
    shoot(console, "04c-console-ticket-turns-urgent")

    # 4. The agent opens it, claims it, answers; the person sees it live.
    row.locator("a").click()
    expect(console.locator("#transcript")).to_contain_text("Quels lots sont concernés")
    console.click("#claim-button")
    expect(console.locator(".flash")).to_contain_text("You have this conversation")
    # A web-chat conversation: no WhatsApp invitation to offer.
    expect(console.locator("#invite-form")).to_be_hidden()
    console.fill("#reply-text", "Bonjour, ici Camille de Montval. Je vous écoute.")
    console.click("#send-button")
    bot_says(chat, "ici Camille de Montval")
    # Labelled with the agent's name: nobody takes a person for the bot.
    expect(chat.locator(".message.agent .by").last).to_have_text(
        "Camille · Montval", timeout=WAIT_MS
    )
    shoot(chat, "05-chat-agent-reply-live")

    # 4b. The person closes the tab; the agent's next reply waits for them:
    # reopened in the same browser, the chat shows the conversation so far.
    person = chat.context
    chat.close()
    console.fill("#reply-text", "Je vérifie votre lot et je reviens vers vous.")
    console.click("#send-button")
    expect(console.locator(".flash")).to_contain_text("Sent.")
    chat = person.new_page()
    chat.goto(f"{console_url}/chat")
    bot_says(chat, "Je vérifie votre lot")
    expect(chat.locator(".message.agent .by").last).to_have_text(
        "Camille · Montval", timeout=WAIT_MS
    )
    expect(chat.locator(".message.user").first).to_have_text(LOTS)
    bot_says(chat, "L26304")
    shoot(chat, "05b-chat-reply-waiting-after-reopening")

    # 5. What the person writes now reaches the agent live, not the bot.
    ask(chat, "J'ai encore le ticket de caisse.")
    expect(console.locator("#transcript")).to_contain_text(
        "J'ai encore le ticket de caisse", timeout=WAIT_MS
    )
    shoot(console, "06-console-live-transcript")

    # 6. The agent closes; the bot answers the next question again.
    console.click("#close-button")
    expect(console.locator(".flash")).to_contain_text(
        "the bot answers this person again"
    )
    bot_says(chat, "Notre conseiller a terminé l'échange")
    ask(chat, "comment me faire rembourser ?")
    bot_says(chat, PACK["refund"].answers["fr"].split("\n")[0][:40])
    shoot(chat, "07-chat-bot-answers-again")

    # 7. An account closed while its queue page is open: the page goes to
    # sign-in instead of saying "reconnecting…" forever.
    other = browser.new_context().new_page()
    sign_in(other, console_url, "dora", "/")
    expect(other.locator("#live-state")).to_have_text("live", timeout=WAIT_MS)
    with get_session_factory(f"sqlite:///{servers.work / 'relais.db'}").begin() as db:
        accounts.disable(session=db, name="dora", by="root")
    expect(other).to_have_url(re.compile(r"/login\?next=(/|%2F)"), timeout=WAIT_MS)
    other.context.close()

    # 8. Camille switches the console to French from the header, and back.
    console.goto(console_url)
    console.click("#language-switch button")
    expect(console.locator("html")).to_have_attribute("lang", "fr")
    expect(console.locator("#next-button")).to_have_text("Prendre le suivant")
    expect(console.locator("#tickets")).to_contain_text("Personne n'attend.")
    shoot(console, "08-console-in-french")
    console.click("#language-switch button")
    expect(console.locator("#next-button")).to_have_text("Take the next one")


PHONE = {"width": 390, "height": 844}


def fits_the_phone(page: Page) -> None:
    """Nothing on the page is wider than the phone's screen."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a 390 px phone"


def on_screen(page: Page, selector: str) -> None:
    """Shown and within the phone's width (not scrolled off to the side)."""
    part = page.locator(selector).first
    expect(part).to_be_visible(timeout=WAIT_MS)
    box = None
    for _ in range(50):  # the queue re-draws its rows on each update: look again
        box = part.bounding_box()
        if box is not None:
            break
        page.wait_for_timeout(100)
    if box is None or box["x"] < 0 or box["x"] + box["width"] > PHONE["width"]:
        shoot(page, "failed-off-screen")
    assert box is not None, f"{selector} is not shown"
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (
        f"{selector} is off-screen: {box}"
    )


def test_a_community_manager_on_call_answers_from_a_phone(
    servers: Servers, browser: Browser
) -> None:
    """Issue 28: at 390 px the queue hid the last message and the language,
    and clipped "Sign out"; the topic editor overflowed. Léa reads the
    console in French."""
    console_url = servers.console_url
    chat = browser.new_context(locale="fr-FR").new_page()
    chat.goto(f"{console_url}/chat")
    question = "je voudrais parler à un conseiller s'il vous plaît"
    ask(chat, question)
    bot_says(chat, "dans la file")

    phone = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page = phone.new_page()
    sign_in(page, console_url, "lea", "/")
    row = page.locator("#tickets tr", has_text=question)
    expect(row).to_be_visible(timeout=WAIT_MS)
    fits_the_phone(page)
    row_id = row.get_attribute("data-id")
    for part in ("c-last", "c-language", "c-reason", "c-waiting"):
        on_screen(page, f'#tickets tr[data-id="{row_id}"] .{part}')
    on_screen(page, "#sign-out")
    shoot(page, "30-phone-queue")

    # Codes are words, in French.
    expect(row.locator(".c-reason")).to_have_text("A demandé un humain")
    expect(row.locator(".c-channel")).to_have_text("chat du site")
    expect(page.locator("#live-state")).to_have_text("en direct", timeout=WAIT_MS)
    row.locator("a").tap()
    page.locator("#claim-button").tap()
    expect(page.locator(".flash")).to_contain_text("Cette conversation est à vous")
    fits_the_phone(page)
    on_screen(page, "#send-button")
    page.fill("#reply-text", "Bonjour, ici Léa, je m'occupe de vous.")
    page.locator("#send-button").tap()
    bot_says(chat, "je m'occupe de vous")
    expect(page.locator("#transcript")).to_contain_text(question)
    shoot(page, "31-phone-conversation")
    page.locator("#close-button").tap()
    expect(page.locator(".flash")).to_contain_text("le bot répond de nouveau")

    # An editor changes an answer from a phone: the editor fits too.
    editor = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    topic = editor.new_page()
    sign_in(topic, console_url, "eve", "/topics/lot_numbers")
    expect(topic.locator("#topic-form")).to_be_visible(timeout=WAIT_MS)
    fits_the_phone(topic)
    on_screen(topic, "#save-topic")
    shoot(topic, "32-phone-topic-editor")
    phone.close()
    editor.close()


def test_in_english_with_did_you_mean_buttons_and_hostile_html(
    servers: Servers, browser: Browser
) -> None:
    console_url = servers.console_url
    chat = browser.new_context(locale="en-GB").new_page()
    # The chat's connection is held until the person has written: what they
    # type before it is connected is shown at once and answered once it is.
    held: list[WebSocketRoute] = []

    def hold(socket: WebSocketRoute) -> None:
        held.append(socket)

    chat.route_web_socket(re.compile(r"/socket\.io/"), hold)
    chat.goto(f"{console_url}/chat")

    # A vague question gets "did you mean" buttons; a button answers.
    ask(chat, "is it dangerous?")
    expect(chat.locator(".message.user").last).to_have_text("is it dangerous?")
    while not held:
        chat.wait_for_timeout(50)
    held[0].connect_to_server()
    bot_says(chat, "I'm not sure I understood")
    first_choice = chat.locator(".message.bot .choice").first
    expect(first_choice).to_be_visible(timeout=WAIT_MS)
    title = first_choice.inner_text()
    topic = next(key for key, t in PACK.items() if t.title("en") == title)
    first_choice.click()
    expect(chat.locator(".message.user").last).to_have_text(title)
    bot_says(chat, PACK[topic].answers["en"].strip().split("\n")[0][:40])
    shoot(chat, "11-chat-did-you-mean")

    # Queued; then hostile HTML, shown as text in the chat and in the console.
    ask(chat, "agent please")
    bot_says(chat, "I'm passing our conversation to a person")
    hostile = '<img src=x onerror="window.hacked=1"> hello?'
    ask(chat, hostile)
    expect(chat.locator(".message.user").last).to_have_text(hostile)
    assert chat.evaluate("window.hacked") is None

    console = browser.new_context().new_page()
    console.goto(f"{console_url}/login")
    console.fill("input[name=name]", "camille")
    console.fill("input[name=password]", PASSWORD)
    console.click("button[type=submit]")
    row = console.locator("#tickets tr", has_text="window.hacked")
    expect(row).to_be_visible(timeout=WAIT_MS)
    expect(row.locator(".c-language")).to_have_text("English")
    row.locator("a").click()
    expect(console.locator("#transcript")).to_contain_text(hostile, timeout=WAIT_MS)
    assert console.evaluate("window.hacked") is None
    console.click("#claim-button")
    console.locator(".canned-item", has_text="Refunds").click()
    expect(console.locator("#reply-text")).to_have_value(
        PACK["refund"].answers["en"].strip()
    )
    console.click("#send-button")
    bot_says(chat, PACK["refund"].answers["en"].split("\n")[0][:40])
    console.click("#close-button")
    bot_says(chat, "Our agent has ended the conversation")
    shoot(console, "12-console-english-closed")
    shoot(chat, "13-chat-english-closed")

    # Asked once how it went, with one button per rating; a tap, a comment.
    bot_says(chat, "One last thing: did our conversation help you?")
    choices = chat.locator(".message.bot").last.locator(".choice")
    expect(choices).to_have_count(5)
    choices.filter(has_text="4").click()
    bot_says(chat, "Thank you for your feedback")
    ask(chat, "Camille answered fast, but I waited long before")
    bot_says(chat, "Thank you, your comment has been passed on")
    shoot(chat, "13b-chat-rated-and-commented")
    console.goto(f"{console_url}/overview")
    expect(console.locator("#satisfaction")).to_contain_text(
        "Camille answered fast, but I waited long before"
    )
    expect(console.locator("#satisfaction")).to_contain_text("Camille · 4/5")


@pytest.fixture(scope="module")
def brand_site(
    servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A brand's own page, on another origin, with the one tag pasted in, and
    styles that would break a chat that shared the page's CSS."""
    site = tmp_path_factory.mktemp("brand-site")
    (site / "index.html").write_text(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Montval, fresh cheese</title>
<style>
  body {{ font-family: Georgia, serif; background: #fdf6e3; }}
  button {{ display: none !important; }}
  iframe {{ width: 10px !important; height: 10px !important; }}
  * {{ color: #ff00ff !important; }}
</style></head>
<body><h1>Montval</h1><p>Our cheeses, our news.</p><a href="#news">News</a>
<script src="{servers.console_url}/embed.js" async></script>
</body></html>""",
        encoding="utf-8",
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=site,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # "localhost", not the console's "127.0.0.1": another origin, another port.
    url = f"http://localhost:{port}/index.html"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(url, timeout=5).status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_brand_site_embeds_the_chat_with_one_tag(
    servers: Servers, browser: Browser, brand_site: str
) -> None:
    page = browser.new_context(locale="en-GB").new_page()
    page.goto(brand_site)
    launcher = page.locator("#relais-chat button.launcher")
    expect(launcher).to_be_visible(timeout=WAIT_MS)  # the page hides its buttons
    expect(launcher).to_have_text("Questions?")  # the page is in English
    expect(launcher).to_have_attribute("aria-expanded", "false")
    # The profile's colours, whatever the page's own CSS says.
    assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == (
        "rgb(18, 60, 105)"
    )
    assert launcher.evaluate("b => getComputedStyle(b).color") == "rgb(255, 255, 255)"
    shoot(page, "20-brand-site-with-the-chat-button")

    # Keyboard only: Tab reaches the button after the page's link, Enter opens.
    page.locator("a[href='#news']").focus()
    page.keyboard.press("Tab")
    assert (
        page.evaluate("document.activeElement.shadowRoot.activeElement.className")
        == "launcher"
    )
    page.keyboard.press("Enter")
    expect(launcher).to_have_attribute("aria-expanded", "true")
    panel = page.locator("#relais-chat [role=dialog]")
    expect(panel).to_have_attribute("aria-label", "Chat with Montval")
    frame = page.frame_locator("#relais-chat iframe[title='Chat with Montval']")
    message = frame.locator("#message")
    expect(message).to_be_focused(timeout=WAIT_MS)
    expect(message).to_have_attribute("placeholder", "Your question…")
    assert panel.evaluate("p => p.getBoundingClientRect().width") > 300

    page.keyboard.type("Which lots are affected by the recall?")
    page.keyboard.press("Enter")
    first_line = PACK["lot_numbers"].answers["en"].strip().split("\n")[0][:40]
    reply = frame.locator(".message.bot").filter(has_text=first_line)
    expect(reply).to_be_visible(timeout=WAIT_MS)
    # New messages are announced to screen readers.
    expect(frame.locator("#messages")).to_have_attribute("aria-live", "polite")
    shoot(page, "21-brand-site-chat-answers")

    # Escape closes the panel and gives the focus back to the button.
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    assert (
        page.evaluate("document.activeElement.shadowRoot.activeElement.className")
        == "launcher"
    )
    shoot(page, "22-brand-site-chat-closed")

    # Opened again, the conversation is still there.
    launcher.click()
    expect(reply).to_be_visible()


def sign_in(page: Page, console_url: str, name: str, target: str) -> None:
    page.goto(f"{console_url}/login?next={target}")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_the_crisis_at_a_glance_a_spike_and_the_report(
    servers: Servers, browser: Browser
) -> None:
    """A generated day up to now, read by the running console: the overview,
    the spike banner, the gaps, a topic draft and the report (PDF pages saved
    as pictures beside the screenshots)."""
    database_url = f"sqlite:///{servers.work / 'relais.db'}"
    now = utcnow().replace(second=0, microsecond=0)
    # 23 hours up to now: all of it inside the overview's "last 24h".
    day = Day(
        PROJECT_ROOT / "packs" / "dairy-recall",
        now - timedelta(hours=23),
        1200,
        spike_at=now - timedelta(minutes=20),
        spike_per_hour=120,
        hours=23,
    )
    with get_session_factory(database_url).begin() as session:
        truth = day.write(
            session=session,
            tracker_url=f"sqlite:///{servers.work / 'tracker.db'}",
            broker_url=None,  # the watcher reads the tracker store, as make run's
        )
    # The console's own watcher reads the day (a slow machine waits longer).
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        with get_session_factory(database_url).begin() as session:
            seen = session.execute(select(func.count(MessageFact.id))).scalar_one()
        if seen >= truth.messages:
            break
        time.sleep(1)
    assert seen >= truth.messages, f"the watcher read {seen} of {truth.messages}"
    # The console checks for spikes every 5 minutes; this is that check, now.
    alerts = spikes.check_and_notify(
        database_url, PACK, utcnow(), None, servers.console_url
    )
    assert alerts, "the new question raised no alert"

    editor = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(editor, servers.console_url, "eve", "/overview")
    expect(editor.locator(".spike-banner").first).to_contain_text(
        "New question spiking"
    )
    expect(editor.locator("#figures")).to_contain_text("Handled by the bot")
    shown = editor.locator(".figure-value").first.inner_text()
    assert int(re.sub(r"\D", "", shown)) >= truth.messages
    shoot(editor, "21-overview-day-at-a-glance")

    editor.click(".spike-banner a")
    first = editor.locator(".gap").first
    expect(first.locator(".badge.spike")).to_be_visible()
    shoot(editor, "22-gaps-with-spike")
    first.locator("button", has_text="Make a topic from this").click()
    expect(editor.locator("textarea[name=examples_fr]")).to_contain_text("usine")
    shoot(editor, "23-topic-draft-from-the-spike")

    editor.goto(f"{servers.console_url}/overview")
    with editor.expect_download(timeout=WAIT_MS) as download:
        editor.click("#report-pdf")
    pdf = ARTIFACTS / "24-report.pdf"
    download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(
        ["pdftoppm", "-r", "70", "-png", str(pdf), str(ARTIFACTS / "25-report-page")],
        check=True,
    )
    assert len(list(ARTIFACTS.glob("25-report-page*.png"))) >= 2


def test_editors_change_an_answer_approve_it_and_publish_a_topic(
    servers: Servers, browser: Browser
) -> None:
    """Four-eyes approval is on: Eve changes an answer, Fay approves it, the
    web chat gets the new text; Eve adds a topic, Fay approves it, Eve
    publishes from the console and the chat gets the new topic's answer."""
    console_url = servers.console_url
    chat = browser.new_context(locale="fr-FR").new_page()
    chat.goto(f"{console_url}/chat")
    ask(chat, LOTS)
    bot_says(chat, "L26304 à L26318")

    eve = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    sign_in(eve, console_url, "eve", "/topics")
    expect(eve.locator("#topics")).to_contain_text("lot_numbers")
    shoot(eve, "30-topics")
    eve.click("#topics a[href='/topics/lot_numbers']")
    answer = eve.locator("textarea[name=answer_fr]")
    changed = answer.input_value().replace("L26318", "L26330", 1)
    answer.fill(changed)
    # The preview follows the text; the lint answers as she types.
    expect(eve.locator("#preview-answer-fr")).to_contain_text("L26330")
    expect(eve.locator("#lint li").first).not_to_contain_text("Checked as you type")
    shoot(eve, "31-topic-edited-with-preview-and-lint")
    eve.click("#save-topic")
    expect(eve.locator(".flash")).to_contain_text("saved as a draft")
    expect(eve.locator("#draft")).to_contain_text("Waiting for approval")
    ask(chat, LOTS)
    old = chat.locator(".message.bot").filter(has_text="L26304 à L26318")
    expect(old).to_have_count(2, timeout=WAIT_MS)
    expect(chat.locator(".message.bot").filter(has_text="L26330")).to_have_count(0)

    fay = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    sign_in(fay, console_url, "fay", "/topics")
    expect(fay.locator("#drafts")).to_contain_text("lot_numbers")
    fay.click("#drafts a[href='/topics/lot_numbers']")
    expect(fay.locator("#draft ins").first).to_contain_text("L26330")
    shoot(fay, "32-approver-sees-the-difference")
    fay.click("#approve")
    expect(fay.locator(".flash")).to_contain_text("approved")
    ask(chat, LOTS)
    bot_says(chat, "L26304 à L26330")
    shoot(chat, "33-chat-gets-the-approved-answer")

    # A new topic, approved, then published from the console.
    topic = PUBLISH_TOPIC
    eve.goto(f"{console_url}/topics/new")
    eve.fill("input[name=key]", topic.key)
    for name, value in form_values(topic).items():
        if name.startswith(("title_", "answer_", "examples_", "owner")):
            eve.fill(f"[name={name}]", value)
    eve.fill("input[name=review_by]", "2026-12-31")
    eve.click("#save-topic")
    expect(eve.locator(".flash")).to_contain_text("saved as a draft")
    fay.goto(f"{console_url}/topics/{topic.key}")
    fay.click("#approve")
    expect(fay.locator(".flash")).to_contain_text("approved")

    eve.goto(f"{console_url}/editor")
    eve.click("#publish-start")
    expect(eve.locator("#job-steps li.current")).to_be_visible(timeout=WAIT_MS)
    expect(eve.locator("#job-lines")).to_contain_text("Checking", timeout=WAIT_MS)
    shoot(eve, "34-publish-running")
    # Training takes minutes (unless these exact inputs were trained before:
    # the model cache); the page reloads by itself when it ends.
    expect(eve.locator("#job-state")).to_have_text("published", timeout=PUBLISH_MS)
    expect(eve.locator("#job-lines")).to_contain_text("live model   new model")
    # Reloaded: the publishes table has it, the button is back.
    expect(eve.locator("#publishes")).to_contain_text("published", timeout=WAIT_MS)
    expect(eve.locator("#publish-start")).to_be_enabled()
    shoot(eve, "35-publish-done")
    ask(chat, SURVEY_QUESTION)
    bot_says(chat, "Santé publique France et les Agences régionales de santé")
    shoot(chat, "36-chat-answers-the-published-topic")


REFUND = "comment me faire rembourser ?"


def test_a_changed_answer_reaches_the_web_chat_person_when_they_come_back(
    servers: Servers, browser: Browser
) -> None:
    """Issue 30 in the browser: a person gets the refund answer and leaves;
    Eve changes the answer, Fay approves it; Eve drafts the correction from
    who got what, Fay approves and sends it from the console; the person
    comes back and finds it at the top of their chat. Sent again: nobody
    gets it twice."""
    console_url = servers.console_url
    # On a phone; the context keeps their conversation.
    person = browser.new_context(locale="fr-FR", viewport=PHONE)
    chat = person.new_page()
    chat.goto(f"{console_url}/chat")
    ask(chat, REFUND)
    bot_says(chat, "jusqu'au 31 janvier 2027")
    chat.close()

    eve = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    sign_in(eve, console_url, "eve", "/topics/refund")
    answer = eve.locator("textarea[name=answer_fr]")
    answer.fill(answer.input_value().replace("31 janvier 2027", "28 février 2027"))
    eve.click("#save-topic")
    expect(eve.locator(".flash")).to_contain_text("saved as a draft")
    fay = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    sign_in(fay, console_url, "fay", "/topics/refund")
    fay.click("#approve")
    expect(fay.locator(".flash")).to_contain_text("approved")

    # Who got what: the person, on the web chat, reachable on their return
    # (once the console's watcher has read their message and the approval
    # is read back: a slow machine waits longer).
    table = eve.locator("#who-got-what")
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        eve.goto(f"{console_url}/corrections/topics/refund")
        if table.count() and "web chat" in table.inner_text():
            break
        time.sleep(1)
    expect(table).to_contain_text("web chat")
    # This person, and whoever else in this module asked about refunds.
    summary = eve.locator("#who-summary").inner_text()
    found = re.search(r"(\d+) can be told now or when they come back", summary)
    assert found and int(found[1]) >= 1, summary
    reachable = found[1]
    eve.goto(f"{console_url}/corrections")
    expect(eve.locator("#changed-refund")).to_contain_text("Remboursement")
    eve.click("#changed-refund a")
    eve.fill("#changed", "le remboursement est prolongé jusqu'au 28 février")
    expect(eve.locator("#text-fr")).to_have_value(
        re.compile(r"^Mise à jour : le remboursement est prolongé jusqu'au 28 févr")
    )
    shoot(eve, "40-who-got-what-and-the-correction-drafted")
    eve.click("#draft-correction")
    expect(eve.locator(".flash")).to_contain_text("another editor approves it")
    expect(eve.locator("#waiting-approval")).to_be_visible()
    correction_url = eve.url

    fay.goto(correction_url)
    expect(fay.locator("#text-fr")).to_contain_text("28 février 2027")
    fay.click("#approve")
    expect(fay.locator(".flash")).to_contain_text("approved")
    fay.click("#send")
    # The job runs in a process of its own; the page follows it, then reloads.
    expect(fay.locator("#job-state")).to_contain_text(
        "sending finished", timeout=WAIT_MS
    )
    sent = fay.locator('#outcomes [data-outcome="sent"] .count')
    expect(sent).to_have_text(reachable)
    shoot(fay, "41-correction-sent")

    # The person comes back: the correction waits at the top of their chat.
    chat = person.new_page()
    chat.goto(f"{console_url}/chat")
    update = chat.locator("#updates .update")
    expect(update).to_have_text(
        "Mise à jour : le remboursement est prolongé jusqu'au 28 février"
    )
    correction = chat.locator(".message.correction")
    expect(correction).to_have_count(1)
    expect(correction).to_contain_text("jusqu'au 28 février 2027")
    fits_the_phone(chat)
    shoot(chat, "42-the-person-finds-the-correction-on-return")

    # Sent again: nobody gets it twice.
    fay.click("#send")
    expect(fay.locator("#job-state")).to_contain_text(
        "sending finished", timeout=WAIT_MS
    )
    expect(sent).to_have_text(reachable)
    chat.reload()
    expect(chat.locator(".message.bot").first).to_be_visible(timeout=WAIT_MS)
    expect(chat.locator(".message.correction")).to_have_count(1)
    chat.click("#dismiss-updates")
    expect(chat.locator("#updates")).to_be_hidden()


def test_a_late_conversation_is_red_and_named_to_the_admin_on_a_phone(
    servers: Servers, browser: Browser
) -> None:
    """Issue 31: an urgent person has waited 20 minutes (target 5): on an
    admin's phone, in French, the row is red with how late it is, and the
    banner names it; at her desk, the conversation's page says how late."""
    database_url = f"sqlite:///{servers.work / 'relais.db'}"
    with get_session_factory(database_url).begin() as session:
        accounts.add_agent(
            session=session, name="ada", role="admin", password=PASSWORD,
            display_name="Ada", language="fr",
        )  # fmt: skip
        late = queue.enqueue(
            session=session,
            request=queue.HandoffRequest(
                "socketio:late-for-sla", "socketio", "fr", "health", "urgent",
                "mon fils a de la fièvre depuis ce matin",
            ),
            now=utcnow() - timedelta(minutes=20),
        )  # fmt: skip
        late_id = late.id
    phone = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page = phone.new_page()
    sign_in(page, servers.console_url, "ada", "/")
    row = page.locator(f'#tickets tr[data-id="{late_id}"]')
    expect(row).to_have_class(re.compile(r"\bbreached\b"), timeout=WAIT_MS)
    expect(row.locator(".c-sla")).to_contain_text("en retard de 15 min")
    expect(page.locator("#late-banner")).to_contain_text(f"#{late_id}")
    on_screen(page, f'#tickets tr[data-id="{late_id}"] .c-sla')
    fits_the_phone(page)
    shoot(page, "50-phone-late-conversation")
    # At her desk, the conversation's own page says it too, in red.
    desk = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(desk, servers.console_url, "ada", f"/tickets/{late_id}")
    due = desk.locator("#sla-due")
    expect(due).to_have_text(
        re.compile(r"^Première réponse en retard de 15 min \(attendue à \d\d:\d\d\)$"),
        timeout=WAIT_MS,
    )
    expect(due).to_have_class(re.compile(r"\bbreached\b"))
    expect(desk.locator("#late-banner")).to_contain_text(f"#{late_id}")
    shoot(desk, "50b-desktop-late-conversation")
    with get_session_factory(database_url).begin() as session:
        queue.close(session=session, ticket_id=late_id, agent="ada")
    phone.close()
    desk.context.close()


# The browser's notifications, recorded; the tab hidden (another app in front).
HIDDEN_TAB = """
window.__notes = [];
window.Notification = function (title, options) { window.__notes.push(options.body); };
window.Notification.permission = "granted";
window.Notification.requestPermission = () => Promise.resolve("granted");
Object.defineProperty(document, "hidden", {get: () => true});
Object.defineProperty(document, "visibilityState", {get: () => "hidden"});
"""


def test_a_new_urgent_conversation_notifies_an_agent_whose_tab_is_hidden(
    servers: Servers, browser: Browser
) -> None:
    """Issue 31: Noor's queue tab is in the background on her phone; an
    urgent person arrives: a notification, and the count in the tab's title."""
    database_url = f"sqlite:///{servers.work / 'relais.db'}"
    with get_session_factory(database_url).begin() as session:
        accounts.add_agent(session=session, name="noor", role="agent",
                           password=PASSWORD, display_name="Noor")  # fmt: skip
    phone = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    phone.add_init_script(HIDDEN_TAB)
    page = phone.new_page()
    sign_in(page, servers.console_url, "noor", "/")
    # The page has read the queue as it was: what comes next alerts.
    expect(page.locator("#alert-controls")).to_have_attribute(
        "data-watching", "yes", timeout=WAIT_MS
    )
    expect(page.locator("#sound-toggle")).to_have_text("Sound on")
    with get_session_factory(database_url).begin() as session:
        urgent = queue.enqueue(
            session=session,
            request=queue.HandoffRequest(
                "socketio:urgent-for-alerts", "socketio", "fr", "self_harm",
                "urgent", "je n'en peux plus",
            ),
        )  # fmt: skip
        urgent_id = urgent.id
    expected = f"Urgent: conversation {urgent_id} is waiting"
    deadline = time.monotonic() + WAIT_MS / 1000
    while expected not in page.evaluate("window.__notes"):
        assert time.monotonic() < deadline, page.evaluate("window.__notes")
        page.wait_for_timeout(200)
    expect(page).to_have_title(re.compile(r"^\(\d+\) "))
    fits_the_phone(page)
    shoot(page, "51-phone-queue-alert")
    # Muted: remembered, and shown.
    page.locator("#sound-toggle").tap()
    expect(page.locator("#sound-toggle")).to_have_text("Sound off")
    page.reload()
    expect(page.locator("#sound-toggle")).to_have_text("Sound off")
    with get_session_factory(database_url).begin() as session:
        queue.close(session=session, ticket_id=urgent_id, agent="noor")
    phone.close()


class TeamConsole(NamedTuple):
    url: str
    database_url: str
    waiting: list[int]  # the 30 conversations, oldest first


@pytest.fixture(scope="module")
def team_console(
    servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TeamConsole]:
    """A second console, on a database of its own, for a crisis that turns
    auto-assignment on (10 conversations each at most): Ana, Ben and Chloé,
    Ben in the press team, and 30 people waiting."""
    work = tmp_path_factory.mktemp("team-console")
    pack = work / "pack"
    shutil.copytree(PROJECT_ROOT / "packs" / "dairy-recall", pack)
    with (pack / "profile.yml").open("a", encoding="utf-8") as profile:
        profile.write("\nauto_assign: true\nmax_open_per_agent: 10\n")
    database_url = f"sqlite:///{work / 'relais.db'}"
    upgrade(database_url)
    with get_session_factory(database_url).begin() as session:
        for name in ("ana", "ben", "chloe"):
            agent = accounts.add_agent(
                session=session, name=name, role="agent", password=PASSWORD,
                display_name=name.capitalize(),
            )  # fmt: skip
            agent.teams = "press" if name == "ben" else ""
        now = utcnow()
        waiting = [
            queue.enqueue(
                session=session,
                request=queue.HandoffRequest(
                    f"socketio:team-{n}", "socketio", "fr", "asked_for_human",
                    "urgent" if n % 10 == 0 else "normal", f"personne {n}",
                ),
                now=now - timedelta(minutes=30 - n),
            ).id
            for n in range(30)
        ]  # fmt: skip
    env = {
        **os.environ,
        **TEST_ENVIRONMENT,
        "RASA_TOKEN": TOKEN,
        "RASA_URL": servers.rasa_url,
        "DATABASE_URL": database_url,
        "RELAIS_SPOOL_DIR": str(work / "spool"),
        "RELAIS_EVENTS_URL": f"sqlite:///{work / 'tracker.db'}",
        "RELAIS_PACK": str(pack),
    }
    try:
        with running_console(work, env) as url:
            yield TeamConsole(url, database_url, waiting)
    except ServerError as error:
        pytest.fail(str(error))


def test_auto_assignment_spreads_thirty_conversations_over_three_agents(
    team_console: TeamConsole, browser: Browser
) -> None:
    """Issue 31: Ana and Ben at their desks, Chloé on her phone, each says
    "Take conversations": the 30 people waiting go to them, 10 each (the
    cap), each agent's queue showing their own."""
    pages = {}
    for name in ("ana", "ben", "chloe"):
        context = (
            browser.new_context(viewport=PHONE, device_scale_factor=2,
                                is_mobile=True, has_touch=True)
            if name == "chloe"
            else browser.new_context(viewport={"width": 1280, "height": 900})
        )  # fmt: skip
        page = context.new_page()
        sign_in(page, team_console.url, name, "/")
        expect(page.locator("#go-available")).to_be_visible(timeout=WAIT_MS)
        if name == "chloe":
            page.locator("#go-available").tap()
        else:
            page.click("#go-available")
        expect(page.locator("#go-away")).to_be_visible(timeout=WAIT_MS)
        pages[name] = page
    for name, page in pages.items():
        held = page.locator("#tickets td.c-agent", has_text=re.compile(f"^{name}$"))
        expect(held).to_have_count(10, timeout=WAIT_MS)
    expect(pages["ana"].locator("#count-waiting")).to_have_text("0")
    with get_session_factory(team_console.database_url).begin() as session:
        load = dict(
            session.execute(
                select(queue.Ticket.agent, func.count())
                .where(queue.Ticket.status == "assigned")
                .group_by(queue.Ticket.agent)
            ).all()
        )
    assert load == {"ana": 10, "ben": 10, "chloe": 10}
    fits_the_phone(pages["chloe"])
    shoot(pages["chloe"], "52-phone-auto-assigned")
    shoot(pages["ana"], "53-desktop-auto-assigned")
    for page in pages.values():
        page.context.close()


def test_two_agents_see_each_other_on_a_conversation_and_it_goes_to_the_press(
    team_console: TeamConsole, browser: Browser
) -> None:
    """Issue 31: Chloé, on her phone, and Ana, at her desk, open the same
    conversation: each sees the other is viewing it. Chloé passes it to the
    press team with a note; Ben, in that team, is notified (his tab hidden),
    finds it marked in the queue, reads the note and claims it."""
    with get_session_factory(team_console.database_url).begin() as session:
        ticket_id = session.scalars(
            select(queue.Ticket.id)
            .where(queue.Ticket.agent == "chloe")
            .order_by(queue.Ticket.id)
        ).first()
    assert ticket_id is not None, "runs after the auto-assignment test"
    # Ben's queue is open in a tab behind another one.
    behind = browser.new_context(viewport={"width": 1280, "height": 900})
    behind.add_init_script(HIDDEN_TAB)
    ben = behind.new_page()
    sign_in(ben, team_console.url, "ben", "/")
    expect(ben.locator("#alert-controls")).to_have_attribute(
        "data-watching", "yes", timeout=WAIT_MS
    )
    chloe = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    ).new_page()
    sign_in(chloe, team_console.url, "chloe", f"/tickets/{ticket_id}")
    ana = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(ana, team_console.url, "ana", f"/tickets/{ticket_id}")
    expect(ana.locator("#viewers")).to_have_text("Also viewing: Chloe", timeout=WAIT_MS)
    expect(chloe.locator("#viewers")).to_have_text("Also viewing: Ana", timeout=WAIT_MS)
    # Nobody has answered yet: the page says when the first reply is due.
    expect(chloe.locator("#sla-due")).to_have_text(
        re.compile(r"^First reply (due by .+ left\)|late by .+ \(due .+\))$")
    )
    shoot(chloe, "54-phone-also-viewing")

    chloe.select_option("#transfer-to", "team:press")
    chloe.fill(
        "#transfer-note", "Journaliste du Parisien : veut une citation avant 18 h."
    )
    on_screen(chloe, "#transfer-button")
    fits_the_phone(chloe)
    shoot(chloe, "55-phone-transfer-to-a-team")
    chloe.locator("#transfer-button").tap()
    expect(chloe.locator(".flash")).to_contain_text("Passed to the Press team")

    # Ben is told, though his tab is hidden; the row says for whom it is.
    expected = f"Conversation {ticket_id} was passed to your team: Press"
    deadline = time.monotonic() + WAIT_MS / 1000
    while expected not in ben.evaluate("window.__notes"):
        assert time.monotonic() < deadline, ben.evaluate("window.__notes")
        ben.wait_for_timeout(200)
    row = ben.locator(f'#tickets tr[data-id="{ticket_id}"]')
    expect(row.locator(".c-agent")).to_have_text("→ Press", timeout=WAIT_MS)
    row.locator("a").click()
    expect(ben.locator("#team")).to_have_text("For the Press team")
    expect(ben.locator("#notes")).to_contain_text(
        "Journaliste du Parisien : veut une citation avant 18 h."
    )
    ben.click("#claim-button")
    expect(ben.locator(".flash")).to_contain_text("You have this conversation")
    shoot(ben, "56-desktop-press-member-claims")
    for page in (chloe, ana, ben):
        page.context.close()
