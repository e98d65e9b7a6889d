"""Which addresses are internal, so that a feed from outside cannot lead us to one.

A public feed, or an OPML file from someone else, could point the worker at
the machine's own services or the cloud metadata endpoint: a redirect to
169.254.169.254, 10.x or 127.x, a `file://` URL (issue 12, finding 4). The rules:

- a redirect from a public address to an internal one is refused, checked
  after DNS resolution on every hop and before connecting, so the error reads
  the same whether anything listens there (no port scanning through errors);
- `feeds import` refuses internal addresses and `file://` unless
  `--allow-private`;
- a URL the operator writes in the config or gives `feeds add` is used as
  written, loopback included: tests and intranets rely on that.

Internal means in one of `[poll] internal_networks`; the default entry
"not-global" stands for every address IANA's special-purpose registry says is
not globally reachable (loopback, private, link-local and metadata, shared
100.64/10, unspecified, unique-local, ...), as the standard library's
`ipaddress` knows them, IPv4 inside IPv6 included. Networks added beside it
widen the rule; a list without it replaces it (tests use that to play a public
host on 127.0.0.2).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NOT_GLOBAL = "not-global"


class AddressPolicy:
    """Tells internal addresses from public ones, by a list of networks."""

    def __init__(self, internal_networks: Sequence[str] = (NOT_GLOBAL,)) -> None:
        self._not_global = NOT_GLOBAL in internal_networks
        self._networks = tuple(
            ipaddress.ip_network(n) for n in internal_networks if n != NOT_GLOBAL
        )

    def is_internal(self, address: str | IPAddress) -> bool:
        ip = ipaddress.ip_address(address)
        if isinstance(ip, ipaddress.IPv6Address):  # ::ffff:127.0.0.1 reaches 127.0.0.1
            ip = ip.ipv4_mapped or ip.sixtofour or ip
        if self._not_global and (not ip.is_global or ip.is_multicast):
            return True
        return any(ip in network for network in self._networks)

    async def internal_address(self, host: str) -> str | None:
        """The first internal address `host` stands for, or None. A name that does not
        resolve stands for none: it cannot be reached either."""
        name = _bare(host)
        if name == "localhost" or name.endswith(".localhost"):  # loopback by name (RFC 6761)
            return name
        return next((a for a in await resolve(name) if self.is_internal(a)), None)

    async def is_public(self, host: str) -> bool:
        """Whether `host` may be a public address: one of its addresses is not internal.
        A name that does not resolve here (a proxy reached it) counts as public."""
        name = _bare(host)
        if name == "localhost" or name.endswith(".localhost"):
            return False
        addresses = await resolve(name)
        return not addresses or not all(self.is_internal(a) for a in addresses)

    async def refuse_shared(self, url: str) -> str | None:
        """Why a URL from someone else's OPML file must not be polled, or None."""
        parts = urlsplit(url)
        if parts.scheme.lower() == "file":
            return "a local file"
        try:
            host = parts.hostname or ""
        except ValueError:
            return None  # not a URL anyone can fetch
        address = await self.internal_address(host)
        if address is None:
            return None
        return "an internal address" + ("" if address == _bare(host) else f" ({address})")


async def resolve(host: str) -> list[str]:
    """Every address `host` resolves to (an IP literal, written any way, to itself)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):  # socket.gaierror is an OSError
        return []
    # a scoped IPv6 address (fe80::1%eth0) names its interface after the %
    return sorted({str(info[4][0]).partition("%")[0] for info in infos})


def _bare(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()
