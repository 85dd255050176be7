"""The content recorder leaves a whole cluster's fingerprints until the labelling pauses (core.store.content).

Its work is Python a file; run at once beside the GUI thread after a whole cluster was labelled, it made the
window's next actions (the undo, the next key) take about twice their time on a 2-core machine.  A batch now waits
for a pause in the labelling; one galaxy's key is recorded at once, as before, and ``wait`` (a close's, a test's)
does not wait for the pause.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import core.store.content as content
from core.images.io import file_fingerprint


def _store(tmp_path: Path, n: int) -> tuple[Path, dict[str, Path]]:
    """A database with ``n`` images and no content recorded, and their files."""
    files = {}
    for i in range(1, n + 1):
        files[f"g{i}.png"] = tmp_path / f"g{i}.png"
        files[f"g{i}.png"].write_bytes(bytes([i % 256]) * (100 + i))
    db_path = tmp_path / "project.sqlite"
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE images (id INTEGER PRIMARY KEY, path TEXT NOT NULL, content TEXT)")
    db.executemany("INSERT INTO images VALUES (?, ?, NULL)", ((i, f"g{i}.png") for i in range(1, n + 1)))
    db.commit()
    db.close()
    return db_path, files


def _recorded(db_path: Path) -> dict[int, str]:
    db = sqlite3.connect(db_path)
    try:
        return dict(db.execute("SELECT id, content FROM images WHERE content IS NOT NULL"))
    finally:
        db.close()


def test_a_whole_clusters_fingerprints_wait_for_a_pause_and_one_keys_do_not(tmp_path, monkeypatch):
    monkeypatch.setattr(content, "QUIET_S", 60.0)  # a labeller who never pauses, for as long as the test runs
    monkeypatch.setattr(content, "QUIET_MAX_S", 120.0)
    n = content.CHUNK + 52
    db_path, files = _store(tmp_path, n)
    rec = content.ContentRecorder(db_path, lambda key: str(files[key]), lambda keys: {})
    try:
        rec.submit([1])  # a key on one galaxy: recorded at once
        deadline = time.monotonic() + 30
        while rec.hashed < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert rec.hashed == 1 and set(_recorded(db_path)) == {1}

        rec.submit(range(2, n))  # a whole cluster labelled at once
        rec.submit([n])  # and the next key, behind it
        time.sleep(0.5)  # time enough for a recorder that does not wait to be at work
        assert rec.hashed == 1, "the batch's files were read while the labelling went on"

        assert rec.wait(60)  # a close or a test asks for everything now: no pause waited for
        recorded = _recorded(db_path)
        assert rec.hashed == n and set(recorded) == set(range(1, n + 1))
        assert recorded[n] == file_fingerprint(str(files[f"g{n}.png"]))
    finally:
        rec.close()
