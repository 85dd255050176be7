"""File > Export: the catalogue written as a job on the window's :class:`app.workers.JobRunner`.

At survey scale (10^5-10^6 rows, partitioned Parquet, HATS) writing the catalogue
takes seconds, so it never runs on the GUI thread: :class:`CatalogueExport` starts
it as the job ``export`` (refused, like any job, while another runs: no job cancels
another unasked), the status line says "Exporting N rows to PATH" with a busy
indicator (the writers give no finer progress), Esc cancels it before anything is
written, a failure arrives in the error box with a hint for its kind, and the end
says "Exported N rows to PATH".  Labelling goes on meanwhile; the job reads the
labels from the store when it reads the catalogue, so a label made after that is
not in the file, and the status says so.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMainWindow, QProgressBar

from app import dialogs
from app.workers import Job, JobRunner
from core.catalog.export import EXPORT_FORMATS
from core.catalog.pair import catalogue_format
from core.images.io import is_image_name
from core.project import Project

#: What to do when the file system refused the export (a core error brings its own hint).
WRITE_HINT = "Choose a folder you can write to (and a name that is not an existing file of another kind)."


class CatalogueExport(QObject):
    """Starts the export job and reports its end in the status line.

    Parameters
    ----------
    window : QMainWindow
        The main window (``app.window.MainWindow``, not imported: it imports this
        module): the save dialog's parent; its ``project`` is the one exported.
    jobs : JobRunner
        The window's job runner (one job at a time).
    say : callable
        Shows a line in the status bar.
    bar : QProgressBar
        The status bar's progress bar: a busy indicator while the export runs.

    Attributes
    ----------
    exported : Signal(object)
        The catalogue's path, once written (after the status line says so).
    """

    exported = Signal(object)

    def __init__(self, window: QMainWindow, jobs: JobRunner, say: Callable[[str], None], bar: QProgressBar) -> None:
        super().__init__(window)
        self._window = weakref.ref(window)  # no reference cycle through the window (freed without the cyclic GC)
        self.jobs, self.say, self.bar = jobs, say, bar
        self.last_path: Path | None = None
        self._cancel_text = ""
        self._changed = 0  # label changes made while the export runs
        self._job: Job | None = None
        jobs.failed.connect(self._on_failed)
        jobs.busy_changed.connect(self._on_busy)
        jobs.cancelled.connect(self._on_cancelled)  # after the status bar's own text: the newest words show

    @property
    def window(self) -> QMainWindow:
        """The main window this export belongs to."""
        return self._window()

    def start(self, path: str | None = None, fmt: str = EXPORT_FORMATS.default) -> Job | None:
        """Ask where (unless ``path``), then write the catalogue in format ``fmt`` as the job ``export``.

        Returns the job, or None when there was nothing to export, the dialog was
        cancelled or another job runs (the status bar says which).  The catalogue's
        path comes with :attr:`exported` (and the runner's ``finished``).
        """
        p: Project | None = self.window.project
        if p is None or p.run_id is None:
            return None
        entry = EXPORT_FORMATS.get(fmt)
        name = f"catalogue{entry.options.suffix}"  # a FITS table in the image folder would be scanned: beside it
        path = path or dialogs.save_path(self.window, "Export catalogue",
                                         (p.folder.parent if is_image_name(name) else p.folder) / name,
                                         entry.options.filter)
        if not path:
            return None
        n, target = len(p), Path(path)
        if not target.suffix:  # a name typed without its extension gets the format's
            target = target.with_name(target.name + entry.options.suffix)
        try:  # x.csv typed into the FITS export's dialog wrote a FITS table named x.csv
            catalogue_format(target, fmt)
        except ValueError as exc:
            self.say(f"Not exported: {exc}")
            self.window.show_error(f"Not exported: {exc}", f"Or choose the {target.suffix} format's entry in "
                                                           "File > Export.")
            return None
        existed = target.exists()
        self._changed = 0

        def export(progress: Callable[[float, str], None], should_stop: Callable[[], bool]) -> tuple[Path, Path]:
            try:
                return p.export(target, fmt, progress=lambda f, stage: progress(
                    f, f"Exporting {n} rows to {target}: {stage}"), should_stop=should_stop)
            except OSError as exc:  # the file system's words, said as the user reads them
                raise ExportNotWritten(f"Cannot write {target}: {exc.strerror or exc}") from exc

        def done(result: object) -> None:
            self._finish(p)
            out = Path(result[0])  # type: ignore[index]
            late = (f"; {self._changed} label change(s) made while it was written may be missing: "
                    "export again to include them") if self._changed else ""
            self.last_path = out
            self.say(f"Exported {n} rows to {out}{late}")
            self.exported.emit(out)

        def cancelled() -> None:
            self._finish(p)
            self._cancel_text = (f"Export cancelled after {target} was written" if target.exists() and not existed
                                 else f"Export cancelled: {target} was not written")

        self._cancel_text = ""
        job = self.jobs.start("export", export, on_result=done, on_cancelled=cancelled)
        if job is None:
            return None  # another job runs: the runner said so
        self._job = job
        p.events.labels_changed.connect(self._count_change)
        self.bar.setRange(0, 0)  # a busy indicator: the writers give no finer progress
        self.say(f"Exporting {n} rows to {target}…")
        return job

    def _count_change(self, rows: object) -> None:
        self._changed += 1

    def _finish(self, project: Project) -> None:
        project.events.labels_changed.disconnect(self._count_change, missing_ok=True)
        self._job = None

    def _on_failed(self, name: str, *_: str) -> None:  # the window shows the error box, with the error's hint
        p = self.window.project
        if name == "export" and p is not None:
            self._finish(p)

    def _on_busy(self, busy: bool) -> None:
        if not busy:  # ended, failed, cancelled or abandoned: a bar again for the next job
            self.bar.setRange(0, 1000)

    def _on_cancelled(self, name: str) -> None:
        if name == "export" and self._cancel_text:
            self.say(self._cancel_text)


class ExportNotWritten(OSError):
    """The file system refused the catalogue (no permission, no such folder, a disk full)."""

    hint = WRITE_HINT
