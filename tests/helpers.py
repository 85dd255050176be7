"""Helpers shared by test modules (test modules import from here, never from each other).

Window helpers drive the real main window the way a user does; ``fake_run`` puts
a three-cluster run in a project without running a model; ``grid_blobs`` is the
synthetic data with a known answer that fine-tuning tests share; ``halves`` is
the toy clustering method the registry tests add.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import numpy as np

from core.clustering.methods import ClusterResult
from core.pipeline import PipelineResult
from core.project import Project


def fast(window, k: int = 3, method: str = "kmeans") -> None:
    """Set the window's run panel to a quick run: EfficientNet-Lite0 features, ``method``, ``k`` clusters."""
    s = window.run_settings
    s.model.setCurrentIndex(s.model.findData("efficientnet_lite0"))
    s.method.setCurrentIndex(s.method.findData(method))
    s.n_clusters.setValue(k)


def cluster(qtbot, window, timeout: int = 120_000) -> None:
    """Start the window's clustering job and wait until it has finished."""
    with qtbot.waitSignal(window.jobs.finished, timeout=timeout) as blocker:
        window.start_clustering()
    assert blocker.args[0] == "cluster"


def open_and_cluster(qtbot, window, folder, k: int = 3) -> Project:
    """Open ``folder`` in the window, cluster it quickly (:func:`fast`, ``k`` clusters) and return its project."""
    window.open_folder(folder)
    fast(window, k=k)
    cluster(qtbot, window)
    return window.project


def join_and_wait(qtbot, window, *args, **kwargs) -> int:
    """Join a catalogue from the app (``window.catalogue.join_catalogue``, a job) and wait: the images it matched."""
    job = window.catalogue.join_catalogue(*args, **kwargs)
    assert job is not None, "no join started"
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000) as done:
        pass
    assert done.args[0] == "join"
    return window.project.join.matched if window.project.join is not None else 0


def truth_and_wait(qtbot, window, path) -> int:
    """Load a truth file from the app (``window.catalogue.load_truth``, read off the GUI thread) and wait for it
    and the Cluster x label table's count against it (made off the GUI thread too): the images it gives a class."""
    window.catalogue.load_truth(str(path))
    table = window.catalogue.table
    qtbot.waitUntil(lambda: not table.reading and not table.counting, timeout=60_000)
    return len(table.truth or {})


def copy_and_wait(qtbot, window, *args, **kwargs) -> list:
    """Copy or link a cluster's files from the app (``window.catalogue.copy_cluster``, a job) and wait: the new files."""
    with qtbot.waitSignal(window.jobs.finished, timeout=60_000) as done:
        assert window.catalogue.copy_cluster(*args, **kwargs) is not None, "no copy started"
    assert done.args[0] == "copy files"
    return done.args[1]


def write_wcs_galaxies(folder, n: int) -> None:
    """``n`` 48-pixel FITS galaxies ``g0.fits`` ... with a TAN WCS: galaxy ``i`` at RA 150 + i, Dec -2 (degrees)."""
    from astropy.io import fits

    folder.mkdir()
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:48, :48]
    for i in range(n):
        r = np.hypot(x - 24, y - 24) * (1 + i % 2)
        hdu = fits.PrimaryHDU((1000 * np.exp(-r / 4) + rng.normal(0, 1, (48, 48))).astype(np.float32))
        h = hdu.header
        h["CTYPE1"], h["CTYPE2"] = "RA---TAN", "DEC--TAN"
        h["CRPIX1"], h["CRPIX2"] = 24.5, 24.5  # the centre of a 48-pixel image
        h["CRVAL1"], h["CRVAL2"] = 150.0 + i, -2.0
        h["CDELT1"], h["CDELT2"] = -0.2 / 3600, 0.2 / 3600
        hdu.writeto(folder / f"g{i}.fits")


def on_screen(window) -> int:
    """The galaxy the user sees: the strip's one highlighted thumbnail, which the preview shows."""
    marked = window.grid.selected_rows()
    assert len(marked) == 1, f"one highlighted galaxy expected, got {marked}"
    row = int(marked[0])
    assert window.grid.current_row() == row  # the preview shows the current thumbnail
    assert window.project.paths[row].split("/")[-1].split(".")[0] in window.preview.meta.text()
    np.testing.assert_array_equal(window.project.selection.indices, [row])  # the map outlines it
    np.testing.assert_array_equal(window.map.selected, [row])
    return row


def expect_labels(project, expected: dict[int, str]) -> None:
    """The user labels of every image are exactly ``expected`` (row -> label), none elsewhere."""
    got = {i: project.user_labels[i] for i in range(len(project)) if project.user_labels[i] is not None}
    assert got == expected


def fake_project(tmp_path: Path) -> Project:
    """A project on an empty ``tmp_path/images`` folder, its store in ``tmp_path/store``, with :func:`fake_run`'s run."""
    folder = tmp_path / "images"
    folder.mkdir()
    project = Project.open(folder, store_dir=tmp_path / "store")
    fake_run(project)
    return project


def fake_run(project: Project, n: int = 12) -> None:
    """Register n images and a 3-cluster run without running any model."""
    folder = project.folder
    paths = []
    for i in range(n):
        p = folder / f"g{i:02d}.png"
        p.write_bytes(b"x")
        paths.append(p)
    labels = np.arange(n) % 3
    rng = np.random.default_rng(0)
    feats = (rng.normal(size=(n, 4)) + labels[:, None] * 5).astype(np.float32)
    store = project.store
    ids = store.add_images(paths)
    soft = np.full((n, 3), 0.1)
    soft[np.arange(n), labels] = 0.8
    clusters = ClusterResult("kmeans", labels, soft.max(1), soft)
    coords = feats[:, :2]
    run_id = store.save_run("kmeans", "efficientnet_lite0", 3, {"prep": {}, "projection": "pca", "seed": 0}, [],
                            [ids[str(p)] for p in paths], labels, soft.max(1), coords)
    project.apply_result(PipelineResult(paths, feats, clusters, coords, [], "CPUExecutionProvider", run_id, store,
                                        {}, ""))


def grid_blobs(n_per: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Four blobs on a 2x2 grid in 16-D: grouping ``a`` shows in 8 features, ``b`` in one.

    Unsupervised clustering with k=2 follows ``a`` (it dominates even after
    standardisation); the user's classes follow ``b``, which only labels can teach.
    """
    rng = np.random.default_rng(seed)
    a = np.repeat([0, 0, 1, 1], n_per)
    b = np.repeat([0, 1, 0, 1], n_per)
    X = rng.normal(scale=0.5, size=(4 * n_per, 16))
    X[:, :8] += 3.0 * a[:, None]
    X[:, 8] += 3.0 * b
    return X.astype(np.float32), a, b


def halves(X, n_clusters, *, random_state, **_):
    """A toy method: split on the first feature's median (no display name, no options)."""
    labels = (X[:, 0] > np.median(X[:, 0])).astype(np.int64)
    soft = np.eye(2)[labels]
    return ClusterResult("halves", labels, soft.max(1), soft, params={"n_clusters": n_clusters})


def pixmap_array(pix) -> np.ndarray:
    """The RGB pixels of a QPixmap as an array (what the user sees in a thumbnail or the preview)."""
    from PySide6.QtGui import QImage

    img = pix.toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h = img.width(), img.height()
    raw = np.frombuffer(img.constBits(), np.uint8, img.bytesPerLine() * h).reshape(h, -1)
    return raw[:, : 3 * w].reshape(h, w, 3).copy()  # copied while the QImage that owns the bytes lives


def python_calls(action, c_functions: bool = False) -> int:
    """How many Python functions ``action()`` ran on this thread, Qt's calls into Python overrides included
    (``c_functions``: and the built-in functions Python code called, a ``set.add`` per cell, say).

    A count of work that does not depend on the machine: a view that asks a Python model
    about every row of a list shows as calls by the thousand.
    """
    import sys

    calls = 0
    events = ("call", "c_call") if c_functions else ("call",)

    def count(_frame, event, _arg):
        nonlocal calls
        calls += event in events

    sys.setprofile(count)
    try:
        action()
    finally:
        sys.setprofile(None)
    return calls


def python_lines(action, module: str) -> int:
    """How many lines of Python ``action()`` ran on this thread in the module whose file ends in ``module``.

    Each pass of a loop or a comprehension counts its lines again, so a loop over every
    galaxy shows as lines by the thousand where numpy does the same work in a few.
    """
    import sys

    lines = 0

    def local(frame, event, _arg):
        nonlocal lines
        lines += event == "line"
        return local

    def trace(frame, _event, _arg):
        return local if frame.f_code.co_filename.endswith(module) else None

    sys.settrace(trace)
    try:
        action()
    finally:
        sys.settrace(None)
    return lines


def wait_for(condition, timeout: float = 10.0) -> None:
    """Poll until ``condition()`` (SAMP delivers on the hub's and the clients' own threads)."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("no SAMP message arrived")
        time.sleep(0.02)


class Topcat:
    """A second SAMP client that receives what TOPCAT would and can select rows."""

    def __init__(self, hub) -> None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # astropy 8 deprecates astropy.samp in favour of pyvo.samp (same code)
            from astropy.samp import SAMPIntegratedClient
        self.client = SAMPIntegratedClient(name="fake TOPCAT", addr="127.0.0.1")
        self.client.connect(hub_params=hub.params)
        self.received: list[tuple[str, dict]] = []
        for mtype in ("table.load.votable", "table.select.rowList", "coord.pointAt.sky"):
            self.client.bind_receive_notification(mtype, self._on)

    def _on(self, private_key, sender_id, mtype, params, extra) -> None:
        self.received.append((mtype, params))

    def last(self, mtype: str) -> dict | None:
        found = [p for m, p in self.received if m == mtype]
        return found[-1] if found else None

    def close(self) -> None:
        if self.client.is_connected:
            self.client.disconnect()


def export_catalogue(qtbot, window, path, fmt: str = "csv", timeout: int = 60_000):
    """Export the window's catalogue to ``path`` (a job, as File > Export starts it); wait for it, return its path."""
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=timeout)  # as the user waits for a running job
    with qtbot.waitSignal(window.jobs.finished, timeout=timeout) as blocker:
        assert window.export_catalogue(str(path), fmt) is not None
    assert blocker.args[0] == "export"
    return window.exporter.last_path


def export_from_menu(qtbot, window, monkeypatch, target, entry: str, timeout: int = 60_000) -> None:
    """File > Export Catalogue (``entry``, a part of the menu entry's text) to ``target``, its save dialog answered."""
    from app import dialogs

    monkeypatch.setattr(dialogs, "save_path", lambda *a, **k: str(target))
    action = next(a for a in window.export_actions if entry in a.text())
    with qtbot.waitSignal(window.jobs.finished, timeout=timeout) as done:
        action.trigger()
    assert done.args[0] == "export"


def fake_kaggle(root: Path, image, split_of, classes, n: int = 9) -> Path:
    """A Kaggle-layout folder of ``n`` training-split galaxies (``images/<id>.jpg`` and ``labels.csv``).

    ``image(i)`` draws galaxy ``i`` (RGB uint8); ``split_of`` and ``classes`` are the
    training script's (``models/train_galaxy_net.py``), so every image is one it would train on.
    """
    import cv2

    data = Path(root) / "kaggle"
    (data / "images").mkdir(parents=True)
    rows = ["GalaxyID,morphology,top_answer"]
    ids = [str(300000 + i) for i in range(40 + 5 * n) if split_of(str(300000 + i)) == "train"][:n]
    for i, gid in enumerate(ids):
        cv2.imwrite(str(data / "images" / f"{gid}.jpg"), image(i))
        rows.append(f"{gid},{classes[i % len(classes)]},x")
    (data / "labels.csv").write_text("\n".join(rows) + "\n")
    return data


def blob(sigma: float, size: int = 256, seed: int = 0, *, tint: tuple[float, float, float] = (1.0, 0.8, 0.6),
         elongation: float = 1.0, colour: bool = True) -> np.ndarray:
    """A Gaussian galaxy of ``sigma`` px at the centre of a noisy sky: RGB uint8, each plane the grey one times
    ``tint`` (a little redder than grey by default), squeezed ``elongation`` times along y; ``colour=False``
    gives the grey plane alone."""
    yy, xx = np.mgrid[0:size, 0:size] - (size - 1) / 2
    rng = np.random.default_rng(seed)
    img = 20 + 200 * np.exp(-(xx ** 2 + (elongation * yy) ** 2) / (2 * sigma ** 2)) + rng.normal(0, 3, (size, size))
    img = np.clip(img, 0, 255).astype(np.uint8)
    if not colour:
        return img
    return np.stack([img if t == 1.0 else (t * img).astype(np.uint8) for t in tint], axis=2)


def framed_folder(tmp_path: Path, sigma: float, n: int = 12, name: str = "galaxies") -> Path:
    """``n`` colour galaxies (:func:`blob`) of ``sigma`` px in 96 px frames (sigma 2.5: about 4 % of the frame; 9: 13 %)."""
    from PIL import Image

    folder = tmp_path / name
    folder.mkdir()
    for i in range(n):
        img = blob(sigma * (0.9 + 0.05 * (i % 5)), size=96, seed=i, elongation=1.0 + (i % 3) * 0.5)
        Image.fromarray(img).save(folder / f"g{i:02d}.png")
    return folder


def write_band_galaxies(folder: Path, n: int, bands: str = "gri", size: int = 48) -> None:
    """``n`` galaxies stored as one FITS file a band, ``ngc<i>_<band>.fits`` (grey :func:`blob` s of two sizes),
    the way survey cut-outs come."""
    from astropy.io import fits

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        for k, band in enumerate(bands):
            fits.PrimaryHDU(blob(3 + 2 * (i % 2) + k, size=size, seed=10 * i + k, colour=False).astype(np.float32)
                            ).writeto(folder / f"ngc{i}_{band}.fits")


def pick(qtbot, combo, value) -> None:
    """Open ``combo``'s list and click the entry of ``value`` (its data, else its text), as the user does."""
    from PySide6.QtCore import Qt

    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible)
    row = combo.findData(value)
    rect = view.visualRect(view.model().index(row if row >= 0 else combo.findText(value), 0))  # an entry with no data
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: not view.isVisible())


def open_recent(window, folder) -> None:
    """File > Open recent > ``folder``, as the user picks it (read off the GUI thread)."""
    next(a for a in window.recent.menu.actions() if a.text() == str(folder)).trigger()


def while_shown(monkeypatch, window) -> list[bool]:
    """A list that holds ``True`` while the window shows a project it read (``window.opening.show``), else is empty:
    a spy reads ``bool(it)`` to tell what happened inside the show from what came after."""
    showing: list[bool] = []
    real_show = window.opening.show

    def show(folder, project):
        showing.append(True)
        try:
            real_show(folder, project)
        finally:
            showing.pop()

    monkeypatch.setattr(window.opening, "show", show)
    return showing


def stored_labels(p: Project, source: str | None = None) -> dict[int, str]:
    """Row -> label as ``project.sqlite`` holds it (of ``source`` only, if given), read through a connection of its own."""
    db = sqlite3.connect(p.store.folder / "project.sqlite")
    try:
        by_id = {i: label for i, label, src in db.execute("SELECT image_id, label, source FROM labels")
                 if source is None or src == source}
    finally:
        db.close()
    return {int(r): by_id[int(i)] for r, i in enumerate(p.db_ids) if int(i) in by_id}
