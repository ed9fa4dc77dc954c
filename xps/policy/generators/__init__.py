"""Configuration generators: xl domain files, dnsmasq files, Open vSwitch and iptables rules."""

from ._dnsmasq import dnsmasq_tags, local_dnsmasq, remote_dnsmasq
from ._errors import GeneratorError
from ._firewall import iptables_rules, ovs_commands
from ._xlcfg import BOUNDED_EXTRA_KEYS, FORBIDDEN_EXTRA_KEYS, check_extra_option, xl_config

__all__ = [
    "BOUNDED_EXTRA_KEYS",
    "FORBIDDEN_EXTRA_KEYS",
    "GeneratorError",
    "check_extra_option",
    "dnsmasq_tags",
    "iptables_rules",
    "local_dnsmasq",
    "ovs_commands",
    "remote_dnsmasq",
    "xl_config",
]
