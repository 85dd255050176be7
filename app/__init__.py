"""Galaxy Sorter desktop application (PySide6 + pyqtgraph); renders what core/ computes."""
