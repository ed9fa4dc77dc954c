"""The merged XE benchmark's propagation part runs XE's real worker against its simulated
hosts: every host confirms both versions (a small fleet: the timing is the benchmark's)."""

from __future__ import annotations

from benchmarks import xe


async def test_propagation_part_reaches_every_simulated_host() -> None:
    result = await xe.propagate_s_1000_hosts(hosts=12)
    assert result["propagate_hosts"] == 12
    # The warm-up version and the measured one, activated once each on every host.
    assert result["propagate_activations"] == 24
    assert result["propagate_passes"] >= 1


def test_every_goal_key_has_a_part() -> None:
    assert set(xe.PARTS) == {"ingest", "check", "policy-store", "propagate", "api"}
    keys = {key for key, _goal in xe.GOALS.values()}
    assert keys == {
        "ingest_vs_raw",
        "check_ms_10k_hosts_100k_vms",
        "propagate_s_1000_hosts",
        "api_vs_echo",
    }
