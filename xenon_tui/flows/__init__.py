"""What the console does for the user, step by step: functions over a narrow Protocol.

Each flow takes a :class:`Console` (the screen that runs it), asks through dialogs, calls
daemons, raises ``ConsoleError`` subclasses (the app shows them: one worker-state
handler) and posts messages for the screen to act on. Flows never import the app.
"""

from xenon_tui.flows._auth import Authorizations
from xenon_tui.flows._console import Console, connected_address
from xenon_tui.flows._domains import (
    acknowledge_violations,
    console_user,
    domain_action,
    guest_templates,
    pause_violating_domain,
    resolve_domain,
    show_domain,
    show_guest_templates,
    vnc_text,
)
from xenon_tui.flows._edit import editable_policy, open_profile_for_violation, run_edit
from xenon_tui.flows._forms import edit_form, validator
from xenon_tui.flows._incident import Runbook, open_runbook
from xenon_tui.flows._policy import (
    activate_policy,
    export_policy,
    format_tree,
    policy_diff_text,
    rollback_policy,
    show_staged_diff,
    stage,
)
from xenon_tui.flows._profiles import export_profile, import_profiles
from xenon_tui.flows._servers import clone_server, compare_servers
from xenon_tui.flows._template import import_template
from xenon_tui.flows._timeline import incident_timeline

__all__ = [
    "Authorizations",
    "Console",
    "Runbook",
    "acknowledge_violations",
    "activate_policy",
    "clone_server",
    "compare_servers",
    "connected_address",
    "console_user",
    "domain_action",
    "edit_form",
    "editable_policy",
    "export_policy",
    "export_profile",
    "format_tree",
    "guest_templates",
    "import_profiles",
    "import_template",
    "incident_timeline",
    "open_profile_for_violation",
    "open_runbook",
    "pause_violating_domain",
    "policy_diff_text",
    "resolve_domain",
    "rollback_policy",
    "run_edit",
    "show_domain",
    "show_guest_templates",
    "show_staged_diff",
    "stage",
    "validator",
    "vnc_text",
]
