"""The public web chat: the page, its brand colours, and the tag brands embed.

- `/chat` is the chat page (Rasa's socket.io channel). `?lang=en` speaks
  English (French by default); `?embed=1` is the compact form shown inside a
  brand's site, with a button that closes it.
- `/chat/theme.css` holds the crisis profile's colours (the pages' CSP
  allows no inline style).
- `/embed.js` is what a brand pastes on its site:

      <script src="https://relais.example.com/embed.js" async></script>

  It adds a "Questions?" button in the brand's colours; the chat opens in a
  panel holding `/chat?embed=1` in a frame, so the brand's own styles and
  scripts and Relais' never touch. The language is the script tag's
  `data-lang`, else the page's `<html lang>`. Keyboard: the button takes
  focus like any other, Escape closes the panel and gives focus back to the
  button; screen readers hear the button's state, the panel's name and
  every new message (the chat's list is a live region).

Only `/chat` may be framed by other sites (every console page refuses it,
bot/console/security.py).
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.console.pages import templates
from bot.console.security import settings_of

LANGUAGES = ("fr", "en")
# The chat's own words, in the person's language (the bot's answers come
# from Rasa).
TEXTS = {
    "fr": {
        "title": "Vos questions",
        "about": "Vos questions sur {about}",
        "placeholder": "Votre question…",
        "label": "Votre message",
        "send": "Envoyer",
        "connecting": "Connexion…",
        "reconnecting": "Reconnexion…",
        "close": "Fermer la discussion",
        "open": "Questions ?",
        "panel": "Discussion avec {brand}",
        "agent": "{name} · {brand}",
        "update": "Mise à jour",
        "dismiss": "Masquer",
    },
    "en": {
        "title": "Your questions",
        "about": "Your questions about {about}",
        "placeholder": "Your question…",
        "label": "Your message",
        "send": "Send",
        "connecting": "Connecting…",
        "reconnecting": "Reconnecting…",
        "close": "Close the chat",
        "open": "Questions?",
        "panel": "Chat with {brand}",
        "agent": "{name} · {brand}",
        "update": "Update",
        "dismiss": "Hide",
    },
}
# A browser may keep the script and the colours this long (seconds): a
# colour changed in the profile shows within minutes on every brand page.
CACHE_SECONDS = 300


def language_of(request: Request) -> str:
    language = request.query_params.get("lang", "fr")[:2].lower()
    return language if language in LANGUAGES else "fr"


async def chat_page(request: Request) -> Response:
    settings = settings_of(request)
    language = language_of(request)
    profile = settings.profile
    words = {
        name: text.format(
            brand=profile.brand, about=profile.about[language], name="{name}"
        )
        for name, text in TEXTS[language].items()
    }
    return templates.TemplateResponse(
        request,
        "chat.html",
        {
            "socket_url": settings.public_rasa_url,
            "profile": profile,
            "language": language,
            "embed": request.query_params.get("embed") == "1",
            "words": words,
        },
    )


async def theme_css(request: Request) -> Response:
    colours = settings_of(request).profile.colours
    css = f":root {{ --brand: {colours.brand}; --on-brand: {colours.text}; }}\n"
    return Response(
        css,
        media_type="text/css",
        headers={"Cache-Control": f"public, max-age={CACHE_SECONDS}"},
    )


async def embed_script(request: Request) -> Response:
    profile = settings_of(request).profile
    config = {
        "brand": profile.brand,
        "colours": {"brand": profile.colours.brand, "text": profile.colours.text},
        "texts": {
            language: {
                name: TEXTS[language][name].format(brand=profile.brand)
                for name in ("open", "close", "panel")
            }
            for language in LANGUAGES
        },
    }
    script = templates.get_template("embed.js").render(
        config=json.dumps(config, ensure_ascii=False)
    )
    return Response(
        script,
        media_type="text/javascript",
        headers={"Cache-Control": f"public, max-age={CACHE_SECONDS}"},
    )


routes = [
    Route("/chat", chat_page),
    Route("/chat/theme.css", theme_css),
    Route("/embed.js", embed_script),
]
