"""Mixed-adapter batching: rows of concurrent calls, each with its own adapter, run together.

A ``MixedBatcher`` owns one worker thread. A caller thread that is ``attached`` to it runs any task of
``SystemModel`` as usual (``classify``, ``entities``, ``embed``, ...); where the task would run its token
rows, it hands them to the batcher and waits. The worker takes what has queued (when the batching window
has passed since the oldest row, when a batch is full, or when every attached caller is waiting: nobody
else will add rows), sorts the rows by length into batches of at most ``max_batch`` rows (none longer than
``PADDING_RATIO`` times its shortest) and runs each batch in one pass, each row with its own adapter
(``Engine.run_rows``). A row's result equals its single run when the bundle's numbers do not depend on the
batch: fp32, or int8 with per-token activation scales (``export --row-adapters``); otherwise the runtime
runs rows one by one (``SystemModel.run_ids``) and batching only saves the waiting."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..errors import MtpfError

if TYPE_CHECKING:
    from .system import Adapter, SystemModel

_ROUTE = threading.local()  # the batcher a caller thread is attached to
PADDING_RATIO = 1.25  # rows batched together are at most this much longer than the batch's shortest


class DeadlineExceeded(MtpfError):
    """A call's rows did not run before its deadline (the service answers 504)."""


@dataclass
class _Submission:
    rows: list[list[int]]
    adapter: Adapter | None
    deadline: float | None
    done: threading.Event = field(default_factory=threading.Event)
    hidden: list[np.ndarray] = field(default_factory=list)
    error: BaseException | None = None
    cancelled: bool = False
    arrived: float = field(default_factory=time.monotonic)


@dataclass
class BatchStats:
    """What the worker reports after each pass (the service's metrics)."""

    rows: int
    adapters: int
    tokens: int
    seconds: float


class MixedBatcher:
    """Groups the token rows of attached callers into mixed-adapter passes (see the module docstring)."""

    def __init__(self, system: SystemModel, window_s: float = 0.003, max_batch: int = 32,
                 on_batch=None):
        self.system = system
        self.window_s = window_s
        self.max_batch = max_batch
        self.on_batch = on_batch  # called with a BatchStats after each pass
        self._cond = threading.Condition()
        self._pending: list[_Submission] = []
        self._callers = 0  # attached callers inside a call
        self._waiting = 0  # of them, those waiting for their rows
        self._closed = False
        self._worker = threading.Thread(target=self._loop, name="mtpf-batcher", daemon=True)
        self._worker.start()

    @property
    def queued_rows(self) -> int:
        with self._cond:
            return sum(len(s.rows) for s in self._pending)

    @contextmanager
    def attached(self, deadline: float | None = None) -> Iterator[None]:
        """Inside the block, this thread's ``SystemModel`` calls hand their rows to the batcher;
        ``deadline`` (``time.monotonic()``): rows not run by then raise ``DeadlineExceeded``."""
        with self._cond:
            self._callers += 1
        saved = getattr(_ROUTE, "value", None)
        _ROUTE.value = (self, deadline)
        try:
            yield
        finally:
            _ROUTE.value = saved
            with self._cond:
                self._callers -= 1
                self._cond.notify_all()

    def submit(self, rows: list[list[int]], adapter: Adapter | None, deadline: float | None = None) -> list[np.ndarray]:
        """The hidden states [len, H] of each row (blocks until its batch has run)."""
        if not rows:
            return []
        job = _Submission(rows, adapter, deadline)
        with self._cond:
            if self._closed:
                raise MtpfError("the batcher is closed")
            self._pending.append(job)
            self._waiting += 1
            self._cond.notify_all()
        try:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not job.done.wait(timeout):
                with self._cond:
                    job.cancelled = True
                    if job in self._pending:
                        self._pending.remove(job)
                raise DeadlineExceeded(f"the call's {len(rows)} rows did not run before its deadline")
        finally:
            with self._cond:
                self._waiting -= 1
        if job.error is not None:
            raise job.error
        return job.hidden

    def close(self) -> None:
        """Run what is queued, then stop the worker."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._worker.join()

    # ------------------------------------------------------------------ worker
    def _ready(self) -> bool:
        if not self._pending:
            return False
        if self._closed or sum(len(s.rows) for s in self._pending) >= self.max_batch:
            return True
        if self._waiting >= self._callers:  # every caller waits: no more rows are coming
            return True
        return time.monotonic() >= self._oldest + self.window_s

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._ready():
                    if self._closed and not self._pending:
                        return
                    self._cond.wait(None if not self._pending else max(0.0, self._oldest + self.window_s - time.monotonic()))
                jobs, self._pending = self._pending, []
            self._run([j for j in jobs if not j.cancelled])

    @property
    def _oldest(self) -> float:
        return self._pending[0].arrived if self._pending else time.monotonic()

    def _run(self, jobs: list[_Submission]) -> None:
        rows = [(j, k) for j in jobs for k in range(len(j.rows))]
        for j in jobs:
            j.hidden = [np.empty(0)] * len(j.rows)
        rows.sort(key=lambda jk: len(jk[0].rows[jk[1]]))
        batches: list[list[tuple[_Submission, int]]] = []
        for jk in rows:
            last = batches[-1] if batches else None
            if last is None or len(last) == self.max_batch or \
                    len(jk[0].rows[jk[1]]) > PADDING_RATIO * len(last[0][0].rows[last[0][1]]):
                batches.append([jk])
            else:
                last.append(jk)
        for batch in batches:
            start = time.perf_counter()
            try:
                hidden, _ = self.system.run_rows([j.rows[k] for j, k in batch], [j.adapter for j, _ in batch])
            except BaseException as exc:  # delivered to the callers of this batch, the worker goes on
                for j, _ in batch:
                    j.error = exc
                continue
            for i, (j, k) in enumerate(batch):
                j.hidden[k] = hidden[i, : len(j.rows[k])]
            if self.on_batch is not None:
                self.on_batch(BatchStats(len(batch), len({id(j.adapter) for j, _ in batch}),
                                         sum(len(j.rows[k]) for j, k in batch), time.perf_counter() - start))
        for j in jobs:
            j.done.set()


def route() -> tuple[MixedBatcher, float | None] | None:
    """The batcher this thread is attached to, and its deadline (None: not attached)."""
    return getattr(_ROUTE, "value", None)
