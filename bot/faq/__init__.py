"""The FAQ pack: one file per topic in data/faq/, examples and answers side by side."""

from bot.faq.pack import FaqError, Topic, load_pack

__all__ = ["FaqError", "Topic", "load_pack"]
