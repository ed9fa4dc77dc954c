"""The xen backend through an injected privcmd ioctl: errors and the xsm_op wire format."""

from __future__ import annotations

import ctypes
import struct
import uuid
from pathlib import Path

import pytest

from xps.msm import (
    Binding,
    Device,
    DomainConfig,
    HypercallFailed,
    Msm,
    NoMsm,
    NotSupported,
    NoXen,
    ObjType,
    Role,
    SecLabel,
    Tag,
    VersionMismatch,
)

HDR = struct.Struct("<IIIIiI")  # msm_xen_hdr
MAGIC, VERSION, IOCTL_HYPERCALL, XSM_OP = 0x4D534D00, 0x00010003, 0x00305000, 27
GET_VERSION, GET_INFO, TXN_BEGIN, TXN_PUT, TXN_DELETE, TXN_COMMIT = 1, 2, 3, 4, 5, 6


class FakeHypervisor:
    """Plays a Xen with the MSM module behind ``ioctl(fd, IOCTL_PRIVCMD_HYPERCALL, &call)``."""

    def __init__(self, version: int = VERSION, status: int = 0) -> None:
        self.version = version
        self.status = status
        self.calls: list[tuple[int, int, int, tuple[int, ...], bytes]] = []

    def __call__(self, fd: int, request: int, arg: int) -> int:
        op, buf, *rest = struct.unpack("<6Q", ctypes.string_at(arg, 48))
        assert rest == [0, 0, 0, 0]
        hdr = HDR.unpack(ctypes.string_at(buf, HDR.size))
        payload = ctypes.string_at(buf + HDR.size, hdr[3])
        self.calls.append((fd, request, op, hdr, payload))
        if hdr[2] == GET_VERSION:
            ctypes.memmove(buf + HDR.size, struct.pack("<I", self.version), 4)
        elif hdr[2] == GET_INFO:  # msm_info: interface_version, backend, generation
            ctypes.memmove(buf + HDR.size, struct.pack("<IIQ", VERSION, 2, 5), 16)
        ctypes.memmove(buf + 16, struct.pack("<i", self.status if hdr[2] != GET_VERSION else 0), 4)
        return 0


def test_missing_device_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "privcmd"
    with pytest.raises(NoXen) as info:
        Msm.open_xen(path)
    assert str(path) in str(info.value)
    assert info.value.code == "MSM_ENOXEN"
    with pytest.raises(NoXen, match="/dev/xen/privcmd"):
        Msm.open_xen()


def test_hypervisor_without_msm() -> None:
    with pytest.raises(NoMsm) as info:
        Msm.open_xen(ioctl=lambda fd, req, arg: -38)
    assert "no MSM module" in str(info.value)
    with pytest.raises(NoMsm):
        Msm.open_xen(ioctl=lambda fd, req, arg: -22)
    with pytest.raises(HypercallFailed):
        Msm.open_xen(ioctl=lambda fd, req, arg: -13)


def test_version_mismatch_and_raising_ioctl() -> None:
    with pytest.raises(VersionMismatch):
        Msm.open_xen(ioctl=FakeHypervisor(version=0x00020000))

    def boom(fd: int, req: int, arg: int) -> int:
        raise RuntimeError("injected failure")

    with pytest.raises(HypercallFailed) as info:
        Msm.open_xen(ioctl=boom)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_put_is_encoded_as_an_xsm_op_payload() -> None:
    hv = FakeHypervisor()
    tag = Tag(uuid.UUID("00112233-4455-6677-8899-aabbccddeeff"), "secret")
    label = SecLabel(uuid.uuid4(), "web", uuid.uuid4(), tag.id, Role.NETWORK_DRIVER, 250, 9)
    with Msm.open_xen(ioctl=hv) as msm:
        txn = msm.transaction(empty=True)
        txn.put(tag)
        txn.put(label)
        txn.put(Device(0x0300, tag.id))
        txn.delete(ObjType.BINDING, label.id)
        assert txn.commit() == 5
    fds = {c[0] for c in hv.calls}
    assert fds == {-1}  # an injected ioctl gets no device
    assert {(c[1], c[2]) for c in hv.calls} == {(IOCTL_HYPERCALL, XSM_OP)}
    hdrs = [c[3] for c in hv.calls]
    assert all(h[0] == MAGIC and h[1] == VERSION and h[4] == 0 and h[5] == 0 for h in hdrs)
    cmds = [h[2] for h in hdrs]
    assert cmds == [
        GET_VERSION,
        TXN_BEGIN,
        TXN_PUT,
        TXN_PUT,
        TXN_PUT,
        TXN_DELETE,
        TXN_COMMIT,
        GET_INFO,
    ]
    assert hv.calls[1][4] == struct.pack("<II", 1, 0)  # flags EMPTY
    # Objects travel as msm_xen_obj {type, size} + the msm.h struct, byte for byte.
    tag_bytes = tag.id.bytes + b"secret".ljust(64, b"\0")
    assert hv.calls[2][4] == struct.pack("<II", 2, 80) + tag_bytes
    label_bytes = struct.pack(
        "<16s64s16s16sIIII", label.id.bytes, b"web", label.profile.bytes, tag.id.bytes, 1, 250, 9, 0
    )
    assert hv.calls[3][4] == struct.pack("<II", 4, 128) + label_bytes
    assert hv.calls[4][4] == struct.pack("<II", 6, 24) + struct.pack(
        "<II16s", 0x300, 0, tag.id.bytes
    )
    assert hv.calls[5][4] == struct.pack("<II16s", 5, 0, label.id.bytes)
    assert hv.calls[6][4] == bytes(48)  # msm_commit_error, out: sent as zeros


def test_refusal_status_comes_back_as_the_error() -> None:
    hv = FakeHypervisor()
    with Msm.open_xen(ioctl=hv) as msm:
        hv.status = 14  # MSM_EBUSY from the hypervisor
        with pytest.raises(Exception) as info:
            msm.transaction()
        assert getattr(info.value, "code", None) == "MSM_EBUSY"
        hv.status = 0
        with pytest.raises(NotSupported):
            msm.create_domain(DomainConfig(uuid.uuid4(), "x"))
        with pytest.raises(NotSupported):
            msm.run(1000)
        assert Binding(uuid.uuid4(), uuid.uuid4())  # objects need no context
