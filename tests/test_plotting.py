"""Tests of `astroquery_nirspec.plotting.plot_duplicates` (Agg backend, no network)."""
import os
import sys

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest
from astropy.table import MaskedColumn, Table

from astroquery_nirspec.duplication import evaluate
from astroquery_nirspec.plotting import parse_s_region, plot_duplicates

matplotlib = pytest.importorskip("matplotlib")


def box(ra, dec, half):
    """STC-S of a small square (degrees), as CAOM writes it."""
    corners = [(ra - half, dec - half), (ra + half, dec - half), (ra + half, dec + half),
               (ra - half, dec + half)]
    return "POLYGON ICRS " + " ".join(f"{x % 360:.9f} {y:.9f}" for x, y in corners)


def mos(ra, dec):
    """A four-quadrant MSA footprint: several POLYGONs in one s_region, ~3.4' across."""
    q = 0.014
    return " ".join(box(ra + dx, dec + dy, q) for dx in (-0.016, 0.016) for dy in (-0.016, 0.016))


TARGETS = Table(rows=[
    # field 1 (GOODS-S)
    ("A", 53.160, -27.790, "IFU", "G395H", "F290LP", 1000.0),
    ("B", 53.170, -27.785, "S200A1", "G140H", "F100LP", 2000.0),
    ("C", 53.130, -27.800, "MSA", "PRISM", "CLEAR", 3000.0),
    # field 2, across RA 0
    ("D", 0.0005, 10.0, "S200A2", "G235H", "F170LP", 1500.0),
    ("E", 359.995, 10.001, "S1600A1", "G395M", "F290LP", 800.0),
], names=["name", "ra", "dec", "aperture", "grating", "filter", "exposure_time"])

# obs_id, instrument_name, filters, t_exptime, s_ra, s_dec, calib_level, proposal_id, s_region
CAOM = [
    # duplicate of A (same IFU configuration, 1" away)
    ("jw01234-o001_t001_nirspec_g395h-f290lp", "NIRSPEC/IFU", "F290LP;G395H", 1500.0,
     53.1603, -27.7900, 3, "1234", box(53.1603, -27.79, 0.0005)),
    # possible for A: same band and filter at the other resolution
    ("jw01235-o002_t001_nirspec_g395m-f290lp", "NIRSPEC/IFU", "F290LP;G395M", 1000.0,
     53.1598, -27.7901, 3, "1235", box(53.1598, -27.7901, 0.0005)),
    # planned duplicate of B
    ("jw04444003001_xx101_00001_nirspec", "NIRSPEC/SLIT", "F100LP;G140H", 2000.0,
     53.1700, -27.7850, -1, "4444", box(53.17, -27.785, 0.0003)),
    # MOS near C: PRISM with too little time (possible), and G235M (not a duplicate)
    ("jw01345-o004_s00001_nirspec_clear-prism", "NIRSPEC/MSA", "CLEAR;PRISM", 200.0,
     53.1310, -27.8000, 3, "1345", mos(53.131, -27.80)),
    ("jw01346-o001_s00001_nirspec_f170lp-g235m", "NIRSPEC/MSA", "F170LP;G235M", 3000.0,
     53.1290, -27.8010, 3, "1346", mos(53.129, -27.801)),
    # across RA 0: a different configuration near D, no footprint recorded
    ("jw02000-o005_t001_nirspec_f290lp-g395h-s200a2", "NIRSPEC/SLIT", "F290LP;G395H", 1500.0,
     0.0004, 10.0001, 3, "2000", None),
    # and a planned duplicate of D whose footprint straddles RA 0
    ("jw05555001001_xx101_00001_nirspec", "NIRSPEC/SLIT", "F170LP;G235H", 1500.0,
     0.0002, 10.0000, -1, "5555", box(0.0002, 10.0, 0.0004)),
]


def caom_rows():
    """Hand-made CAOM rows as ``Mast.Caom.Filtered.Position`` returns them."""
    names = ["obs_id", "instrument_name", "filters", "t_exptime", "s_ra", "s_dec", "calib_level",
             "proposal_id", "s_region"]
    table = Table(rows=[row[:-1] + ("",) for row in CAOM], names=names,
                  dtype=[str, str, str, float, float, float, int, str, object])
    table["s_region"] = MaskedColumn([row[-1] or "" for row in CAOM], dtype=object,
                                     mask=[row[-1] is None for row in CAOM])
    table["intentType"] = "science"
    table["obs_collection"] = "JWST"
    table["dataRights"] = "PUBLIC"
    table["obsid"] = [str(90000 + i) for i in range(len(table))]
    return table


def make_report(with_positions=False):
    """The report as check_duplicates builds it: evaluate, then each candidate's s_region."""
    rows = caom_rows()
    report = evaluate(TARGETS, rows)
    region = {str(r["obs_id"]): r["s_region"] for r in rows}
    values = [None if np.ma.is_masked(o) else region.get(str(o)) for o in report["obs_id"]]
    values = [None if v is None or np.ma.is_masked(v) else str(v) for v in values]
    report["s_region"] = MaskedColumn([v or "" for v in values], dtype=object,
                                      mask=[v is None for v in values])
    if with_positions:
        where = {n: (ra, dec) for n, ra, dec in zip(TARGETS["name"], TARGETS["ra"], TARGETS["dec"])}
        report["target_ra"] = [where[n][0] for n in report["target"]]
        report["target_dec"] = [where[n][1] for n in report["target"]]
    return report


def artists(fig, prefix):
    """Every artist of the figure whose gid starts with ``prefix``."""
    return [a for a in fig.findobj(lambda a: (a.get_gid() or "").startswith(prefix))]


@pytest.fixture
def report():
    return make_report()


def test_report_is_what_the_plot_expects(report):
    verdicts = {(t, o): v for t, o, v in zip(report["target"], report["observation"].filled(""),
                                             report["verdict"])}
    assert verdicts["A", "jw01234-o001"] == "DUPLICATE"
    assert verdicts["A", "jw01235-o002"] == "POSSIBLE"
    assert verdicts["B", "jw04444-o003"] == "DUPLICATE"
    assert verdicts["C", "jw01345-o004"] == "POSSIBLE"
    assert verdicts["C", "jw01346-o001"] == "NOT_DUPLICATE"
    assert verdicts["D", "jw05555-o001"] == "DUPLICATE"
    assert verdicts["D", "jw02000-o005"] == "NOT_DUPLICATE"


def test_parse_s_region_shapes():
    shapes = parse_s_region(mos(53.13, -27.8))
    assert [kind for kind, _ in shapes] == ["polygon"] * 4
    assert all(vertices.shape == (4, 2) for _, vertices in shapes)
    assert parse_s_region("POLYGON J2000 1 2 3 4 5 6 CIRCLE ICRS GEOCENTER 10 20 0.5")[1] == \
        ("circle", (10.0, 20.0, 0.5))
    assert [k for k, _ in parse_s_region("UNION ICRS ( POLYGON 1 2 3 4 5 6 POLYGON 7 8 9 10 11 12 )")] \
        == ["polygon", "polygon"]
    assert parse_s_region("POLYGON ICRS 1 2 3 4") == []          # fewer than 3 vertices
    assert parse_s_region(np.ma.masked) == []
    assert parse_s_region("") == []


def test_grid_plot(report, tmp_path):
    from astropy.visualization.wcsaxes import WCSAxes

    out = tmp_path / "dups.png"
    fig = plot_duplicates(report, out, targets=TARGETS)
    assert out.exists() and out.stat().st_size > 10_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # two sky fields, each on WCS axes with a TAN projection
    axes = fig.get_axes()
    assert len(axes) == 2 and all(isinstance(ax, WCSAxes) for ax in axes)
    assert all(ax.wcs.wcs.ctype[0] == "RA---TAN" for ax in axes)
    # one duplication circle per target, of the aperture's radius
    circles = artists(fig, "target:")
    assert sorted(c.get_gid() for c in circles) == [f"target:{n}" for n in "ABCDE"]
    # footprints: one polygon per STC-S POLYGON, coloured by verdict
    polygons = [a for a in artists(fig, "footprint:") if isinstance(a, matplotlib.patches.Polygon)]
    by_verdict = {}
    for patch in polygons:
        verdict = patch.get_gid().split(":")[1]
        by_verdict[verdict] = by_verdict.get(verdict, 0) + 1
        assert matplotlib.colors.same_color(patch.get_edgecolor()[:3],
                                            {"DUPLICATE": "tab:red", "POSSIBLE": "tab:orange",
                                             "NOT_DUPLICATE": "0.55"}[verdict])
    assert by_verdict == {"DUPLICATE": 3, "POSSIBLE": 1 + 4, "NOT_DUPLICATE": 4}
    # planned footprints are dashed, archived ones solid
    for patch in polygons:
        dashed = patch.get_linestyle() in ("--", "dashed")
        assert dashed == (":planned:" in patch.get_gid())
    # the observation without a footprint is marked at its centre
    crosses = [a for a in artists(fig, "footprint:NOT_DUPLICATE") if isinstance(a, matplotlib.lines.Line2D)]
    assert len(crosses) == 1
    # proposal ids of the duplicates are written on the plot
    texts = {t.get_text() for t in artists(fig, "proposal:")}
    assert texts == {"1234", "4444", "5555"}
    # one legend naming the verdicts, the planned style and the targets
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["target + duplication radius", "DUPLICATE", "POSSIBLE", "NOT_DUPLICATE",
                      "planned (dashed, \u25c7 when small)"]


def test_circles_are_on_the_sky(report):
    fig = plot_duplicates(report, targets=TARGETS)
    try:
        ax = fig.get_axes()[0]
        circle = next(c for c in artists(fig, "target:C"))
        # SphericalCircle vertices, in degrees: 180" (MSA) from the target, on the sphere
        from astropy.coordinates import SkyCoord
        xy = circle.get_xy()
        sep = SkyCoord(xy[:, 0], xy[:, 1], unit="deg").separation(SkyCoord(53.13, -27.80, unit="deg"))
        assert np.allclose(sep.arcsec, 180.0, rtol=1e-6)
        assert circle.get_transform() is not None
        assert ax.wcs.wcs.crval[1] == pytest.approx(-27.79, abs=0.02)
    finally:
        import matplotlib.pyplot as plt
        plt.close(fig)


def test_circles_look_round(report, tmp_path):
    """Equal scales on both axes: a circle on the sky is drawn as a circle, not an ellipse."""
    fig = plot_duplicates(report, tmp_path / "round.png", targets=TARGETS)
    fig.canvas.draw()
    for ax in fig.get_axes():
        assert ax.get_aspect() == 1.0
    for circle in artists(fig, "target:"):
        pixels = circle.get_transform().transform(circle.get_xy())
        width, height = np.ptp(pixels[:, 0]), np.ptp(pixels[:, 1])
        assert width == pytest.approx(height, rel=0.01), circle.get_gid()


def test_field_across_ra_zero(report, tmp_path):
    fig = plot_duplicates(report, tmp_path / "a.png", targets=TARGETS)
    ax = fig.get_axes()[1]
    # the view spans a few arcsec around RA 0, not the whole sky
    x0, x1 = ax.get_xlim()
    assert x1 - x0 < 120
    # the footprint straddling RA 0 is drawn where it is on the sky (both sides of the centre)
    patch = artists(fig, "footprint:DUPLICATE:planned:jw05555-o001")[0]
    pixels = patch.get_transform().transform(patch.get_xy())
    data = ax.transData.inverted().transform(pixels)
    assert np.ptp(data[:, 0]) < 5                        # ~3" wide, not 360 deg


def test_separate_files(report, tmp_path):
    out = tmp_path / "dups.png"
    figures = plot_duplicates(report, out, targets=TARGETS, layout="separate")
    assert len(figures) == 2
    for number in (1, 2):
        path = tmp_path / f"dups_field{number}.png"
        assert path.exists() and path.stat().st_size > 5_000
    assert not out.exists()
    assert [len(artists(f, "target:")) for f in figures] == [3, 2]
    assert all(len(f.legends) == 1 for f in figures)


def test_field_labels_and_grid_shape(report, tmp_path):
    fig = plot_duplicates(report, tmp_path / "x.png", targets=TARGETS,
                          fields={"A": "north", "B": "north", "C": "south", "D": "zero", "E": "zero"},
                          ncols=2)
    axes = fig.get_axes()
    assert len(axes) == 3
    assert [ax.get_title().split(":")[0] for ax in axes] == ["Field north", "Field south", "Field zero"]
    assert axes[2].get_subplotspec().get_geometry()[:2] == (2, 2)
    with pytest.raises(ValueError, match="fields= gives no field for 'E'"):
        plot_duplicates(report, tmp_path / "x.png", targets=TARGETS, fields={"A": 1, "B": 1, "C": 1, "D": 2})
    with pytest.raises(ValueError, match="one per target"):
        plot_duplicates(report, tmp_path / "x.png", targets=TARGETS, fields=[1, 2])


def test_positions_from_report_columns(tmp_path):
    fig = plot_duplicates(make_report(with_positions=True), tmp_path / "p.png")
    assert len(artists(fig, "target:")) == 5


def test_positions_and_fields_from_a_report_file(tmp_path):
    """A report written to ECSV (target_ra/target_dec in deg, field) plots as it is."""
    from astropy import units as u

    report = make_report(with_positions=True)
    report["target_ra"].unit = report["target_dec"].unit = u.deg
    report["field"] = ["south" if n == "C" else "zero" if n in "DE" else "north"
                       for n in report["target"]]
    report["s_region"] = report["s_region"].astype(str)
    report.write(tmp_path / "report.ecsv")
    back = Table.read(tmp_path / "report.ecsv")
    fig = plot_duplicates(back, tmp_path / "r.png")
    assert sorted(c.get_gid() for c in artists(fig, "target:")) == [f"target:{n}" for n in "ABCDE"]
    assert [ax.get_title().split(":")[0] for ax in fig.get_axes()] == [
        "Field north", "Field south", "Field zero"]
    circle = next(iter(artists(fig, "target:C")))
    from astropy.coordinates import SkyCoord
    xy = circle.get_xy()
    sep = SkyCoord(xy[:, 0], xy[:, 1], unit="deg").separation(SkyCoord(53.13, -27.80, unit="deg"))
    assert np.allclose(sep.arcsec, 180.0, rtol=1e-6)


@pytest.mark.parametrize("form", ["table", "rows", "file"])
def test_targets_argument_still_works(report, tmp_path, form):
    """targets= (for a report without positions) accepts a Table, a list of dicts or a file."""
    given = {"table": TARGETS, "rows": [dict(zip(TARGETS.colnames, row)) for row in TARGETS],
             "file": str(tmp_path / "targets.ecsv")}[form]
    TARGETS.write(tmp_path / "targets.ecsv")
    fig = plot_duplicates(report, tmp_path / "t.png", targets=given)
    assert len(artists(fig, "target:")) == 5


def test_targets_argument_wins_over_the_report_columns(tmp_path):
    report = make_report(with_positions=True)
    moved = TARGETS.copy()
    moved["dec"][moved["name"] == "C"] += 0.01              # 36" north of the report's C
    fig = plot_duplicates(report, tmp_path / "m.png", targets=moved)
    centre = next(a for a in fig.findobj() if a.get_gid() == "target:C")
    from astropy.coordinates import SkyCoord
    xy = centre.get_xy()
    sep = SkyCoord(xy[:, 0], xy[:, 1], unit="deg").separation(SkyCoord(53.13, -27.79, unit="deg"))
    assert np.allclose(sep.arcsec, 180.0, rtol=1e-6)


def test_positions_needed(report, tmp_path):
    with pytest.raises(ValueError, match="holds no target positions .*target_ra.*pass targets="):
        plot_duplicates(report, tmp_path / "p.png")
    with pytest.raises(ValueError, match="No position for target 'E'"):
        plot_duplicates(report, tmp_path / "p.png", targets=TARGETS[:4])
    with pytest.raises(ValueError, match="lacks the column"):
        plot_duplicates(Table({"a": [1]}), tmp_path / "p.png")


def test_without_footprints(tmp_path):
    """duplication.evaluate's own report (no s_region): centres are marked."""
    report = evaluate(TARGETS, caom_rows())
    fig = plot_duplicates(report, tmp_path / "e.png", targets=TARGETS)
    assert not [a for a in artists(fig, "footprint:") if isinstance(a, matplotlib.patches.Polygon)]
    assert len([a for a in artists(fig, "footprint:") if isinstance(a, matplotlib.lines.Line2D)]) == 7


def test_no_candidates(tmp_path):
    report = evaluate(TARGETS[4:], caom_rows()[:0])
    fig = plot_duplicates(report, tmp_path / "n.png", targets=TARGETS)
    assert len(artists(fig, "target:")) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["target + duplication radius"]


def test_without_matplotlib(report, monkeypatch):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r'pip install "astroquery_nirspec\[plot\]"'):
        plot_duplicates(report, targets=TARGETS)
