"""Sending what the outbox holds: sinks, renderers, rate limits, retries.

Owns Telegram's message limits and the drain that claims and finishes rows.
Imports core, text and storage.
"""
