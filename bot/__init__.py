"""Relais: keeps a brand's public chat answerable during a crisis."""
