"""Watchlists and the matcher: what an article matched, and why.

Owns the watchlist schema and its checks, the compiled matcher (pure: no I/O),
the rules per topic, backtests and explanations. Imports core and text.
"""
