"""The package's layering, read from its imports (function-level ones included): each stage
imports only the stages before it, as the README's Layout and the package docstring say, and no
two modules import each other, directly or round a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pafpose

ROOT = Path(pafpose.__file__).parent
#: Bottom to top; a folder may import only those before it. The shared modules (errors, config,
#: device, extras, signals) come first; ``tracking`` sits beside ``data`` and needs only ``codec``.
LAYERS = [{"errors", "config", "device", "extras", "signals"}, {"codec"}, {"models"}, {"io"},
          {"data", "tracking"}, {"inference"}, {"training"}, {"demo"}, {"commands"}, {"cli", "__main__"}]
ONLY = {"tracking": {"codec", "errors"}}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Module -> the pafpose modules it imports (anywhere in its body)."""
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    found: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = ".".join(package[:len(package) - node.level + 1] if node.level else [])
                target = ".".join(x for x in (base, node.module or "") if x) if node.level else node.module or ""
                for alias in node.names:  # "from . import x" imports the module x
                    targets.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        found[name] = {t for t in targets if t.split(".")[0] == "pafpose" and t != name}
    return found


def folder(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "pafpose"


def test_each_stage_imports_only_the_stages_before_it():
    rank = {name: i for i, layer in enumerate(LAYERS) for name in layer}
    wrong = []
    for module, targets in imports().items():
        source = folder(module)
        for target in targets:
            dest = folder(target)
            if source == "pafpose" or dest == source or (dest == "pafpose" and source == "cli"):
                continue
            allowed = ONLY.get(source)
            if (allowed is not None and dest not in allowed) or rank.get(dest, -1) > rank.get(source, 99):
                wrong.append(f"{module} -> {target}")
    assert not wrong, wrong


def test_no_import_cycles():
    graph = imports()
    modules = set(graph)

    def resolve(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    edges = {m: {resolve(t) for t in ts if resolve(t) and resolve(t) != m
                 and not m.startswith(resolve(t) + ".")}  # a module may use its own package's __init__
             for m, ts in graph.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(path[path.index(nxt):] + [node, nxt]) if nxt in path else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, path + [node])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [])
    assert not cycles, cycles


def test_the_readme_and_the_package_docstring_name_every_stage_folder():
    folders = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    readme = (ROOT.parent / "README.md").read_text()
    layout = readme[readme.index("## Layout"):]
    for name in folders:
        assert f"{name}/" in layout, name
        assert f"``{name}``" in pafpose.__doc__, name
