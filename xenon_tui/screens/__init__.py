"""The console's screens, one per mode: today the host console (XPS servers); the
enterprise console (XE) joins it. Screens own their state and run the flows."""

from xenon_tui.screens._host import HostConsole

__all__ = ["HostConsole"]
