"""Fixtures for the hostile suite (tests/conftest.py's reach here too)."""

from __future__ import annotations

import pytest
from fakes.feed_server import FeedServer


@pytest.fixture
def public():
    """A feed server on 127.0.0.2: "public" wherever `internal_networks` leaves it out."""
    try:
        server = FeedServer(host="127.0.0.2").start()
    except OSError:
        pytest.skip("127.0.0.2 is not a loopback address on this system")
    yield server
    server.stop()
