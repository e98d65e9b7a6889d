"""The Telegram bot: commands, buttons and the replies they send.

Owns python-telegram-bot's Application and per-chat update queues.
Imports pipeline and below; only bot/ and delivery/telegram.py import telegram.
"""
