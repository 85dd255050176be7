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


def _read(folder: Path) -> Project | Exception:
    """:meth:`Project.open`, its failure returned (the GUI thread says it, as it said it when it read the store).

    A clustered project's Cluster x label table scores its counts as soon as it is shown: the scoring's
    libraries (scikit-learn's metrics, SciPy's matching) are imported here, not there on the first open of a
    session (0.14 s of the GUI thread).
    """
    try:
        project = Project.open(folder)
    except Exception as exc:  # noqa: BLE001 - every failure is said on the GUI thread (FolderOpener.outcome)
        return exc
    if project.run_id is not None:
        import scipy.optimize  # noqa: F401
        import sklearn.metrics  # noqa: F401
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
        self._after_show: Project | None = None  # a reopened project whose show ends in the next turn (finish)

    def now(self, folder: str | Path) -> bool:
        """Open ``folder`` on this thread; True if it is shown (a background open still being read is dropped)."""
        folder = Path(folder)
        self._asked += 1
        self.reading = None
        shown = self._is_folder(folder) and self.outcome(folder, _read(folder))
        if shown:  # a script's open is whole when it returns: the show's second turn now, not after
            self.finish()
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
        self.calls.call(_read, folder, on_done=lambda result: self._read_done(folder, asked, again, result))

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
            result = _read(folder)  # written to all along (a job storing): read here, where nothing else writes
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
        """End a reopened project's show in the next turn of the event loop (:meth:`finish`).

        At 200,000 galaxies the show and the map's render are 50-70 ms of the GUI
        thread and the strip's first cluster and the features' job 20-35 ms more:
        one piece with the window's repaint passed 100 ms
        (``benchmarks/gui_stalls.py``, File > Open recent); two pieces do not.
        """
        self._after_show = project
        QTimer.singleShot(0, self.finish)

    def finish(self) -> None:
        """The rest of a reopened project's show: its first cluster in the strip (unless the user selected something
        first) and the load of its features (unless another job started in between: a Cluster brings its own)."""
        project, self._after_show = self._after_show, None
        w = self.window
        if project is None or project is not w.project or project.closed:
            return
        w.view_state.show_first_cluster()
        if w.feature_load.needed and not w.jobs.busy:
            w.feature_load.start()

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
