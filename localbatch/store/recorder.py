"""The store's event listener, for a store that may stop accepting writes for a while.

When the state directory's disk fills up (or turns read-only) the store cannot record an
event; dropping it would leave a job Running in the store although it ended. The recorder
keeps such events, in order, and writes them as soon as it can again: on the next event,
and every `retry_every` seconds meanwhile. One line says when recording stops and one when
it catches up. What is still not written at `close` is said too: those jobs are recovered
at the next start (as after a crash).
"""

from __future__ import annotations

import logging
import threading
from collections import deque

from localbatch.events import Event
from localbatch.store.db import Store
from localbatch.unwritable import StoreUnwritable

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0


class EventRecorder:
    """EventBus listener: `store.on_event`, with the events it cannot write kept for later."""

    def __init__(self, store: Store, retry_every: float = RETRY_SECONDS) -> None:
        self.store = store
        self.retry_every = retry_every
        self._pending: deque[Event] = deque()
        self._lock = threading.Lock()
        self._failure: StoreUnwritable | None = None
        self._closing = threading.Event()
        self._retrier: threading.Thread | None = None

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._pending.append(event)
            self._flush()

    @property
    def pending(self) -> int:
        """Events not recorded yet."""
        return len(self._pending)

    @property
    def failure(self) -> StoreUnwritable | None:
        """Why the store refuses writes, while it does."""
        return self._failure

    def _flush(self) -> None:
        """Write what waits, in order (the lock is held); stop at the first refusal."""
        written = 0
        while self._pending:
            try:
                self.store.on_event(self._pending[0])
            except StoreUnwritable as exc:
                if self._failure is None:
                    log.warning(
                        "%s; events are kept and recorded once it can be written again", exc
                    )
                self._failure = exc
                self._start_retrier()
                return
            except Exception:
                self._pending.popleft()  # not a full disk: not kept (the bus logs it)
                raise
            self._pending.popleft()
            written += 1
        if self._failure is not None:
            log.warning(
                "the job store in %s records again (%d waiting events recorded)",
                self._failure.directory,
                written,
            )
            self._failure = None

    def _start_retrier(self) -> None:
        if self._retrier is None or not self._retrier.is_alive():
            self._retrier = threading.Thread(target=self._retry, name="store-retry", daemon=True)
            self._retrier.start()

    def _retry(self) -> None:
        while not self._closing.wait(self.retry_every):
            with self._lock:
                self._flush()
                if not self._pending:
                    return

    def flush(self) -> bool:
        """Try to write what waits now; True when nothing waits any more."""
        with self._lock:
            self._flush()
            return not self._pending

    def close(self) -> None:
        """A last try; events still not written are said (their jobs are recovered at the
        next start, as after a crash)."""
        self._closing.set()
        if self._retrier is not None:
            self._retrier.join(timeout=5)
        if not self.flush() and self._failure is not None:
            jobs = sorted({event.job_id for event in self._pending})
            log.error(
                "%s: %d events of %s were not recorded; the next `localbatch serve` or "
                "`localbatch start` recovers these jobs",
                self._failure,
                len(self._pending),
                ", ".join(jobs),
            )
