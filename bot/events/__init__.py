"""Rasa's event stream, read by the console: open tickets kept current and
every message recorded for the crisis figures.

- records.py: what one batch of events changes (tickets, emergency guidance
  to send, the crisis figures);
- sql.py: Rasa's SQL event broker (`make run`), read from a stored cursor;
- rabbit.py: Rasa's Pika broker on RabbitMQ (`make run-scaled`);
- watcher.py: the loop the console runs over either source.

This room sits above the queue (bot/handoff/) and the figures
(bot/insights/), which it feeds, and below the console, which runs it.
"""
