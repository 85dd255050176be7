"""A closed project goes by reference counting: its listeners, undo steps and content recorder let it go.

A view's listener is a closure over the view and the project, an undo step one
over the project, and the store's content recorder held the store's methods:
each a cycle that kept the closed project, its arrays and its store alive until
a full garbage collection, which the app keeps off its window (app.collector).
Labelled images' content is recorded after the label, so it is also checked
that a label made before the close is still recorded.
"""

from __future__ import annotations

import gc
import sqlite3
import weakref

from tests.helpers import fake_project


def _follow(project) -> None:
    """What a view does: closures over the project, connected to its events and its selection."""
    project.events.labels_changed.connect(lambda rows: project.describe(int(rows[0])))
    project.selection.changed.connect(lambda indices, source: project.names())


def test_a_closed_project_with_listeners_and_undo_steps_goes_by_reference_counting(tmp_path):
    project = fake_project(tmp_path)
    _follow(project)
    project.set_labels([0, 1], "spiral")  # an undo step, and a content to record off this thread
    project.store.contents.wait(10)
    assert project.can_undo
    database = project.store.folder / "project.sqlite"
    gone, store = weakref.ref(project), weakref.ref(project.store)
    was = gc.isenabled()
    gc.disable()  # nothing collected: what goes, goes by reference counting
    try:
        project.close()
        del project
        assert gone() is None and store() is None
    finally:
        if was:
            gc.enable()
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM labels").fetchone()[0] == 2  # the labels stayed, as ever
