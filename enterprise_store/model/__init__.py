"""The XE policy model: hosts, enclaves, SecLabels, VMs, conflict sets; canonical JSON (§4.2)."""

from ._json import (
    MAX_JSON_BYTES,
    policy_from_dict,
    policy_from_json,
    policy_sha256,
    policy_to_dict,
    policy_to_json,
)
from ._policy import EnterprisePolicy, XeObject
from ._types import (
    DEFAULT_XPS_PORT,
    RGB,
    Assignment,
    ConflictSet,
    CpuFacts,
    DhcpServer,
    Enclave,
    Host,
    HostSwitch,
    NetworkRestrictions,
    SecLabel,
    Vm,
    VmDisk,
    VmVif,
)

__all__ = [
    "DEFAULT_XPS_PORT",
    "MAX_JSON_BYTES",
    "RGB",
    "Assignment",
    "ConflictSet",
    "CpuFacts",
    "DhcpServer",
    "Enclave",
    "EnterprisePolicy",
    "Host",
    "HostSwitch",
    "NetworkRestrictions",
    "SecLabel",
    "Vm",
    "VmDisk",
    "VmVif",
    "XeObject",
    "policy_from_dict",
    "policy_from_json",
    "policy_sha256",
    "policy_to_dict",
    "policy_to_json",
]
