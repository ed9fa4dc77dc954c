"""Who may start an SSH handshake: OpenSSH-like limits before authentication.

Every new TCP connection asks :meth:`Gate.admit` before the server sends a single byte. It
is refused (the socket closed, no key exchange) when its source

- is serving a penalty (``PerSourcePenalties``: failed logins, connections that never tried
  to log in, login grace time exceeded add time; past ``min`` the source is shut out until
  the time runs out, at most ``max``),
- opens connections faster than ``rate_per_s`` (a token bucket of ``burst``),
- already has ``per_source_max_startups`` unauthenticated connections (``PerSourceMaxStartups``),

or when ``max_startups`` unauthenticated connections are open in all (``MaxStartups``). A
flood from one address therefore costs others nothing: its connections are cheap to refuse
and it can hold only its own small share of the unauthenticated slots.

Refusals are counted per source and reported once per burst (:meth:`Gate.reports`), so a
flood writes a line with a count instead of a line per connection.

The gate is sans-IO: the clock is passed in, and nothing here touches a socket.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from xenon_tui.ssh._errors import ConfigError

Outcome = Literal["authfail", "noauth", "grace-exceeded"]
_PENALTY_KEYS = {"authfail", "noauth", "grace-exceeded", "min", "max"}
_MAX_REPORTED_SOURCES = 1024  # beyond this, refusals are summed under "other sources"
_OTHERS = "other-sources"
_MAX_SOURCES = 65536  # per-source state kept at most (~200 bytes each)
_PRUNE_EVERY = 1024


@dataclass(frozen=True)
class Penalties:
    """Seconds a source is charged per event (OpenSSH ``PerSourcePenalties``).

    Attributes:
        authfail: A connection that failed to authenticate.
        noauth: A connection closed without trying to (scanners, handshake floods).
        grace_exceeded: A connection that ran out of login grace time.
        min_s: A source is shut out once its charge reaches this.
        max_s: The charge never exceeds this.
    """

    authfail: float = 5.0
    noauth: float = 1.0
    grace_exceeded: float = 20.0
    min_s: float = 15.0
    max_s: float = 600.0

    def __post_init__(self) -> None:
        values = (self.authfail, self.noauth, self.grace_exceeded, self.min_s, self.max_s)
        if any(v < 0 or v != v for v in values) or self.min_s > self.max_s or self.max_s <= 0:
            raise ConfigError("penalties must be >= 0 with min <= max and max > 0")

    def charge(self, outcome: Outcome) -> float:
        """The seconds one ``outcome`` costs."""
        return {"authfail": self.authfail, "noauth": self.noauth,
                "grace-exceeded": self.grace_exceeded}[outcome]  # fmt: skip

    @classmethod
    def parse(cls, text: str) -> Penalties | None:
        """Reads ``authfail:5,noauth:1,grace-exceeded:20,min:15,max:600`` (any subset) or
        ``off``.

        Raises:
            ConfigError: On an unknown key or a bad number.
        """
        if text.strip() == "off":
            return None
        values: dict[str, float] = {}
        for item in text.split(","):
            key, sep, value = item.strip().partition(":")
            if not sep or key not in _PENALTY_KEYS:
                raise ConfigError(
                    f"penalty {item!r}: expected KEY:SECONDS with KEY one of "
                    f"{', '.join(sorted(_PENALTY_KEYS))}, or 'off'"
                )
            try:
                values[key.replace("-", "_")] = float(value)
            except ValueError:
                raise ConfigError(f"penalty {item!r}: {value!r} is not a number") from None
        renamed = {"min_s" if k == "min" else "max_s" if k == "max" else k: v
                   for k, v in values.items()}  # fmt: skip
        return cls(**renamed)


@dataclass(frozen=True)
class PreauthLimits:
    """Limits on connections that have not authenticated yet.

    Attributes:
        rate_per_s: New connections per second per source (0: no limit).
        burst: Connections a quiet source may open at once.
        max_startups: Unauthenticated connections open at once, from everyone.
        per_source_max_startups: Unauthenticated connections open at once per source
            (0: no limit).
        max_auth_tries: Failed authentication attempts (each key offered counts) before
            the connection is closed.
        penalties: Per-source penalties; ``None`` turns them off.
        ipv6_prefix: IPv6 sources are grouped by this prefix (one host usually owns a /64).
        report_quiet_s: A burst of refusals from a source ends (and is logged) after this
            long without one.
        report_max_s: A burst still going is logged at least this often.
    """

    rate_per_s: float = 10.0
    burst: int = 10
    max_startups: int = 100
    per_source_max_startups: int = 10
    max_auth_tries: int = 6
    penalties: Penalties | None = field(default_factory=Penalties)
    ipv6_prefix: int = 64
    report_quiet_s: float = 1.0
    report_max_s: float = 30.0

    def __post_init__(self) -> None:
        if not (self.rate_per_s >= 0 and self.rate_per_s < float("inf")):
            raise ConfigError("per-source rate must be a number >= 0 (0: no limit)")
        if self.burst < 1 or self.max_startups < 1 or self.max_auth_tries < 1:
            raise ConfigError("burst, max startups and max auth tries must be at least 1")
        if self.per_source_max_startups < 0:
            raise ConfigError("per-source max startups must be >= 0 (0: no limit)")
        if not 1 <= self.ipv6_prefix <= 128:
            raise ConfigError("IPv6 prefix must be 1..128")
        if not 0 < self.report_quiet_s <= self.report_max_s:
            raise ConfigError("report times must be positive, quiet <= max")


@dataclass
class _Source:
    tokens: float
    stamp: float
    unauth: int = 0
    penalty_until: float = 0.0
    shut_out: bool = False


@dataclass
class _Burst:
    first: float
    last: float
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    """One burst of refusals from one source.

    Attributes:
        source: The address (or IPv6 network) refused.
        counts: Refusals by reason (``penalty``, ``rate``, ``per-source-startups``,
            ``startups``).
        seconds: From the first refusal of the burst to the last.
    """

    source: str
    counts: dict[str, int]
    seconds: float

    @property
    def total(self) -> int:
        """Connections refused in this burst."""
        return sum(self.counts.values())


def source_of(address: str, ipv6_prefix: int = 64) -> str:
    """The key limits are kept under: the IPv4 address, or the IPv6 network."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, ipv6_prefix), strict=False))
    return str(ip)


class Gate:
    """Admission of new connections and bookkeeping of unauthenticated ones.

    Args:
        limits: The limits to enforce.
        clock: Monotonic seconds (injectable for tests).
    """

    def __init__(self, limits: PreauthLimits, clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self._clock = clock
        self._sources: dict[str, _Source] = {}
        self._bursts: dict[str, _Burst] = {}
        self._prune_at = _PRUNE_EVERY
        self.unauthenticated = 0

    def admit(self, address: str) -> tuple[str, str | None]:
        """Decides on a new connection from ``address``.

        Returns:
            ``(source, None)`` when admitted (it then holds an unauthenticated slot until
            :meth:`authenticated` or :meth:`closed`), else ``(source, reason)``.
        """
        now = self._clock()
        key = source_of(address, self.limits.ipv6_prefix)
        src = self._source(key, now)
        reason = self._refusal(src, now)
        if reason is None:
            src.unauth += 1
            self.unauthenticated += 1
        else:
            self._count(key, reason, now)
        return key, reason

    def _refusal(self, src: _Source, now: float) -> str | None:
        limits = self.limits
        if src.shut_out:
            if now < src.penalty_until:
                return "penalty"
            src.shut_out = False
        if limits.rate_per_s:
            refill = (now - src.stamp) * limits.rate_per_s
            src.tokens = min(float(limits.burst), src.tokens + refill)
            src.stamp = now
            if src.tokens < 1.0:
                return "rate"
            src.tokens -= 1.0
        if limits.per_source_max_startups and src.unauth >= limits.per_source_max_startups:
            return "per-source-startups"
        if self.unauthenticated >= limits.max_startups:
            return "startups"
        return None

    def authenticated(self, source: str) -> None:
        """Gives back the unauthenticated slot of a connection that logged in."""
        self._release(source)

    def closed(self, source: str, outcome: Outcome) -> float:
        """Gives back the slot of a connection that closed before logging in, and charges
        its source for ``outcome``.

        Returns:
            The seconds the source is now shut out for (0 when it is not, or it already
            was before this charge).
        """
        self._release(source)
        penalties = self.limits.penalties
        if penalties is None:
            return 0.0
        seconds = penalties.charge(outcome)
        if seconds <= 0:
            return 0.0
        now = self._clock()
        src = self._source(source, now)
        src.penalty_until = min(max(src.penalty_until, now) + seconds, now + penalties.max_s)
        if src.shut_out or src.penalty_until - now < penalties.min_s:
            return 0.0
        src.shut_out = True
        return src.penalty_until - now

    def _release(self, source: str) -> None:
        src = self._sources.get(source)
        if src is not None and src.unauth > 0:
            src.unauth -= 1
            self.unauthenticated -= 1

    def reports(self, *, flush: bool = False) -> list[Report]:
        """Bursts of refusals that are over (quiet for ``report_quiet_s``) or have gone on
        for ``report_max_s``; all of them when ``flush``."""
        now = self._clock()
        quiet, longest = self.limits.report_quiet_s, self.limits.report_max_s
        due = [
            key
            for key, burst in self._bursts.items()
            if flush or now - burst.last >= quiet or now - burst.first >= longest
        ]
        return [self._report(key) for key in due]

    @property
    def pending_reports(self) -> bool:
        """Whether refusals are waiting to be reported."""
        return bool(self._bursts)

    def _report(self, key: str) -> Report:
        burst = self._bursts.pop(key)
        return Report(key, dict(sorted(burst.counts.items())), burst.last - burst.first)

    def _count(self, key: str, reason: str, now: float) -> None:
        if key not in self._bursts and len(self._bursts) >= _MAX_REPORTED_SOURCES:
            key = _OTHERS
        burst = self._bursts.setdefault(key, _Burst(now, now))
        burst.last = now
        burst.counts[reason] = burst.counts.get(reason, 0) + 1

    def _source(self, key: str, now: float) -> _Source:
        src = self._sources.get(key)
        if src is None:
            if len(self._sources) >= self._prune_at:
                self._prune(now)
            src = self._sources[key] = _Source(float(self.limits.burst), now)
        return src

    def _prune(self, now: float) -> None:
        """Forgets sources with nothing to remember; bounds the table under a spread flood."""
        limits = self.limits

        def idle(src: _Source) -> bool:
            refilled = src.tokens + (now - src.stamp) * limits.rate_per_s >= limits.burst
            return (
                src.unauth == 0 and now >= src.penalty_until and (refilled or not limits.rate_per_s)
            )

        self._sources = {k: s for k, s in self._sources.items() if not idle(s)}
        if len(self._sources) >= _MAX_SOURCES:
            # Still full (a flood from very many addresses): forget the oldest sources
            # without a connection open; their penalties are lost, their slots are not.
            keep = [(k, s) for k, s in self._sources.items() if s.unauth]
            spare = [(k, s) for k, s in self._sources.items() if not s.unauth]
            self._sources = dict(keep + spare[-(_MAX_SOURCES // 2) :])
        self._prune_at = max(_PRUNE_EVERY, 2 * len(self._sources))
