"""news-monitor: a watchlist alert bot for US–Mexico security news."""

__version__ = "0.1.0"
