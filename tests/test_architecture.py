"""The architecture of docs/architecture.md holds in the code: no import cycles (module-level or hidden
inside functions), the dependency direction between the three packages, a light Lava leaf package,
and every module importable in a fresh interpreter in either order."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("spiking_mcc", "conversion", "loihi_targets")
# spiking_mcc modules that orchestrate all three stages; the rest of spiking_mcc is the core
ORCHESTRATION = ("spiking_mcc.cli", "spiking_mcc.commands", "spiking_mcc.pipeline", "spiking_mcc.report",
                 "spiking_mcc.sweep", "spiking_mcc.lowlatency")
# what a Lava Process module must not pull in (Lava imports every module of a Process's folder)
HEAVY_LIBRARIES = ("brian2", "matplotlib", "sklearn", "onnx", "nir", "h5py", "dask", "distributed", "tqdm")
HEAVY_PROJECT = ("spiking_mcc.cells", "spiking_mcc.mcc", "spiking_mcc.report", "conversion.engine",
                 "conversion.importers", "conversion.pipeline", "loihi_targets.pipeline",
                 "loihi_targets.runner")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module `name` imports anywhere in its body (function-level imports included)."""
    is_package = path.name == "__init__.py"
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            submodules = {f"{module}.{alias.name}" for alias in node.names} & MODULES.keys()
            names |= submodules or {module}
    return names


def _project_edges() -> dict[str, set[str]]:
    edges = {}
    for name, path in MODULES.items():
        deps = {dep for dep in _imports(name, path) if dep in MODULES and dep != name}
        # a submodule importing its own parent package is not a cycle (the parent is initialised first)
        edges[name] = {dep for dep in deps if not name.startswith(dep + ".")}
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_module_list_is_the_real_tree():
    assert {"spiking_mcc.cli", "conversion.engine", "loihi_targets.runner"} <= MODULES.keys()
    assert len(MODULES) > 60


def test_no_import_cycles_even_inside_functions():
    assert _cycles(_project_edges()) == []


def test_a_planted_cycle_is_found():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_dependency_direction_between_the_stages():
    wrong = []
    for name, deps in _project_edges().items():
        if name.startswith("conversion") and any(d.startswith("loihi_targets") for d in deps):
            wrong.append((name, sorted(d for d in deps if d.startswith("loihi_targets"))))
        core = name.startswith("spiking_mcc") and not name.startswith(ORCHESTRATION)
        if core and any(d.startswith(("conversion", "loihi_targets")) for d in deps):
            wrong.append((name, sorted(d for d in deps if d.startswith(("conversion", "loihi_targets")))))
    assert wrong == []


LEAF = "loihi_targets.lava_procs"
LEAF_CHECK = """
import importlib, sys
import lava.magma.core.process.process, lava.magma.core.model.py.model, lava.proc.lif.models
before = set(sys.modules)
for name in sys.argv[1:]:
    importlib.import_module(name)
print(" ".join(sorted(set(sys.modules) - before)))
"""


def test_the_lava_leaf_package_imports_nothing_heavy():
    """Lava runs every module of a Process's folder during model discovery: beyond Lava itself, the leaf
    may load only light project modules (the unit's integer arithmetic), never a simulator, a plotting or
    file-format library, or the project's heavy stages."""
    leaf = [name for name in MODULES if name.startswith(LEAF)]
    assert len(leaf) >= 3
    done = subprocess.run([sys.executable, "-c", LEAF_CHECK, *leaf], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = done.stdout.split()
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY_LIBRARIES or m.startswith(HEAVY_PROJECT)]
    assert heavy == [], f"importing {LEAF} loads {heavy}"
    assert any(m.startswith(LEAF) for m in loaded)  # the check saw the leaf's own modules




@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_every_module_imports_in_a_fresh_interpreter(order):
    # Lava's Process modules are imported by the Lava child only; here they would pull in Lava itself
    names = sorted(n for n in MODULES if not n.startswith(LEAF) and n != "loihi_targets.lava_child")
    if order == "reverse":
        names.reverse()
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    done = subprocess.run([sys.executable, "-c", code, *names], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
