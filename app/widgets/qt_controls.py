"""The run settings: feature model, crop, clusters, algorithm and map; one click on Cluster.

The choices are read from the core registries (:data:`core.features.extract.FEATURE_MODELS`,
:data:`core.clustering.methods.CLUSTER_METHODS`, :data:`core.clustering.projection.PROJECTION_METHODS`) when
the panel is built: a method or model registered there shows here with nothing else to edit.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.clustering.methods import CLUSTER_METHODS
from core.clustering.projection import PROJECTION_METHODS
from core.features.bands import AUTO, ONE_BAND_MODEL
from core.features.extract import FEATURE_MODELS
from core.images.preprocess import MIN_CROP_FRACTION, Preprocessing
from core.pipeline import PipelineConfig
from core.registry import Registry


def _fill(combo: QComboBox, registry: Registry) -> None:
    """One item per registry entry: its label shown, its name as data, its description as tooltip."""
    for entry in registry:
        combo.addItem(entry.label, entry.name)
        if entry.description:
            combo.setItemData(combo.count() - 1, entry.description, 3)  # tooltip role
    combo.setCurrentIndex(max(0, combo.findData(registry.default)))


class QtRunSettings(QWidget):
    """Settings of the next run, with Cluster and Suggest-k buttons.

    Signals
    -------
    cluster_requested()
    suggest_k_requested()
    projection_changed(str)
        The user picked another map for the current run.
    """

    cluster_requested = Signal()
    suggest_k_requested = Signal()
    suggest_requested = Signal()
    retrain_requested = Signal()
    projection_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = QComboBox()
        _fill(self.model, FEATURE_MODELS)
        # First and chosen: the folder decides between colour and one-band models (core.features.bands).
        self.model.insertItem(0, "Automatic (colour or one band)", AUTO)
        self.model.setItemData(0, f"{FEATURE_MODELS.get(FEATURE_MODELS.default).label} for colour images; for a "
                                  f"folder of single-band images (one filter, grey JPEG or 2-D FITS) "
                                  f"{FEATURE_MODELS.get(ONE_BAND_MODEL).label}, which keeps more of one band", 3)
        self.model.setCurrentIndex(0)
        self.crop = QComboBox()
        self.crop.addItem("fixed centre crop", "fixed")
        self.crop.addItem("fitted to the central object", "auto")
        self.crop.addItem("none (whole image)", "none")
        # the run's own limit: at 0.1 a reopened CLI run of crop 0.05 showed 0.10 and a Cluster ran that instead
        self.crop_fraction = QDoubleSpinBox(minimum=MIN_CROP_FRACTION, maximum=1.0, singleStep=0.05, value=0.5,
                                            decimals=2)
        self.crop_fraction.setToolTip("Side of the centre crop as a fraction of the image: galaxies small in the "
                                      "frame need a tighter crop")
        self.crop.currentIndexChanged.connect(lambda _: self.crop_fraction.setEnabled(self.crop.currentData() != "none"))
        self.rotations = QCheckBox("average 8 rotations/flips (8x slower)")
        self.n_clusters = QSpinBox(minimum=2, maximum=50, value=2)
        self.method = QComboBox()
        _fill(self.method, CLUSTER_METHODS)
        self.method.currentIndexChanged.connect(lambda _: self.n_clusters.setEnabled(
            CLUSTER_METHODS.get(self.method.currentData()).options.uses_k))
        self.projection = QComboBox()
        _fill(self.projection, PROJECTION_METHODS)
        self.projection.activated.connect(lambda _: self.projection_changed.emit(self.projection.currentData()))
        self.use_gpu = QCheckBox("use the GPU when it works")
        self.use_gpu.setChecked(True)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.seed.setToolTip("Same seed, same clusters")
        form = QFormLayout()
        form.addRow("Features", self.model)
        form.addRow("Crop", self.crop)
        form.addRow("Crop fraction", self.crop_fraction)
        form.addRow(self.rotations)  # across both columns: the form stays narrow
        form.addRow("Clusters", self.n_clusters)
        form.addRow("Algorithm", self.method)
        form.addRow("Map", self.projection)
        form.addRow("Seed", self.seed)
        form.addRow(self.use_gpu)
        self.cluster_button = QPushButton("Cluster")
        self.cluster_button.setDefault(True)
        self.cluster_button.setToolTip("Extract features (cached), cluster and draw the map (Ctrl+R)")
        self.cluster_button.clicked.connect(self.cluster_requested)
        self.suggest_k_button = QPushButton("Suggest k")
        self.suggest_k_button.setToolTip("Silhouette of k-means for k = 2..8 on the features")
        self.suggest_k_button.clicked.connect(self.suggest_k_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cluster_button, 2)
        buttons.addWidget(self.suggest_k_button, 1)
        self.suggest_button = QPushButton("Suggest")
        self.suggest_button.setToolTip("Select the 10 galaxies whose labels would teach the model most (Ctrl+G)")
        self.suggest_button.clicked.connect(self.suggest_requested)
        self.retrain_button = QPushButton("Retrain")
        self.retrain_button.setToolTip("Fine-tune DEC on your labels and update the clusters (Ctrl+T); undo with Ctrl+Z")
        self.retrain_button.clicked.connect(self.retrain_requested)
        learn = QHBoxLayout()
        learn.addWidget(self.suggest_button)
        learn.addWidget(self.retrain_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addLayout(learn)
        layout.addStretch(1)

    def shown_name(self, box: str, name: object) -> str:
        """How the ``box`` ("model", "method", "projection") lists entry ``name``: ``t-SNE`` for ``tsne``."""
        combo = getattr(self, box)
        i = combo.findData(name)
        return combo.itemText(i).split(" (")[0] if i >= 0 else str(name)

    def config(self) -> PipelineConfig:
        """The pipeline settings shown."""
        prep = Preprocessing(crop=self.crop.currentData(), crop_fraction=float(self.crop_fraction.value()),
                             rotations=self.rotations.isChecked())
        projection = self.projection.currentData()
        # A map fitted on labels is drawn after the run; the run itself maps with PCA.
        if PROJECTION_METHODS.get(projection).options.needs_labels:
            projection = "pca"
        return PipelineConfig(model=self.model.currentData(), method=self.method.currentData(),
                              n_clusters=int(self.n_clusters.value()), projection=projection,
                              prep=prep, seed=int(self.seed.value()), use_gpu=self.use_gpu.isChecked())

    def set_config(self, config: PipelineConfig, projection: str | None = None) -> None:
        """Show the settings of a stored run (reopening a project); ``projection``: the map shown now."""
        for combo, value in ((self.model, config.model), (self.method, config.method), (self.crop, config.prep.crop),
                             (self.projection, projection or config.projection)):
            i = combo.findData(value)
            if i >= 0:
                combo.setCurrentIndex(i)
        self.n_clusters.setValue(int(config.n_clusters))
        self.crop_fraction.setValue(float(config.prep.crop_fraction))
        self.rotations.setChecked(bool(config.prep.rotations))
        self.seed.setValue(int(config.seed))

    def show_projection(self, name: str) -> None:
        """Set the Map box to ``name``, the projection the map shows (after a refused one was picked).

        Parameters
        ----------
        name : str
            A key of :data:`core.clustering.projection.PROJECTION_METHODS`; an unknown one leaves the box as it is.
        """
        i = self.projection.findData(name)
        if i >= 0:
            self.projection.setCurrentIndex(i)

    def set_busy(self, busy: bool) -> None:
        """Disable the buttons while a job runs."""
        for b in (self.cluster_button, self.suggest_k_button, self.suggest_button, self.retrain_button):
            b.setEnabled(not busy)
