"""Getting articles: fetch (httpx), parse (feedparser), the parse pool, OPML.

Owns every network and feed-format concern, and the library adaptations
(compat.py). Imports core, text and matching (the pool matches as it parses).
"""
