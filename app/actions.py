"""Which menu actions, shortcuts and buttons can act now, and why not (issue 18).

The panel's buttons and the menu's actions do the same things, so they share one
rule: an action is enabled when it can do its job now (a folder is open, it has
been clustered, the run has an encoder, no other job is running), and its button
follows it.  A shortcut whose action is disabled does nothing by itself in Qt; its
key press then reaches the window, where :class:`ActionStates` (an event filter)
says in the status bar why the key did nothing, so no key is a silent no-op.
A job that is started anyway (a script, the auto-retrain) is refused by
:class:`app.workers.JobRunner` and :meth:`ActionStates.say_refused` says so.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QAbstractSpinBox, QFormLayout, QMainWindow, QWidget

JOB_TITLES = {"cluster": "Clustering", "load-features": "Loading the features", "suggest": "Suggest",
              "suggest-k": "Suggest k", "project": "Drawing the new map", "retrain": "Retraining",
              "morphology": "Computing morphology", "montages": "Writing the montages",
              "export": "Exporting the catalogue"}
MESSAGE_MS = 10_000


def job_title(name: str) -> str:
    """The job ``name`` as the user reads it ("load-features" -> "Loading the features")."""
    return JOB_TITLES.get(name, name.capitalize())


class ActionStates(QObject):
    """Keeps the window's actions and buttons enabled exactly when they can act, and explains refusals.

    Parameters
    ----------
    window : QMainWindow
        The app's main window (``app.window.MainWindow``, not imported: it imports this
        module), whose actions (``cluster_action``, ``suggest_action``, ...), run panel,
        job runner and project it reads.
    """

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.why: dict[QAction, str] = {}
        window.installEventFilter(self)
        window.jobs.refused.connect(self.say_refused)
        # A digit typed into a focused number box edits it (k, the seed) instead of labelling: say so.
        for box in window.findChildren(QAbstractSpinBox):
            box.installEventFilter(self)

    def say(self, text: str) -> None:
        """A message in the status bar for a few seconds (it covers the job's progress text, which
        would overwrite a message on the stage label within 50 ms)."""
        self.window.statusBar().showMessage(text, MESSAGE_MS)

    def say_refused(self, asked: str, running: str) -> None:
        """A job was asked for while another runs: nothing was cancelled, say so."""
        self.say(f"{job_title(asked)} not started: {job_title(running).lower()} is still running "
                 f"(wait for it, or press Esc to cancel it)")

    def busy_text(self) -> str:
        """Why a job cannot start now."""
        return (f"{job_title(self.window.jobs.current_name)} is running: wait for it, "
                "or press Esc to cancel it")

    def update(self) -> None:
        """Enable each action and button when it can act now; remember why the others cannot."""
        w = self.window
        p = w.project
        has_run = p is not None and p.run_id is not None
        busy = w.jobs.busy
        w.undo_action.setEnabled(bool(p is not None and p.can_undo))
        w.undo_action.setText(f"&Undo {p.undo_text()}" if p is not None and p.can_undo else "&Undo")
        w.redo_action.setEnabled(bool(p is not None and p.can_redo))
        w.redo_action.setText(f"&Redo {p.redo_text()}" if p is not None and p.can_redo else "&Redo")
        no_run = "Open a folder and cluster it first (File > Open folder, then Ctrl+R)"
        rules: list[tuple[QAction, str]] = [(a, no_run if not has_run else self.busy_text() if busy else "")
                                            for a in w.export_actions]  # a job: one at a time
        rules += [
            (w.export_map_action, "" if has_run else no_run),
            (w.copy_action, "" if p is not None and len(p.selection.indices) else "Select galaxies first"),
            (w.backup_action, "Open a folder first (Ctrl+O)" if p is None else ""),
            (w.cluster_action, "Open a folder first (Ctrl+O)" if p is None else self.busy_text() if busy else ""),
            (w.suggest_action, no_run if not has_run else self.busy_text() if busy else ""),
            (w.retrain_action, no_run if not has_run else
             "Retraining needs a DEC run: choose the DEC algorithm and Cluster" if p.encoder_path() is None
             else self.busy_text() if busy else ""),
            (w.morphology_action, "Open a folder first (Ctrl+O)" if not (p and p.paths) else
             self.busy_text() if busy else ""),
            (w.load_features_action, no_run if not has_run else self.busy_text() if busy else
             "" if w.feature_load.needed else "The features are loaded"),
            (w.cancel_action, "" if busy else "Nothing is running to cancel"),
        ]
        self.why = {}
        for action, why in rules:
            action.setEnabled(not why)
            if why:
                self.why[action] = why
        # The panel's buttons do what the menu items do: enabled exactly when those are.
        s = w.run_settings
        for button, action in ((s.cluster_button, w.cluster_action), (s.suggest_button, w.suggest_action),
                               (s.retrain_button, w.retrain_action)):
            button.setEnabled(action.isEnabled())
        s.suggest_k_button.setEnabled(not busy and has_run)
        s.projection.setEnabled(not busy)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        """A key press that reached the window unhandled: if it is a disabled action's shortcut, say why.
        A digit typed into a number box: say it edited the box and labelled nothing."""
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent) or event.isAutoRepeat():
            return False
        if isinstance(watched, QAbstractSpinBox):
            p = self.window.project
            if event.text() in tuple("123456789") and p is not None and p.run_id is not None:
                self.say(f"The key {event.text()} went to the '{field_name(watched)}' box, which has the keyboard "
                         "focus: it did not label. Click a thumbnail or the map to label with the keys.")
        else:
            pressed = QKeySequence(event.keyCombination())
            for action, why in self.why.items():
                if any(pressed.matches(s) == QKeySequence.SequenceMatch.ExactMatch for s in action.shortcuts()):
                    self.say(f"{action.text().replace('&', '').rstrip('…')} ({pressed.toString()}): {why}")
                    break
        return False


def field_name(widget: QWidget) -> str:
    """The label a form shows beside ``widget`` ("Clusters"), else its tooltip or class name."""
    parent = widget.parentWidget()
    for form in parent.findChildren(QFormLayout) if parent is not None else ():
        label = form.labelForField(widget)
        if label is not None and hasattr(label, "text") and label.text():
            return str(label.text())
    return widget.accessibleName() or widget.toolTip() or type(widget).__name__
