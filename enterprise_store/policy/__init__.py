"""Per-host slices of the XE policy, merged with what each host owns; views; remote DHCP files."""

from ._dnsmasq import DHCP_RULES, remote_dnsmasq_files
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
from ._views import (
    TreeNode,
    domain_config_text,
    enclave_text,
    policy_text,
    policy_tree,
    render_tree,
)
from ._xml import (
    ENTERPRISE_TAG,
    MAX_XE_XML_BYTES,
    XE_NAMESPACE,
    enterprise_schema_text,
    parse_enterprise,
    serialize_enterprise,
)

__all__ = [
    "DHCP_RULES",
    "ENTERPRISE_TAG",
    "MAX_XE_XML_BYTES",
    "SAMPLE_HOSTS",
    "SLICE_NAMESPACE",
    "SLICE_RULES",
    "XE_NAMESPACE",
    "DomainLocal",
    "HostOwned",
    "HostSlice",
    "TreeNode",
    "build_slice",
    "domain_config_text",
    "enclave_text",
    "enterprise_schema_text",
    "host_owned",
    "merge_host_owned",
    "parse_enterprise",
    "policy_text",
    "policy_tree",
    "remote_dnsmasq_files",
    "render_tree",
    "sample_host_policies",
    "sample_xe_policy",
    "serialize_enterprise",
    "slice_policy",
]
