"""Errors of the SDK and the CLI, each a sentence a person can act on (the CLI prints it without a traceback)."""

from __future__ import annotations


class ClientError(RuntimeError):
    """Anything the SDK cannot do; the message says what went wrong and what to do about it."""


class ConfigError(ClientError):
    """No usable kubeconfig, context or credentials."""


class ApiError(ClientError):
    """The API server refused a request; `status` is the HTTP status, `reason` the Kubernetes Status reason."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        self.status, self.reason = status, reason
        super().__init__(message)


class NotFound(ApiError):
    """404: the object (or its namespace, or the CRD) does not exist."""


class Forbidden(ApiError):
    """403: RBAC does not let this user do it."""


class Conflict(ApiError):
    """409: the object already exists, or changed since it was read."""
