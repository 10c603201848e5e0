"""The package's layout is its architecture: imports run one way between the rooms, the top
level holds only the core, no source file passes the length at which style.md splits, and
README's "Layout" section names every room. Read from the source text; nothing is imported."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "d2ca"
MAX_LINES = 600  # ../shared/design/style.md: past this a file is usually two ideas

# The top level: the core every room may import, and the checkpoint format (hub) over models.
CORE = {"aus", "config", "devices", "errors", "io", "losses"}
TOP_LEVEL = CORE | {"hub"}

# What each room may import besides the core and itself; a room not listed may import nothing
# but the core. The CLI, over everything, may import anything.
ALLOWED = {
    "models": set(),
    "hub": {"models"},
    "face": set(),
    "data": {"face"},
    "evaluation": {"models", "data"},
    "inference": {"models", "hub", "face", "data"},
    "train": {"models", "hub", "data", "evaluation"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(source: str) -> set[str]:
    """The d2ca modules ``source`` imports, lazily or not (``from d2ca import x`` -> d2ca.x)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            if node.module == "d2ca":
                found |= {f"d2ca.{a.name}" for a in node.names}
    return {m for m in found if m == "d2ca" or m.startswith("d2ca.")}


def _room(module: str) -> str:
    """``d2ca.data.synth.render`` -> ``data``; the root package and the core -> ``core``."""
    parts = module.split(".")
    return "core" if len(parts) == 1 or parts[1] in CORE else parts[1]


def _wrong_imports(module: str, source: str) -> list[str]:
    """The imports of ``module`` that reach a room it may not import."""
    room = _room(module)
    if room == "cli":
        return []
    allowed = {"core"} if room == "core" else {"core", room} | ALLOWED[room]
    return sorted(m for m in _imports(source) if _room(m) not in allowed)


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE or p.stem != "__init__")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_run_one_way(path: Path) -> None:
    wrong = _wrong_imports(_module_name(path), path.read_text())
    assert not wrong, f"{path.relative_to(ROOT)} imports {wrong}"


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("d2ca.models.networks", "from d2ca.train.objective import generator_loss"),
        ("d2ca.data.media", "from d2ca.inference.results import AUResult"),
        ("d2ca.train.trainer", "    from d2ca.inference.pipeline import D2CA"),
        ("d2ca.config", "from d2ca import hub"),
    ],
)
def test_the_check_catches_an_import_up_a_layer(module: str, line: str) -> None:
    source = line if not line.startswith(" ") else f"def f():\n{line}\n"
    assert _wrong_imports(module, source)


def test_top_level_holds_only_the_core() -> None:
    loose = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert loose == TOP_LEVEL


def test_core_modules_import_only_the_core() -> None:
    for name in CORE:
        wrong = _wrong_imports(f"d2ca.{name}", (PACKAGE / f"{name}.py").read_text())
        assert not wrong, f"d2ca/{name}.py imports {wrong}"


def test_no_source_file_passes_the_split_length() -> None:
    files = [*PACKAGE.rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]
    long = {
        str(p.relative_to(ROOT)): n
        for p in files
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"over {MAX_LINES} lines: {long}"


def test_readme_layout_names_every_room() -> None:
    text = (ROOT / "README.md").read_text()
    layout = re.search(r"^## Layout\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert layout, "README.md has no '## Layout' section"
    rooms = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    named = set(re.findall(r"`d2ca/(\w+)/`", layout.group(1)))
    assert rooms <= named, f"README's Layout does not name {sorted(rooms - named)}"
    modules = set(re.findall(r"`d2ca/(\w+)\.py`", layout.group(1)))
    assert TOP_LEVEL <= modules, f"README's Layout does not name {sorted(TOP_LEVEL - modules)}"
