"""Handing conversations to humans: triggers, the queue, business hours."""
