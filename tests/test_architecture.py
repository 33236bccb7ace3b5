"""The house rules of docs/architecture.md, checked on the source: no import circle between our
modules, the system/app split (runtime and formats never reach torch or the training side), and
every task vocabulary derived from the one task table."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import mtpf_deploy
from mtpf_deploy.formats import adapter_dir, adapter_file
from mtpf_deploy.formats.tasks import EVALUATED_TASKS, HEAD_TASKS, PRETRAIN_TASKS, TASK_NAMES, TASKS, head_width

ROOT = Path(mtpf_deploy.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module -> our modules it imports, at module level or inside functions (a lazy import still
    ties two modules together); ``if TYPE_CHECKING:`` imports are left out."""
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        tree = ast.parse(path.read_text())
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                       for n in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")
                base = base[: len(base) - node.level + 1] if node.level else []
                module = ".".join(base + ([node.module] if node.module else []))
                targets = [module] + [f"{module}.{a.name}" for a in node.names]
            for t in targets:
                while t and t not in _all_modules():
                    t = t.rpartition(".")[0]
                if t and t != name:
                    found.add(t)
        graph[name] = found
    return graph


_MODULES: set[str] = set()


def _all_modules() -> set[str]:
    if not _MODULES:
        _MODULES.update(_module_name(p) for p in ROOT.rglob("*.py"))
    return _MODULES


def test_no_import_circle():
    graph = _imports()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            # a package importing its own submodules (``from .x import y`` in __init__) is not a circle
            if nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                if not any(a.startswith(b + ".") for a, b in zip(cycle[:-1], cycle[1:])):
                    pytest.fail("import circle: " + " -> ".join(cycle))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


@pytest.mark.parametrize("side", ["mtpf_deploy.runtime", "mtpf_deploy.formats", "mtpf_deploy.cli.app",
                                  "mtpf_deploy.export.pack"])
def test_the_app_side_never_loads_torch(side):
    """Importing the runtime, the formats, the app-side commands or ``pack`` loads no torch (the [runtime] extra)."""
    code = (f"import importlib, pkgutil, sys; m = importlib.import_module({side!r});\n"
            "for s in pkgutil.walk_packages(getattr(m, '__path__', []), m.__name__ + '.'):\n"
            "    importlib.import_module(s.name)\n"
            "bad = [x for x in ('torch', 'transformers', 'peft', 'onnx', 'sklearn') if x in sys.modules]\n"
            "assert not bad, bad; print('ok')")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr[-1500:]


def test_the_runtime_package_never_names_torch():
    """Not even lazily: engines that need torch live in ``torch_engines/``, outside ``runtime/``."""
    found = []
    for path in (ROOT / "runtime").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("torch", "executorch", "transformers")]
    assert not found, found


def test_every_task_vocabulary_comes_from_the_table():
    from mtpf_deploy.evaluation import suites
    from mtpf_deploy.runtime.system import SystemModel
    from mtpf_deploy.training.multitask.config import ADAPTER_TASKS
    from mtpf_deploy.training.pretrain import config as pretrain_config

    assert not hasattr(adapter_file, "TASKS") and not hasattr(adapter_dir, "TASKS")
    assert pretrain_config.TASKS == PRETRAIN_TASKS == ("ner", "tc")
    assert suites.TASKS == EVALUATED_TASKS == ("ner", "tc")
    assert set(ADAPTER_TASKS.values()) <= set(TASK_NAMES)
    assert set(HEAD_TASKS) == set(TASK_NAMES) - {"lora"}
    assert [head_width(t, 8) for t in ("ner", "tc", "pair-tc", "sts")] == [8, 8, 32, 1]
    for spec in TASKS.values():  # every task kind has the runtime method the table names
        assert callable(getattr(SystemModel, spec.runtime)), spec.name
