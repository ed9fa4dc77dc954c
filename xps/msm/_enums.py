"""Integer enumerations mirroring the enums and flag values of ``native/include/msm.h``."""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "Backend",
    "ChannelKind",
    "ConflictLevel",
    "Decision",
    "GuestOS",
    "GuestType",
    "Misbehaviour",
    "ObjType",
    "Role",
    "Rule",
    "RunState",
    "ShutdownReason",
    "Status",
    "ViolationKind",
]


class Status(IntEnum):
    """``msm_status``: the return code of every entry point (0 is success)."""

    OK = 0
    EINVAL = 1
    ESIZE = 2
    ERANGE = 3
    ENOENT = 4
    EEXIST = 5
    ENOSPC = 6
    ENOMEM = 7
    ESTATE = 8
    ENOLABEL = 9
    ECONFLICT = 10
    EVIOLATIONS = 11
    EDENIED = 12
    EVALIDATE = 13
    EBUSY = 14
    ENOSYS = 15
    ENOXEN = 16
    ENOMSM = 17
    EIO = 18
    EVERSION = 19

    @property
    def code(self) -> str:
        """The stable C name of the status, e.g. ``"MSM_ECONFLICT"``."""
        return f"MSM_{self.name}"


class Backend(IntEnum):
    """``msm_backend``: which hypervisor sits behind a context."""

    SIM = 1
    XEN = 2


class ObjType(IntEnum):
    """``msm_objtype``: the kinds of policy object a transaction stages."""

    PROFILE = 1
    TAG = 2
    CONFLICT = 3
    SECLABEL = 4
    BINDING = 5
    DEVICE = 6


class ConflictLevel(IntEnum):
    """``msm_conflict_level``: what a conflict set forbids between its tags."""

    NO_CORESIDENCE = 1
    NO_COMMUNICATION = 2


class Role(IntEnum):
    """``msm_role``: the guest role a SecLabel grants."""

    NONE = 0
    NETWORK_DRIVER = 1
    STORAGE_DRIVER = 2
    SECURITY = 3


class Rule(IntEnum):
    """``msm_rule``: the commit validation rule that refused a staged policy."""

    NONE = 0
    DANGLING_PROFILE = 1
    DANGLING_TAG = 2
    DANGLING_SECLABEL = 3
    DUPLICATE_NAME = 4
    RUNNING_UNLABELLED = 5
    CONFLICT = 6
    DEVICE_TAG = 7
    LIMIT = 8


class Decision(IntEnum):
    """``msm_decision``: the verdict on one hypercall or channel."""

    ALLOW = 0
    DENY_PROFILE = 1
    DENY_RATE = 2
    DENY_CHANNEL = 3


class ViolationKind(IntEnum):
    """``msm_violation_kind``: why a violation record was written."""

    PROFILE = 1
    RATE = 2
    CHANNEL = 3


class ChannelKind(IntEnum):
    """``msm_channel_kind``: the inter-domain channel being set up."""

    EVTCHN = 1
    GRANT = 2


class GuestType(IntEnum):
    """``msm_guest_type``: the virtualisation mode of a domain."""

    PV = 1
    PVH = 2
    PVHVM = 3
    HVM = 4


class GuestOS(IntEnum):
    """``msm_guest_os``: the guest operating system family."""

    LINUX = 1
    WINDOWS = 2


class RunState(IntEnum):
    """``msm_run_state``: the lifecycle state of a live domain."""

    RUNNING = 1
    PAUSED = 2
    SHUTDOWN = 3


class ShutdownReason(IntEnum):
    """Xen shutdown reasons (``public/sched.h``); the module accepts 0..5."""

    POWEROFF = 0
    REBOOT = 1
    SUSPEND = 2
    CRASH = 3
    WATCHDOG = 4
    SOFT_RESET = 5


class Misbehaviour(IntEnum):
    """``msm_misbehaviour``: faults the sim workload can inject into a domain."""

    OUT_OF_PROFILE = 1
    RATE_BURST = 2
    CROSS_TAG = 3
