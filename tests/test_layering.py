"""The layering the design promises: no module of zeronlp imports from a layer above its own.

Layers, lowest first (a module may import from its own layer and the layers before it)::

    backend, errors, fileio -> serialization -> autograd -> gradcheck, functional -> nn -> optim
    -> distributed -> data -> embeddings -> models -> train -> viz -> tasks -> serve -> cli

``zeronlp/__init__.py`` is exempt (it assembles the public namespace). Imports are read with
``ast`` from the source, both at module level and inside functions, so an import hidden in a
function body (to dodge a cycle) is found as well; importing zeronlp modules inside functions is
not allowed at all, only optional or heavy third-party libraries may be imported there.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

import zeronlp as zn

PACKAGE = "zeronlp"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / PACKAGE

LAYERS: list[tuple[str, tuple[str, ...]]] = [  # (label, first components after "zeronlp.")
    ("backend/errors/fileio/progress", ("_blas_spin", "_malloc_tuning", "backend", "errors", "fileio", "progress")),
    ("serialization", ("serialization",)),
    ("autograd", ("autograd",)),
    ("gradcheck/functional", ("gradcheck", "functional")),
    ("nn", ("nn",)),
    ("optim", ("optim",)),
    ("distributed", ("distributed",)),
    ("data", ("data",)),
    ("embeddings", ("embeddings",)),
    ("models", ("models",)),
    ("train", ("train",)),
    ("viz", ("viz",)),
    ("tasks", ("tasks",)),
    ("serve", ("serve",)),  # `zeronlp serve`: loads runs of every task for the web page
    # the old top-level cli modules belong with the cli package that replaces them
    ("cli", ("cli", "__main__")),
]
LAYER_OF: dict[str, int] = {name: rank for rank, (_, names) in enumerate(LAYERS) for name in names}
ROOT_LAYER = len(LAYERS) - 1  # ``import zeronlp`` pulls in everything: only the top layer may do it

# Optional or heavy third-party libraries: importing them on first use keeps ``import zeronlp`` light.
LAZY_IMPORTS_ALLOWED = frozenset({
    "matplotlib", "tqdm", "cupy", "cupyx", "scipy", "safetensors", "numba", "llvmlite", "threadpoolctl", "mpi4py",
    "torch", "gensim", "sklearn", "pandas", "IPython", "graphviz", "fugashi",
    "starlette", "uvicorn",
})


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, e.g. "zeronlp.nn.layers"
    target: str  # the imported module, absolute, e.g. "zeronlp.functional"
    line: int
    in_function: bool

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} (line {self.line})"


def module_name(path: Path, root: Path = PACKAGE_DIR) -> tuple[str, bool]:
    """``zeronlp/nn/layers.py`` -> ("zeronlp.nn.layers", False); a package's ``__init__`` -> (pkg, True)."""
    parts = [PACKAGE, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _known_modules(root: Path = PACKAGE_DIR) -> set[str]:
    return {module_name(path, root)[0] for path in root.rglob("*.py")}


def _resolve(base: str, names: Iterable[str], known: set[str]) -> list[str]:
    """``from base import a, b``: each name that is a module stands for itself, any other for ``base``."""
    targets = []
    for name in names:
        candidate = f"{base}.{name}"
        targets.append(candidate if candidate in known else base)
    return targets


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, known: set[str]):
        self.module, self.known = module, known
        self.package = module.split(".") if is_package else module.split(".")[:-1]
        self.function_depth = 0
        self.found: list[tuple[str, int, bool]] = []  # (absolute target, line, inside a function)

    def _add(self, target: str, node: ast.AST) -> None:
        self.found.append((target, node.lineno, self.function_depth > 0))

    def _function(self, node: ast.AST) -> None:
        self.function_depth += 1
        self.generic_visit(node)
        self.function_depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function  # noqa: N815

    def visit_Import(self, node: ast.Import) -> None:  # noqa: N802
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:  # noqa: N802
        if node.level:
            keep = len(self.package) - (node.level - 1)
            if keep < 1:
                raise ValueError(f"{self.module}: relative import beyond the top-level package (line {node.lineno})")
            base = ".".join(self.package[:keep] + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        for target in _resolve(base, [alias.name for alias in node.names], self.known):
            self._add(target, node)

    def visit_Call(self, node: ast.Call) -> None:  # noqa: N802
        # importlib.import_module("zeronlp.x") / import_module(".x", __name__) hide an import in a string
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            spec = node.args[0].value
            if isinstance(spec, str) and spec.startswith("."):
                level = len(spec) - len(spec.lstrip("."))
                keep = len(self.package) - (level - 1)
                spec = ".".join(self.package[:keep] + ([spec.lstrip(".")] if spec.lstrip(".") else []))
            if isinstance(spec, str):
                self._add(spec, node)
        self.generic_visit(node)


def imports_of(source: str, module: str, is_package: bool = False, known: set[str] | None = None) -> list[Import]:
    """Every import in ``source`` (the text of ``module``), with relative imports made absolute."""
    collector = _ImportCollector(module, is_package, _known_modules() if known is None else known)
    collector.visit(ast.parse(source))
    unique = dict.fromkeys(collector.found)  # ``from ..train import a, b`` is one import of zeronlp.train
    return [Import(module, target, line, inside) for target, line, inside in unique]


def layer_of(module: str) -> int:
    """The layer of a zeronlp module, by its first component after ``zeronlp.``."""
    parts = module.split(".")
    if len(parts) == 1:
        return ROOT_LAYER
    if parts[1] not in LAYER_OF:
        raise KeyError(
            f"{module}: '{parts[1]}' has no place in the layer map; add it to LAYERS in tests/test_layering.py "
            "(and to the layer diagram in DESIGN.md)"
        )
    return LAYER_OF[parts[1]]


def _is_zeronlp(target: str) -> bool:
    return target == PACKAGE or target.startswith(PACKAGE + ".")


def upward_imports(imports: Iterable[Import]) -> list[str]:
    """The imports that reach a layer to the right of the importing module's own."""
    bad = []
    for imp in imports:
        if _is_zeronlp(imp.target) and imp.source != PACKAGE and layer_of(imp.target) > layer_of(imp.source):
            bad.append(f"{imp}: layer {_layer_name(imp.source)} imports layer {_layer_name(imp.target)}")
    return bad


def function_level_imports(imports: Iterable[Import]) -> list[str]:
    """Imports inside functions of anything but the optional/heavy third-party libraries."""
    return [
        f"{imp} inside a function"
        for imp in imports
        if imp.in_function and (_is_zeronlp(imp.target) or imp.target.split(".")[0] not in LAZY_IMPORTS_ALLOWED)
    ]


def _layer_name(module: str) -> str:
    return "zeronlp (the package root)" if len(module.split(".")) == 1 else LAYERS[layer_of(module)][0]


def _all_imports() -> list[Import]:
    known = _known_modules()
    found = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        module, is_package = module_name(path)
        found += imports_of(path.read_text(encoding="utf-8"), module, is_package, known)
    return found


def _report(title: str, problems: list[str]) -> str:
    return f"{len(problems)} {title}:\n  " + "\n  ".join(problems)


# ---- the tests -------------------------------------------------------------------------------------
def test_every_module_has_a_layer():
    unknown = set()
    for path in PACKAGE_DIR.rglob("*.py"):
        module, _ = module_name(path)
        if module != PACKAGE:
            try:
                layer_of(module)
            except KeyError as err:
                unknown.add(err.args[0])
    assert not unknown, "\n".join(sorted(unknown))


def test_no_module_imports_from_a_layer_above_it():
    problems = upward_imports(imp for imp in _all_imports() if imp.source != PACKAGE)
    assert not problems, _report("imports reach upward", problems)


def test_no_zeronlp_or_light_imports_inside_functions():
    problems = function_level_imports(imp for imp in _all_imports() if imp.source != PACKAGE)
    assert not problems, _report("imports inside functions (move them to the top of the module)", problems)


def test_checker_reports_a_fake_upward_import():
    """The checker itself can fail: a fake nn module that reaches up into train is reported."""
    known = {"zeronlp", "zeronlp.nn", "zeronlp.nn.layers", "zeronlp.train", "zeronlp.train.trainer",
             "zeronlp.functional", "zeronlp.autograd"}
    source = (
        "from .. import functional as F\n"
        "from ..autograd import Tensor\n"
        "from ..train.trainer import Trainer\n"
        "def fit():\n"
        "    from ..train import trainer\n"
        "    import tqdm\n"
        "    import json\n"
    )
    imports = imports_of(source, "zeronlp.nn.layers", known=known)
    assert [(imp.target, imp.in_function) for imp in imports] == [
        ("zeronlp.functional", False), ("zeronlp.autograd", False), ("zeronlp.train.trainer", False),
        ("zeronlp.train.trainer", True), ("tqdm", True), ("json", True),
    ]
    upward = upward_imports(imports)
    assert len(upward) == 2 and all("zeronlp.nn.layers -> zeronlp.train.trainer" in p for p in upward)
    inside = function_level_imports(imports)
    assert len(inside) == 2 and "zeronlp.train.trainer" in inside[0] and "json" in inside[1]


def test_checker_resolves_package_relative_imports_and_the_root():
    known = {"zeronlp", "zeronlp.nn", "zeronlp.nn.init", "zeronlp.viz"}
    imports = imports_of("from . import init\nimport zeronlp as zn\n", "zeronlp.nn", is_package=True, known=known)
    assert [imp.target for imp in imports] == ["zeronlp.nn.init", "zeronlp"]
    assert upward_imports(imports) == [
        "zeronlp.nn -> zeronlp (line 2): layer nn imports layer zeronlp (the package root)"]
    dynamic = imports_of("import importlib\ndef f():\n    return importlib.import_module('..viz', __package__)\n",
                         "zeronlp.nn.layers", known=known)
    assert [imp.target for imp in dynamic] == ["importlib", "zeronlp.viz"]
    assert len(upward_imports(dynamic)) == 1 and len(function_level_imports(dynamic)) == 1


def test_unknown_top_level_module_asks_to_be_added():
    with pytest.raises(KeyError, match="add it to LAYERS"):
        upward_imports([Import("zeronlp.nn.layers", "zeronlp.newthing", 1, False)])


def test_import_zeronlp_exports_what_it_lists():
    """``import zeronlp`` imports its subpackages eagerly (no module ``__getattr__``) and has the errors."""
    assert not hasattr(zn, "__getattr__")
    missing = [name for name in zn.__all__ if name not in vars(zn)]
    assert not missing, f"zeronlp.__all__ lists names the package does not define: {missing}"
    assert {"embeddings", "ZeronlpError", "DataError", "CheckpointError", "TrainingDiverged",
            "UsageError"} <= set(zn.__all__)
    assert zn.CheckpointError is zn.errors.CheckpointError
