"""Import rules for roadcam.tools (issue 28 item 6): the tools import each other without a cycle,
run as modules from any directory, and every doc runs them in that one form.

The import graph is read from the source (ast), not by importing: it holds every import of a
``roadcam.tools`` module anywhere in a file, the ones inside functions included (the cycle
bench_plates <-> plates.train_reader that this rule removed was made of two such imports).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools"
PACKAGE = "roadcam.tools"


def module_name(path: Path) -> str:
    parts = path.relative_to(TOOLS).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def tool_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(TOOLS.rglob("*.py"))}


def imported_modules(path: Path, name: str, known: set[str]) -> set[str]:
    """The roadcam.tools modules ``path`` (module ``name``) imports, anywhere in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for alias in node.names:
                # ``from package import module`` imports the module; ``from module import name`` the module
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {module for module in found if module in known and module != name}


def import_graph() -> dict[str, set[str]]:
    modules = tool_modules()
    return {name: imported_modules(path, name, set(modules)) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        stack.append(module)
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                return [*stack[stack.index(imported):], imported]
            if imported not in state and (cycle := visit(imported)):
                return cycle
        stack.pop()
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_the_graph_sees_imports_inside_functions():
    """The rule would be blind without these: bench_plates' detector recall imports in a function."""
    graph = import_graph()
    assert "roadcam.tools.plates.eval_detector" in graph["roadcam.tools.bench_plates"]
    assert "roadcam.tools.plates.reader_card" in graph["roadcam.tools.plates.train_reader"]
    assert "roadcam.tools.plates.scenes" in graph["roadcam.tools.plates.train_detector"]  # from package import module


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_roadcam_tools_imports_have_no_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle in roadcam.tools: " + " -> ".join(cycle or [])


#: A tool run as a file (``python tools/x.py``, ``tools/x.py --flag`` in backquotes): the form
#: the docs no longer use. Naming a file (``trained by tools/plates/train_reader.py``) is fine.
FILE_FORM = re.compile(r"python[\d.]*\s+(?:\S+/)?tools/\S+\.py|`tools/[\w/]+\.py\s+-")


def test_every_doc_runs_tools_as_modules():
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "scripts").glob("*.sh")),
            *sorted(TOOLS.rglob("*.py")), *sorted(ROOT.glob("plugins/*/models/*.md"))]
    offenders = [f"{doc.relative_to(ROOT)}: {match.group(0)}"
                 for doc in docs for match in FILE_FORM.finditer(doc.read_text())]
    assert not offenders, "run tools as `python -m roadcam.tools.X`:\n" + "\n".join(offenders)


def test_a_tool_runs_as_a_module_from_another_directory(tmp_path):
    result = subprocess.run([sys.executable, "-m", "roadcam.tools.bench_store", "--help"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--count" in result.stdout
