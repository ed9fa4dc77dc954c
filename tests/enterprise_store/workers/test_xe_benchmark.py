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


def test_content_hash_from_the_written_xml_is_the_slice_content_hash() -> None:
    import dataclasses

    from enterprise_store.policy import build_slice, sample_xe_policy
    from enterprise_store.workers._slices import content_sha256

    sample = sample_xe_policy()
    for version in (1, 7, 12345):
        policy = sample.with_version(version)
        for host in policy.hosts:
            made = build_slice(policy, host.id)
            assert content_sha256(made) == made.content_sha256
    # A slice name that holds the attribute's name does not fool it (quotes are refused).
    tricky = dataclasses.replace(sample.hosts[0], name="h version=9")
    policy = dataclasses.replace(sample, hosts=(tricky, *sample.hosts[1:])).with_version(3)
    made = build_slice(policy, tricky.id)
    assert content_sha256(made) == made.content_sha256
