"""The duplication package's public names, its imports and one validation (sizes and cycles: test_package_structure)."""
import ast
from pathlib import Path

from astroquery.utils.mocks import MockResponse

import astroquery_nirspec.duplication as duplication
from astroquery_nirspec import NirspecMast, NirspecMastClass
from astroquery_nirspec.duplication import targets as targets_module
from structure_checks import functions, modules

PACKAGE = Path(duplication.__file__).parent
DATA = Path(__file__).parent / "data"

PUBLIC_NAMES = (  # the names of version 0.1.0, which must stay importable from the package
    "APERTURE_MODE", "APERTURES", "APT_URL", "DUPLICATION_RADII", "FILTERS", "GRATING_BAND",
    "GRATING_FILTER_PAIRS", "GRATING_RESOLUTION", "GRATING_RESOLVING_POWER", "GRATINGS",
    "INSTRUMENT_MODE", "MSA_CROSS_RADIUS", "SPECTROSCOPIC_MODES", "TARGET_COLUMNS", "VERDICTS",
    "DuplicationRules", "apt_url", "evaluate", "group_observations", "observation_label",
    "parse_filters", "parse_observation", "read_targets", "valid_filters")


def test_public_names_are_kept():
    for name in PUBLIC_NAMES:
        assert hasattr(duplication, name), name
        assert name in duplication.__all__


def test_no_sibling_import_inside_a_function():
    """A local import of a sibling module is how a cycle hides: there is none."""
    for name, function in functions(modules(PACKAGE, "astroquery_nirspec.duplication")):
        inner = [n for n in ast.walk(function) if isinstance(n, ast.ImportFrom) and n.level]
        assert not inner, f"{name}.{function.name} imports a sibling inside its body"


def test_a_check_validates_the_targets_once(monkeypatch):
    calls = []
    load = targets_module._load

    def counting_load(targets):
        calls.append(1)
        return load(targets)

    def fake(self, method, url, data=None, **kwargs):
        return MockResponse(content=(DATA / "caom_field_goods_s.json").read_bytes(), url=url)

    monkeypatch.setattr(targets_module, "_load", counting_load)
    monkeypatch.setattr(NirspecMastClass, "_request", fake)
    target = {"name": "SN1", "ra": 53.16, "dec": -27.79, "aperture": "S200A1",
              "grating": "G395H", "filter": "F290LP", "exposure_time": 1000}
    report = NirspecMast.check_duplicates([target])
    assert len(report) > 0
    assert len(calls) == 1


def test_msa_names_stay_importable_where_they_were():
    from astroquery_nirspec.duplication import evidence, msa

    assert msa.apply_source_evidence is evidence.apply_source_evidence is duplication.apply_source_evidence
    for name in msa.__all__:
        assert hasattr(msa, name), name
