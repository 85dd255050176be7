"""Catalogue > Join a catalogue and Load a truth file, clicked in the menu with their dialogs answered:
a file that cannot be joined is refused in words and the join (or truth) already there is kept."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog

from app import dialogs
from app.widgets import qt_tables
from tests.helpers import open_and_cluster


@pytest.fixture
def menu(qtbot, window, monkeypatch):
    """Trigger a Catalogue menu action on a file: ``menu(action_text, file, how=None)``; the errors shown are kept.

    The file dialog answers ``file``; the join dialog, when it comes, is accepted with ``how`` ("id" or "sky")
    and the columns it found by name (as a user who presses OK).
    """
    errors: list[str] = []
    answer: dict[str, object] = {}
    monkeypatch.setattr(dialogs, "error", lambda _w, message, hint="", details="": errors.append(message))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (answer["file"], "")))

    def accept(dialog) -> qt_tables.QDialog.DialogCode:
        if answer.get("how"):
            dialog.how.setCurrentIndex(dialog.how.findData(answer["how"]))
        return qt_tables.QDialog.DialogCode.Accepted

    monkeypatch.setattr(qt_tables._JoinDialog, "exec", accept)

    def trigger(text: str, file, how: str | None = None) -> list[str]:
        menu_ = {a.text().replace("&", ""): a for a in window.menuBar().actions()}["Catalogue"].menu()
        actions = {a.text().replace("&", ""): a for a in menu_.actions()}
        answer.update(file=str(file), how=how)
        errors.clear()
        actions[text].trigger()
        # the join runs as a job, the truth file is read and the Cluster x label table counted on threads of their own
        table = window.catalogue.table
        qtbot.waitUntil(lambda: not window.jobs.busy and not table.reading and not table.counting, timeout=60_000)
        return list(errors)

    return trigger


JOIN, TRUTH = "Join a catalogue (CSV)…", "Load a truth file (CSV)…"


def _good_join(p, menu, tmp_path):
    """Join a catalogue whose ``mass`` matches every image; return the joined columns."""
    good = tmp_path / "good.csv"
    good.write_text("id,mass\n" + "".join(f"{n},{i}\n" for i, n in enumerate(p.names)))
    assert menu(JOIN, good) == []
    assert p.join is not None and np.isfinite(p.catalog_columns["cat_mass"]).all()
    return {k: np.array(v, copy=True) for k, v in p.catalog_columns.items()}


def test_a_join_catalogue_with_an_unclosed_quote_is_refused_with_its_line(qtbot, window, folder, tmp_path, menu):
    """Exploratory QA: an unclosed quote swallowed the rest of the file (10 rows read as 1, "1 of 10 matched")."""
    p = open_and_cluster(qtbot, window, folder)
    before = _good_join(p, menu, tmp_path)
    bad = tmp_path / "unclosed.csv"
    bad.write_text('id,name,mass\n' + f'{p.names[0]},"oops,1\n' + "".join(f"{n},n,{i}\n" for i, n in enumerate(p.names[1:])))
    errors = menu(JOIN, bad)
    assert len(errors) == 1 and f"{bad}, line 2: a quote is not closed" in errors[0], errors
    assert p.join.catalogue == str((tmp_path / "good.csv").resolve())
    assert all(np.array_equal(before[k], p.catalog_columns[k]) for k in before)


def test_a_join_catalogue_with_a_cell_over_128_kib_is_refused_in_words(qtbot, window, folder, tmp_path, menu):
    """Exploratory QA: a field over the csv module's limit raised ``_csv.Error`` out of the menu slot: nothing shown."""
    p = open_and_cluster(qtbot, window, folder)
    before = _good_join(p, menu, tmp_path)
    big = tmp_path / "bigfield.csv"
    big.write_text(f"id,note\n{p.names[0]},{'a' * 200_000}\n{p.names[1]},b\n")
    errors = menu(JOIN, big)
    assert len(errors) == 1 and f"{big}, line 2: a field is longer than 131,072 characters" in errors[0], errors
    assert all(np.array_equal(before[k], p.catalog_columns[k]) for k in before)


def test_joined_columns_named_too_long_for_a_fits_card_are_exported_cut_and_unique(qtbot, window, folder, tmp_path,
                                                                                     menu):
    """Exploratory QA: a joined column named over 68 characters stopped the FITS export with astropy's AssertionError
    ("Column name must be a string able to fit in a single FITS card")."""
    import csv

    from astropy.io import fits
    from astropy.table import Table

    from tests.helpers import export_catalogue

    p = open_and_cluster(qtbot, window, folder)
    long_a, long_b = "x" * 75 + "_a", "x" * 75 + "_b"
    cat = tmp_path / "longname.csv"
    cat.write_text(f"id,{long_a},{long_b}\n" + "".join(f"{n},{i},{-i}\n" for i, n in enumerate(p.names)))
    assert menu(JOIN, cat) == []
    out = export_catalogue(qtbot, window, tmp_path / "catalogue.fits", "fits", timeout=30_000)
    table = Table.read(out)
    short = [c for c in table.colnames if c.startswith("cat_xxx")]
    assert len(short) == 2 and all(len(c) <= 68 for c in short)
    by_full = {table[c].description.split(":")[0].removeprefix("full name "): c for c in short}
    assert set(by_full) == {f"cat_{long_a}", f"cat_{long_b}"}
    ids = list(table["id"])
    i = ids.index(p.names[3])
    assert table[by_full[f"cat_{long_a}"]][i] == 3 and table[by_full[f"cat_{long_b}"]][i] == -3
    comments = "".join(str(c) for c in fits.getheader(out, 1)["COMMENT"])  # a long comment goes on over cards
    assert all(f"column {by_full[full]} is {full}" in comments for full in by_full), comments
    rows = list(csv.DictReader(open(export_catalogue(qtbot, window, tmp_path / "catalogue.csv"))))
    assert f"cat_{long_a}" in rows[0] and f"cat_{long_b}" in rows[0]  # the other formats keep the full name


def test_a_join_that_matches_no_image_is_refused_and_the_join_there_is_kept(qtbot, window, tmp_path, menu):
    """Exploratory QA: a join matching nothing replaced the join there (its cat_* columns all empty), no undo."""
    from tests.helpers import write_wcs_galaxies

    write_wcs_galaxies(tmp_path / "wcs", 6)  # galaxy i at RA 150 + i, Dec -2
    p = open_and_cluster(qtbot, window, tmp_path / "wcs", k=2)
    before = _good_join(p, menu, tmp_path)
    other = tmp_path / "other.csv"
    other.write_text("id,ra,dec,z\n" + "".join(f"G{i:04d},{150 + i + 10 / 3600},-2.0,{i / 10}\n" for i in range(6)))
    errors = menu(JOIN, other, how="id")
    assert len(errors) == 1 and "no image matched other.csv: none of the 6 image ids (such as 'g0'" in errors[0], errors
    assert "column 'id' (which holds 'G0000'" in errors[0] and "The join of good.csv is kept" in errors[0]
    errors = menu(JOIN, other, how="sky")  # 10 arcsec off: outside the 2 arcsec radius
    assert len(errors) == 1 and "no source of it lies within 2 arcsec of an image centre" in errors[0], errors
    assert "the nearest is 10.0 arcsec away" in errors[0]
    assert p.join.catalogue == str((tmp_path / "good.csv").resolve())
    assert all(np.array_equal(before[k], p.catalog_columns[k]) for k in before)
    window.open_folder(tmp_path / "wcs")  # and the store kept it too
    assert window.project.join.catalogue == str((tmp_path / "good.csv").resolve())


def test_a_sky_join_reads_sexagesimal_ra_dec_and_says_when_a_column_holds_no_angle(qtbot, window, tmp_path, menu):
    """Exploratory QA: RA/Dec written "10:00:00.000", "+02:00:00" gave "0 of 10 matched" and no word why."""
    from tests.helpers import write_wcs_galaxies

    write_wcs_galaxies(tmp_path / "wcs", 6)  # galaxy i at RA 150 + i (10h + 4i min), Dec -2
    p = open_and_cluster(qtbot, window, tmp_path / "wcs", k=2)
    sexa = tmp_path / "sexa.csv"
    sexa.write_text("id,ra,dec,z\n" + "".join(f"x{i},10:{4 * i:02d}:00.000,-02:00:00.0,{i / 10}\n" for i in range(6)))
    assert menu(JOIN, sexa, how="sky") == []
    assert p.join.matched == 6 and p.join.by == "sky"
    np.testing.assert_allclose([p.catalog_columns["cat_z"][p.names.index(f"g{i}")] for i in range(6)],
                               [i / 10 for i in range(6)])
    bad = tmp_path / "bad.csv"
    bad.write_text("id,ra,dec\nx0,,-2\nx1,abc,-2\n")
    errors = menu(JOIN, bad, how="sky")
    assert len(errors) == 1 and "RA column 'ra' holds no angle astropy can read, e.g. line 3: 'abc'" in errors[0], errors
    assert p.join.catalogue == str(sexa.resolve()) and np.isfinite(p.catalog_columns["cat_z"]).all()


def test_a_truth_file_of_file_names_matches_one_of_no_image_is_refused_and_one_class_is_said(qtbot, window, folder,
                                                                                            tmp_path, menu):
    """Exploratory QA: ids written "g0.png" matched no image "g0", replaced the truth loaded, and the scores line
    then advised "Label galaxies of two classes or more (or load a truth file)" though one was just loaded."""
    from core.catalog.truth import load_truth

    p = open_and_cluster(qtbot, window, folder)
    table = window.catalogue.table
    assert menu(TRUTH, folder / "labels.csv") == []
    assert "truth (labels.csv)" in table.scores.text()
    other = tmp_path / "other.csv"
    other.write_text("id,class\n" + "".join(f"X{i},spiral\n" for i in range(5)))
    errors = menu(TRUTH, other)
    assert len(errors) == 1 and "none of its 5 ids ('X0', 'X1', 'X2'...) is an image of this project" in errors[0]
    assert "The truth from labels.csv is kept" in errors[0]
    assert table.truth_name == "labels.csv" and "truth (labels.csv)" in table.scores.text()
    truth = load_truth(folder / "labels.csv")
    named = tmp_path / "named.csv"
    named.write_text("id,class\n" + "".join(f"{n}.png,{truth[n]}\n" for n in p.names))
    assert menu(TRUTH, named) == []
    assert table.truth_name == "named.csv" and int(table.counts.sum()) == len(p)
    assert "accuracy (optimal matching)" in table.scores.text()
    one = tmp_path / "one.csv"
    one.write_text("id,class\n" + "".join(f"{n}.PNG,spiral\n" for n in p.names[:4]))
    assert menu(TRUTH, one) == []
    text = table.scores.text()
    assert "Truth (one.csv): the 4 image(s) it gives a class are all spiral; scores need two classes" in text, text
    assert "load a truth file" not in text


def test_a_sky_join_from_the_menu_reads_the_headers_and_the_table_off_the_gui_thread_once(qtbot, window, tmp_path,
                                                                                          menu, monkeypatch):
    """Every FITS header and the whole table were read on the GUI thread, before the dialog and for the join:
    on a folder of 60,000 FITS files the window froze for a minute.  Now only the header row is read there."""
    import threading

    from core.catalog import bounded, join, sky
    from tests.helpers import write_wcs_galaxies

    folder = tmp_path / "fits"
    write_wcs_galaxies(folder, 8)
    p = open_and_cluster(qtbot, window, folder, k=2)
    headers, tables = [], []
    real_centre, real_rows = sky.wcs_centre, bounded.csv_rows  # each header read where sky_positions looks it up
    monkeypatch.setattr(sky, "wcs_centre", lambda path: headers.append(threading.current_thread()) or real_centre(path))

    def rows(path, *args, header_only=False, **kwargs):
        tables.append((threading.current_thread(), header_only))
        return real_rows(path, *args, header_only=header_only, **kwargs)

    monkeypatch.setattr(join, "csv_rows", rows)
    records = []  # the store's record of every matched image, made (and encoded as JSON) in the job
    real_record = join.join_to_setting
    monkeypatch.setattr(join, "join_to_setting", lambda *a: records.append(threading.current_thread()) or real_record(*a))
    cat = tmp_path / "sky.csv"
    cat.write_text("ra,dec,z\n" + "".join(f"{150.0 + i},-2.0,{i / 10}\n" for i in range(0, 8, 2)))
    assert menu(JOIN, cat, how="sky") == []
    assert p.join is not None and p.join.by == "sky" and p.join.matched == 4
    assert "Joined sky.csv: 4 of 8 images matched" in window.stage_label.text()
    main = threading.main_thread()
    assert len(headers) == 8 and main not in headers
    assert [(t is main, only) for t, only in tables] == [(True, True), (False, False)]  # the dialog's header, the job's table
    assert len(records) == 1 and main not in records
    headers.clear()
    assert menu(JOIN, cat, how="sky") == []  # joined again (another radius, say): the image positions are remembered
    assert headers == [] and p.join.matched == 4


def test_a_truth_file_is_read_off_the_gui_thread_from_the_menu_and_when_the_folder_reopens(qtbot, window, folder,
                                                                                           menu, monkeypatch):
    """A survey's truth file (a million rows: 4.0 s to read, 2.8 s to match, 7 s to score as text) froze the window
    when loaded from the menu, and again at every reopening of the folder."""
    import threading

    from core.catalog import truth as truth_module

    p = open_and_cluster(qtbot, window, folder)
    readers = []
    real = truth_module.load_truth
    monkeypatch.setattr(truth_module, "load_truth", lambda path: readers.append(threading.current_thread()) or real(path))
    table = window.catalogue.table
    assert menu(TRUTH, folder / "labels.csv") == []
    assert table.truth_name == "labels.csv" and int(table.counts.sum()) == len(p)
    assert "30 of 30 images have a class" in window.stage_label.text()
    window.open_folder(folder)  # the truth file is read again for the reopened project
    qtbot.waitUntil(lambda: table.truth_name == "labels.csv" and not table.reading and not table.counting,
                    timeout=60_000)
    assert len(readers) == 2 and threading.main_thread() not in readers
    assert "truth (labels.csv)" in table.scores.text()


def test_a_sky_join_skips_rows_without_a_usable_position_and_says_which(qtbot, window, tmp_path, menu):
    """Exploratory QA: one row's Dec of 95 stopped the whole sky join ("Latitude angle(s) must be within -90 deg <=
    angle <= 90 deg"); an RA of inf was dropped without a word.  The others are joined, the bad rows told by line."""
    from tests.helpers import write_wcs_galaxies

    write_wcs_galaxies(tmp_path / "wcs", 6)  # galaxy i at RA 150 + i, Dec -2
    p = open_and_cluster(qtbot, window, tmp_path / "wcs", k=2)
    cat = tmp_path / "sky.csv"
    dec = {1: "95", 3: "-2.0"}
    ra = {3: "inf"}
    cat.write_text("ra,dec,z\n" + "".join(f"{ra.get(i, 150.0 + i)},{dec.get(i, '-2.0')},{i}\n" for i in range(6))
                   + ",-2.0,9\n")
    assert menu(JOIN, cat, how="sky") == []
    assert p.join.matched == 4 and p.join.skipped_rows == 3
    np.testing.assert_allclose([p.catalog_columns["cat_z"][p.names.index(f"g{i}")] for i in range(6)],
                               [0, np.nan, 2, np.nan, 4, 5])
    said = window.stage_label.text()
    assert ("Joined sky.csv: 4 of 6 images matched (3 catalogue row(s) skipped, with no usable position: "
            "line 3: Dec '95' is outside [-90, 90]; line 5: RA 'inf' is not a finite angle; line 8: no RA)") in said, said
    allbad = tmp_path / "allbad.csv"
    allbad.write_text("ra,dec\n150,95\n151,-91\n")
    errors = menu(JOIN, allbad, how="sky")  # nothing to join: refused in words, the join there kept
    assert len(errors) == 1 and ("none of its 2 rows has a position a sky join can use (columns 'ra', 'dec'): "
                                 "line 2: Dec '95' is outside [-90, 90]; line 3: Dec '-91'") in errors[0], errors
    assert p.join.catalogue == str(cat.resolve())


def test_nan_inf_and_na_cells_leave_a_joined_column_numeric_to_colour_the_map_and_export_as_float(qtbot, window,
                                                                                                   folder, tmp_path,
                                                                                                   menu):
    """Exploratory QA: a magnitude column with the ``nan``/``inf`` cells numpy and pandas write (or R's ``NA``) was
    joined as text: no "colour by cat_mag", and a text column in the FITS export."""
    from astropy.table import Table

    from tests.helpers import export_catalogue

    p = open_and_cluster(qtbot, window, folder)
    odd = ["nan", "NaN", "inf", "-inf", "NA", "", "N/A", "null"]
    cat = tmp_path / "mags.csv"
    cat.write_text("id,mag\n" + "".join(f"{n},{odd[i] if i < len(odd) else 18 + i / 10}\n" for i, n in enumerate(p.names)))
    assert menu(JOIN, cat, how="id") == []
    mag = p.catalog_columns["cat_mag"]
    assert mag.dtype.kind == "f"
    np.testing.assert_array_equal(mag[:8], [np.nan, np.nan, np.inf, -np.inf, np.nan, np.nan, np.nan, np.nan])
    assert mag[8] == 18.8
    assert window.color_combo.findText("colour by cat_mag") >= 0
    window.set_color_mode("cat_mag")
    legend = [item[1].text for item in window.map.legend.items]
    assert any(t.startswith("cat_mag 18.") for t in legend), legend
    # the infinities are values, at the ends of the scale; only the rows of no value are grey
    assert any("cat_mag: no match (6)" in t for t in legend), legend
    table = Table.read(export_catalogue(qtbot, window, tmp_path / "catalogue.fits", "fits", timeout=30_000))
    assert table["cat_mag"].dtype.kind == "f"
    values = dict(zip(table["id"], np.asarray(table["cat_mag"], float)))
    assert values[p.names[8]] == 18.8 and values[p.names[3]] == -np.inf and np.isnan(values[p.names[0]])
    window.open_folder(folder)  # reopened: the store gives back the same numbers, infinities included
    np.testing.assert_array_equal(window.project.catalog_columns["cat_mag"], mag)


def test_a_galaxy_of_band_files_is_joined_scored_and_exported_by_its_base_name(qtbot, window, tmp_path, menu,
                                                                               monkeypatch):
    """Exploratory QA: a galaxy stored as ngc0_g/_r/_i.fits had the id ngc0_i (the file it is listed by), so a
    catalogue naming it ngc0 matched nothing ("no image matched") and the export's id column said ngc0_i.
    A lone arp_g.fits, no other band of arp beside it, is no band set: it keeps its whole name.  The folder is
    listed once for all its images, not once an image (a survey has a million)."""
    import csv

    from astropy.io import fits

    from core.images import ids
    from tests.helpers import blob, export_catalogue, write_band_galaxies

    folder = tmp_path / "bands"
    write_band_galaxies(folder, 6)
    fits.PrimaryHDU(blob(4, size=48, seed=99, colour=False).astype(np.float32)).writeto(folder / "arp_g.fits")
    p = open_and_cluster(qtbot, window, folder, k=2)
    galaxies = [f"ngc{i}" for i in range(6)] + ["arp_g"]
    assert sorted(p.names) == sorted(galaxies)
    assert sorted(p.store.key_of(x) for x in p.paths) == ["arp_g.fits"] + [f"ngc{i}_i.fits" for i in range(6)]
    cat = tmp_path / "ngc.csv"
    cat.write_text("id,mass\n" + "".join(f"{g},{i}\n" for i, g in enumerate(galaxies)))
    listings = []
    real = ids.folder_band_index  # a folder's band sets, looked up once for all its images
    monkeypatch.setattr(ids, "folder_band_index", lambda folder: listings.append(1) or real(folder))
    assert menu(JOIN, cat) == []
    assert p.join.matched == 7 and len(listings) == 1
    assert [p.catalog_columns["cat_mass"][p.names.index(g)] for g in galaxies] == list(range(7))
    rows = list(csv.DictReader(open(export_catalogue(qtbot, window, tmp_path / "catalogue.csv"))))
    assert sorted(r["id"] for r in rows) == sorted(galaxies)
    assert {r["id"]: float(r["cat_mass"]) for r in rows} == {g: i for i, g in enumerate(galaxies)}
    listed = tmp_path / "listed.csv"  # the other spelling: the band file each galaxy is listed by
    listed.write_text("id,z\n" + "".join(f"ngc{i}_i,{i / 10}\n" for i in range(6)))
    assert menu(JOIN, listed) == [] and p.join.matched == 6
    assert p.catalog_columns["cat_z"][p.names.index("ngc4")] == 0.4
    truth = tmp_path / "truth.csv"
    truth.write_text("id,class\n" + "".join(f"ngc{i},{'ab'[i % 2]}\n" for i in range(3))
                     + "".join(f"ngc{i}_i.fits,{'ab'[i % 2]}\n" for i in range(3, 6)))
    assert menu(TRUTH, truth) == []
    assert window.catalogue.table.truth == {f"ngc{i}": "ab"[i % 2] for i in range(6)}


def test_a_catalogue_with_a_repeated_column_name_keeps_both_columns_numbered(qtbot, window, folder, tmp_path, menu):
    """Exploratory QA: a header ``id,mag,mag`` (two bands' magnitudes, both called mag) joined the second column as
    cat_mag and dropped the first without a word.  A repeat is numbered, as TOPCAT and astropy do, past any name
    the table already has: ``mag, mag, mag_1`` -> cat_mag, cat_mag_2, cat_mag_1."""
    import csv

    from tests.helpers import export_catalogue

    p = open_and_cluster(qtbot, window, folder)
    cat = tmp_path / "mags.csv"
    cat.write_text("id,mag,mag,mag_1\n" + "".join(f"{n},{i},{-i},x{i}\n" for i, n in enumerate(p.names)))
    assert menu(JOIN, cat) == []
    assert sorted(p.join.columns) == ["id", "mag", "mag_1", "mag_2"]
    assert list(p.catalog_columns["cat_mag"]) == list(range(len(p)))
    assert list(p.catalog_columns["cat_mag_2"]) == [-i for i in range(len(p))]
    assert list(p.catalog_columns["cat_mag_1"]) == [f"x{i}" for i in range(len(p))]
    rows = list(csv.DictReader(open(export_catalogue(qtbot, window, tmp_path / "catalogue.csv"))))
    by_id = {r["id"]: r for r in rows}
    assert [float(by_id[p.names[3]][c]) for c in ("cat_mag", "cat_mag_2")] == [3, -3]


def test_semicolon_and_tab_separated_tables_are_joined_and_loaded_as_truth(qtbot, window, folder, tmp_path, menu):
    """Exploratory QA: a catalogue a spreadsheet saved in a European locale (``id;mass``, decimal commas) was read as
    one column named "id;mass" and the join said no image matched, with no word of the separator; a truth file so
    saved, or tab-separated as VizieR writes one, named no image.  The header line says the separator."""
    from core.catalog.truth import load_truth

    p = open_and_cluster(qtbot, window, folder)
    cat = tmp_path / "excel.csv"
    cat.write_text("id;mass;note\n" + "".join(f'{n};{i},5;"a;{i}"\n' for i, n in enumerate(p.names)))
    assert menu(JOIN, cat) == []
    assert p.join.matched == len(p) and p.catalog_columns["cat_mass"].dtype.kind == "f"
    assert list(p.catalog_columns["cat_mass"]) == [i + 0.5 for i in range(len(p))]
    assert p.catalog_columns["cat_note"][3] == "a;3"
    truth = load_truth(folder / "labels.csv")
    table = window.catalogue.table
    for name, sep in (("excel_truth.csv", ";"), ("vizier.tsv", "\t")):
        path = tmp_path / name
        path.write_text(f"id{sep}class\n" + "".join(f"{n}{sep}{truth[n]}\n" for n in p.names))
        assert menu(TRUTH, path) == []
        assert table.truth_name == name and table.truth == {n: truth[n] for n in p.names}


def test_a_joins_record_is_written_into_the_store_by_the_job_not_on_the_gui_thread(qtbot, window, folder, tmp_path,
                                                                                  menu, monkeypatch):
    """A GUI audit at 200,000 galaxies: the join's result wrote the store's record of every matched value on the
    GUI thread (133 ms; the JSON of a million galaxies' values takes 0.6 s).  The job writes it, through a store
    connection of its own; the result is then only kept in memory, and a reopening finds the join."""
    import threading

    from core.catalog.join import JOIN_SETTING
    from core.store.database import ProjectStore

    p = open_and_cluster(qtbot, window, folder)
    writers = []
    real = ProjectStore.set_setting

    def set_setting(store, key, *args, **kwargs):
        if key == JOIN_SETTING:
            writers.append(threading.current_thread())
        return real(store, key, *args, **kwargs)

    monkeypatch.setattr(ProjectStore, "set_setting", set_setting)
    cat = tmp_path / "cat.csv"
    cat.write_text("id,mass\n" + "".join(f"{n},{i}\n" for i, n in enumerate(p.names)))
    assert menu(JOIN, cat) == []
    assert p.join.matched == len(p) and len(writers) == 1 and writers[0] is not threading.main_thread()
    assert window.open_folder(folder)  # reopen: the join comes back from the store
    assert list(window.project.catalog_columns["cat_mass"]) == list(range(len(p)))


def test_whether_a_sky_join_is_offered_is_found_off_the_gui_thread_before_the_dialog(qtbot, window, folder, tmp_path,
                                                                                     monkeypatch):
    """A GUI audit at a million galaxies: Join a catalogue looked at every image's path for a FITS suffix before its
    dialog showed, 0.48 s of the GUI thread.  The catalogue menu finds it out on a thread of its own when the
    project opens; the dialog offers a sky join for FITS images and not for others, as before."""
    import threading

    from app.widgets import qt_tables
    from tests.helpers import write_wcs_galaxies

    looked, offered = [], []
    real = qt_tables.any_fits
    monkeypatch.setattr(qt_tables, "any_fits", lambda paths: looked.append(threading.current_thread()) or real(paths))

    def answer(dialog) -> qt_tables.QDialog.DialogCode:
        offered.append([dialog.how.itemData(i) for i in range(dialog.how.count())])
        return qt_tables.QDialog.DialogCode.Rejected

    monkeypatch.setattr(qt_tables._JoinDialog, "exec", answer)
    cat = tmp_path / "cat.csv"
    cat.write_text("id,ra,dec\ng0,150,-2\n")
    write_wcs_galaxies(tmp_path / "fits", 4)
    for images, k in ((folder, 3), (tmp_path / "fits", 2)):
        open_and_cluster(qtbot, window, images, k=k)
        qtbot.waitUntil(lambda: window.catalogue.fits is not None and window.catalogue.fits[0] is window.project.paths,
                        timeout=10_000)
        assert window.catalogue.join_catalogue(str(cat)) is None  # the dialog, cancelled
    assert offered == [["id"], ["id", "sky"]]
    assert looked and threading.main_thread() not in looked
