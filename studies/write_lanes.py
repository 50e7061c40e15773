"""The tracker's writes made off Tune's loop: Tune runs its callbacks one at a time in the driver's main thread,
so a write that waits on the tracking server there holds up every trial's next result and the scheduling of the
next trial. With lanes, a callback only queues its write and returns.

Each lane is a thread with a FIFO queue; every write of a run goes to the same lane (chosen by the run's key), so a
run's records keep their order (the run is created before its metrics, its epochs in order, closed last) while
other runs' writes go on beside it. ``flush()`` waits for every queued write; the launcher flushes before it reads
the store or decides what ended. A write that fails (other than an outage, which the tracker waits out and
journals) is raised at the next ``submit`` or ``flush``, in the driver's main thread, as it was before.

The queue is bounded (``max_pending`` writes, 64 a lane): when the trials report faster than the tracking server
takes their records, ``submit`` waits for room, so Tune's loop slows to the server's pace instead of letting a
backlog grow without end (bench/scale.py: 10,000 trials of 1 s epochs at 64 concurrent on 2 cores left minutes of
records queued when the trials had ended).
"""
from __future__ import annotations

import logging
import queue
import threading
import zlib
from collections.abc import Callable

logger = logging.getLogger(__name__)

_CLOSE = object()


PENDING_PER_LANE = 64


class WriteLanes:
    def __init__(self, lanes: int, max_pending: int | None = None) -> None:
        if lanes < 1:
            raise ValueError(f"lanes must be at least 1, got {lanes}")
        self.max_pending = PENDING_PER_LANE * lanes if max_pending is None else max_pending
        if self.max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {self.max_pending}")
        self._queues: list[queue.SimpleQueue] = [queue.SimpleQueue() for _ in range(lanes)]
        self._pending = 0
        self._done = threading.Condition()
        self._errors: list[BaseException] = []
        self._local = threading.local()
        self._threads = [threading.Thread(target=self._work, args=(q,), name=f"sedstudy-writes-{i}", daemon=True)
                         for i, q in enumerate(self._queues)]
        for thread in self._threads:
            thread.start()

    @property
    def on_lane(self) -> bool:
        """Whether the caller is one of the lanes (a write made there runs at once)."""
        return getattr(self._local, "lane", False)

    def submit(self, key: str, write: Callable[[], object]) -> None:
        """Queue ``write`` on the lane of ``key``, once fewer than ``max_pending`` writes wait; raises the first
        failed write, if one failed."""
        self._raise_failed()
        with self._done:
            self._done.wait_for(lambda: self._pending < self.max_pending)
            self._pending += 1
        self._queues[zlib.crc32(key.encode()) % len(self._queues)].put(write)

    def flush(self) -> None:
        """Wait until every queued write is made; raises the first that failed."""
        with self._done:
            self._done.wait_for(lambda: self._pending == 0)
        self._raise_failed()

    def close(self) -> None:
        """Make what is queued, then stop the lanes (a failed write is not raised here: ``flush`` raises it)."""
        with self._done:
            self._done.wait_for(lambda: self._pending == 0)
        for q in self._queues:
            q.put(_CLOSE)
        for thread in self._threads:
            thread.join()

    @property
    def pending(self) -> int:
        return self._pending

    @property
    def failed(self) -> list[BaseException]:
        return list(self._errors)

    def _raise_failed(self) -> None:
        if self._errors:
            raise self._errors[0]

    def _work(self, lane: queue.SimpleQueue) -> None:
        self._local.lane = True
        while True:
            write = lane.get()
            if write is _CLOSE:
                return
            try:
                write()
            except BaseException as error:  # noqa: BLE001 - kept and raised in the main thread
                logger.error("a write to the tracking store failed: %s", error)
                self._errors.append(error)
            finally:
                with self._done:
                    self._pending -= 1
                    self._done.notify_all()
