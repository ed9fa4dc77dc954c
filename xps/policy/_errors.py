"""The error tree of xps.policy: every error carries a stable ``code``.

::

    PolicyError(errors.XenonError)                policy.error       base
    ├── PolicyLookupError(errors.NotFound, LookupError)
    │                                             policy.not_found   no such id or name
    ├── PolicyFormatError(ValueError)             policy.format      malformed JSON/dict form
    ├── PolicyXmlError(ValueError)                policy.xml         malformed, hostile or
    │                                                                not schema-valid XML
    ├── PolicyValidationError(ValueError)         policy.invalid     semantic validation failed
    ├── FieldError                                policy.field       a JSON value refused;
    │                                                                ``path`` says where
    ├── PolicySignatureError                      policy.signature   signing or verification
    │                                                                failed
    ├── TemplateError                             policy.template    a template cannot be used
    │   └── TemplateIncomplete                    policy.template.incomplete
    │                                                                not fully instantiated
    └── GeneratorError                            policy.generator   no safe configuration

``errors`` is :mod:`xps.errors`. ``FieldError`` lives in ``_fields.py``,
``PolicySignatureError`` in ``_sign.py``, ``TemplateError`` in ``_template.py``,
``GeneratorError`` in ``generators/_errors.py``.
"""

from __future__ import annotations

from xps import errors

__all__ = [
    "PolicyError",
    "PolicyFormatError",
    "PolicyLookupError",
    "PolicyValidationError",
    "PolicyXmlError",
]


class PolicyError(errors.XenonError):
    """Base of every error raised by :mod:`xps.policy`.

    Attributes:
        code: A stable, dotted machine-readable code (``"policy.xml.syntax"``).
        message: The human-readable message (also ``str(error)``).
    """

    code: str = "policy.error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class PolicyLookupError(PolicyError, errors.NotFound, LookupError):
    """An object id or name is not present in a policy."""

    code = "policy.not_found"


class PolicyFormatError(PolicyError, ValueError):
    """A JSON/dict form of a policy is malformed (wrong type, missing key, bad UUID)."""

    code = "policy.format"


class PolicyXmlError(PolicyError, ValueError):
    """An XML policy document was refused: malformed, hostile, or not schema-valid.

    Attributes:
        line: 1-based line of the offending input, or 0 when unknown.
        column: 1-based column of the offending input, or 0 when unknown.
    """

    code = "policy.xml"

    def __init__(
        self, message: str, *, code: str | None = None, line: int = 0, column: int = 0
    ) -> None:
        where = f" (line {line}, column {column})" if line else ""
        super().__init__(message + where, code=code)
        self.line = line
        self.column = column


class PolicyValidationError(PolicyError, ValueError):
    """An operation needs a valid policy but semantic validation found errors.

    Attributes:
        findings: The error findings (``xps.policy.Finding``) that blocked it.
    """

    code = "policy.invalid"

    def __init__(self, message: str, findings: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.findings = findings
