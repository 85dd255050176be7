"""Start Galaxy Sorter: ``python -m app.main [FOLDER]`` (or the ``galaxy-sorter`` command).

PySide6 is imported before pyqtgraph so that pyqtgraph binds to it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import PySide6  # noqa: F401  (before pyqtgraph: it picks the first Qt binding imported)

#: Qt warnings that say nothing to a user (the offscreen and some X11 platform plugins print this on
#: every window shown); every other message still reaches the console.
_NOISE = ("This plugin does not support propagateSizeHints()",)


def _quiet_qt_messages() -> None:
    from PySide6.QtCore import qInstallMessageHandler

    def handler(_mode, _context, message: str) -> None:
        if not message.startswith(_NOISE):
            sys.stderr.write(message + "\n")

    qInstallMessageHandler(handler)


def open_window(folder: Path | None = None, settings=None):  # noqa: ANN001,ANN201 (QSettings, MainWindow: Qt imported late)
    """The main window, shown, with uncaught errors shown in it (:mod:`app.errors`), and ``folder`` opened.

    ``settings``: a ``QSettings`` of its own (tests), else the user's.
    """
    from app.errors import ErrorReporter
    from app.window import MainWindow

    window = MainWindow() if settings is None else MainWindow(settings=settings)
    window.errors = ErrorReporter(window, window.status.say)
    window.errors.install()
    window.show()
    if folder is not None:
        window.open_folder(folder)
    return window


def main(argv: list[str] | None = None) -> int:
    """Open the window, and ``FOLDER`` when given; returns the exit code.

    ``cluster``, ``suggest-k`` and ``sample`` as first argument run the headless
    command line instead (so the packaged app needs no second program).
    """
    args_in = sys.argv[1:] if argv is None else list(argv)
    if args_in and args_in[0] in ("cluster", "suggest-k", "sample"):
        from core.cli import main as cli_main

        return cli_main(args_in)
    parser = argparse.ArgumentParser(prog="galaxy-sorter", description="Sort a folder of galaxy images.")
    parser.add_argument("folder", nargs="?", type=Path, help="image folder to open")
    parser.add_argument("--quit-after", type=float, default=0, metavar="SECONDS",
                        help="close the window after this many seconds (smoke tests, timings)")
    args = parser.parse_args(args_in)

    import pyqtgraph as pg
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    _quiet_qt_messages()
    pg.setConfigOptions(antialias=False, useOpenGL=False)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Galaxy Sorter")
    app.setOrganizationName("GalaxySorter")
    window = open_window(args.folder)
    if args.quit_after > 0:
        QTimer.singleShot(int(args.quit_after * 1000), window.close)
    print("window shown", flush=True)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
