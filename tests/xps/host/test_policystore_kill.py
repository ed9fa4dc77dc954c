"""Activation survives SIGKILL at random points: the active policy is always one whole version.

A forked child opens a sim host on a state directory and activates two policies in a tight
loop; the parent kills it with SIGKILL after a random delay, then "restarts": it opens a
host on the same directory (a fresh simulated MSM) and checks the result.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import signal
from pathlib import Path

from tests._support.xps import sim_config
from xps import msm
from xps.host import Host, HostConfig
from xps.host._convert import jsonable
from xps.policy import Policy, parse_policy, sample_policy, serialize_policy, to_msm_objects

ROUNDS = 20


def _variant(rate: int) -> Policy:
    base = sample_policy()
    label = base.seclabel_named("EA-seclabel")
    return base.with_seclabel(label.__class__(**{**label.__dict__, "max_rate": rate}))


def _canon(obj: object) -> str:
    return type(obj).__name__ + json.dumps(jsonable(obj), sort_keys=True)


def _config(state: Path) -> HostConfig:
    return sim_config(state, stats_interval_s=60.0, sim_slice_ms=50)


async def _child(state: Path, versions: list[bytes], ready_fd: int) -> None:
    host = await Host.open(_config(state))
    os.write(ready_fd, b"r")
    i = 0
    while True:
        await host.stage_policy(xml=versions[i % 2].decode())
        await host.activate_policy()
        os.write(ready_fd, b"a")  # one whole activation done
        i += 1


def _run_child(state: Path, versions: list[bytes], delay: float, after_one: bool) -> None:
    """Forks the activating child and kills it ``delay`` s after it is ready (or, with
    ``after_one``, after its first whole activation: on a loaded machine one activation
    can take longer than every random delay, and the test must still see one complete)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        try:
            os.close(read_fd)
            asyncio.run(_child(state, versions, write_fd))
        finally:
            os._exit(0)
    os.close(write_fd)
    try:
        assert os.read(read_fd, 1) == b"r", "child failed before it was ready"
        if after_one:
            assert os.read(read_fd, 1) == b"a", "child failed before its first activation"
        asyncio.run(asyncio.sleep(delay))
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read_fd)


async def _check(state: Path, known: dict[str, Policy]) -> int:
    host = await Host.open(_config(state))
    try:
        active = await host.get_policy("active")
        data = active["xml"].encode()
        sha = hashlib.sha256(data).hexdigest()
        assert sha in known, "active policy is not one of the versions written"
        assert active["sha256"] == sha
        policy = parse_policy(data)
        assert policy == known[sha]
        ctx = host._msm
        assert ctx is not None
        in_msm = {_canon(o) for t in msm.ObjType for o in ctx.policy(t)}
        assert in_msm == {_canon(o) for o in to_msm_objects(policy)}
        state_doc = json.loads((state / "policy" / "state.json").read_bytes())
        assert state_doc["active_sha256"] == sha
        if (state / "policy" / "previous.xml").exists():
            prev = (state / "policy" / "previous.xml").read_bytes()
            assert hashlib.sha256(prev).hexdigest() in known
        leftovers = {p.name for p in (state / "policy").iterdir()}
        assert not leftovers & {"incoming.xml", "activating.json"}
        generation: int = active["generation"]
        return generation
    finally:
        await host.close()


def test_sigkill_during_activation_never_mixes_versions(tmp_path: Path) -> None:
    state = tmp_path / "state"
    a, b = _variant(1111), _variant(2222)
    versions = [serialize_policy(a), serialize_policy(b)]
    known = {hashlib.sha256(serialize_policy(p)).hexdigest(): p for p in (sample_policy(), a, b)}
    rng = random.Random(20260101)
    generations = [0]
    for round_ in range(ROUNDS):
        _run_child(state, versions, rng.uniform(0.0, 0.08), after_one=round_ % 4 == 3)
        generations.append(asyncio.run(_check(state, known)))
    assert generations == sorted(generations), "generation went backwards"
    assert generations[-1] > 1, "the child never completed an activation"
