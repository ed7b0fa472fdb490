"""Every file a build reads: the yaml's own inputs plus the project's Python modules the training imports.

The training runs with the script's folder and the yaml's folder on `sys.path`, so a class in
`mymodels.py` (`train.estimator: mymodels.TunedTree`) or a helper that `train.py` imports decides the
model as much as the script does. Two ways find them, and both feed the stamp:
- statically, before anything runs (`microml deps`, the build systems): the `import` statements of the
  script and of the estimator's module, parsed with `ast` and followed transitively through every module
  that resolves to a file in those folders (the standard library and installed packages never do);
- at build time, the project modules actually loaded after training (`sys.modules`), which also catches
  `importlib.import_module(name)`; the header records them, so the next build hashes them too.
Light on purpose: `microml deps` imports this, so no numpy or scikit-learn here.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.machinery
import os
import site
import sys
from pathlib import Path

from microml_build.config import Config

MODULE_SUFFIXES = (".py", *importlib.machinery.EXTENSION_SUFFIXES)


def search_folders(config: Config) -> list[Path]:
    """Where the training resolves imports from the project, in `sys.path` order (training.py puts them there)."""
    folders = [config.train.script.parent] if config.train.script is not None else []
    folders += [config.root] if config.root not in folders else []
    return folders


def input_files(config: Config, recorded: list[Path] | tuple[Path, ...] = ()) -> list[Path]:
    """yaml, dataset, script, `train.inputs`, then every project module the training imports: those the
    imports name (static) and `recorded` (the modules an earlier build saw loaded, from its header)."""
    files = config.input_files()
    for path in [*imported_modules(config), *recorded]:
        if path not in files:
            files.append(path)
    return files


def imported_modules(config: Config) -> list[Path]:
    """The project's module files that the script (or the estimator's module) imports, transitively, sorted."""
    folders = search_folders(config)
    todo: list[Path] = []
    if config.train.script is not None:
        todo.append(config.train.script)
    elif config.train.estimator:
        module = config.train.estimator.rpartition(".")[0]
        todo += _resolve(module, folders)
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module, base, names in _imports(path):
            if base is None:        # absolute: `import a.b`, `from a.b import c`
                found = _resolve(module, folders)
                for name in names:
                    found += _resolve(f"{module}.{name}", folders) if found else []
            else:                   # relative: `from .m import x`, resolved from the importing file's folder
                found = _resolve_in(module.split(".") if module else [], base) if base.is_dir() else []
                for name in names:
                    found += _resolve_in([*(module.split(".") if module else []), name], base)
            todo += [p for p in found if p not in seen]
    script = config.train.script
    return sorted((p for p in seen if p != script), key=lambda p: p.as_posix())


def _imports(path: Path):
    """(module, folder for a relative import or None, imported names) of each import statement in a file."""
    if path.suffix != ".py":
        return []
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return []           # the build reports a broken script with its line; deps still lists the file
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names if alias.name != "*")
            if node.level:
                base = path.parent
                for _ in range(node.level - 1):
                    base = base.parent
                found.append((node.module or "", base, names))
            elif node.module:
                found.append((node.module, None, names))
    return found


def _resolve(module: str, folders: list[Path]) -> list[Path]:
    """The files importing `module` runs (each package's `__init__.py`, then the module), from the first
    folder that has its top-level package or module, as `sys.path` would."""
    parts = module.split(".")
    for folder in folders:
        if _find(folder, parts[0]) is not None:
            return _resolve_in(parts, folder)
    return []


def _resolve_in(parts: list[str], folder: Path) -> list[Path]:
    files = []
    for part in parts:
        found = _find(folder, part)
        if found is None:
            break
        if found.is_dir():                       # a package: its __init__.py (if any) runs
            init = found / "__init__.py"
            if init.is_file():
                files.append(init.resolve())
            folder = found
        else:
            files.append(found.resolve())
            break
    return files


def _find(folder: Path, name: str) -> Path | None:
    """`folder/name/` (a package) or `folder/name.py` (or a compiled extension), as the import system looks."""
    if not name.isidentifier():
        return None
    package = folder / name
    if package.is_dir() and not package.name.startswith("."):
        return package
    for suffix in MODULE_SUFFIXES:
        candidate = folder / (name + suffix)
        if candidate.is_file():
            return candidate
    return None


# ---------------------------------------------------------------------------------------------
# What the training actually loaded

def _installed_roots() -> list[Path]:
    """Folders whose modules are installed software, never project code, even inside the project folder
    (a `.venv/` next to the yaml): the interpreter's prefixes, site-packages, and MicroML itself."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(),
             os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    with contextlib.suppress(AttributeError):
        roots.add(site.getusersitepackages())
    return [Path(root).resolve() for root in roots if root]


def project_module_file(module, folders: list[Path], installed: list[Path]) -> Path | None:
    """The module's file if it lies in one of the project folders and is not installed software."""
    name = getattr(module, "__file__", None)
    if not isinstance(name, str):
        return None
    path = Path(name).resolve()
    if not path.is_file() or any(path.is_relative_to(root) for root in installed):
        return None
    if "site-packages" in path.parts or "dist-packages" in path.parts:
        return None
    return path if any(path.is_relative_to(folder) for folder in folders) else None


def _imported_afresh(name: str, module, folders: list[Path], installed: list[Path], provided: dict) -> bool:
    """Whether a module already in `sys.modules` must be imported again for this project: it is one of the
    project's files, or it has the name of one of them but came from elsewhere (another project an earlier
    build in this process trained). Installed software is never touched."""
    if project_module_file(module, folders, installed) is not None:
        return True
    top = name.partition(".")[0]
    if top not in provided:
        provided[top] = any(_find(folder, top) is not None for folder in folders)
    if not provided[top]:
        return False
    places = [getattr(module, "__file__", None), *(getattr(module, "__path__", None) or [])]
    places = [Path(place).resolve() for place in places if isinstance(place, str)]
    return bool(places) and not any(place.is_relative_to(root) for place in places for root in installed)


@contextlib.contextmanager
def loaded_project_modules(config: Config):
    """Around the training: yields a list that, afterwards, holds the project module files it loaded.

    Modules an earlier build in this process imported under the project's module names are forgotten
    first, so the training runs the code on disk today (a long-lived process, a test session, `microml
    watch`, two projects with a `mymodels.py` each) and the list is exact.
    """
    folders = [folder.resolve() for folder in search_folders(config)]
    installed = _installed_roots()
    provided: dict[str, bool] = {}
    for name, module in list(sys.modules.items()):
        if _imported_afresh(name, module, folders, installed, provided):
            del sys.modules[name]
    importlib.invalidate_caches()           # files written since the last import are seen
    loaded: list[Path] = []
    try:
        yield loaded
    finally:
        files = {project_module_file(module, folders, installed) for module in list(sys.modules.values())}
        files -= {None, config.train.script}       # the script is an input of its own (if something imports it)
        loaded[:] = sorted(files, key=lambda p: p.as_posix())
