"""The ``--wait`` status display on stderr.

On a terminal, one status line (job id, status, elapsed time) is rewritten in place
several times a second; anywhere else (a pipe, a CI log), one line is written per
status change, so logs stay readable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import IO, Any

__all__ = ["Progress"]


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:d}:{secs:02d}"


class Progress:
    """Shows a job's status while a waiter polls it; ``update`` is the waiter's
    ``on_progress`` callback."""

    def __init__(
        self,
        stream: IO[str],
        job_id: str,
        *,
        live: bool,
        clock: Callable[[], float] = time.monotonic,
        refresh: float = 0.2,
    ) -> None:
        self.stream = stream
        self.job_id = job_id
        self.live = live
        self.clock = clock
        self.started = clock()
        self.status = "SUBMITTED"
        self._seen: str | None = None
        self._refresh = refresh
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Progress:
        if self.live:
            self._draw()
            self._thread = threading.Thread(target=self._tick, name="cmclient-progress",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, props: Any) -> None:
        status = props.job_status
        status = str(getattr(status, "value", status) or "UNKNOWN")
        with self._lock:
            self.status = status
        if self.live:
            self._draw()
        elif status != self._seen:
            self._line(f"{self.job_id}\t{status}\t{_elapsed(self.clock() - self.started)}\n")
        self._seen = status

    def close(self) -> None:
        """Stop redrawing; a live line is ended with a newline so the next output
        starts on a line of its own."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self._draw()
            self._line("\n")

    def _tick(self) -> None:
        while not self._stop.wait(self._refresh):
            self._draw()

    def _draw(self) -> None:
        with self._lock:
            text = (f"Job {self.job_id}  {self.status}  "
                    f"elapsed {_elapsed(self.clock() - self.started)}")
        # \r back to column 0, ESC[K clears what a longer previous line left behind.
        self._line(f"\r{text}\x1b[K")

    def _line(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # the terminal went away
            pass
