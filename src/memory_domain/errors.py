"""Errors of the memory domain. Adapters translate driver errors into these."""

from __future__ import annotations


class MemoryDomainError(Exception):
    """Base class of every error the memory domain raises."""


class InvalidMessage(MemoryDomainError, ValueError):
    """A message (or a group id) is malformed; the message names the problem."""


class StaleVersion(MemoryDomainError):
    """A write was based on a version of the memory that is no longer current."""


class MessagesNotPending(MemoryDomainError):
    """Some messages of an update were integrated by another update in the meantime."""


class ModelError(MemoryDomainError):
    """The language model failed: transport error, timeout, or an answer that is not usable."""


class ModelUnavailable(ModelError):
    """The model server could not serve any request: unreachable, overloaded, or refusing our
    credentials or model name. It says nothing about the messages asked about."""


class InvalidRewrite(ModelError):
    """The model's answer parsed, but violates the rewrite rules (unknown ids, empty titles...)."""


class StorageUnavailable(MemoryDomainError):
    """The source-of-truth store could not be reached or refused the operation."""


class IndexUnavailable(MemoryDomainError):
    """The derived pending index (Redis) could not be reached; Postgres still holds everything."""


class LeaseLost(MemoryDomainError):
    """The update's lease on its group expired or was taken over; it must not commit."""


class NotQuarantined(MemoryDomainError, LookupError):
    """A requeue names a message that is not quarantined (unknown, pending or integrated)."""


class InvalidDistillation(ModelError):
    """The distiller's answer parsed, but breaks the evolution rules (or would wipe the memory)."""


class InvalidRollback(MemoryDomainError, ValueError):
    """A rollback names a revision the group memory cannot be restored to."""
