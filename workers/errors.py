"""The workers package's exception hierarchy."""

from __future__ import annotations


class WorkerError(Exception):
    """Base of every error raised by the workers package."""


class RegistryError(WorkerError):
    """A job, consumer or cron was registered twice or wrongly."""


class RelayError(WorkerError):
    """The outbox relay could not dispatch a batch (it retries the batch)."""
