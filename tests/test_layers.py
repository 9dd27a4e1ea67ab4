"""Imports point down: each package imports only the layers below it.

The rules are the ones docs/architecture.md draws ("Layers"); this test reads every
import statement under ``src/pasar`` (function-local and type-only ones too: they
couple as much) and fails on one that points up or sideways.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "pasar"

# Top to bottom. A unit (a package, or a module directly under pasar/) may import
# the units of the layers after its own; within a layer only where ``SIDEWAYS`` says.
LAYERS: list[tuple[str, ...]] = [
    ("__main__", "cli", "demo", "bootstrap", "app", "settings_doc"),  # entry points
    ("web",),  # HTTP and the show socket's transport
    ("services",),  # the composition root
    ("commerce",),  # domains, each above the ones it may use
    ("media",),
    ("engagement",),
    ("shows",),
    ("webhooks",),
    ("catalog",),
    ("vendors",),
    ("realtime", "storage", "db"),  # engines: they know no domain
    (  # the kernel: small modules every layer may use
        "settings",
        "logging",
        "metrics",
        "errors",
        "clock",
        "ids",
        "money",
        "pagination",
        "validation",
        "netaddr",
        "private_files",
        "url_templates",
        "loops",
        "redis_clients",
        "shared_reads",
        "heap",
    ),
]
# Imports allowed within a layer: the entry points use each other (the CLI starts the
# demo and the app), and kernel modules build on each other (settings reads
# private_files, logging reads settings, money raises errors).
SIDEWAYS = {LAYERS[0], LAYERS[-1]}


def _rank() -> dict[str, int]:
    return {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for every import of a ``pasar`` module in the file."""
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            # "from pasar.catalog import models" imports the module pasar.catalog.models
            found += [(node.lineno, _submodule(name, a.name)) for a in node.names]
    return [(line, n) for line, n in found if n.split(".")[0] == "pasar"]


def _submodule(package: str, name: str) -> str:
    path = SRC.parent.joinpath(*package.split("."), name)
    return f"{package}.{name}" if path.is_dir() or path.with_suffix(".py").is_file() else package


def _unit(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def _is_table_list(module: str, target: str) -> bool:
    """The table list Alembic reads (and its migrations) may import every domain's
    table modules, and only those."""
    if not (module == "pasar.db.models" or module.startswith("pasar.db.migrations")):
        return False
    return target.rsplit(".", 1)[-1].endswith("models") or target.startswith("pasar.db")


def violations() -> list[str]:
    rank = _rank()
    found: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        module = _module_name(path)
        unit = _unit(module)
        if module == "pasar":  # the package's own __init__: its version, nothing else
            continue
        if unit not in rank:
            found.append(f"{module}: pasar.{unit} is in no layer")
            continue
        for line, target in _imported(path):
            other = _unit(target)
            if other in ("", unit) or _is_table_list(module, target):
                continue
            if other not in rank:
                found.append(f"{module}:{line} imports {target}: pasar.{other} is in no layer")
            elif rank[other] < rank[unit] or (
                rank[other] == rank[unit] and LAYERS[rank[unit]] not in SIDEWAYS
            ):
                found.append(f"{module}:{line} imports {target} (pasar.{other} is not below)")
    return sorted(set(found))


def test_imports_point_down() -> None:
    assert violations() == []


def test_the_rule_catches_an_upward_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check itself can fail: upward and unknown imports are reported."""
    fake = tmp_path / "pasar"
    for name in ("catalog/__init__.py", "vendors/__init__.py", "web/__init__.py"):
        (fake / name).parent.mkdir(parents=True, exist_ok=True)
        (fake / name).write_text("")
    (fake / "web" / "deps.py").write_text("")
    (fake / "services.py").write_text("")
    (fake / "elsewhere.py").write_text("")
    (fake / "catalog" / "bad.py").write_text(
        "def f():\n    from pasar.web import deps\n    from pasar import services\n"
    )
    (fake / "vendors" / "__init__.py").write_text("from ..catalog import bad\n")
    monkeypatch.setattr(sys.modules[__name__], "SRC", fake)
    assert violations() == [
        "pasar.catalog.bad:2 imports pasar.web.deps (pasar.web is not below)",
        "pasar.catalog.bad:3 imports pasar.services (pasar.services is not below)",
        "pasar.elsewhere: pasar.elsewhere is in no layer",
        "pasar.vendors:1 imports pasar.catalog.bad (pasar.catalog is not below)",
    ]
