"""
The shipped example target list (``examples/targets.ecsv``, read from the repository) and the
duplicate check the README runs on it, end to end against the local MAST server.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from astropy import units as u
from astropy.table import Table

from astroquery_nirspec.duplication import read_targets
from mast_double import MastServer, caom_row, make_archive

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "targets.ecsv"

#: The seed notebook's targets (shared docs: duplication-rules.md, section 4.1).
NOTEBOOK = [("MSA", 53.13, -27.8, "G395H", "F290LP", 950.0),
            ("IFU", 68.73091, 24.48140, "G395H", "F290LP", 22.749),
            ("S200B1", 5.130, -36.895, "G140H", "F070LP", 1880.22)]


def test_example_targets_read_and_validate():
    targets = read_targets(EXAMPLE)
    assert len(targets) == 6
    assert len(set(targets["name"])) == 6
    got = [(str(t["aperture"]), float(t["ra"]), float(t["dec"]), str(t["grating"]),
            str(t["filter"]), float(t["exposure_time"])) for t in targets[:3]]
    assert got == NOTEBOOK
    # the further modes: a fixed slit, the wide slit, and PRISM/CLEAR with the MSA in GOODS-S
    assert {"S200A1", "S1600A1"} <= set(targets["aperture"][3:])
    prism = targets[(targets["grating"] == "PRISM") & (targets["aperture"] == "MSA")]
    assert len(prism) == 1 and prism["filter"][0] == "CLEAR"
    assert prism["coord"][0].separation(targets["coord"][0]) < 3 * u.arcmin   # GOODS-S
    assert set(targets["mode"]) == {"MOS", "IFU", "FS"}


def test_example_file_says_its_units_and_columns():
    table = Table.read(EXAMPLE)
    assert table.colnames == ["name", "ra", "dec", "aperture", "grating", "filter",
                              "exposure_time"]
    assert table["ra"].unit == u.deg and table["dec"].unit == u.deg
    assert table["exposure_time"].unit == u.s
    assert all(table[name].description for name in table.colnames)
    assert "nirspec-mast duplicates examples/targets.ecsv" in table.meta["description"]


def test_examples_are_not_a_package():
    """examples/ is read from the repository: ``pip install .`` must not ship it as a package."""
    tomllib = pytest.importorskip("tomllib")
    from setuptools import find_packages

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = find_packages(str(REPO), **config["packages"]["find"])
    assert packages and all(p.split(".")[0] == "astroquery_nirspec" for p in packages)
    assert not (REPO / "examples" / "__init__.py").exists()


# ---------------------------------------------------------------------------------------------
# The README's command, end to end
# ---------------------------------------------------------------------------------------------

def _box(ra, dec, half):
    """STC-S of a square of half-side ``half`` (deg) around (ra, dec)."""
    corners = [(ra - half, dec - half), (ra + half, dec - half), (ra + half, dec + half),
               (ra - half, dec + half)]
    return "POLYGON ICRS " + " ".join(f"{x:.7f} {y:.7f}" for x, y in corners)


def _archive():
    """CAOM rows around the example targets: one IFU duplicate, MSA and slit neighbours."""
    rows = [
        # the same IFU configuration as notebook-2-IFU, 0.3" away, 30 s: a duplicate
        caom_row(instrument_name="NIRSPEC/IFU", filters="F290LP;G395H", t_exptime=30.0,
                 s_ra=68.73099, s_dec=24.48140, proposal_id="1111",
                 s_region=_box(68.73099, 24.4814, 0.0004)),
        # a PRISM MSA field in GOODS-S, and a G235M one
        caom_row(instrument_name="NIRSPEC/MSA", dataproduct_type="spectrum",
                 filters="CLEAR;PRISM", t_exptime=4000.0, s_ra=53.155, s_dec=-27.785,
                 proposal_id="1210", s_region=_box(53.155, -27.785, 0.025)),
        caom_row(instrument_name="NIRSPEC/MSA", dataproduct_type="spectrum",
                 filters="F170LP;G235M", t_exptime=3000.0, s_ra=53.135, s_dec=-27.805,
                 proposal_id="1180", s_region=_box(53.135, -27.805, 0.025)),
        # a slit next to SN 1987A in another configuration
        caom_row(instrument_name="NIRSPEC/SLIT", dataproduct_type="spectrum",
                 filters="F100LP;G140M", t_exptime=2000.0, s_ra=83.86680, s_dec=-69.26972,
                 proposal_id="1232", s_region=_box(83.8668, -69.26972, 0.0003)),
    ]
    return make_archive(nirspec_rows=[], caom_rows=rows)


@pytest.fixture(scope="module")
def mast():
    with MastServer(_archive()) as server:
        yield server


def test_readme_duplicates_command(mast, tmp_path):
    pytest.importorskip("matplotlib")
    script = shutil.which("nirspec-mast")
    command = [script] if script else [sys.executable, "-m", "astroquery_nirspec"]
    env = dict(os.environ, MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.pop("MAST_API_TOKEN", None)
    report_path, png = tmp_path / "report.ecsv", tmp_path / "report.png"
    result = subprocess.run(
        command + ["duplicates", "examples/targets.ecsv", "-o", str(report_path),
                   "--plot", str(png), "--server", mast.url, "--no-cache"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 1, result.stderr          # 1: a DUPLICATE was found
    report = Table.read(report_path)
    names = list(Table.read(EXAMPLE)["name"])
    assert list(dict.fromkeys(report["target"])) == names
    verdicts = {}
    for target, verdict in zip(report["target"], report["verdict"]):
        verdicts.setdefault(str(target), set()).add(str(verdict))
    assert "DUPLICATE" in verdicts["notebook-2-IFU"]
    assert verdicts["notebook-3-S200B1"] == {"NOT_DUPLICATE"}   # nothing near it
    assert {"target_ra", "target_dec", "field", "s_region"} <= set(report.colnames)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert f"wrote {len(report)} rows to {report_path} (ECSV)" in result.stderr
    assert f"drew the report to {png}" in result.stderr
    assert "6 targets: 1 DUPLICATE" in result.stderr
    assert "Traceback" not in result.stderr
