"""The XPS host layer: policy store, domains, hardware, statistics, violations, commands."""

from ._config import HostConfig
from ._errors import (
    CommandFailed,
    ConflictError,
    HostError,
    HostStateError,
    InvalidArgument,
    NoSeclabel,
    NotFound,
    NotSupported,
    PolicyInvalid,
    ViolationsUnaddressed,
)
from ._hardware import Nic, discover_hardware, discover_nics
from ._host import Host
from ._runner import CommandResult, CommandRunner, RecordedCommand, RecordingRunner
from ._xl import XlDomain, format_xl_list, parse_xl_list

__all__ = [
    "CommandFailed",
    "CommandResult",
    "CommandRunner",
    "ConflictError",
    "Host",
    "HostConfig",
    "HostError",
    "HostStateError",
    "InvalidArgument",
    "Nic",
    "NoSeclabel",
    "NotFound",
    "NotSupported",
    "PolicyInvalid",
    "RecordedCommand",
    "RecordingRunner",
    "ViolationsUnaddressed",
    "XlDomain",
    "discover_hardware",
    "discover_nics",
    "format_xl_list",
    "parse_xl_list",
]
