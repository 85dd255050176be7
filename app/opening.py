"""Opening a folder's project: read off the GUI thread when the user opens it from the window, shown on it.

Reading a survey's project, its store's rows (every galaxy's id, path, cluster,
confidence and place on the map), its labels and a joined catalogue's values,
took 1.0 s of the GUI thread at 200,000 galaxies (File > Open recent), the
window frozen.  :meth:`FolderOpener.soon` (File > Open folder, Open recent, a
folder dropped on the window) reads it with :meth:`core.project.Project.open`
on a thread of its own while the project shown stays usable; the window shows
the new project when it is read.  A project read while the one shown wrote to
the same store (a label, a merge, a job's run) is read again
(:meth:`core.project.Project.stale`), so nothing written meanwhile is missing
from it.  A newer open replaces one still being read; an open refused (a store
another Galaxy Sorter holds, a damaged one) is said as before.
:meth:`FolderOpener.now` reads on the calling thread (scripts and tests).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QTimer

from app import dialogs
from app.workers import SerialCalls, starts_held
from core.project import Project
from core.store.layout import StoreError
from core.store.recovery import DamagedStore


def _read(folder: Path, names: bool = False) -> Project | Exception:
    """:meth:`Project.open`, its failure returned (the GUI thread says it, as it said it when it read the store).

    A clustered project's Cluster x label table scores its counts as soon as it is shown: the scoring's
    libraries (scikit-learn's metrics, SciPy's matching) are imported here, not there on the first open of a
    session (0.14 s of the GUI thread).  With ``names`` (the strip is sorted by name) every image's id and its
    place among them are worked out here too (:meth:`Project.prepare_names`): the strip's first cluster, shown
    right after, worked out its ids on the GUI thread while the naming thread worked out all of them
    (0.2 s at 200,000 galaxies, ``benchmarks/gui_stalls.py``, Sort strip: name then Open recent).
    """
    try:
        project = Project.open(folder)
    except Exception as exc:  # noqa: BLE001 - every failure is said on the GUI thread (FolderOpener.outcome)
        return exc
    if project.run_id is not None:
        import scipy.optimize  # noqa: F401
        import sklearn.metrics  # noqa: F401

        if names and len(project):
            project.prepare_names()
    return project


class FolderOpener:
    """Reads a folder's project, in the background or at once, and hands it to ``show(folder, project)``.

    Parameters
    ----------
    window : MainWindow
        Where errors are said (``show_error``, the recovery offer) and ``status`` says what is being opened.
    show : callable(Path, Project)
        Shows a project that was read (closing the one shown).
    """

    def __init__(self, window, show: Callable[[Path, Project], None]) -> None:
        self.window, self.show = window, show
        self.calls = SerialCalls(window)
        self._asked = 0  # the latest open asked; an older one still being read is dropped when it is
        self.reading: Path | None = None  # the folder being read in the background, None when none is
        self.closed = False
        self._after_show: Project | None = None  # a reopened project whose show ends in the next turns (finish)
        self._strip: Project | None = None  # one whose map is drawn, its strip and features' load to come

    def now(self, folder: str | Path) -> bool:
        """Open ``folder`` on this thread; True if it is shown (a background open still being read is dropped)."""
        folder = Path(folder)
        self._asked += 1
        self.reading = None
        shown = self._is_folder(folder) and self.outcome(folder, _read(folder, self._by_name()))
        if shown:  # a script's open is whole when it returns: the show's other turns now, not after
            self.finish(at_once=True)
        return shown

    def soon(self, folder: str | Path) -> None:
        """Open ``folder`` off the GUI thread; the project shown stays until the new one is read."""
        folder = Path(folder)
        self._asked += 1
        self.reading = None
        if not self._is_folder(folder):
            return
        self.reading = folder
        self.window.status.say(f"Opening {folder.name}…")
        self._start(folder, self._asked, again=False)

    def _start(self, folder: Path, asked: int, again: bool) -> None:
        self.calls.call(_read, folder, self._by_name(),
                        on_done=lambda result: self._read_done(folder, asked, again, result))

    def _read_done(self, folder: Path, asked: int, again: bool, result: Project | Exception) -> None:
        if asked != self._asked or self.closed:  # another open was asked since, or the window closed
            if isinstance(result, Project):
                result.close()
            return
        if isinstance(result, Project) and result.stale():  # the store was written to while it was read
            result.close()
            if not again:
                self._start(folder, asked, again=True)
                return
            result = _read(folder, self._by_name())  # written to all along (a job storing): read here, nothing writes
        self.reading = None
        if isinstance(result, Exception):
            self.window.status.say(f"{folder.name} was not opened")
        self.outcome(folder, result)

    def outcome(self, folder: Path, result: Project | Exception) -> bool:
        """Show the project read, or say why it could not be; True if shown."""
        w = self.window
        if isinstance(result, DamagedStore):  # a damaged database: offer the recovery that keeps every readable label
            return dialogs.offer_recovery(w, folder, result) and self.now(folder)
        if isinstance(result, StoreError):  # held by another program, not ours, a newer schema: said, no traceback
            w.show_error(f"Cannot open the project of {folder}: {result}", dialogs.store_hint(result))
            return False
        if isinstance(result, Exception):  # unreadable store: tell the user, keep the window
            w.show_error(f"Cannot open the project of {folder}: {result}", "",
                         "".join(traceback.format_exception(result)))
            return False
        with starts_held():  # its work on other threads starts when it is shown, not beside the showing
            self.show(folder, result)
        return True

    def finish_later(self, project: Project) -> None:
        """End a reopened project's show in the next turns of the event loop (:meth:`finish`).

        At 200,000 galaxies the views taking the project are 35-65 ms of the GUI
        thread, the map's render 25-105 ms (colour by label the most), the strip's
        first cluster and the features' job 15-35 ms, and each turn's repaint
        30-50 ms: one piece passed 100 ms (``benchmarks/gui_stalls.py``, File >
        Open recent, 180-230 ms).  The views take the project in one turn (the map
        held empty, so no point stands for another project's galaxy), the map is
        drawn in the next, the strip and the features' job in the one after.
        """
        self._after_show = project
        QTimer.singleShot(1, self.finish)  # a timer: a 0 ms one is a posted event, run in the same pass as the show

    def finish(self, at_once: bool = False) -> None:
        """The rest of a reopened project's show: its map now; its first cluster in the strip (unless the user
        selected something first) and the load of its features (unless another job started in between: a Cluster
        brings its own) in the turn after, or now too when ``at_once`` (a script's open)."""
        project, self._after_show = self._after_show, None
        if not self._still_shown(project):
            return
        self.window.map_view.render()
        self._strip = project
        if at_once:
            self._finish_strip()
        else:
            QTimer.singleShot(1, self._finish_strip)

    def _finish_strip(self) -> None:
        project, self._strip = self._strip, None
        w = self.window
        if not self._still_shown(project):
            return
        w.view_state.show_first_cluster()
        if w.feature_load.needed and not w.jobs.busy:
            w.feature_load.start()

    def _still_shown(self, project: Project | None) -> bool:
        return project is not None and project is self.window.project and not project.closed

    def _by_name(self) -> bool:
        """Whether the strip is sorted by name (asked on the GUI thread, where the strip lives)."""
        return self.window.grid.sort.currentText() == "name"

    def _is_folder(self, folder: Path) -> bool:
        if folder.is_dir():
            return True
        self.window.show_error(f"{folder} is not a folder (or cannot be read).", "Choose a folder of JPEG, PNG, TIFF "
                               "or FITS images.")
        return False

    def close(self, msecs: int = 10_000) -> None:
        """The window closes: wait for a read under way (its project is closed when it arrives, never shown)."""
        self.closed = True
        self.calls.wait(msecs)
