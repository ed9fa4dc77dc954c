"""Widgets of the console."""

from xenon_tui.widgets._band import ModeBand
from xenon_tui.widgets._domains import DomainsTable
from xenon_tui.widgets._servers import ServersPanel
from xenon_tui.widgets._violation_log import ViolationLog

__all__ = ["DomainsTable", "ModeBand", "ServersPanel", "ViolationLog"]
