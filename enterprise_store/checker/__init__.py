"""The XE consistency checker: every rule of §4.2.1, conflict sets, dangling references."""

from ._check import check, check_change, require_consistent
from ._findings import MIGRATION_RULES, RULES, Finding, Severity, errors_only, refuse_errors
from ._migration import check_migration, migration_targets
from ._rules import GENERATED_XL_KEYS, name_problem

__all__ = [
    "GENERATED_XL_KEYS",
    "MIGRATION_RULES",
    "RULES",
    "Finding",
    "Severity",
    "check",
    "check_change",
    "check_migration",
    "errors_only",
    "migration_targets",
    "name_problem",
    "refuse_errors",
    "require_consistent",
]
