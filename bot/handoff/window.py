"""What an agent may still send on a channel, and until when.

Messenger, Instagram and WhatsApp let a business send free messages only
within 24 hours of the person's last message (Meta's "standard messaging
window"). Past it:

- Messenger and Instagram accept a message tagged HUMAN_AGENT up to 7 days
  after the person's last message, for an app Meta granted the Human Agent
  permission (RELAIS_META_HUMAN_AGENT=on); otherwise nothing until the
  person writes again;
- WhatsApp delivers only template messages approved beforehand by Meta: a
  free reply cannot be sent until the person writes again. With an approved
  template named in RELAIS_WHATSAPP_TEMPLATE, the agent can send it to
  invite the person to write again, which opens a new window.

Telegram and the web chat have no such window. The console shows the window
on each ticket and refuses a reply the provider would refuse, instead of a
reply that silently never arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from bot.channel_settings import ChannelSettings

FREE = timedelta(hours=24)
HUMAN_AGENT = timedelta(days=7)
HUMAN_AGENT_TAG = "HUMAN_AGENT"
WINDOWED = {"messenger": "Messenger", "instagram": "Instagram", "whatsapp": "WhatsApp"}
CHANNEL_NAMES = {
    **WINDOWED,
    "telegram": "Telegram",
    "socketio": "web chat",
    "rest": "REST API",
}

# The states of a window.
NONE = "none"  # the channel has no window
OPEN = "open"  # free replies
TAGGED = "tagged"  # replies tagged HUMAN_AGENT only
TEMPLATE = "template"  # WhatsApp: the brand's approved invitation only
CLOSED = "closed"  # nothing the console can send
UNKNOWN = "unknown"  # the person's last message could not be read


@dataclass(frozen=True)
class Window:
    channel: str
    state: str
    # When the current state ends (None: never, or not known).
    until: datetime | None = None
    last_message_at: datetime | None = None
    template: str | None = None  # the invitation WhatsApp still takes

    @property
    def can_reply(self) -> bool:
        return self.state not in (CLOSED, TEMPLATE)

    @property
    def tag(self) -> str | None:
        """The message tag a reply must carry (Meta's Send API)."""
        return HUMAN_AGENT_TAG if self.state == TAGGED else None

    def explain(self, zone: tzinfo, gettext: Callable[..., str] | None = None) -> str:
        """For the agent: what may be sent, and until when. `gettext` puts the
        words in the agent's language (the console's); English by default."""
        _ = gettext or _english
        values = {
            "channel": CHANNEL_NAMES.get(self.channel, self.channel),
            "until": _when(self.until, zone),
            "last": _when(self.last_message_at, zone),
            "template": self.template or "",
        }
        if self.state == NONE:
            return _("{channel}: replies can be sent at any time.", **values)
        if self.state == UNKNOWN:
            return _(
                "{channel}: when the person last wrote could not be read, so the 24-hour window is unknown; a reply past it will be refused.",  # noqa: E501
                **values,
            )
        if self.state == OPEN:
            return _(
                "{channel}: free replies until {until} (24 hours after the person's last message).",  # noqa: E501
                **values,
            )
        if self.state == TAGGED:
            return _(
                "{channel}: past the 24-hour window. Your reply goes out tagged Human Agent, which Meta allows until {until} (7 days after the person's last message).",  # noqa: E501
                **values,
            )
        if self.state == TEMPLATE:
            return _(
                "{channel}: past the 24-hour window (the person last wrote {last}). WhatsApp now delivers only templates Meta approved: a reply cannot be sent, but the invitation ({template}) can; when the person answers it, you can write to them again.",  # noqa: E501
                **values,
            )
        if self.channel == "whatsapp":
            return _(
                "{channel}: past the 24-hour window (the person last wrote {last}). WhatsApp now delivers only templates Meta approved: a reply cannot be sent until the person writes again. Close the ticket or reach them another way (an approved invitation template in RELAIS_WHATSAPP_TEMPLATE would let you ask them to write).",  # noqa: E501
                **values,
            )
        if self.until is not None:  # past the 7 days too
            return _(
                "{channel}: past the 7 days after the person's last message ({last}): Meta delivers nothing more until they write again.",  # noqa: E501
                **values,
            )
        return _(
            "{channel}: past the 24-hour window (the person last wrote {last}). Without Meta's Human Agent permission (RELAIS_META_HUMAN_AGENT), nothing can be sent until they write again.",  # noqa: E501
            **values,
        )


def _english(text: str, **values: str) -> str:
    return text.format(**values)


def reply_window(
    channel: str,
    last_message_at: datetime | None,
    now: datetime,
    channels: ChannelSettings,
) -> Window:
    """The window of a conversation on `channel` whose person last wrote at
    `last_message_at`, with the brand's channel settings (the Human Agent
    permission, WhatsApp's invitation template)."""
    if channel not in WINDOWED:
        return Window(channel, NONE)
    if last_message_at is None:
        return Window(channel, UNKNOWN)
    free_until = last_message_at + FREE
    if now < free_until:
        return Window(channel, OPEN, free_until, last_message_at)
    if channel == "whatsapp" and channels.whatsapp_template:
        return Window(
            channel, TEMPLATE, None, last_message_at, channels.whatsapp_template
        )
    if channel != "whatsapp" and channels.meta_human_agent:
        tagged_until = last_message_at + HUMAN_AGENT
        if now < tagged_until:
            return Window(channel, TAGGED, tagged_until, last_message_at)
        return Window(channel, CLOSED, tagged_until, last_message_at)
    return Window(channel, CLOSED, None, last_message_at)


def _when(moment: datetime | None, zone: tzinfo) -> str:
    if moment is None:
        return "?"
    return moment.astimezone(zone).strftime("%d/%m %H:%M")
