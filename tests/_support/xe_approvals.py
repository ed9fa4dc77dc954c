"""Two-person approval set-ups for the Enterprise console's tests (issue #14 §4), on the
``world`` fixture's XE services: :func:`alice` (a second admin, logged in), and
:func:`alice_changes_a_vm` (Enclave A then requires approval and alice's change of its VM
waits); :func:`open_approvals` opens ``V`` in a running console and waits for its list."""

from __future__ import annotations

from typing import Any

from enterprise_store.services import NewUser, Principal, Role
from tests._support.console import wait_for
from tests._support.xe_console import PASSWORD, World
from xenon_tui.screens._xe_approvals import XeApprovalsScreen


async def alice(world: World) -> Principal:
    """A second admin, ``alice``, created and logged in (her principal)."""
    services = world.services
    await services.users.create_user(
        Principal.system(), NewUser(name="alice", role=Role.ADMIN, password=PASSWORD)
    )
    session = await services.users.login("alice", PASSWORD, source="192.0.2.5")
    return await services.users.authenticate(session.token, source="192.0.2.5")


async def alice_changes_a_vm(world: World) -> int:
    """Alice turns approval on for EA-domu-1's enclave and gives the VM 256 MiB more;
    returns the version that waits for an admin other than alice."""
    services = world.services
    by = await alice(world)
    vm = (await services.policy.current()).vm_named("EA-domu-1")
    await services.policy.update_enclave(by, vm.enclave, {"requires_approval": True})
    bigger = {"memory_mb": vm.memory_mb + 256, "maxmem_mb": vm.maxmem_mb + 256}
    return (await services.policy.update_vm(by, vm.id, bigger)).version


async def open_approvals(pilot: Any, app: Any) -> XeApprovalsScreen:
    """``V``: the Approvals screen, once it has read XE's answer."""
    await pilot.press("V")
    await wait_for(pilot, lambda: isinstance(app.screen, XeApprovalsScreen), 30)
    screen = app.screen
    assert isinstance(screen, XeApprovalsScreen)
    await wait_for(pilot, lambda: screen.loads > 0, 30)
    return screen
