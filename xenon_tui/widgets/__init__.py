"""Widgets of the console."""

from xenon_tui.widgets._advanced import AdvancedView
from xenon_tui.widgets._band import ModeBand
from xenon_tui.widgets._domains import DomainsTable
from xenon_tui.widgets._notice import NoticeStrip
from xenon_tui.widgets._perf import PerfView
from xenon_tui.widgets._policy_view import PolicyView
from xenon_tui.widgets._servers import ServersPanel
from xenon_tui.widgets._violation_log import ViolationLog

__all__ = [
    "AdvancedView",
    "DomainsTable",
    "ModeBand",
    "NoticeStrip",
    "PerfView",
    "PolicyView",
    "ServersPanel",
    "ViolationLog",
]
