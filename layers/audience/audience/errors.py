"""Domain errors: what went wrong in the caller's terms, independent of HTTP.

The API maps each class to one status code and SPEC's error body
(``{"error": {"code", "message", "details": [{"path", "message"}]}}``); other handlers turn them into
job errors. Storage and use cases raise only these for anything a caller caused.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base class; ``code`` is the stable machine-readable name, ``details`` optional path/message pairs."""

    code = "error"
    status = 400

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: list[dict[str, Any]] = list(details or [])

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class BadRequest(DomainError):
    """Malformed input that never reached validation (bad token, unreadable body)."""

    code = "bad_request"
    status = 400


class NotFound(DomainError):
    """The item does not exist for this tenant (another tenant's item is indistinguishable)."""

    code = "not_found"
    status = 404


class Conflict(DomainError):
    """The request contradicts the stored state (duplicate, still referenced, wrong segment type)."""

    code = "conflict"
    status = 409


class PreconditionFailed(DomainError):
    """``If-Match`` named a version that is no longer current; nothing was written."""

    code = "precondition_failed"
    status = 412


class TooLarge(DomainError):
    """The request or file exceeds a documented size limit."""

    code = "too_large"
    status = 413


class ValidationFailed(DomainError):
    """Content is well-formed but invalid; ``details`` name every offending JSON path."""

    code = "validation_failed"
    status = 422
