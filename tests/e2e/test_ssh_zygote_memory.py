"""What keeps a console forked by the zygote small: preloaded objects are immortal there
(their reference counts, and so their pages, are never written by a console)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import asyncssh
import pytest

from xenon_tui.ssh import ConsoleServer, Role, ServeConfig, UserDirectory, UserEntry
from xenon_tui.ssh._sharing import _immortal_refcount_supported

PROBE_APP = "tests.e2e.refcount_probe_app:run"
IMMORTAL = 0xFFFFFFFF
needs_immortal = pytest.mark.skipif(
    not _immortal_refcount_supported(), reason="CPython 3.12-3.14 (64-bit, GIL) only"
)


@needs_immortal
def test_immortalize_fixes_the_refcounts_of_what_the_process_holds() -> None:
    # In a child interpreter: immortal objects are never freed, so not in the test process.
    script = """
import sys
from xenon_tui.ssh._sharing import immortalize
held = {"key": [1.5, "a" * 40]}
def f(): return held
n = immortalize()
before = [sys.getrefcount(o) for o in (held, held["key"], held["key"][0], f.__code__)]
for _ in range(1000):
    g = f()
after = [sys.getrefcount(o) for o in (held, held["key"], held["key"][0], f.__code__)]
later = []
print(n, before == after, set(before), sys.getrefcount(later))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert int(out[0]) > 1000
    assert out[1] == "True"
    assert out[2] == f"{{{IMMORTAL}}}"
    assert int(out[3]) < 10  # what is made afterwards is counted as usual


async def _probe(tmp_path: Path, mode: str) -> dict[str, int]:
    key = asyncssh.generate_private_key("ssh-ed25519")
    (tmp_path / "admin.pub").write_bytes(key.export_public_key())
    config = ServeConfig(
        state_dir=tmp_path / f"state-{mode}", port=0, app=PROBE_APP, mode=mode,
        console={"servers": []},
    )  # fmt: skip
    users = UserDirectory({"admin": UserEntry("admin", Role.ADMIN, tmp_path / "admin.pub")})
    server = ConsoleServer(config, users)
    await server.start()
    try:
        async with asyncssh.connect(
            "127.0.0.1", server.port, username="admin", client_keys=[key],
            known_hosts=None, agent_path=None,
        ) as conn:  # fmt: skip
            proc = await conn.create_process(term_type="xterm", term_size=(80, 24))
            async with asyncio.timeout(60):
                result = await proc.wait()
        match = re.search(r"probe class=(\d+) code=(\d+) fresh=(\d+)", str(result.stdout))
        assert match, result.stdout
        return dict(zip(("class", "code", "fresh"), map(int, match.groups()), strict=True))
    finally:
        await server.close()


@needs_immortal
async def test_a_console_forked_by_the_zygote_finds_preloaded_objects_immortal(
    tmp_path: Path,
) -> None:
    counts = await _probe(tmp_path, "zygote")
    assert counts["class"] == IMMORTAL
    assert counts["code"] == IMMORTAL
    assert counts["fresh"] < 10


async def test_a_spawned_console_counts_references_as_usual(tmp_path: Path) -> None:
    counts = await _probe(tmp_path, "spawn")
    assert counts["code"] < IMMORTAL  # the probe tells the two apart


def test_filling_the_heap_holes_takes_the_free_blocks_of_partly_used_pools() -> None:
    script = """
import sys
from xenon_tui.ssh._sharing import _free_blocks_per_size_class, fill_heap_holes
if not _free_blocks_per_size_class():
    print("no-stats"); sys.exit()
objs = [bytes(15) for _ in range(100_000)]  # 48-byte blocks
del objs[::2]  # a hole in every other block
holes = _free_blocks_per_size_class().get(48, 0)
taken = fill_heap_holes()
print(holes, taken, _free_blocks_per_size_class().get(48, 0))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    if out == ["no-stats"]:
        pytest.skip("this Python has no pymalloc statistics")
    holes, taken, left = map(int, out)
    assert holes >= 50_000
    assert taken >= holes
    assert left < 1_000  # the pool the fillers themselves ended in


def test_the_zygote_keeps_nothing_of_its_warm_up_console() -> None:
    # Immortal objects are never freed: a console left over from the warm-up (every view
    # built) would be pinned in the zygote and in every console it forks.
    script = """
import gc
from textual.dom import DOMNode
from xenon_tui.ssh._zygote_proc import preload
preload(["xenon_tui.ssh._console"])
gc.unfreeze()
print(sum(isinstance(o, DOMNode) for o in gc.get_objects()))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert out == ["0"]


def test_the_zygote_has_parsed_the_enterprise_views_css() -> None:
    # An XE user's console opens on the Enterprise view: its widgets' CSS is parsed in the
    # zygote's warm-up (most of that session's first frame otherwise), not in every console.
    script = """
from xenon_tui.ssh import _sharing
from xenon_tui.ssh._zygote_proc import preload
from xenon_tui.screens._enterprise import EnterpriseScreen
from xenon_tui.widgets._xe_vms import XeVmTable
preload(["xenon_tui.ssh._console"])
parsed = {key[0] for key in _sharing._shared_rules}
print(EnterpriseScreen.DEFAULT_CSS in parsed, XeVmTable.DEFAULT_CSS in parsed)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert out == ["True", "True"]


def test_a_forked_xe_console_finds_what_it_runs_before_its_app_imported() -> None:
    # Between the fork and its app, an XE user's console reads its token and works out its
    # sandbox's ports (xenon_tui.ssh._xeauth): imported in every console it cost ~5 ms of
    # CPU each (tens of ms of a first frame on a loaded machine).
    script = """
import sys
import xenon_tui.ssh._zygote_proc
print("xenon_tui.ssh._xeauth" in sys.modules, "asyncssh" in sys.modules)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == ["True", "False"]  # and the zygote stays free of the SSH server's code
