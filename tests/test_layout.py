"""The package's layout: floors that import only downwards, no import cycles, few function-local imports.

Floors, bottom to top (a module may import its own floor and the floors below it):

    0 errors
    1 io, download, folders, allocator, timing, threads
    2 data
    3 model
    4 inference, evaluation, visualize
    5 tracking
    6 engine
    7 synthetic
    8 commands, cli, __main__, the package itself

Function-local imports are allowed only for optional heavy packages (HEAVY_OPTIONAL) and in the
command modules and the package's __init__, which the CLI imports to build its parser before it
knows which command runs; each one has a comment saying why.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "simplepose"

FLOORS: dict[str, int] = {
    "errors": 0,
    "io": 1, "download": 1, "folders": 1, "allocator": 1, "timing": 1, "threads": 1,
    "data": 2,
    "model": 3,
    "inference": 4, "evaluation": 4, "visualize": 4,
    "tracking": 5,
    "engine": 6,
    "synthetic": 7,
    "commands": 8, "cli": 8, "__main__": 8, "": 8,
}
HEAVY_OPTIONAL = ("onnx", "onnxruntime", "openvino", "tensorboard", "torch.utils.tensorboard", "matplotlib")
LIGHT_IMPORT_MODULES = ("commands", "")        # imported by the CLI before a command is chosen


def _module_name(path: Path) -> str:
    """simplepose/data/coco.py -> 'data.coco'; simplepose/__init__.py -> ''."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _floor(module: str) -> int:
    """The floor of a module inside the package (by its first name)."""
    top = module.split(".")[0]
    assert top in FLOORS, f"simplepose.{module} is on no floor: add it to FLOORS and README's layout"
    return FLOORS[top]


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str | None:
    """The absolute module an ImportFrom names, None when it is outside simplepose."""
    if node.level:
        base = module.split(".") if module else []
        if not is_package:
            base = base[:-1]
        base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
        name = ".".join(base + ([node.module] if node.module else []))
        return name
    if node.module == "simplepose" or (node.module or "").startswith("simplepose."):
        return node.module[len("simplepose."):] if node.module != "simplepose" else ""
    return None


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported simplepose module, line, function-local) for every import of the package in a file."""
    module = _module_name(path)
    tree = ast.parse(path.read_text(), str(path))
    local_lines = {n.lineno for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                   for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "simplepose" or alias.name.startswith("simplepose."):
                    out.append((alias.name[len("simplepose."):] if "." in alias.name else "", node.lineno,
                                node.lineno in local_lines))
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node, module, path.name == "__init__.py")
            if target is None:
                continue
            # `from simplepose.data import geometry` imports the submodule when it is one
            for alias in node.names:
                sub = f"{target}.{alias.name}" if target else alias.name
                is_module = (PACKAGE / Path(*sub.split(".")).with_suffix(".py")).is_file() or \
                    (PACKAGE / Path(*sub.split("."))).is_dir()
                out.append((sub if is_module else target, node.lineno, node.lineno in local_lines))
    return out


def _files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_is_on_a_floor() -> None:
    for path in _files():
        _floor(_module_name(path))


def test_imports_only_go_down() -> None:
    problems = []
    for path in _files():
        module = _module_name(path)
        for target, line, _ in _imports(path):
            if _floor(target) > _floor(module):
                problems.append(f"{path.relative_to(PACKAGE.parent)}:{line}: simplepose.{module or '__init__'} "
                                f"(floor {_floor(module)}) imports simplepose.{target} (floor {_floor(target)})")
    assert not problems, "imports from a higher floor:\n" + "\n".join(problems)


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for path in _files():
        module = _module_name(path)
        graph.setdefault(module, set()).update(t for t, _, _ in _imports(path) if t != module)
    state: dict[str, int] = {}      # 1 on the current path, 2 done
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                cycle = stack[stack.index(n):] + [n]
                pytest.fail("import cycle: " + " -> ".join(f"simplepose.{c}" for c in cycle))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def _local_imports(path: Path) -> list[tuple[str, int, ast.AST]]:
    """(imported module, line, enclosing function) of every function-local import in a file."""
    tree = ast.parse(path.read_text(), str(path))
    out = []
    for func in ast.walk(tree):
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(func):
                if isinstance(node, ast.Import):
                    out.extend((a.name, node.lineno, func) for a in node.names)
                elif isinstance(node, ast.ImportFrom):
                    out.append(("." * node.level + (node.module or ""), node.lineno, func))
    return out


def test_function_local_imports_are_the_allowed_few_with_a_reason() -> None:
    problems = []
    for path in _files():
        module = _module_name(path)
        light = module.split(".")[0] in LIGHT_IMPORT_MODULES
        lines = path.read_text().splitlines()
        for name, line, func in _local_imports(path):
            heavy = any(name == h or name.startswith(h + ".") for h in HEAVY_OPTIONAL)
            where = f"{path.relative_to(PACKAGE.parent)}:{line}: import of {name} inside {func.name}()"
            if not (heavy or light):
                problems.append(f"{where}: move it to the top of the module")
                continue
            # a comment between the function's first line and the import says why
            body = lines[func.lineno - 1:line]
            if not any("#" in text for text in body):
                problems.append(f"{where}: add a one-line comment saying why it is imported here")
    assert not problems, "function-local imports:\n" + "\n".join(problems)


def test_the_layout_test_sees_upward_and_local_imports(tmp_path: Path) -> None:
    """The import reader finds relative, function-local and submodule imports (guards the checks above)."""
    found = {t for t, _, _ in _imports(PACKAGE / "inference" / "estimator.py")}
    assert "inference.topdown" in found and "data.geometry" in found
    found_cli = {(t, local) for t, _, local in _imports(PACKAGE / "__init__.py")}
    assert ("inference.estimator", True) in found_cli


MAX_FUNCTION_LINES = 70
# functions still longer than MAX_FUNCTION_LINES, waiting to be cut into named steps; this set only shrinks
LONG_FUNCTIONS_TO_SPLIT: set[str] = set()


def _long_functions(path: Path, limit: int) -> list[tuple[str, int]]:
    """(name, lines) of the functions and methods in a file longer than `limit` lines (def line to last line)."""
    tree = ast.parse(path.read_text(), str(path))
    return [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > limit]


def test_functions_are_at_most_70_lines() -> None:
    problems = []
    for path in _files():
        where = path.relative_to(PACKAGE).as_posix()
        for name, lines in _long_functions(path, MAX_FUNCTION_LINES):
            if f"{where}:{name}" not in LONG_FUNCTIONS_TO_SPLIT:
                problems.append(f"simplepose/{where}: {name}() has {lines} lines; cut it into named steps")
    assert not problems, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(problems)


def test_the_length_check_counts_a_function_from_def_to_its_last_line(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    body = "\n".join(f"    x{i} = {i}" for i in range(69))
    source.write_text(f"def short():\n{body}\n\n\ndef long():\n{body}\n    return x0\n")
    assert _long_functions(source, MAX_FUNCTION_LINES) == [("long", 71)]


def test_no_test_imports_a_conftest() -> None:
    """Fixtures stay in conftest.py; what tests share as code lives in a helpers module they import."""
    tests = PACKAGE.parent / "tests"
    problems = [f"{path.relative_to(tests.parent)}:{node.lineno}"
                for path in sorted(tests.rglob("*.py"))
                for node in ast.walk(ast.parse(path.read_text(), str(path)))
                if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[-1] == "conftest"
                or isinstance(node, ast.Import) and any(a.name.split(".")[-1] == "conftest" for a in node.names)]
    assert not problems, "imports of a conftest (move the shared code to a helpers module):\n" + "\n".join(problems)
