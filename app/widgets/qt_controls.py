"""The run settings: feature model, crop, clusters, algorithm and map; one click on Cluster."""

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

from core.cluster import METHODS
from core.features import MODELS
from core.pipeline import PipelineConfig
from core.preprocess import Preprocessing

METHOD_NAMES = {
    "dec": "DEC (deep embedded clustering)",
    "kmeans": "k-means",
    "pca-kmeans": "PCA + k-means",
    "gmm": "Gaussian mixture (unequal cluster sizes)",
    "agglomerative": "agglomerative (Ward)",
    "dbscan": "DBSCAN (finds its own number)",
    "dec-raw": "DEC on raw pixels (baseline)",
}
PROJECTION_NAMES = {"pca": "PCA", "tsne": "t-SNE", "lda": "LDA (needs labels)"}


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
        for name, text in MODELS.items():
            self.model.addItem(text.split(",")[0] + (" (default)" if name == "xception" else " (fast)"), name)
            self.model.setItemData(self.model.count() - 1, text, 3)  # tooltip role
        self.crop = QComboBox()
        self.crop.addItem("fixed centre crop", "fixed")
        self.crop.addItem("fitted to the central object", "auto")
        self.crop.addItem("none (whole image)", "none")
        self.crop_fraction = QDoubleSpinBox(minimum=0.1, maximum=1.0, singleStep=0.05, value=0.5, decimals=2)
        self.crop_fraction.setToolTip("Side of the centre crop as a fraction of the image: galaxies small in the "
                                      "frame need a tighter crop")
        self.crop.currentIndexChanged.connect(lambda _: self.crop_fraction.setEnabled(self.crop.currentData() != "none"))
        self.rotations = QCheckBox("average 8 rotations/flips (8x slower)")
        self.n_clusters = QSpinBox(minimum=2, maximum=50, value=2)
        self.method = QComboBox()
        for m in METHODS:
            self.method.addItem(METHOD_NAMES[m], m)
        self.method.currentIndexChanged.connect(
            lambda _: self.n_clusters.setEnabled(self.method.currentData() != "dbscan"))
        self.projection = QComboBox()
        for p, text in PROJECTION_NAMES.items():
            self.projection.addItem(text, p)
        self.projection.activated.connect(lambda _: self.projection_changed.emit(self.projection.currentData()))
        self.use_gpu = QCheckBox("use the GPU when it works")
        self.use_gpu.setChecked(True)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.seed.setToolTip("Same seed, same clusters")
        form = QFormLayout()
        form.addRow("Features", self.model)
        form.addRow("Crop", self.crop)
        form.addRow("Crop fraction", self.crop_fraction)
        form.addRow("", self.rotations)
        form.addRow("Clusters", self.n_clusters)
        form.addRow("Algorithm", self.method)
        form.addRow("Map", self.projection)
        form.addRow("Seed", self.seed)
        form.addRow("", self.use_gpu)
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

    def config(self) -> PipelineConfig:
        """The pipeline settings shown."""
        prep = Preprocessing(crop=self.crop.currentData(), crop_fraction=float(self.crop_fraction.value()),
                             rotations=self.rotations.isChecked())
        projection = self.projection.currentData()
        return PipelineConfig(model=self.model.currentData(), method=self.method.currentData(),
                              n_clusters=int(self.n_clusters.value()),
                              projection="pca" if projection == "lda" else projection,
                              prep=prep, seed=int(self.seed.value()), use_gpu=self.use_gpu.isChecked())

    def set_config(self, model: str, method: str, n_clusters: int, prep: dict, projection: str, seed: int) -> None:
        """Show the settings of a stored run (reopening a project)."""
        for combo, value in ((self.model, model), (self.method, method), (self.crop, prep.get("crop", "fixed")),
                             (self.projection, projection)):
            i = combo.findData(value)
            if i >= 0:
                combo.setCurrentIndex(i)
        self.n_clusters.setValue(int(n_clusters))
        self.crop_fraction.setValue(float(prep.get("crop_fraction", 0.5)))
        self.rotations.setChecked(bool(prep.get("rotations", False)))
        self.seed.setValue(int(seed))

    def set_busy(self, busy: bool) -> None:
        """Disable the buttons while a job runs."""
        for b in (self.cluster_button, self.suggest_k_button, self.suggest_button, self.retrain_button):
            b.setEnabled(not busy)
