"""Reproducible gzip NDJSON files and the per-file tally."""

from __future__ import annotations

import gzip
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import orjson

from .faults import FAULT_KINDS, Placed

MAX_LINES_PER_FILE = 250_000
GZIP_LEVEL = 6
_CHUNK = 4096  # lines serialised per gzip write; bounds memory without many small writes


def write_gz_lines(path: Path, lines: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(path, "wb") as raw,
        # filename="" and mtime=0 keep the gzip header free of anything run-specific
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0) as gz,
    ):
        for i in range(0, len(lines), _CHUNK):
            gz.write(b"\n".join(lines[i : i + _CHUNK]) + b"\n")


class BackgroundWriter:
    """Compresses and writes files on one worker thread while the next day is simulated.

    zlib releases the GIL, so on a multi-core machine compression overlaps generation;
    on one core it costs nothing extra. At most `depth` files wait, bounding memory.
    """

    def __init__(self, depth: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gz-writer")
        self._pending: list[Future[None]] = []
        self._depth = depth

    def submit(self, path: Path, lines: list[bytes]) -> None:
        while len(self._pending) >= self._depth:
            self._pending.pop(0).result()
        self._pending.append(self._pool.submit(write_gz_lines, path, lines))

    def close(self) -> None:
        try:
            for f in self._pending:
                f.result()
        finally:
            self._pending.clear()
            self._pool.shutdown(wait=True)


def empty_file_tally() -> dict:
    return {
        "lines": 0,
        "valid": 0,
        "faults": dict.fromkeys(FAULT_KINDS, 0),
        "duplicates": 0,
        "late": 0,
    }


def write_event_day(
    out_dir: Path, day_iso: str, placed: list[Placed], writer: BackgroundWriter
) -> dict[str, dict]:
    """Writes one day's lines ordered by received_at; returns {relative path: tally}."""
    placed.sort()  # (received, seq, sub) is unique, so the payload is never compared
    dumps = orjson.dumps
    tallies: dict[str, dict] = {}
    folder = f"events/dt={day_iso}"
    for part, lo in enumerate(range(0, max(1, len(placed)), MAX_LINES_PER_FILE)):
        chunk = placed[lo : lo + MAX_LINES_PER_FILE]
        rel = f"{folder}/events-{part:03d}.ndjson.gz"
        tally = empty_file_tally()
        lines: list[bytes] = []
        append = lines.append
        for _, _, _, obj, kind in chunk:
            append(obj if isinstance(obj, bytes) else dumps(obj))
            if kind == "valid":
                continue
            if kind == "dup":
                tally["duplicates"] += 1
            elif kind == "late":
                tally["late"] += 1
            else:
                tally["faults"][kind] += 1
        tally["lines"] = len(chunk)
        tally["valid"] = len(chunk) - sum(tally["faults"].values())
        writer.submit(out_dir / rel, lines)
        tallies[rel] = tally
    return tallies
