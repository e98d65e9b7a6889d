"""Text that came from feeds: folding, HTML to text, XML hygiene, titles, URLs.

Pure functions used by matching, feeds, storage and rendering alike.
Imports only core.
"""
