"""Per-host slices of the XE policy, merged with what each host owns; views; remote DHCP files."""

from ._sample import SAMPLE_HOSTS, sample_host_policies, sample_xe_policy
from ._slice import (
    SLICE_NAMESPACE,
    SLICE_RULES,
    DomainLocal,
    HostOwned,
    HostSlice,
    build_slice,
    host_owned,
    merge_host_owned,
    slice_policy,
)

__all__ = [
    "SAMPLE_HOSTS",
    "SLICE_NAMESPACE",
    "SLICE_RULES",
    "DomainLocal",
    "HostOwned",
    "HostSlice",
    "build_slice",
    "host_owned",
    "merge_host_owned",
    "sample_host_policies",
    "sample_xe_policy",
    "slice_policy",
]
