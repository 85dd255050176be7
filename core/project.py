"""The state of one open project, shared by every view, with undo.

:class:`Project` holds what the app shows: the images, their features, the
current clusters with confidences and 2-D coordinates, the label classes and
the user's labels.  Views connect to its declared events (``project.events``,
:class:`core.events.ProjectEvents`: typed psygnal signals with disconnect) and
render; they never keep pipeline state of their own and change the project only
through its public, undoable methods.  Every labelling action goes through the
store first (so it is on disk before the views hear of it) and onto the undo
stack.  :class:`Selection` is the one selection that the map, the thumbnail
grid and the preview share (``selection.changed``).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.catalog.export import export_catalogue
from core.clustering.metrics import cluster_sizes
from core.events import ProjectEvents, disconnect_all, one_emission_each
from core.images.ids import image_ids, may_be_in_a_band_set
from core.images.io import image_id
from core.pieces import dict_in_pieces
from core.project_edits import ClassAndClusterEdits
from core.project_join import CatalogueJoins
from core.project_learning import LearningFromLabels
from core.project_map import MapProjections
from core.selection import Selection, sorted_unique
from core.store.database import ProjectStore, Run
from core.store.layout import default_store_dir
from core.store.rows import no_gc, run_arrays
from core.undo import Command as _Command
from core.vocabulary import PALETTE, PRESETS, SPECIAL, LabelClass, cluster_name
from core.vocabulary import shown_in_text as shown

if TYPE_CHECKING:
    from core.catalog.join import Join
    from core.features.result import ExtractionResult
    from core.images.preprocess import Preprocessing
    from core.learning.rounds import RoundResult
    from core.pipeline import PipelineConfig, PipelineResult

@dataclass
class Project(ClassAndClusterEdits, LearningFromLabels, MapProjections, CatalogueJoins):
    """One image folder with its store, clusters, labels and undo history.

    Create with :meth:`open`; load a pipeline result with :meth:`apply_result`.
    Row ``i`` of every array is image ``paths[i]``.
    """

    folder: Path
    store: ProjectStore
    paths: list[str] = field(default_factory=list)
    db_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    clusters: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    confidence: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    coords: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    features: np.ndarray | None = None
    cluster_names: dict[int, str] = field(default_factory=dict)
    user_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    classes: list[LabelClass] = field(default_factory=list)
    run_id: int | None = None
    #: The current run's stored record (None before the first run).
    run: Run | None = None
    #: The last fine-tuning round applied in this session (what "review moved" suggests from).
    last_round: RoundResult | None = None
    provider: str = ""
    #: Joined catalogue columns (``cat_<name>`` -> a value per image, NaN where unmatched): they colour
    #: the map (:func:`core.colouring.colouring`) and are exported beside the labels (:meth:`export`).
    catalog_columns: dict[str, np.ndarray] = field(default_factory=dict)
    #: How they were joined (:class:`core.catalog.join.Join`), kept in the store and restored on reopen.
    join: Join | None = None

    def __post_init__(self) -> None:
        self.closed = False
        self._read_at: int | None = None  # the store's data_version when open began reading it
        #: The image centres a sky join read (:meth:`prepare_join`), with the path list they belong to.
        self._sky: tuple[list[str], np.ndarray] | None = None
        #: The image ids (:attr:`names`), with the path list they belong to.
        self._names: tuple[list[str], list[str]] | None = None
        #: Each image's place in the order of the ids (:meth:`prepare_names`), with the path list it belongs to.
        self._name_ranks: tuple[list[str], np.ndarray] | None = None
        self.selection = Selection()
        self.events = ProjectEvents()
        self._undo: list[_Command] = []
        self._redo: list[_Command] = []

    # ------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, folder: str | os.PathLike[str], store_dir: str | os.PathLike[str] | None = None) -> Project:
        """Open the project of an image folder, restoring its latest run, classes and labels."""
        folder = Path(folder)
        if not folder.is_dir():
            raise NotADirectoryError(f"{folder} is not a folder")
        store = ProjectStore(store_dir or default_store_dir(folder), root=folder)
        store.record_pending_content()  # of labels a session closed before it recorded (core.store.content)
        self = cls(folder=folder, store=store)
        self._read_at = store.db.execute("PRAGMA data_version").fetchone()[0]  # before anything is read: see stale
        stored = store.classes()
        if stored:
            self.classes = [LabelClass(n, c) for n, c in stored]
        else:
            self.classes = [LabelClass(n, PALETTE[i]) for i, n in enumerate(PRESETS["Hubble basic"])]
            if not store.read_only:
                store.set_classes([(c.name, c.color) for c in self.classes])
        run = store.latest_run()
        current = store.setting("current_run")
        if run is not None and current is not None and current != run.id:
            run = store.run(int(current)) or run
        if run is not None:
            rows = run_arrays(store, run.id)  # arrays, not a tuple a row: a million rows in seconds (issue 22)
            self.run_id = run.id
            self.run = run
            self.paths = rows.paths
            self.db_ids, self.clusters, self.confidence, self.coords = rows.ids, rows.clusters, rows.confidence, rows.coords
            self.cluster_names = store.cluster_names(run.id)
            self._load_labels()
            self._restore_join(rows.keys)
        return self

    def stale(self) -> bool:
        """Whether another connection wrote to the store since :meth:`open` began to read it (the project shown while
        this one was read off the GUI thread took a label or a merge, a job stored a run or a map): read it again."""
        return self._read_at is not None and self.store.db.execute("PRAGMA data_version").fetchone()[0] != self._read_at

    def reload_features(self, progress: Callable[[float, str], None] | None = None,
                        should_stop: Callable[[], bool] | None = None) -> tuple[ExtractionResult, str]:
        """Features of a reopened run's images, from the cache (recomputed where missing), and the provider.

        Meant for a worker thread: it opens its own store connection and changes
        nothing; the caller sets :attr:`features` from the result on its side.
        """
        from core.features.extract import extract_features, load_model

        config = self.config()
        model = load_model(config.model)
        store = ProjectStore(self.store.folder)
        try:
            res = extract_features(self.paths, model, config.prep, cache=store.features, progress=progress,
                                   should_stop=should_stop)
            if len(res.paths) < len(self.paths):
                res = self._fill_vanished(res, store.features.vanished_rows(model.cache_key(config.prep), self.paths))
        finally:
            store.close()
        return res, model.provider

    def _fill_vanished(self, res: ExtractionResult, cached: dict[str, np.ndarray]) -> ExtractionResult:
        """Features for every row of the run, also for images deleted or unreadable since (issue 19, item 8).

        One deleted image used to leave the whole run without features (split,
        suggest, reproject and Retrain unavailable until a recluster).  A vanished
        image gets the row it was clustered with from the cache; one with no such
        row (unreadable now, or never cached) gets the mean of the others, so it
        stays where the run put it and weighs on nothing.  They stay listed as skipped.
        """
        from core.features.result import ExtractionResult

        rows = dict(zip(res.paths, res.features))
        rows.update({p: v for p, v in cached.items() if p not in rows})
        fill = (res.features.mean(axis=0) if len(res.features)
                else np.zeros(res.features.shape[1], np.float32)).astype(np.float32)
        features = np.stack([rows.get(p, fill) for p in self.paths]).astype(np.float32)
        return ExtractionResult(list(self.paths), features, res.skipped, res.provider, res.computed, res.cached,
                                res.seconds)

    def config(self) -> PipelineConfig:
        """The settings of the current run (see :meth:`core.pipeline.PipelineConfig.from_run`), else the defaults."""
        from core.pipeline import PipelineConfig

        return PipelineConfig() if self.run is None else PipelineConfig.from_run(self.run)

    def close(self) -> None:
        """Close the store, and let the listeners and the undo history go.

        Both hold the project (a view's closure over it, an undo step's over
        ``self``): cycles that kept every closed project alive until a full
        garbage collection, which the app avoids (:func:`core.events.disconnect_all`).
        """
        self.closed = True
        self.store.close()
        disconnect_all(self.events)
        self.selection.changed.disconnect()
        self._undo.clear()
        self._redo.clear()

    def _load_labels(self) -> None:
        """Each row's user label (None where there is none), matched by image id in numpy, not a lookup a row."""
        stored = self.store.labels()
        self.user_labels = np.full(len(self.db_ids), None, dtype=object)
        if stored and len(self.db_ids):
            ids = np.fromiter(stored, np.int64, len(stored))
            names = np.array([label for label, _source in stored.values()], dtype=object)
            order = np.argsort(self.db_ids, kind="stable")
            pos = np.searchsorted(self.db_ids[order], ids).clip(0, len(order) - 1)
            hit = self.db_ids[order][pos] == ids
            self.user_labels[order[pos[hit]]] = names[hit]

    def apply_result(self, result: PipelineResult) -> None:
        """Show a finished :class:`core.pipeline.PipelineResult` (already stored as a run)."""
        ids = self.store.image_ids()
        self.paths = [str(p) for p in result.paths]
        self.db_ids = np.array([ids[p] for p in self.paths], np.int64)
        self.clusters = np.asarray(result.clusters.labels, np.int64)
        self.confidence = np.asarray(result.clusters.confidence, np.float32)
        self.coords = np.asarray(result.coords, np.float32)
        self.features = result.features
        self.run_id = result.run_id
        self.provider = result.provider
        self.run = self.store.run(result.run_id)
        self.cluster_names = self.store.cluster_names(result.run_id)
        self._load_labels()
        self._restore_join()  # the joined values follow the images of the new run
        self.store.set_setting("current_run", result.run_id)
        # Undo entries refer to rows of the previous run; a new run starts a new history.
        self._undo.clear()
        self._redo.clear()
        self.selection.clear(self)
        self.events.data_changed.emit()
        self.events.history_changed.emit()

    def preprocessing(self) -> Preprocessing:
        """How the open run cropped and scaled the images (the views show that crop); the default before a run."""
        return self.config().prep

    def view_setting(self, key: str, default: object = None) -> object:
        """A view setting kept with the project (the display stretch, the thumbnail size, the truth file)."""
        return self.store.setting(f"view/{key}", default)

    def set_view_setting(self, key: str, value: object) -> None:
        """Keep a JSON-serialisable view setting with the project, so reopening it shows the same view.

        A read-only store keeps nothing (its labels cannot be saved either; the window's title says so),
        nor a closed project (a change the view sends on after the window closed or another folder opened).
        """
        if not self.store.read_only and not self.closed:
            self.store.set_setting(f"view/{key}", value)

    # ------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self.paths)

    @property
    def names(self) -> list[str]:
        """Image ids: file names without extension, a FITS band set's base name (:func:`core.images.ids.image_ids`).

        Worked out once for a list of paths (a band set is known by its folder's
        other files: one listing a folder) and kept while :attr:`paths` is that
        list; the hover caption asks for one on every move.  Read, never change it.
        """
        if self._names is None or self._names[0] is not self.paths:
            self._names = (self.paths, image_ids(self.paths))
        return self._names[1]

    def prepare_names(self) -> None:
        """Work out every image's id and its place in their order, for a sort by name (meant for a thread).

        A strip sorted by name that comes to show most of a survey (Edit > Select
        all) worked out 200,000 ids and sorted them as text on the GUI thread
        (0.22 s); with this done beforehand, off it, the sort takes each row's
        place.  Kept for the path list it was made for, as :attr:`names` is.
        """
        paths = self.paths
        names = self.names if self._names is not None and self._names[0] is paths else image_ids(paths)
        ranks = np.empty(len(names), np.int64)
        ranks[np.array(names, dtype=object).argsort(kind="stable")] = np.arange(len(names))
        self._names, self._name_ranks = (paths, names), (paths, ranks)

    @property
    def names_ready(self) -> bool:
        """Whether :meth:`prepare_names` was done for the current images (a sort by name needs no id worked out)."""
        return self._name_ranks is not None and self._name_ranks[0] is self.paths

    def name_of(self, row: int) -> str:
        """The id of image ``row`` as :attr:`names` gives it, without working out a survey's million ids (seconds)
        for the hover caption or the status line: only a FITS file named by band needs its folder, then every id
        once (:func:`core.images.ids.may_be_in_a_band_set`)."""
        if self._names is not None and self._names[0] is self.paths:
            return self._names[1][row]
        path = self.paths[row]
        return self.names[row] if may_be_in_a_band_set(os.path.basename(path)) else image_id(path)

    def cluster_ids(self) -> list[int]:
        """Cluster numbers present, sorted (-1 is DBSCAN's noise): counted (:func:`core.clustering.metrics.cluster_sizes`)."""
        return cluster_sizes(self.clusters)[0]

    def cluster_name(self, cluster: int) -> str:
        """The user's name for a cluster, else ``cluster N`` (``noise`` for -1)."""
        return cluster_name(cluster, self.cluster_names)

    def class_names(self) -> list[str]:
        """Names of the label classes, in order."""
        return [c.name for c in self.classes]

    def color_of(self, label: str) -> str:
        """Colour of a class or special label."""
        for c in self.classes:
            if c.name == label:
                return c.color
        return SPECIAL.get(label, "#999999")

    def final_labels(self) -> tuple[np.ndarray, np.ndarray]:
        """Label and its source for every image: the user's label, else the cluster's name.

        Each cluster's name is looked up once, not once an image (a colouring by
        label asked for it twice a click: 0.5 s at 200,000 galaxies).
        """
        mine = np.not_equal(self.user_labels, None)
        ids, where = np.unique(self.clusters, return_inverse=True)
        labels = np.array([self.cluster_name(int(c)) for c in ids], dtype=object)[where.ravel()]
        labels[mine] = self.user_labels[mine]
        source = np.array(["model", "user"], dtype=object)[mine.astype(np.intp)]
        return labels, source

    def known_labels(self) -> list[str | None]:
        """The label of every image the user named (its own label, or a named cluster's), None elsewhere.

        What LDA maps are fitted on.
        """
        labels, _ = self.final_labels()  # in numpy: a loop over 200,000 galaxies took 85 ms of the GUI thread
        known = np.not_equal(self.user_labels, None) | np.isin(self.clusters, list(self.cluster_names))
        return np.where(known, labels, None).tolist()

    def describe(self, row: int) -> str:
        """A few lines of rich text about one image: name, cluster, label and whose, confidence, path."""
        u = self.user_labels[row]
        c = int(self.clusters[row])
        label = f"{shown(u)} (yours)" if u is not None else f"{shown(self.cluster_name(c))} (model)"
        named = f": {shown(self.cluster_name(c))}" if c in self.cluster_names else ""  # not "cluster 0: cluster 0"
        return (f"<b>{self.name_of(row)}</b><br>{cluster_name(c)}{named}"
                f"<br>label: {label}<br>confidence {float(self.confidence[row]):.2f}<br><small>{self.paths[row]}</small>")

    def sort_keys(self, how: str, rows: np.ndarray) -> np.ndarray:
        """Keys that order ``rows`` ``how``: least/most sure first, by name, or by distance to the cluster centre."""
        if how == "least sure first":
            return self.confidence[rows]
        if how == "most sure first":
            return -self.confidence[rows]
        if how == "name" and self.names_ready:  # each row's place among the ids, worked out off the GUI thread
            return self._name_ranks[1][rows]
        if how == "name":  # a cluster's ids alone, unless all are known or most are asked (then all, kept)
            whole = len(rows) > len(self) // 2 or (self._names is not None and self._names[0] is self.paths)
            known = self.names if whole else image_ids([self.paths[r] for r in rows])
            names = [known[r] for r in rows] if whole else known
            return np.array(names, dtype=object).argsort(kind="stable").argsort()
        space = self.features if self.features is not None else self.coords
        dist = np.zeros(len(rows))
        for c in np.unique(self.clusters[rows]):
            centre = space[self.clusters == c].mean(0)
            sel = self.clusters[rows] == c
            dist[sel] = np.linalg.norm(space[rows[sel]] - centre, axis=1)
        return dist

    def label_counts(self) -> dict[str, int]:
        """Images the user labelled, per label, sorted by label.

        Counted by :class:`collections.Counter` (in C) over the labels themselves, not
        sorted as text by ``np.unique``: 6 ms of the GUI thread for 26,000 labels, twice
        a whole cluster labelled (the Classes panel follows the labels and the classes).
        """
        counts = Counter(self.user_labels[np.not_equal(self.user_labels, None)].tolist())
        return {str(n): int(counts[n]) for n in sorted(counts, key=str)}

    # ------------------------------------------------------------ undo
    @property
    def can_undo(self) -> bool:
        """Whether there is an action to undo."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """Whether there is an undone action to redo."""
        return bool(self._redo)

    def undo_text(self) -> str:
        """Description of the action :meth:`undo` would revert."""
        return self._undo[-1].text if self._undo else ""

    def redo_text(self) -> str:
        """Description of the action :meth:`redo` would repeat."""
        return self._redo[-1].text if self._redo else ""

    def _run(self, cmd: _Command) -> None:
        with one_emission_each(self.events):  # the views refresh once for the action, not once per change in it
            cmd.do()
        self._undo.append(cmd)
        self._redo.clear()
        self.events.history_changed.emit()

    def undo(self) -> _Command | None:
        """Revert the last action (saved at once, like the action itself); returns it (its ``rows``), or None."""
        if self._undo:
            cmd = self._undo[-1]  # kept if it cannot be undone (a class of its name made since): said, not lost
            with one_emission_each(self.events):
                cmd.undo()
            self._redo.append(self._undo.pop())
            self.events.history_changed.emit()
            return cmd
        return None

    def redo(self) -> _Command | None:
        """Repeat the last undone action; returns it (its ``rows``), or None."""
        if self._redo:
            cmd = self._redo[-1]
            with one_emission_each(self.events):
                cmd.do()
            self._undo.append(self._redo.pop())
            self.events.history_changed.emit()
            return cmd
        return None

    # ------------------------------------------------------------ labelling
    def _write_labels(self, rows: np.ndarray, values: Sequence[str | None]) -> None:
        # Each label's rows found in numpy (a cluster labelled at once: 25,000), those that hold it already left
        # out, all in one transaction (an undo gives back a few labels at once)
        rows, values = np.asarray(rows, np.int64), np.asarray(values, dtype=object)
        distinct = list(dict.fromkeys(values.tolist()))
        groups = []
        for v in distinct:
            rs = rows if len(distinct) == 1 else rows[values == v]
            rs = rs[np.not_equal(self.user_labels[rs], v)]  # elementwise, None too
            if len(rs):
                groups.append((rs, v))
        if groups:
            self.store.set_label_groups([(self.db_ids[rs], v) for rs, v in groups], "user")
        for rs, v in groups:
            self.user_labels[rs] = v
        self.events.labels_changed.emit(rows)

    def set_labels(self, rows: Iterable[int], label: str | None) -> None:
        """Give the images at ``rows`` the user label ``label`` (None clears it); undoable.

        The label is on disk when this returns.
        """
        rows = sorted_unique(np.asarray(list(rows), np.int64))
        if len(rows) == 0:
            return
        if label is not None and label not in self.class_names() and label not in SPECIAL:
            self.add_class(label)
        if not np.not_equal(self.user_labels[rows], label).any():
            # Nothing changes (a key pressed twice): no write, no undo step that undoes nothing; the views are told
            self.events.labels_changed.emit(rows)
            return
        before = self.user_labels[rows].tolist()
        what = "clear label" if label is None else f"label {len(rows)} image(s) '{label}'"
        self._run(_Command(what, lambda: self._write_labels(rows, [label] * len(rows)),
                           lambda: self._write_labels(rows, before), rows))

    def accept_model_labels(self, rows: Iterable[int]) -> None:
        """Make the model's label (the cluster's name) the user's label for ``rows``; undoable."""
        rows = sorted_unique(np.asarray(list(rows), np.int64))
        if len(rows) == 0:
            return
        before = self.user_labels[rows].tolist()
        clusters, of_row = np.unique(self.clusters[rows], return_inverse=True)  # each cluster's name looked up once
        names = [self.cluster_name(int(c)) for c in clusters]
        after = np.array(names, dtype=object)[of_row]
        if not np.not_equal(self.user_labels[rows], after).any():  # already theirs: nothing to write or undo
            self.events.labels_changed.emit(rows)
            return
        # A name that is no class yet becomes one first: its classes_changed waits for the labels, so the views
        # (the map's recolour) refresh once for both, not once before the labels are written and again after.
        with one_emission_each(self.events):
            for name in dict.fromkeys(names):
                if name not in self.class_names() and name not in SPECIAL:  # a cluster named "exclude": no class
                    self.add_class(name)
            self._run(_Command(f"accept model label for {len(rows)} image(s)",
                               lambda: self._write_labels(rows, after), lambda: self._write_labels(rows, before), rows))

    # ------------------------------------------------------------ export
    def export(self, path: str | os.PathLike[str], fmt: str = "csv", **job: Callable[..., object]) -> tuple[Path, Path]:
        """Write the current run's catalogue and its sidecar JSON (:func:`core.catalog.export.export_catalogue`).

        ``job`` is ``progress`` and ``should_stop`` when it runs as a job (the app's
        worker thread): the labels are read from the store as they are when the job reads them.
        Written inside :func:`core.store.rows.no_gc`: a catalogue row per image (an object
        and its dict of extra columns), none of them garbage until the file is written,
        which the app's collector walked on the GUI thread while the job built them
        (a collection of 122 ms during a Parquet export of 200,000 galaxies).
        """
        if self.run_id is None:
            raise RuntimeError("nothing to export yet: cluster the images first")
        with no_gc():  # each column's dict made in pieces: one dict(zip()) kept the interpreter lock 30-70 ms
            columns = {name: dict_in_pieces(self.paths, values) for name, values in self.catalog_columns.items()
                       if len(values) == len(self.paths)}
            return export_catalogue(self.store, self.run_id, path, fmt, columns=columns,
                                    join=self.join.record() if self.join is not None else None, **job)

    def export_csv(self, csv_path: str | os.PathLike[str]) -> tuple[Path, Path]:
        """Write the catalogue CSV and its sidecar JSON; return both paths."""
        return self.export(csv_path, "csv")
