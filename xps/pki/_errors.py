"""The error tree of ``xps.pki``: every failure carries a stable ``code``.

::

    PkiError(errors.XenonError)                   pki_error           base
    ├── PkiInputError(errors.InvalidArgument)     pki_invalid_input   bad name, SAN, key type,
    │                                                                 file or password
    ├── PkiFileError                              pki_file_error      missing, unreadable,
    │                                                                 unwritable file
    ├── PkiFormatError                            pki_bad_format      unparsable PEM/PKCS#12
    ├── HandshakeRefused(ssl.SSLError)            handshake_refused   a peer refused at its
    │                                                                 ClientHello (an SSLError
    │                                                                 first, for the TLS stack)
    └── AuthStoreError                            authstore_error     the store cannot be used
        ├── AuthStoreTampered                     authstore_tampered  integrity check failed
        └── AuthStoreLocked                       authstore_locked    no password to change it

``errors`` is :mod:`xps.errors`, the bases shared with the other packages' trees;
``HandshakeRefused`` lives in ``_handshake.py``.
"""

from __future__ import annotations

from xps import errors


class PkiError(errors.XenonError):
    """Base of every PKI error.

    Attributes:
        code: Stable machine-readable error code.
        message: Human-readable explanation.
    """

    code = "pki_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PkiInputError(PkiError, errors.InvalidArgument):
    """A name, SAN, key type, file or password given by the caller is invalid."""

    code = "pki_invalid_input"


class PkiFileError(PkiError):
    """A PKI file is missing, unreadable, or could not be written."""

    code = "pki_file_error"


class PkiFormatError(PkiError):
    """A PEM/PKCS#12 file cannot be parsed (or its password is wrong)."""

    code = "pki_bad_format"


class AuthStoreError(PkiError):
    """The authorization store cannot be used as asked."""

    code = "authstore_error"


class AuthStoreTampered(AuthStoreError):
    """The authorization store's integrity check failed (or the password is wrong)."""

    code = "authstore_tampered"


class AuthStoreLocked(AuthStoreError):
    """The store is integrity-protected and no password was given to change it."""

    code = "authstore_locked"
