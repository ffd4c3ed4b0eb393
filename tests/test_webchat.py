"""The web chat's page, colours and embed tag over HTTP (no browser; the
embed on another site in Chromium: tests/test_browser.py)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.console.app import create_app
from bot.profile import ProfileError, load_profile
from bot.settings import PROJECT_ROOT, get_settings

PACK = PROJECT_ROOT / "packs" / "dairy-recall"


def client() -> TestClient:
    return TestClient(create_app(get_settings()), follow_redirects=False)


def test_the_embed_script_carries_the_brand_and_both_languages() -> None:
    response = client().get("/embed.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "max-age" in response.headers["cache-control"]
    config = json.loads(re.search(r"var CONFIG = (\{.*\});", response.text)[1])
    assert config["brand"] == "Montval"
    assert config["colours"] == {"brand": "#123c69", "text": "#ffffff"}
    assert config["texts"]["fr"]["open"] == "Questions ?"
    assert config["texts"]["en"]["panel"] == "Chat with Montval"


def test_the_chat_speaks_the_language_asked() -> None:
    english = client().get("/chat?lang=en&embed=1").text
    assert '<html lang="en">' in english
    assert 'placeholder="Your question…"' in english
    assert 'id="close-chat"' in english  # embedded: a way to close it
    french = client().get("/chat").text
    assert '<html lang="fr">' in french
    assert 'placeholder="Votre question…"' in french
    assert 'id="close-chat"' not in french
    assert client().get("/chat?lang=de").text.count('<html lang="fr">') == 1


def test_the_chat_may_be_framed_by_brand_sites_the_console_may_not() -> None:
    chat = client().get("/chat?embed=1")
    assert "frame-ancestors *" in chat.headers["content-security-policy"]
    assert "x-frame-options" not in chat.headers
    login = client().get("/login")
    assert "frame-ancestors 'none'" in login.headers["content-security-policy"]
    assert login.headers["x-frame-options"] == "DENY"


def test_the_colours_come_from_the_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = shutil.copytree(PACK, tmp_path / "pack")
    profile = pack / "profile.yml"
    profile.write_text(
        profile.read_text(encoding="utf-8").replace(
            'brand: "#123c69"', 'brand: "#7a0019"'
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("RELAIS_PACK", str(pack))
    get_settings.cache_clear()
    assert "--brand: #7a0019" in client().get("/chat/theme.css").text


@pytest.mark.parametrize(
    ("colours", "message"),
    [
        ('  brand: "blue"\n  text: "#ffffff"', "colours.brand 'blue' is not a colour"),
        ('  brand: "#ffff00"\n  text: "#ffffff"', "hard to read"),
    ],
)
def test_unreadable_or_bad_colours_are_refused_with_the_field(
    tmp_path: Path, colours: str, message: str
) -> None:
    pack = shutil.copytree(PACK, tmp_path / "pack")
    profile = pack / "profile.yml"
    text = profile.read_text(encoding="utf-8")
    start = text.index("colours:")
    end = text.index("\n\n", start)
    profile.write_text(
        text[:start] + "colours:\n" + colours + text[end:], encoding="utf-8"
    )
    with pytest.raises(ProfileError, match=re.escape(message)):
        load_profile(pack)


def test_a_profile_without_colours_gets_readable_defaults(tmp_path: Path) -> None:
    pack = shutil.copytree(PACK, tmp_path / "pack")
    profile = pack / "profile.yml"
    text = profile.read_text(encoding="utf-8")
    start = text.index("colours:")
    end = text.index("\n\n", start)
    profile.write_text(text[:start] + text[end + 2 :], encoding="utf-8")
    colours = load_profile(pack).colours
    assert (colours.brand, colours.text) == ("#123c69", "#ffffff")
