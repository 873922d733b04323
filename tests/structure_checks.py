"""Reading a package's shape from its source (ast only, nothing imported): shared by the structure tests."""
import ast
from pathlib import Path

MAX_LINES_PER_MODULE = 550
MAX_LINES_PER_FUNCTION = 60
MAX_PARAMETERS = 8


def modules(folder, package):
    """``{dotted name: (path, ast)}`` of every module under ``folder`` (a package's own is its name)."""
    found = {}
    for path in sorted(Path(folder).rglob("*.py")):
        parts = list(path.relative_to(folder).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join([package] + parts)] = (path, ast.parse(path.read_text()))
    return found


def _target(name, path, node):
    """The dotted module a relative ``from ... import`` names (its package for ``from . import x``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def import_graph(found, *, skip=()):
    """Module → the package's modules it imports at module level (imports in functions run late)."""
    graph = {}
    for name, (path, tree) in found.items():
        if name in skip:
            continue
        edges = set()
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.level:
                target = _target(name, path, node)
                names = [f"{target}.{alias.name}" for alias in node.names]
                edges.update(n for n in names if n in found)
                edges.add(target)
        graph[name] = {t for t in edges if t in found and t != name and t not in skip}
    return graph


def find_cycle(graph):
    """One import cycle as a list of module names, or None."""
    done, active = set(), []

    def visit(name):
        if name in active:
            return active[active.index(name):] + [name]
        if name in done:
            return None
        active.append(name)
        for other in sorted(graph.get(name, ())):
            cycle = visit(other)
            if cycle:
                return cycle
        active.pop()
        done.add(name)
        return None

    for name in sorted(graph):
        cycle = visit(name)
        if cycle:
            return cycle
    return None


def functions(found):
    """``(module, function node)`` of every function and method."""
    for name, (_, tree) in found.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield name, node


def code_lines(function):
    """Lines of a function from its first statement after the docstring to its end."""
    body = function.body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:] or body
    return function.end_lineno - body[0].lineno + 1


def parameter_count(function):
    args = function.args
    return len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs)
