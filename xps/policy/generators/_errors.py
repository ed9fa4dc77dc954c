"""The generators' error: a policy that cannot be turned into a safe configuration.

::

    PolicyError(errors.XenonError)   policy.error       the root of :mod:`xps.policy`
    └── GeneratorError               policy.generator   ``policy.generator.<reason>`` per
                                                        instance
"""

from __future__ import annotations

from .._errors import PolicyError

__all__ = ["GeneratorError"]


class GeneratorError(PolicyError):
    """The policy cannot be rendered into a configuration file without weakening it.

    ``code`` is ``policy.generator.<reason>`` (``no-boot``, ``forbidden-option``,
    ``unsafe-value``, …); the message names the domain, switch or key at fault.
    """

    code = "policy.generator"


def fail(reason: str, message: str) -> GeneratorError:
    """Builds a :class:`GeneratorError` with code ``policy.generator.<reason>``."""
    return GeneratorError(message, code=f"policy.generator.{reason}")
