"""No import cycle among cmclient's modules.

Every module under ``cmclient/`` is parsed with ``ast`` (nothing is imported) and each
of its imports becomes an edge: the module-level ones, those under ``if
TYPE_CHECKING:`` and those inside functions, since a cycle hidden in any of them is
still two modules that each need the other. Relative imports are resolved, and
``from package import name`` is an edge to ``package.name`` when that is a module,
to ``package`` otherwise. Importing ``a.b`` also runs ``a/__init__.py``, but that is
not counted: a package's ``__init__`` that re-exports from its own modules would
otherwise be in a cycle with every module of the package that imports a sibling.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "cmclient"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package, by its dotted name."""
    return {module_name(path, root): path for path in sorted((root / package).rglob("*.py"))}


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of ``from <level dots><target> import ...`` inside ``module``."""
    if level == 0:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def imports_of(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """The modules of the package that ``name`` (at ``path``) imports, anywhere in it."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from _known(alias.name, known)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(name, is_package, node.level, node.module)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in known:
                    yield submodule
                else:
                    yield from _known(source, known)


def _known(dotted: str, known: set[str]) -> Iterator[str]:
    # ``import a.b.c`` of a name that is not a module (an attribute): its longest module.
    parts = dotted.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            yield candidate
            return
        parts.pop()


def import_graph(root: Path = ROOT, package: str = PACKAGE) -> dict[str, set[str]]:
    """Each module of ``package`` (under ``root``) and the package's modules it imports."""
    found = modules(root, package)
    known = set(found)
    return {
        name: {target for target in imports_of(name, path, known) if target != name}
        for name, path in found.items()
    }


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively: the components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def a_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One cycle through the component's first module, as a path that ends where it began
    (a shortest one, by breadth-first search)."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle in {component}")  # pragma: no cover


def describe(graph: dict[str, set[str]], components: list[list[str]]) -> str:
    """Each component's modules, and one cycle through them."""
    return "\n".join(
        f"{', '.join(c)} import each other, e.g. " + " -> ".join(a_cycle(graph, c))
        for c in components
    )


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "from pkg import errors\nfrom pkg.sub import leaf\n",
        "errors.py": "class Error(Exception): ...\n",
        "top.py": (
            "from typing import TYPE_CHECKING\n"
            "import pkg.sub.leaf.Thing\n"
            "if TYPE_CHECKING:\n    from pkg.typed import T\n"
            "def later():\n    from . import lazy\n"
            "from .sub import Name\n"
        ),
        "typed.py": "", "lazy.py": "", "sub/__init__.py": "Name = 1\n",
        "sub/leaf.py": "from .. import errors\nfrom ..top import later\n",
    }
    for name, text in files.items():
        (package / name).write_text(text)
    graph = import_graph(tmp_path, "pkg")
    assert graph == {
        # `from package import module`: the module
        "pkg": {"pkg.errors", "pkg.sub.leaf"},
        "pkg.errors": set(),
        # an attribute of a module; under TYPE_CHECKING; in a function; from a package
        "pkg.top": {"pkg.sub.leaf", "pkg.typed", "pkg.lazy", "pkg.sub"},
        "pkg.typed": set(), "pkg.lazy": set(), "pkg.sub": set(),
        # relative imports, one and two levels up
        "pkg.sub.leaf": {"pkg.errors", "pkg.top"},
    }
    assert describe(graph, strongly_connected(graph)) == (
        "pkg.sub.leaf, pkg.top import each other, e.g. pkg.sub.leaf -> pkg.top -> pkg.sub.leaf"
    )


def test_cycles_are_found_and_printed() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    components = strongly_connected(graph)
    assert components == [["a", "b", "c"]]
    assert describe(graph, components) == "a, b, c import each other, e.g. a -> b -> c -> a"


def test_relative_imports_are_resolved() -> None:
    assert _resolve("cmclient.cli._main", False, 1, "_params") == "cmclient.cli._params"
    assert _resolve("cmclient.cli", True, 1, "_main") == "cmclient.cli._main"
    assert _resolve("cmclient.cli._main", False, 2, "errors") == "cmclient.errors"
    assert _resolve("cmclient.cli._main", False, 1, None) == "cmclient.cli"


def test_no_import_cycle_among_cmclient_modules() -> None:
    graph = import_graph()
    components = strongly_connected(graph)
    assert not components, "import cycles:\n" + describe(graph, components)
