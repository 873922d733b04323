"""The duplication package's shape: a tree of small modules, its public names, one validation."""
import ast
from pathlib import Path

from astroquery.utils.mocks import MockResponse

import astroquery_nirspec.duplication as duplication
from astroquery_nirspec import NirspecMast, NirspecMastClass
from astroquery_nirspec.duplication import targets as targets_module

PACKAGE = Path(duplication.__file__).parent
DATA = Path(__file__).parent / "data"

PUBLIC_NAMES = (  # the names of version 0.1.0, which must stay importable from the package
    "APERTURE_MODE", "APERTURES", "APT_URL", "DUPLICATION_RADII", "FILTERS", "GRATING_BAND",
    "GRATING_FILTER_PAIRS", "GRATING_RESOLUTION", "GRATING_RESOLVING_POWER", "GRATINGS",
    "INSTRUMENT_MODE", "MSA_CROSS_RADIUS", "SPECTROSCOPIC_MODES", "TARGET_COLUMNS", "VERDICTS",
    "DuplicationRules", "apt_url", "evaluate", "group_observations", "observation_label",
    "parse_filters", "parse_observation", "read_targets", "valid_filters")


def _modules():
    return {path.stem: ast.parse(path.read_text()) for path in PACKAGE.glob("*.py")}


def _local_imports(tree):
    """The sibling modules a module imports (``from .x import ...``), at any depth."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


def test_public_names_are_kept():
    for name in PUBLIC_NAMES:
        assert hasattr(duplication, name), name
        assert name in duplication.__all__


def test_module_imports_form_no_cycle():
    graph = {name: _local_imports(tree) - {name} for name, tree in _modules().items()
             if name != "__init__"}
    done, active = set(), []

    def visit(name):
        assert name not in active, f"import cycle: {' -> '.join(active + [name])}"
        if name in done:
            return
        active.append(name)
        for other in graph.get(name, ()):
            visit(other)
        active.pop()
        done.add(name)

    for name in graph:
        visit(name)


def test_no_sibling_import_inside_a_function():
    """A local import of a sibling module is how a cycle hides: there is none."""
    for name, tree in _modules().items():
        for function in ast.walk(tree):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = [n for n in ast.walk(function) if isinstance(n, ast.ImportFrom) and n.level]
                assert not inner, f"{name}.{function.name} imports a sibling inside its body"


def test_functions_are_short_and_take_few_parameters():
    for name, tree in _modules().items():
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            body = function.body
            if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:] or body           # the docstring does not count
            lines = function.end_lineno - body[0].lineno + 1
            assert lines <= 60, f"{name}.{function.name} has {lines} lines of code"
            args = function.args
            count = len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs)
            assert count <= 8, f"{name}.{function.name} takes {count} parameters"


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


def test_no_module_over_550_lines():
    for path in PACKAGE.glob("*.py"):
        lines = len(path.read_text().splitlines())
        assert lines <= 550, f"{path.name} has {lines} lines"


def test_msa_names_stay_importable_where_they_were():
    from astroquery_nirspec.duplication import evidence, msa

    assert msa.apply_source_evidence is evidence.apply_source_evidence is duplication.apply_source_evidence
    for name in msa.__all__:
        assert hasattr(msa, name), name
