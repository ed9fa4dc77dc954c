"""Configuration of one host: state directory, backend, intervals, signing material."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ._errors import InvalidArgument

__all__ = ["HostConfig"]


@dataclass(frozen=True)
class HostConfig:
    """How :meth:`Host.open` sets a host up.

    Attributes:
        state_dir: Directory for policy files, statistics, the violations log (created 0700).
        backend: ``"sim"`` (simulated hypervisor) or ``"xen"`` (xl + privcmd).
        seed: Workload seed of the sim backend.
        stats_interval_s: Seconds between statistics samples (xentop's default 3).
        root_prefix: Root of /proc and /sys for hardware discovery (``/`` on a real host).
        sign_key: PEM private key for signed policy export, or None.
        sign_cert: PEM certificate (chain) for signed policy export, or None.
        policy_trust: CA certificates (PEM) a signed policy given to ``StagePolicy``
            must chain to (the daemon passes its TLS trust store); None refuses signed
            policies. Unsigned policies are taken as before.
        sim_host_mem_kb: RAM of the simulated host (a multiple of 2048 KiB).
        sim_cpus: CPUs of the simulated host.
        sim_slice_ms: Simulated time advanced per driver tick (the tick is as long in
            wall time).
        initial_policy: Policy installed when the state directory has none: ``"sample"``
            (the report's sample host policy), ``"none"`` (boot policy only), a path to
            a policy XML file, or None for the default (``"sample"`` with the sim
            backend, ``"none"`` with xen).
        max_violations_kept: Violation records kept in memory for ``violations()``.
        stats_flush_every: Persist the statistics history every this many samples.
        hostname: The name the host reports (None: the machine's); simulated hosts
            sharing one machine use it to tell themselves apart.
    """

    state_dir: Path
    backend: Literal["sim", "xen"] = "sim"
    seed: int = 1
    stats_interval_s: float = 3.0
    root_prefix: Path = Path("/")
    sign_key: Path | None = None
    sign_cert: Path | None = None
    policy_trust: Path | None = None
    sim_host_mem_kb: int = 16 * 1024 * 1024
    sim_cpus: int = 8
    sim_slice_ms: int = 100
    initial_policy: str | Path | None = None
    max_violations_kept: int = 200_000
    stats_flush_every: int = 20
    hostname: str | None = None

    def __post_init__(self) -> None:
        if self.backend not in ("sim", "xen"):
            raise InvalidArgument(f"backend must be 'sim' or 'xen', not {self.backend!r}")
        if not 0.01 <= self.stats_interval_s <= 3600:
            raise InvalidArgument("stats_interval_s must be within 0.01..3600")
        if not 1 <= self.sim_slice_ms <= 1000:
            raise InvalidArgument("sim_slice_ms must be within 1..1000")
        if not 1 <= self.sim_cpus <= 1024:
            raise InvalidArgument("sim_cpus must be within 1..1024")
        if self.max_violations_kept < 1 or self.stats_flush_every < 1:
            raise InvalidArgument("max_violations_kept and stats_flush_every must be >= 1")
        if (self.sign_key is None) != (self.sign_cert is None):
            raise InvalidArgument("sign_key and sign_cert go together")

    @property
    def initial(self) -> str | Path:
        """The effective initial policy choice."""
        if self.initial_policy is not None:
            return self.initial_policy
        return "sample" if self.backend == "sim" else "none"
