"""Where the public writes to Relais, one module per kind of channel.

- guard.py: what every message goes through first (length, overload, the
  action server's health);
- web.py: Rasa's REST and socket.io (the web chat and its embed);
- meta.py: Messenger, Instagram and WhatsApp (Meta's webhooks and APIs);
- telegram.py: Telegram's Bot API;
- shaping.py: answers cut and buttons shortened to each channel's limits;
- window.py: what may still be sent on a channel, and until when.

credentials.yml names the input classes Rasa loads.
"""
