"""
The package's shape (issue 13): a tree of small modules, each with one job, short
functions, and a thin ``core``. Read from the source, so it holds for every module,
including those no other test imports.
"""
from pathlib import Path

import astroquery_nirspec
from structure_checks import (MAX_LINES_PER_FUNCTION, MAX_LINES_PER_MODULE, MAX_PARAMETERS,
                              code_lines, find_cycle, functions, import_graph, modules,
                              parameter_count)

PACKAGE = Path(astroquery_nirspec.__file__).parent
FOUND = modules(PACKAGE, "astroquery_nirspec")


def test_the_checks_see_every_module():
    assert "astroquery_nirspec.core" in FOUND and "astroquery_nirspec.duplication.judge" in FOUND
    assert len(FOUND) == len(list(PACKAGE.rglob("*.py")))


def test_module_imports_form_a_tree():
    # The package's __init__ holds `conf` (astroquery's convention) and imports the class
    # that uses it; every other module-level import must go one way.
    graph = import_graph(FOUND, skip={"astroquery_nirspec"})
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_check_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_is_long():
    long = {name: len(path.read_text().splitlines()) for name, (path, _) in FOUND.items()}
    assert {n: lines for n, lines in long.items() if lines > MAX_LINES_PER_MODULE} == {}


def test_functions_are_short():
    long = {f"{module}.{f.name}": code_lines(f) for module, f in functions(FOUND)
            if code_lines(f) > MAX_LINES_PER_FUNCTION}
    assert long == {}


#: Public signatures that are astroquery's API (query_filtered's keyword filters, invoke's
#: options); every other function passes small value objects instead of many parameters.
API_SIGNATURES = {"astroquery_nirspec.core.query_filtered_async", "astroquery_nirspec.transport.invoke"}


def test_functions_take_few_parameters():
    many = {f"{module}.{f.name}": parameter_count(f) for module, f in functions(FOUND)
            if parameter_count(f) > MAX_PARAMETERS}
    assert set(many) <= API_SIGNATURES, many


def test_core_only_wires():
    """core imports the modules that do the work and does none of it (issue 13.3)."""
    core = import_graph(FOUND)["astroquery_nirspec.core"]
    for worker in ("payload", "transport", "results", "auth", "download", "msa_evidence"):
        assert f"astroquery_nirspec.{worker}" in core, worker
    for name, function in functions({"core": FOUND["astroquery_nirspec.core"]}):
        assert code_lines(function) <= 30 or function.name.endswith("_async") \
            or function.name == "check_duplicates", function.name
