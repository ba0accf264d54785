"""What a job imports: the package modules its script reaches (read from the sources, the code
inputs of its rule), and no JAX in a job that computes without it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from ntk_evolution.pipeline.imports import package_modules

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow" / "scripts"
# The jobs that compute with JAX: training, kernels and evaluation.
JAX_JOBS = {
    "train_phase1",
    "train_children",
    "extract_ntk",
    "evaluate_phase1",
    "evaluate_children",
    "kernel_machines",
    "feature_pictures",
    "attacked_ntk",
    "infinite_ntk",
    "infinite_machine",
}
JAX_PACKAGES = ("jax", "neural_tangents", "optax")
PLOTTING = ("matplotlib", "seaborn")
# The jobs that draw: every figure of a scenario, and the findings across scenarios.
PLOTTING_JOBS = {"figures", "compare_scenarios"}


def write(root: Path, files: dict[str, str]) -> None:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)


def test_imports_are_followed_through_the_package(tmp_path):
    write(
        tmp_path,
        {
            "ntk_evolution/__init__.py": "",
            "ntk_evolution/top.py": "from ntk_evolution import near\nimport numpy\n",
            "ntk_evolution/near.py": "def f():\n    from .deep import leaf\n",
            "ntk_evolution/deep/__init__.py": "from . import inner\n",
            "ntk_evolution/deep/inner.py": "",
            "ntk_evolution/deep/leaf.py": "from ..far import name\n",
            "ntk_evolution/far.py": "name = 1\n",
            "ntk_evolution/unused.py": "",
            "script.py": "from ntk_evolution.top import something\n",
        },
    )
    found = package_modules(tmp_path / "script.py", tmp_path)
    assert [str(p.relative_to(tmp_path / "ntk_evolution")) for p in found] == [
        "__init__.py",
        "deep/__init__.py",
        "deep/inner.py",
        "deep/leaf.py",
        "far.py",
        "near.py",
        "top.py",
    ]


def script_imports(script: Path) -> str:
    """The import statements of a script, as source."""
    tree = ast.parse(script.read_text())
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    return "\n".join(map(ast.unparse, imports))


def jax_imported(code: str, packages: tuple[str, ...] = JAX_PACKAGES) -> list[str]:
    """The ``packages`` (JAX's by default) imported after running ``code`` in a fresh
    interpreter."""
    check = f"import sys\nprint([m for m in {packages!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\n{check}"], capture_output=True, text=True, check=True
    )
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "job", sorted(p.stem for p in SCRIPTS.glob("*.py") if p.stem not in JAX_JOBS)
)
def test_a_job_that_computes_without_jax_imports_none(job):
    assert jax_imported(script_imports(SCRIPTS / f"{job}.py")) == []


@pytest.mark.parametrize("job", sorted(p.stem for p in SCRIPTS.glob("*.py")))
def test_only_the_drawing_jobs_import_plotting_libraries(job):
    plotting = jax_imported(script_imports(SCRIPTS / f"{job}.py"), PLOTTING)
    assert plotting == (list(PLOTTING) if job in PLOTTING_JOBS else [])


def test_a_job_that_computes_with_jax_imports_it():
    assert "jax" in jax_imported(script_imports(SCRIPTS / "extract_ntk.py"))


def test_recording_provenance_imports_no_jax():
    code = (
        "from ntk_evolution._infra.provenance import provenance\n"
        "assert provenance({})['device'].startswith('cpu:')"
    )
    assert jax_imported(code) == []


# The package's layers (docs/architecture.md, "The package"): a module imports from its own
# package and from packages of a lower layer only.
PACKAGE = ROOT / "src" / "ntk_evolution"
LAYERS = {
    "_infra": 0,
    "configuration": 1,
    "datasets": 1,
    "models": 2,
    "attacks": 3,
    "training": 4,
    "kernels": 4,
    "analyses": 5,
    "figures": 6,
    "stages": 7,
    "pipeline": 7,
    "results": 8,
    "__init__": 8,
}
MOST_TOP_LEVEL_MODULES = 10


def imported_modules(source: str, module: str) -> set[str]:
    """The dotted names of package modules (or names in them) that ``source`` imports."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")[: -node.level]
                base = ".".join([*parent, base] if base else parent)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in names if name.startswith("ntk_evolution.")}


def layer_violations(package: Path, layers: dict[str, int]) -> list[str]:
    """Every import of a module of ``package`` from a package of its own layer or a higher one."""
    violations = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        module = ".".join(parts)
        own = parts[1]
        for name in sorted(imported_modules(path.read_text(), module)):
            other = name.split(".")[1]
            if other != own and other in layers and layers[other] >= layers[own]:
                violations.append(
                    f"{module} (layer {layers[own]}) imports {name} (layer {layers[other]})"
                )
    return violations


def test_every_package_has_a_layer():
    packages = {
        p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()
    }
    assert packages == set(LAYERS)


def test_no_module_imports_from_a_higher_layer():
    assert layer_violations(PACKAGE, LAYERS) == []


def test_an_import_from_a_higher_layer_is_found(tmp_path):
    write(
        tmp_path,
        {
            "ntk_evolution/__init__.py": "",
            "ntk_evolution/low/__init__.py": "",
            "ntk_evolution/low/a.py": "from ntk_evolution.high import b\n",
            "ntk_evolution/high/__init__.py": "",
            "ntk_evolution/high/b.py": "from ntk_evolution.low import a\nfrom ..low.a import x\n",
            "ntk_evolution/peer/__init__.py": "from ntk_evolution.high.b import y\n",
        },
    )
    layers = {"low": 0, "high": 1, "peer": 1, "__init__": 2}
    assert layer_violations(tmp_path / "ntk_evolution", layers) == [
        "ntk_evolution.low.a (layer 0) imports ntk_evolution.high.b (layer 1)",
        "ntk_evolution.peer.__init__ (layer 1) imports ntk_evolution.high.b.y (layer 1)",
    ]


def test_few_modules_sit_directly_in_the_package():
    top_level = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(top_level) <= MOST_TOP_LEVEL_MODULES, top_level
