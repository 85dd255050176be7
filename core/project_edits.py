"""Editing a project's classes and clusters, each edit undoable: part of :class:`core.project.Project`.

:class:`ClassAndClusterEdits` is a mixin of ``Project``: its methods use the
project's store, labels, undo stack and events.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np

from core.catalog.probabilities import column_names, rename_column, set_column_names
from core.undo import Command as _Command
from core.vocabulary import NO_LABEL, PALETTE, PRESETS, SPECIAL, LabelClass, is_default_cluster_name


def _refuse_cluster_name(name: str) -> None:
    """Refuse a class named as an unnamed cluster is (``cluster 1``, ``noise``): everywhere else that name means
    "no class yet" (Enter does not accept it, the round does not learn it), so its galaxies would be no class's.
    Nor "(no label)", what colour by label calls the galaxies with none: the class's would be drawn as theirs."""
    if is_default_cluster_name(name):
        raise ValueError(f"{name!r} is what an unnamed cluster is called, not a class: choose another name")
    if name == NO_LABEL:
        raise ValueError(f"{name!r} is what the map calls galaxies with no label, not a class: choose another name")


def _refuse_a_look_alike(name: str, taken: Sequence[str], keep: str | None = None) -> None:
    """Refuse a new class name that differs from a class's (or unsure's, exclude's) only in case or in its Unicode
    form ('Spiral' beside 'spiral', an 'é' typed on macOS beside one typed elsewhere): two classes that read the
    same, whose catalogue columns p_Spiral and p_spiral a FITS reader takes for one."""
    def folded(text: str) -> str:
        return unicodedata.normalize("NFC", text).casefold()

    same = [t for t in [*taken, *SPECIAL] if t != keep and t != name and folded(t) == folded(name)]
    if same:
        raise ValueError(f"{name!r} reads as the class {same[0]!r}: use that one, or a name of its own")


class ClassAndClusterEdits:
    """Add, rename, merge and recolour classes; name, merge and split clusters (mixed into ``Project``)."""

    # ------------------------------------------------------------ classes
    def _save_classes(self) -> None:
        self.store.set_classes([(c.name, c.color) for c in self.classes])
        self.events.classes_changed.emit()

    def add_class(self, name: str, color: str | None = None) -> LabelClass:
        """Add a label class (not undoable: it labels nothing by itself)."""
        name = name.strip()
        if not name:
            raise ValueError("a class needs a name")
        if name in self.class_names() or name in SPECIAL:
            raise ValueError(f"there is already a class called {name!r}")
        _refuse_cluster_name(name)
        used = {c.color for c in self.classes}
        color = color or next((c for c in PALETTE if c not in used), PALETTE[len(self.classes) % len(PALETTE)])
        cls = LabelClass(name, color)
        self.classes.append(cls)
        self._save_classes()
        return cls

    def new_class(self, name: str) -> None:
        """Add a class, as New… in the Classes dock does; undoable, so Ctrl+Z steps back through the user's own
        actions in their order (an undo of a rename or a merge then never meets a class made after it)."""
        _refuse_a_look_alike(name.strip(), self.class_names())
        made: list[LabelClass] = []

        def do() -> None:
            made[:] = [self.add_class(name, made[0].color if made else None)]

        def undo() -> None:
            gone = made[0].name
            if np.equal(self.user_labels, gone).any() or gone in self.cluster_names.values():
                raise ValueError(f"galaxies are labelled {gone!r} (not by an action of this session): keep the class")
            self.classes = [c for c in self.classes if c.name != gone]
            self._save_classes()

        self._run(_Command(f"new class '{name.strip()}'", do, undo))

    def apply_preset(self, preset: str) -> None:
        """Add the classes of a preset that are not there yet (nor one that reads as it: 'Spiral' is 'spiral')."""
        for name in PRESETS[preset]:
            try:
                _refuse_a_look_alike(name, self.class_names())
            except ValueError:
                continue
            if name not in self.class_names():
                self.add_class(name)

    def _set_class_colour(self, name: str, color: str) -> None:
        for c in self.classes:
            if c.name == name:
                c.color = color
        self._save_classes()

    def recolour_class(self, name: str, color: str) -> None:
        """Give the class ``name`` the colour ``color`` (``#RRGGBB``); undoable, saved at once."""
        if not re.fullmatch(r"#[0-9A-Fa-f]{6}", color):
            raise ValueError(f"{color!r} is not a colour of the form #RRGGBB")
        before = next((c.color for c in self.classes if c.name == name), None)
        if before is None:
            raise ValueError(f"there is no class called {name!r}")
        if before.lower() == color.lower():
            return
        self._run(_Command(f"colour class '{name}'", lambda: self._set_class_colour(name, color),
                           lambda: self._set_class_colour(name, before)))

    def _rename_everywhere(self, old: str, new: str) -> None:
        if new in self.class_names():  # an undo or redo after a class of that name was made (New… is no undo step)
            raise ValueError(f"a class called {new!r} was made since: rename or merge it first, then try again")
        for c in self.classes:
            if c.name == old:
                c.name = new
        rows = np.flatnonzero(self.user_labels == old)
        if len(rows):
            self._write_labels(rows, [new] * len(rows))
        rename_column(self.store, self.run_id, old, new)  # the catalogue's p_<class> column follows its class
        for k, v in list(self.cluster_names.items()):
            if v == old:
                self._set_cluster_name(k, new)
        self._save_classes()

    def rename_class(self, old: str, new: str) -> None:
        """Rename a class, its labels and the clusters named after it; undoable."""
        new = new.strip()
        if old == new:
            return
        if not new or new in self.class_names() or new in SPECIAL:
            raise ValueError(f"cannot rename {old!r} to {new!r}: empty or already used")
        _refuse_cluster_name(new)
        _refuse_a_look_alike(new, self.class_names(), keep=old)  # 'spiral' to 'Spiral' is a rename of its own
        self._run(_Command(f"rename class '{old}' to '{new}'", lambda: self._rename_everywhere(old, new),
                           lambda: self._rename_everywhere(new, old)))

    def merge_classes(self, sources: Sequence[str], target: str) -> None:
        """Relabel every image of ``sources`` as ``target`` and drop those classes; undoable."""
        sources = [s for s in sources if s != target]
        if not sources:
            return
        # each source's galaxies by their label itself (as text an unlabelled galaxy's label reads "None", a
        # class's possible name), one comparison a source: not a text of every label of the folder
        rows = np.flatnonzero(np.logical_or.reduce([np.equal(self.user_labels, s) for s in sources]))
        before_labels = [self.user_labels[r] for r in rows]
        dropped = [(i, LabelClass(c.name, c.color)) for i, c in enumerate(self.classes) if c.name in sources]
        before_names = dict(self.cluster_names)
        columns = column_names(self.store, self.run_id) if self.run_id is not None else []

        def do() -> None:
            if len(rows):
                self._write_labels(rows, [target] * len(rows))
            for s in sources:  # the catalogue's p_<class> columns: the sources' summed into the target's
                rename_column(self.store, self.run_id, s, target)
            for k, v in list(self.cluster_names.items()):
                if v in sources:
                    self._set_cluster_name(k, target)
            self.classes = [c for c in self.classes if c.name not in sources]
            self._save_classes()

        def undo() -> None:
            if len(rows):
                self._write_labels(rows, before_labels)
            for k in set(before_names) | set(self.cluster_names):
                self._set_cluster_name(k, before_names.get(k))
            if columns:
                set_column_names(self.store, self.run_id, columns)
            for i, c in dropped:  # the merged classes back where they were; a class made since stays
                if c.name not in self.class_names():
                    self.classes.insert(min(i, len(self.classes)), LabelClass(c.name, c.color))
            self._save_classes()

        self._run(_Command(f"merge {', '.join(sources)} into '{target}'", do, undo))

    # ------------------------------------------------------------ clusters
    def _set_cluster_name(self, cluster: int, name: str | None) -> None:
        if self.run_id is None:
            raise RuntimeError("cluster the images first")
        if name is None:
            self.cluster_names.pop(cluster, None)
        else:
            self.cluster_names[cluster] = name
        self.store.name_cluster(self.run_id, cluster, name)
        self.events.clusters_changed.emit()

    def name_cluster(self, cluster: int, name: str) -> None:
        """Name a cluster (every image in it without a user label takes that label); undoable."""
        name = name.strip()
        if not name:
            raise ValueError("a cluster needs a name")
        if name not in self.class_names() and name not in SPECIAL:
            self.add_class(name)
        before = self.cluster_names.get(cluster)
        self._run(_Command(f"name cluster {cluster} '{name}'", lambda: self._set_cluster_name(cluster, name),
                           lambda: self._set_cluster_name(cluster, before)))

    def _reassign(self, rows: np.ndarray, clusters: np.ndarray) -> None:
        """Move ``rows`` to ``clusters``; only the galaxies whose cluster changes are written (a split keeps about half
        of its cluster's galaxies where they are: 12,000 UPDATEs of the GUI thread saved at 200,000 galaxies)."""
        clusters = np.asarray(clusters, np.int64)
        moved = self.clusters[rows] != clusters
        self.clusters[rows] = clusters
        if moved.any():
            self.store.set_assignments(self.run_id, self.db_ids[rows[moved]], clusters[moved])
        self.events.clusters_changed.emit()

    def merge_clusters(self, sources: Sequence[int], target: int) -> None:
        """Move every image of ``sources`` into cluster ``target``; undoable."""
        rows = np.flatnonzero(np.isin(self.clusters, [s for s in sources if s != target]))
        if len(rows) == 0:
            return
        before = self.clusters[rows].copy()
        self._run(_Command(f"merge clusters {list(sources)} into {target}",
                           lambda: self._reassign(rows, np.full(len(rows), target)),
                           lambda: self._reassign(rows, before)))

    def split_cluster(self, cluster: int, n: int = 2, random_state: int = 0) -> list[int]:
        """Split a cluster in ``n`` by k-means on its features; return the new cluster numbers; undoable."""
        return self.apply_split(cluster, *self.plan_split(cluster, n, random_state))

    def plan_split(self, cluster: int, n: int = 2, random_state: int = 0, **_job: object) -> tuple[np.ndarray, np.ndarray]:
        """The k-means split of a cluster in ``n``, changing nothing: its rows and each row's part (0 to n - 1).

        The k-means of ten starts is the work (5 s for a cluster of a survey of
        a million): the app runs it as a job (``progress`` and ``should_stop``
        are taken and not used) and :meth:`apply_split` keeps it.
        """
        from sklearn.cluster import KMeans

        if self.features is None:
            raise RuntimeError("the features are not loaded; cluster again to split")
        rows = np.flatnonzero(self.clusters == cluster)
        if len(rows) < n:
            raise ValueError(f"cluster {cluster} has {len(rows)} image(s); cannot split it in {n}")
        return rows, KMeans(n, n_init=10, random_state=random_state).fit_predict(self.features[rows])

    def apply_split(self, cluster: int, rows: np.ndarray, sub: np.ndarray) -> list[int]:
        """Keep a split :meth:`plan_split` made (undoable); return the new cluster numbers.

        Raises ``ValueError`` when the cluster's members changed since the plan (a merge while it ran).
        """
        n = int(sub.max()) + 1
        if not np.array_equal(np.flatnonzero(self.clusters == cluster), rows):
            raise ValueError(f"cluster {cluster} changed while it was being split; split it again")
        first = int(self.clusters.max()) + 1
        new_ids = [cluster] + list(range(first, first + n - 1))
        after = np.array([new_ids[s] for s in sub], np.int64)
        before = self.clusters[rows].copy()
        self._run(_Command(f"split cluster {cluster} in {n}", lambda: self._reassign(rows, after),
                           lambda: self._reassign(rows, before)))
        return new_ids
