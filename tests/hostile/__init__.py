"""Hostile input: bombs, SSRF and script links, each driven through the real code paths."""
