"""The channels' rules without a server: answers cut to each provider's limits,
buttons shortened, signatures, what a webhook holds, the 24-hour window, and
the settings a brand fills in. The real servers: tests/test_brand_channels.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from bot.channel_settings import (
    ChannelSettings,
    ChannelSettingsError,
    load_channel_settings,
)
from bot.channels.meta import InstagramInput, MessengerInput, WhatsAppInput
from bot.channels.provider import meta_signature_ok, provider_id
from bot.channels.seen import Seen
from bot.channels.shaping import (
    ELLIPSIS,
    button_titles,
    fit_buttons,
    shorten_title,
    split_text,
    utf8_bytes,
)
from bot.channels.telegram import TelegramInput, callback_data, from_callback_data
from bot.faq.buttons import clarification_buttons, faq_payload
from bot.faq.pack import load_pack
from bot.handoff.window import CLOSED, NONE, OPEN, TAGGED, TEMPLATE, reply_window
from bot.settings import PLACEHOLDER_SECRETS, PROJECT_ROOT, get_settings
from tests.providers import sign

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
NO_TAG = ChannelSettings()
HUMAN_AGENT = ChannelSettings(meta_human_agent=True)
SENTENCES = [
    f"Phrase numéro {n} du communiqué, qui explique un point précis du rappel."
    for n in range(60)
]


# --- long answers --------------------------------------------------------------


def test_a_long_answer_is_split_at_sentence_ends_and_nothing_is_lost() -> None:
    text = " ".join(SENTENCES)
    parts = split_text(text, 2000)
    assert len(parts) > 1
    assert all(len(part) <= 2000 for part in parts)
    assert all(part.endswith(".") for part in parts)  # never mid-sentence
    assert " ".join(parts) == text


def test_paragraphs_are_kept_together_when_they_fit() -> None:
    first, second = "A" * 900 + ".", "B" * 900 + "."
    parts = split_text(f"{first}\n\n{second}", 1000)
    assert parts == [first, second]


def test_instagram_counts_bytes_so_accents_make_shorter_messages() -> None:
    text = " ".join(["Réponse très détaillée à propos du lait rappelé."] * 60)
    parts = split_text(text, 1000, utf8_bytes)
    assert all(utf8_bytes(part) <= 1000 for part in parts)
    assert max(len(part) for part in parts) < 1000
    assert " ".join(parts) == text


def test_a_sentence_longer_than_a_message_is_cut_between_words() -> None:
    words = " ".join(["mot"] * 1000)  # no sentence end at all
    parts = split_text(words, 300)
    assert all(len(part) <= 300 for part in parts)
    assert all(not part.startswith("ot") for part in parts)
    assert " ".join(parts) == words


def test_a_short_answer_stays_one_message() -> None:
    assert split_text("  Bonjour !  ", 2000) == ["Bonjour !"]
    assert split_text("   ", 2000) == []


# --- buttons ---------------------------------------------------------------------


def test_titles_are_shortened_at_a_word_with_an_ellipsis() -> None:
    title = "Que faire si mon enfant a mangé le produit"
    short = shorten_title(title, 20)
    assert len(short) <= 20
    assert short.endswith(ELLIPSIS)
    assert title.startswith(short[:-1])
    assert short == "Que faire si mon…"


def test_the_human_button_keeps_its_meaning_within_20_characters() -> None:
    pack = load_pack(PROJECT_ROOT / "packs" / "dairy-recall" / "faq")
    for language, expected in (
        ("fr", "Parler à un humain"),
        ("en", "Talk to a person"),
    ):
        buttons = clarification_buttons(["recalled_lots"], pack, language)
        assert button_titles(buttons, 20)[-1] == expected
        assert button_titles(buttons, None)[-1] == buttons[-1]["title"]  # Telegram


def test_titles_shortened_alike_stay_different() -> None:
    buttons = [
        {"title": "Remboursement sans ticket de caisse", "payload": "/a"},
        {"title": "Remboursement sans ticket ni emballage", "payload": "/b"},
    ]
    titles = button_titles(buttons, 20)
    assert len(set(titles)) == 2
    assert all(len(title) <= 20 for title in titles)


def test_past_the_channels_count_the_way_to_a_human_stays() -> None:
    buttons = [{"title": f"T{n}", "payload": f"/{n}"} for n in range(6)]
    kept = fit_buttons(buttons, 3)
    assert [b["payload"] for b in kept] == ["/0", "/1", "/5"]


def test_telegram_button_data_fits_64_bytes_and_comes_back_as_the_payload() -> None:
    key = "a_very_long_topic_key_written_by_an_editor_in_haste"
    payload = faq_payload(key)
    assert len(payload.encode()) > 64
    data = callback_data({"title": "Titre", "payload": payload})
    assert len(data.encode()) <= 64
    assert from_callback_data(data) == payload
    short = callback_data({"title": "Humain", "payload": "/request_human"})
    assert from_callback_data(short) == "/request_human"


# --- signatures and webhooks ------------------------------------------------------


def test_meta_signature_is_checked_on_the_raw_body() -> None:
    body = b'{"object":"page","entry":[]}'
    assert meta_signature_ok("app-secret", body, sign("app-secret", body))
    assert not meta_signature_ok("app-secret", body, sign("other-secret", body))
    assert not meta_signature_ok("app-secret", body + b" ", sign("app-secret", body))
    assert not meta_signature_ok("app-secret", body, None)
    # The old SHA-1 header alone (what Rasa's facebook connector reads) is refused.
    assert not meta_signature_ok("app-secret", body, "sha1=0123")


def messenger_event(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "page",
        "entry": [
            {
                "id": "PAGE",
                "time": 1732000000,
                "messaging": [
                    {"sender": {"id": "PSID1"}, "recipient": {"id": "PAGE"}, **message}
                ],
            }
        ],
    }


def test_messenger_reads_texts_quick_replies_and_postbacks_only() -> None:
    channel = MessengerInput()
    text = messenger_event({"message": {"mid": "m1", "text": "Bonjour"}})
    quick = messenger_event(
        {"message": {"mid": "m2", "text": "Lots", "quick_reply": {"payload": "/x"}}}
    )
    postback = messenger_event({"postback": {"mid": "m3", "payload": "/y"}})
    echo = messenger_event({"message": {"mid": "m4", "text": "hi", "is_echo": True}})
    read = messenger_event({"read": {"watermark": 1}})
    assert [m.text for m in channel.inbound(text)] == ["Bonjour"]
    assert [m.text for m in channel.inbound(quick)] == ["/x"]
    assert [m.text for m in channel.inbound(postback)] == ["/y"]
    assert list(channel.inbound(echo)) == list(channel.inbound(read)) == []
    # An Instagram body posted to Messenger's webhook is not Messenger's.
    assert list(InstagramInput().inbound(text)) == []


def test_whatsapp_reads_texts_and_chosen_buttons_not_statuses() -> None:
    def change(value: dict[str, Any]) -> dict[str, Any]:
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {"id": "WABA", "changes": [{"field": "messages", "value": value}]}
            ],
        }

    text = change(
        {
            "messaging_product": "whatsapp",
            "messages": [
                {
                    "from": "33612345678",
                    "id": "wamid.1",
                    "type": "text",
                    "text": {"body": "Quels lots ?"},
                },
                {
                    "from": "33612345678",
                    "id": "wamid.2",
                    "type": "interactive",
                    "interactive": {
                        "type": "button_reply",
                        "button_reply": {"id": "/request_human", "title": "x"},
                    },
                },
                {
                    "from": "33612345678",
                    "id": "wamid.3",
                    "type": "image",
                    "image": {"id": "media"},
                },
            ],
        }
    )
    status = change({"statuses": [{"id": "wamid.0", "status": "read"}]})
    messages = list(WhatsAppInput().inbound(text))
    assert [m.text for m in messages] == ["Quels lots ?", "/request_human", ""]
    assert {m.sender for m in messages} == {"33612345678"}
    assert list(WhatsAppInput().inbound(status)) == []


def test_telegram_start_becomes_a_greeting_in_the_persons_language() -> None:
    def start(language: str) -> dict[str, Any]:
        return {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "chat": {"id": 42, "type": "private"},
                "from": {"id": 42, "language_code": language},
                "text": "/start",
            },
        }

    assert [m.text for m in TelegramInput().inbound(start("fr"))] == ["Bonjour"]
    assert [m.text for m in TelegramInput().inbound(start("en-GB"))] == ["Hello"]


async def test_a_redelivered_message_is_handled_once(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also after a restart, or by another Rasa process (issue 26: the ids
    lived in one process's memory)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    seen = Seen("whatsapp", size=2)
    assert await seen.first_time("m1") and not await seen.first_time("m1")
    assert await seen.first_time("m2") and await seen.first_time("m3")
    # Out of this process's memory (bounded), still in the database.
    assert not await seen.first_time("m1")
    # A restarted or another process: the database knows it.
    assert not await Seen("whatsapp").first_time("m2")
    assert await Seen("telegram").first_time("m2")  # each channel its own ids
    assert await seen.first_time(None) and await seen.first_time(None)


def test_conversation_ids_carry_the_channel() -> None:
    assert provider_id("whatsapp", "whatsapp:33612345678") == "33612345678"
    assert provider_id("telegram", "telegram:-100123") == "-100123"


# --- the 24-hour window -------------------------------------------------------------


@pytest.mark.parametrize("channel", ["messenger", "instagram", "whatsapp"])
def test_free_replies_within_24_hours(channel: str) -> None:
    window = reply_window(channel, NOW - timedelta(hours=23), NOW, channels=NO_TAG)
    assert (window.state, window.can_reply, window.tag) == (OPEN, True, None)
    assert "free replies until" in window.explain(timezone.utc)


def test_messenger_past_24_hours_takes_human_agent_replies_for_7_days() -> None:
    last = NOW - timedelta(hours=30)
    tagged = reply_window("messenger", last, NOW, channels=HUMAN_AGENT)
    assert (tagged.state, tagged.tag) == (TAGGED, "HUMAN_AGENT")
    without = reply_window("messenger", last, NOW, channels=NO_TAG)
    assert without.state == CLOSED and not without.can_reply
    assert "RELAIS_META_HUMAN_AGENT" in without.explain(timezone.utc)
    late = reply_window("instagram", NOW - timedelta(days=8), NOW, channels=HUMAN_AGENT)
    assert late.state == CLOSED
    assert "7 days" in late.explain(timezone.utc)


def test_whatsapp_past_24_hours_takes_templates_only() -> None:
    window = reply_window(
        "whatsapp", NOW - timedelta(hours=25), NOW, channels=HUMAN_AGENT
    )
    assert window.state == CLOSED and not window.can_reply
    assert "templates" in window.explain(timezone.utc)


def test_past_24_hours_whatsapp_takes_the_brands_invitation_template() -> None:
    channels = ChannelSettings(whatsapp_template="relais_write_again")
    window = reply_window("whatsapp", NOW - timedelta(hours=25), NOW, channels)
    assert (window.state, window.can_reply) == (TEMPLATE, False)
    assert window.template == "relais_write_again"
    assert "invitation (relais_write_again)" in window.explain(timezone.utc)
    # Within the window, replies are free: no invitation needed.
    fresh = reply_window("whatsapp", NOW - timedelta(hours=2), NOW, channels)
    assert fresh.state == OPEN
    # Messenger has no templates: the template setting changes nothing there.
    assert (
        reply_window("messenger", NOW - timedelta(hours=25), NOW, channels).state
        == CLOSED
    )


@pytest.mark.parametrize("channel", ["telegram", "socketio", "rest"])
def test_other_channels_have_no_window(channel: str) -> None:
    window = reply_window(channel, NOW - timedelta(days=30), NOW, channels=NO_TAG)
    assert window.state == NONE and window.can_reply


# --- settings ---------------------------------------------------------------------


def settings_of(env: dict[str, str], local: bool = True) -> Any:
    return load_channel_settings(env, PLACEHOLDER_SECRETS, local=local)


def test_no_channel_is_on_without_its_token() -> None:
    assert settings_of({}).configured == ()


def test_a_channel_without_its_webhook_secret_is_refused_with_the_name() -> None:
    with pytest.raises(ChannelSettingsError, match="RELAIS_META_APP_SECRET"):
        settings_of({"RELAIS_MESSENGER_PAGE_TOKEN": "t"})
    with pytest.raises(ChannelSettingsError, match="RELAIS_WHATSAPP_PHONE_NUMBER_ID"):
        settings_of(
            {
                "RELAIS_WHATSAPP_TOKEN": "t",
                "RELAIS_META_APP_SECRET": "s",
                "RELAIS_META_VERIFY_TOKEN": "v",
            }
        )
    with pytest.raises(ChannelSettingsError, match="RELAIS_TELEGRAM_SECRET"):
        settings_of({"RELAIS_TELEGRAM_TOKEN": "t"})
    with pytest.raises(ChannelSettingsError, match="letters, digits"):
        settings_of({"RELAIS_TELEGRAM_TOKEN": "t", "RELAIS_TELEGRAM_SECRET": "a b"})


def test_placeholder_webhook_secrets_are_refused_outside_local() -> None:
    env = {"RELAIS_TELEGRAM_TOKEN": "t", "RELAIS_TELEGRAM_SECRET": "secret"}
    assert settings_of(env).configured == ("telegram",)
    with pytest.raises(ChannelSettingsError, match="real secret"):
        settings_of(env, local=False)
