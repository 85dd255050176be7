"""What an export that cannot be written tells an astronomer to do instead (exploratory QA, theme 2)."""

from __future__ import annotations


def test_hats_export_of_galaxies_some_without_a_position_names_what_the_app_can_write(qtbot, window, tmp_path):
    """File > Export Catalogue (HATS) with two of twelve FITS galaxies without a WCS: the error names the app's menu
    entry that can write them (the old code: the CLI's '--format parquet-dataset' and 'export only the galaxies with
    positions', which neither the app nor the CLI can do)."""
    from astropy.io import fits

    from tests.helpers import cluster, fast, write_wcs_galaxies

    folder = tmp_path / "sky"
    write_wcs_galaxies(folder, 12)
    for i in (3, 7):
        with fits.open(folder / f"g{i}.fits") as hdus:
            data = hdus[0].data.copy()
        (folder / f"g{i}.fits").unlink()
        fits.PrimaryHDU(data).writeto(folder / f"nowcs{i}.fits")
    window.open_folder(folder)
    fast(window)
    cluster(qtbot, window)
    with qtbot.waitSignal(window.jobs.failed, timeout=60_000):
        window.export_catalogue(str(tmp_path / "galaxies.hats"), "hats")
    said = window.last_error
    assert "2 of 12 have no ra/dec" in said
    entry = next(a.text() for a in window.export_actions if "partitioned Parquet" in a.text())
    assert f"File > {entry.replace('&', '').rstrip('…')}" in said, said
    assert "export only the galaxies with positions" not in said
