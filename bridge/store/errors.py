"""The store's own exceptions: whatever the backend (sqlite3 today), callers
see only these. Each message is one line an installer can act on."""

from __future__ import annotations


class StoreError(Exception):
    """The store cannot be opened or used; the message says why."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or written just now: locked by another
    writer past the timeout, a disk that is full or failing, a file or folder
    this user may not write. The same write may succeed later."""


class ReadOnlyStore(StoreUnavailable):
    """A write to a store opened read-only, or to a file nobody may write."""


class ConstraintViolation(StoreError):
    """A write the schema refuses (a CHECK, UNIQUE or foreign key, or a rule a
    trigger enforces): the same write fails the same way."""


class SchemaMismatch(StoreError):
    """The store's schema is not the one this textback reads: an older one
    (``textback run`` upgrades it) or a newer one (upgrade textback)."""

    def __init__(self, message: str, *, found: int, current: int):
        super().__init__(message)
        self.found = found  # the store's schema version
        self.current = current  # this code's

    @property
    def older(self) -> bool:
        return self.found < self.current
