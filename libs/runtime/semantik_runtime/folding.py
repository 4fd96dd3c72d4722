"""A read model folded from an application's notification log (SPEC §3): what this
process saves is folded at once, and anything else is read from the log in order."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Recording

#: Notifications read from the log at a time.
PAGE = 500


class FoldedLog(ABC):
    """Subclasses fold one domain event in ``_apply``; ``_folded`` runs after a batch."""

    def __init__(self, app: Application[UUID]) -> None:
        self.app = app
        self.position = 0
        self._lock = threading.Lock()
        self._doubted = False

    def catch_up(self) -> None:
        """Fold every notification after the last one folded."""
        with self._lock:
            while True:
                batch = self.app.recorder.select_notifications(self.position + 1, PAGE)
                for notification in batch:
                    self._apply(self.app.mapper.to_domain_event(notification))
                    self.position = notification.id
                if len(batch) < PAGE:
                    break
            self._folded()

    def record(self, recordings: list[Recording[UUID]]) -> None:
        """Fold what this process just saved, without reading it back when it follows
        what was folded; otherwise (another writer in between) catch up from the log."""
        with self._lock:
            ids = [r.notification.id for r in recordings]
            if ids and ids == list(range(self.position + 1, self.position + 1 + len(ids))):
                for recording in recordings:
                    self._apply(recording.domain_event)
                self.position = ids[-1]
                self._folded()
                return
        self.catch_up()

    def doubt(self) -> None:
        """A save raised, and may have landed all the same: the store's connection can be
        cut after it committed (a database restarted). ``record`` catches up at the next
        save's gap, but none may come (a redelivered event finds its effect stored and
        saves nothing); ``reconcile``, called periodically, folds the log then."""
        self._doubted = True

    def reconcile(self) -> None:
        """Catch up from the log if a save was doubted since the last catch-up (cheap
        otherwise: nothing is read)."""
        if self._doubted:
            self.catch_up()
            self._doubted = False

    @abstractmethod
    def _apply(self, domain_event: Any) -> None:
        """Fold one domain event into the read model."""

    def _folded(self) -> None:  # noqa: B027 - an optional hook; most read models need none
        """After each batch is folded (indexes built from the whole model)."""
