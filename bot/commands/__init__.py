"""Command groups of `relais` that have a room of their own (bot/cli.py wires them)."""
