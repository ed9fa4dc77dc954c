"""PUT /api/v1/vms/{id}/vifs and /disks over HTTP: a new audited policy version, the VM's
MAC normalised, and every hostile value refused as problem+json naming the VM."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from enterprise_store.client import RoleRequired, XeClient
from enterprise_store.policy import sample_xe_policy
from enterprise_store.services import Principal, Services

Client = Callable[..., Awaitable[XeClient]]
VM = "EA-domu-1"


async def _put(app: FastAPI, token: str, what: str, body: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 4711))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        return await c.put(
            f"/api/v1/vms/{VM}/{what}", headers={"Authorization": f"Bearer {token}"}, json=body
        )


@pytest.fixture
async def root(as_user: Client, services: Services) -> XeClient:
    await services.policy.import_policy(Principal.system(), sample_xe_policy())
    return await as_user("root")


async def test_set_vifs_and_disks_make_audited_versions(root: XeClient, services: Services) -> None:
    version = (await root.policy.check()).version
    written = await root.policy.set_vm_vifs(
        VM, [{"bridge": "EAbr", "mac": "02:16:3E:AA:BB:CC", "ip": "172.19.1.150"}]
    )
    assert written.version == version + 1
    assert [v.model_dump() for v in written.item.vifs] == [
        {"bridge": "EAbr", "mac": "02:16:3e:aa:bb:cc", "ip": "172.19.1.150", "model": None}
    ]
    written = await root.policy.set_vm_disks(
        VM, [{"target": "/var/lib/xenon/EA/data.img", "vdev": "xvdb", "mode": "r"}]
    )
    assert written.version == version + 2
    (disk,) = written.item.disks
    assert (disk.target, disk.vdev, disk.mode, disk.format) == (
        "/var/lib/xenon/EA/data.img",
        "xvdb",
        "r",
        "raw",
    )
    # Stored: a fresh read of the database has them.
    stored = (await services.policy.current()).vm_named(VM)
    assert [v.mac for v in stored.vifs] == ["02:16:3e:aa:bb:cc"] and len(stored.disks) == 1
    got = await root.policy.get_vm(VM)
    assert got.vifs[0].bridge == "EAbr" and got.disks[0].vdev == "xvdb"
    shown = await root.policy.vm_config(VM)
    assert "# vif 1: bridge=EAbr,mac=02:16:3e:aa:bb:cc,ip=172.19.1.150" in shown
    # Audited, with their own actions.
    actions = {r.action for r in (await root.list_audit(limit=20)).items}
    assert {"policy.vm.vifs", "policy.vm.disks"} <= actions
    # [] removes them.
    assert (await root.policy.set_vm_vifs(VM, [])).item.vifs == []
    assert (await root.policy.set_vm_disks(VM, [])).item.disks == []


async def test_an_auditor_is_refused(root: XeClient, as_user: Client) -> None:
    aud = await as_user("aud", "auditor")
    with pytest.raises(RoleRequired, match=r"policy\.vm\.vifs needs the operator role"):
        await aud.policy.set_vm_vifs(VM, [{"bridge": "EAbr"}])
    with pytest.raises(RoleRequired, match=r"policy\.vm\.disks needs the operator role"):
        await aud.policy.set_vm_disks(VM, [{"target": "/a.img", "vdev": "xvdb"}])
    assert (await root.policy.get_vm(VM)).vifs == []


_HOSTILE_VIFS = [
    ({"bridge": "EAbr'"}, "bridge"),
    ({"bridge": "EA\nbr"}, "control characters"),
    ({"bridge": "EA,br"}, "bridge"),
    ({"bridge": "brüdge"}, "bridge"),
    ({"bridge": "EAbr", "mac": "01:00:5e:00:00:01"}, "multicast"),
    ({"bridge": "EAbr", "mac": "00:16:3e:00:00:01,script=x"}, "six hex pairs"),
    ({"bridge": "EAbr", "ip": "172.19.1.5 script=/tmp/x"}, "IPv4 or IPv6"),
    ({"bridge": "EAbr", "ip": "\u202e172.19.1.5"}, "IPv4 or IPv6"),
    ({"bridge": "EAbr", "ip": "172.19.1.5\u2028"}, "control characters"),
    ({"bridge": "EBbr"}, "allowed switches"),  # EA-domu-1 may use EAbr only
    ({"bridge": "EAbr", "model": "pcnet"}, "model: Input should be 'e1000', 'rtl8139'"),
    ({"bridge": "EAbr", "model": "e1000,script=/x"}, "model: Input should be"),
    ({"bridge": "EAbr", "model": "E1000"}, "model: Input should be"),
    ({"bridge": "EAbr", "nic": "e1000"}, "nic: Extra inputs are not permitted"),
]


@pytest.mark.parametrize(("vif", "words"), _HOSTILE_VIFS)
async def test_hostile_vifs_are_refused_naming_the_vm(
    root: XeClient, app: FastAPI, vif: dict[str, str], words: str
) -> None:
    answer = await _put(app, str(root.token), "vifs", {"vifs": [vif]})
    _refused(answer, words)
    assert (await root.policy.get_vm(VM)).vifs == []


_HOSTILE_DISKS = [
    ({"target": "/var/lib/xenon/EA/../../../etc/shadow", "vdev": "xvdb"}, ".."),
    ({"target": "/var/lib/xenon/EA/a'.img", "vdev": "xvdb"}, "absolute path"),
    ({"target": '/var/lib/xenon/EA/a".img', "vdev": "xvdb"}, "absolute path"),
    ({"target": "/var/lib/xenon/EA/a,w,xvdc.img", "vdev": "xvdb"}, "absolute path"),
    ({"target": "/var/lib/xenon/EA/a\n.img", "vdev": "xvdb"}, "control characters"),
    ({"target": "/var/lib/xenon/EA/\uff41.img", "vdev": "xvdb"}, "absolute path"),
    ({"target": "disk.img", "vdev": "xvdb"}, "absolute path"),
    ({"target": "phy:/etc/shadow", "vdev": "xvdb"}, "/dev/"),
    ({"target": "/var/lib/xenon/EA/a.img", "vdev": "sdb"}, "vdev"),
    ({"target": "/var/lib/xenon/EA/a.img", "vdev": "xvdb", "mode": "rw"}, "mode"),
    ({"target": "/var/lib/xenon/EA/a.iso", "vdev": "hdc", "cdrom": True, "mode": "w"}, "CD-ROM"),
    ({"target": "/var/lib/xenon/EA/a.iso", "vdev": "hdc", "cdrom": "yes"}, "cdrom: Input should"),
    ({"target": "/var/lib/xenon/EA/a.iso", "vdev": "hdc", "cdrom": 1}, "cdrom: Input should"),
    ({"target": "/var/lib/xenon/EA/a.img", "vdev": "xvdb", "devtype": "cdrom"}, "Extra inputs"),
]


@pytest.mark.parametrize(("disk", "words"), _HOSTILE_DISKS)
async def test_hostile_disks_are_refused_naming_the_vm(
    root: XeClient, app: FastAPI, disk: dict[str, Any], words: str
) -> None:
    answer = await _put(app, str(root.token), "disks", {"disks": [disk]})
    _refused(answer, words)
    assert (await root.policy.get_vm(VM)).disks == []


async def test_a_vif_model_and_a_cdrom_are_stored_shown_and_cleared(
    root: XeClient, services: Services
) -> None:
    """Issue #13: an HVM VIF's NIC model and a CD-ROM disk (refused as unknown fields
    before); a CD-ROM without a mode is read-only."""
    written = await root.policy.set_vm_vifs(VM, [{"bridge": "EAbr", "model": "rtl8139"}])
    assert written.item.vifs[0].model == "rtl8139"
    iso = {"target": "/var/lib/xenon/EA/install.iso", "vdev": "hdc", "cdrom": True}
    written = await root.policy.set_vm_disks(VM, [iso])
    (disk,) = written.item.disks
    assert (disk.cdrom, disk.mode, disk.format) == (True, "r", "raw")
    # Stored in the database (a fresh read) and in the VM the API shows.
    stored = (await services.policy.current()).vm_named(VM)
    assert stored.vifs[0].model == "rtl8139" and stored.disks[0].cdrom
    got = await root.policy.get_vm(VM)
    assert got.vifs[0].model == "rtl8139" and got.disks[0].cdrom
    # View domain config names both (EA-domu-1 is PV: the model is HVM only).
    shown = await root.policy.vm_config(VM)
    assert "# disk 1: /var/lib/xenon/EA/install.iso,raw,hdc,r,devtype=cdrom" in shown
    assert "(model rtl8139: HVM only)" in shown
    # Set again without them: gone.
    written = await root.policy.set_vm_vifs(VM, [{"bridge": "EAbr"}])
    assert written.item.vifs[0].model is None
    written = await root.policy.set_vm_disks(VM, [{**iso, "cdrom": False}])
    assert (written.item.disks[0].cdrom, written.item.disks[0].mode) == (False, "w")


async def test_more_vifs_than_max_vifs_is_refused(root: XeClient, app: FastAPI) -> None:
    two = [{"bridge": "EAbr"}, {"bridge": "EAbr"}]  # EA-domu-1 allows one VIF
    _refused(await _put(app, str(root.token), "vifs", {"vifs": two}), "at most 1")


def _refused(answer: httpx.Response, words: str) -> None:
    assert answer.status_code in (409, 422), answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    text = problem.get("detail", "") + " ".join(
        f.get("message", "") for f in problem.get("findings") or []
    )
    # The VM is named in the message; a request the schema refuses (an unknown field)
    # names it in the problem's instance.
    assert VM in text or (problem["code"] == "invalid_input" and VM in problem["instance"])
    assert words in text, problem
