"""Lines judged in a helper process (pulse.linework.LineWorker, the parallel loader's jobs)
come out exactly as judged in the loading thread, and the worker survives what a COPY
does to it: stopped early, an unreadable file, the process itself gone."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from pulse.lines import LineCtx
from pulse.linework import COPY_CHUNK_LINES, FileOutcome, LineWorker, LineWorkerError, file_rows

GOOD = {"event_id": "e-1", "tenant_id": "ten_ok", "user_id": "u-1", "session_id": None,
        "event_name": "user.logged_in", "event_version": "1.0",
        "timestamp": "2026-01-01T10:00:00.000Z", "received_at": "2026-01-01T10:00:01Z",
        "properties": None, "context": None, "user_properties": None}
CTX = LineCtx(7, frozenset({"ten_ok"}), "2026-01-02T00:00:00+00:00", max_line_bytes=2048)


def _event(n: int, **changes) -> bytes:
    return orjson.dumps({**GOOD, "event_id": f"e-{n}", **changes})


def _write(path: Path, lines: list[bytes]) -> Path:
    with gzip.open(path, "wb") as fh:
        fh.write(b"".join(line + b"\n" for line in lines))
    return path


def _mixed(n: int) -> list[bytes]:
    """Every verdict, over more than one COPY chunk."""
    odd = [b"", b"{not json", b'{"a": "\\u0000"}', _event(0, timestamp="2026-02-30T00:00:00Z"),
           _event(0, tenant_id="ten_new"), _event(0, user_id=5), b"x" * 4096,
           _event(0, properties={"path": "C:\\temp\tx"}), _event(0, timestamp="2026-01-01")]
    return [odd[i % len(odd)] if i % 7 == 0 else _event(i) for i in range(n)]


@pytest.fixture
def worker():
    w = LineWorker()
    yield w
    w.close()


def _judged(rows_of, path: Path) -> tuple[list[bytes], FileOutcome]:
    out = FileOutcome()
    return list(rows_of(path, "events", CTX, out)), out


def test_a_worker_process_judges_every_line_as_the_thread_does(tmp_path, worker):
    path = _write(tmp_path / "a.ndjson.gz", _mixed(3 * COPY_CHUNK_LINES))
    here = _judged(file_rows, path)
    there = _judged(worker.file_rows, path)
    assert worker._proc is not None and worker._proc.poll() is None  # a process of its own
    assert len(here[0]) > 2 and here[0] == there[0]
    assert here[1] == there[1]
    assert here[1].rejects and here[1].held and len(here[1].sent) > 2 * COPY_CHUNK_LINES


def test_a_copy_stopped_early_leaves_the_worker_ready_for_the_next_file(tmp_path, worker):
    first = _write(tmp_path / "a.ndjson.gz", _mixed(3 * COPY_CHUNK_LINES))
    second = _write(tmp_path / "b.ndjson.gz", _mixed(COPY_CHUNK_LINES + 7)[::-1])
    out = FileOutcome()
    chunks = worker.file_rows(first, "events", CTX, out)
    next(chunks)
    chunks.close()  # as _copy_file does when PostgreSQL refuses a row mid-file
    assert _judged(worker.file_rows, second) == _judged(file_rows, second)


def test_an_unreadable_file_raises_its_own_error_and_the_worker_goes_on(tmp_path, worker):
    good = _write(tmp_path / "good.ndjson.gz", _mixed(100))
    truncated = tmp_path / "truncated.ndjson.gz"
    truncated.write_bytes(good.read_bytes()[:-12])
    with pytest.raises(EOFError):  # what the loader records as an unreadable file
        _judged(worker.file_rows, truncated)
    assert _judged(worker.file_rows, good) == _judged(file_rows, good)


def test_a_dead_worker_is_not_taken_for_a_bad_file_and_is_replaced(tmp_path, worker):
    path = _write(tmp_path / "a.ndjson.gz", _mixed(100))
    _judged(worker.file_rows, path)
    worker._proc.kill()
    worker._proc.wait()
    # not EOFError/OSError: the loader would record the file as unreadable
    with pytest.raises(LineWorkerError):
        _judged(worker.file_rows, path)
    assert _judged(worker.file_rows, path) == _judged(file_rows, path)
