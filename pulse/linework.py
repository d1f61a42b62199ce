"""A file's lines turned into COPY chunks, in the loading thread or in a helper process.

The per-line work (parse, the contract's checks, the COPY row) is Python and holds the
interpreter; parallel load jobs in threads of one process would take turns at it. So each
job of a parallel run hands its files to a `LineWorker`, a process of its own, while the
job's thread keeps the connection, the transaction and the load order (pulse.loader) and
only moves the bytes on. Either way the lines are judged by the same `rows`.

The worker sends each chunk after the file lines its rows came from, so the thread knows
which line PostgreSQL means should it refuse a row; what else it made of the lines
(quarantine, holds, counts) follows the last chunk. The pipe keeps it about a chunk ahead
of the COPY.
"""

from __future__ import annotations

import gzip
import os
import queue
import subprocess
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from pulse.lines import (
    ROW_BUILDERS,
    Held,
    Invalid,
    LineCtx,
    LongLine,
    classify,
    split_lines,
    tenant_of,
)
from pulse.privacy.erasure import Suppressed

COPY_CHUNK_LINES = 2_000


@dataclass
class Rejected:
    line_number: int
    reason_code: str
    reason: str
    tenant_id: str | None
    line: str


@dataclass
class FileOutcome:
    """What one COPY attempt made of a file's lines, filled as the lines stream past."""

    rejects: list[Rejected] = field(default_factory=list)
    held: list[tuple[int, tuple[str, str, str, str], str]] = field(default_factory=list)
    sent: array = field(default_factory=lambda: array("i"))  # file line of each COPY row
    lines: int = 0
    suppressed: int = 0  # lines of erased subjects (docs/privacy.md)


def rows(lines: Iterable[bytes], kind: str, ctx: LineCtx, out: FileOutcome) -> Iterator[bytes]:
    build = ROW_BUILDERS[kind][1]
    chunk: list[bytes] = []
    # Bound once: this loop runs for every line of every file.
    add, sent = chunk.append, out.sent.append
    line_no = 0
    for line_no, raw_line in enumerate(lines, start=1):
        try:
            add(classify(build, raw_line, line_no, ctx))
            sent(line_no)
        except Invalid as exc:
            text = raw_line.decode("utf-8", "replace").replace("\x00", "\ufffd")
            tenant = None if raw_line.__class__ is LongLine else tenant_of(raw_line)
            out.rejects.append(Rejected(line_no, exc.reason_code, exc.detail, tenant, text))
        except Held as held:
            out.held.append((line_no, held.row, raw_line.rstrip(b"\r").decode()))
        except Suppressed:
            out.suppressed += 1
        if len(chunk) >= COPY_CHUNK_LINES:
            yield b"".join(chunk)
            chunk.clear()
    out.lines = line_no
    if chunk:
        yield b"".join(chunk)


def file_rows(path: Path, kind: str, ctx: LineCtx, out: FileOutcome) -> Iterator[bytes]:
    """The COPY chunks of one landing file, judged in this thread."""
    with gzip.open(path, "rb") as raw:
        yield from rows(split_lines(raw, ctx.max_line_bytes), kind, ctx, out)


class LineWorkerError(RuntimeError):
    """The helper process is gone: not a fault of the file being loaded."""


class LineWorker:
    """A helper process judging one file at a time for one load job. Started at its first
    file (a run whose files are all loaded already starts none); `close` ends it."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._to: Connection | None = None
        self._from: Connection | None = None

    def _start(self) -> None:
        # A plain `python -m pulse.linework` over its stdin and stdout: multiprocessing
        # would fork a process that has threads and connections, or (spawn) run the
        # caller's main script again in the child.
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        proc = subprocess.Popen([sys.executable, "-m", "pulse.linework"], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert proc.stdin is not None and proc.stdout is not None
        self._to = Connection(os.dup(proc.stdin.fileno()), readable=False)
        self._from = Connection(os.dup(proc.stdout.fileno()), writable=False)
        proc.stdin.close()
        proc.stdout.close()
        self._proc = proc

    def file_rows(self, path: Path, kind: str, ctx: LineCtx,
                  out: FileOutcome) -> Iterator[bytes]:
        """As `file_rows`, judged in the helper process. Closed before its end (the COPY
        failed), it reads the rest of the file's answer so the next file starts clean."""
        finished = False
        try:
            self._talk(lambda to, _: to.send((str(path), kind, ctx)))
            while True:
                tag, value = self._talk(lambda _, back: back.recv())
                if tag == "rows":
                    out.sent.frombytes(value)
                    yield self._talk(lambda _, back: back.recv_bytes())
                elif tag == "done":
                    finished = True
                    out.rejects, out.held, out.lines, out.suppressed = value
                    return
                else:  # "error": the file's own (an unreadable gzip), raised as if read here
                    finished = True
                    raise value
        finally:
            if not finished:
                self._drain()

    def _talk(self, op: Callable[[Connection, Connection], Any]) -> Any:
        if self._to is None or self._from is None:
            self._start()
        assert self._to is not None and self._from is not None
        try:
            return op(self._to, self._from)
        except (EOFError, OSError) as exc:
            self._kill()  # and _drain has nothing left to read
            raise LineWorkerError(f"the loader's line worker stopped: {exc!r}") from None

    def _drain(self) -> None:
        try:
            while self._from is not None:
                tag, _ = self._from.recv()
                if tag == "rows":
                    self._from.recv_bytes()
                else:
                    return
        except (EOFError, OSError):
            self._kill()

    def _kill(self) -> None:
        for conn in (self._to, self._from):
            if conn is not None:
                conn.close()
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
        self._proc = self._to = self._from = None

    def close(self) -> None:
        if self._proc is not None and self._to is not None:
            try:
                self._to.close()  # end of its input: it stops
                self._proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()


class Judges:
    """`n` line workers shared by the load threads: a thread holds one only while it
    copies a file, not while the file waits for its turn to commit."""

    def __init__(self, n: int) -> None:
        self._all = [LineWorker() for _ in range(n)]
        self._free: queue.SimpleQueue[LineWorker] = queue.SimpleQueue()
        for worker in self._all:
            self._free.put(worker)

    @contextmanager
    def borrow(self) -> Iterator[LineWorker]:
        worker = self._free.get()
        try:
            yield worker
        finally:
            self._free.put(worker)

    def close(self) -> None:
        for worker in self._all:
            worker.close()


def _serve(tasks: Connection, answers: Connection) -> None:
    """The helper process: files in, chunks out, until its input ends."""
    while True:
        try:
            path, kind, ctx = tasks.recv()
        except EOFError:
            return
        out = FileOutcome()
        try:
            done = 0
            for chunk in file_rows(Path(path), kind, ctx, out):
                answers.send(("rows", out.sent[done:].tobytes()))
                answers.send_bytes(chunk)
                done = len(out.sent)
        except Exception as exc:  # the thread raises it as if the file were read there
            try:
                answers.send(("error", exc))
            except Exception:  # an exception that does not pickle
                answers.send(("error", LineWorkerError(f"{type(exc).__name__}: {exc}")))
            continue
        answers.send(("done", (out.rejects, out.held, out.lines, out.suppressed)))


if __name__ == "__main__":
    # Served by the imported module, not this __main__ copy, so that what it sends
    # unpickles as pulse.linework's classes in the loader.
    from pulse import linework

    # stdout carries the answers: anything printed goes to stderr instead.
    _answers = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)
    linework._serve(Connection(os.dup(0), writable=False), _answers)
