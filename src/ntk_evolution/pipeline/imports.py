"""The package modules a workflow script runs: its imports, followed through the package.

Every rule lists as inputs the modules its script reaches (``code_of`` in
``workflow/rules/common.smk``), so editing one reruns exactly the jobs that run it. The imports
are read from the sources with :mod:`ast`, never executed: every ``import`` and
``from ... import`` that names a module of the package, at the top of a module or inside a
function, relative ones included. Importing a module runs the ``__init__.py`` of every package
above it, so those count too.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "ntk_evolution"


def module_file(name: str, root: Path) -> Path | None:
    """The source of the package module ``name`` (dotted) below ``root``, or None for a name
    that is no module (a function, a class, another package's module)."""
    if name.split(".")[0] != PACKAGE:
        return None
    path = root.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _absolute(node: ast.ImportFrom, module: str | None, is_package: bool) -> str:
    """The module a ``from ... import`` statement of ``module`` imports from."""
    if node.level == 0:
        return node.module or ""
    if module is None:
        raise ValueError("a relative import outside the package")
    parts = module.split(".")
    package = parts if is_package else parts[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


@functools.cache
def imported_names(path: Path, module: str | None) -> tuple[str, ...]:
    """Dotted names the source at ``path`` (the module ``module``; None for a script) imports:
    each module, and each name taken from a module (which may be a submodule)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, path.name == "__init__.py")
            names += [base, *(f"{base}.{alias.name}" for alias in node.names)]
    return tuple(names)


def _with_parents(name: str) -> Iterator[str]:
    """``a.b.c``, then the packages it lies in: ``a.b`` and ``a``."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        yield ".".join(parts[:end])


def package_modules(script: Path, root: Path) -> list[Path]:
    """The sources of every package module ``script`` runs, sorted; ``root`` is the folder that
    holds the package."""
    found: dict[Path, str] = {}
    pending: list[tuple[Path, str | None]] = [(script, None)]
    while pending:
        path, module = pending.pop()
        for name in imported_names(path, module):
            for candidate in _with_parents(name):
                source = module_file(candidate, root)
                if source is not None and source not in found:
                    found[source] = candidate
                    pending.append((source, candidate))
    return sorted(found)
