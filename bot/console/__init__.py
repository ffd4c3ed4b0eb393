"""The community managers' console and the public web chat (Starlette)."""
