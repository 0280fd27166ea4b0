"""`ember run`: execute an unmodified PyTorch program on ember.

    ember run script.py [args...]          # or: python -m ember run script.py [args...]
    ember run -m package.module [args...]
    ember run --report script.py           # static scan: which torch APIs exist in ember

How it works. `install_torch_alias()` puts `_TorchAliasFinder` first on `sys.meta_path`.
When the program imports `torch` or `torch.X`, the finder imports `ember` / `ember.X`
and hands back that very module object, so `torch.nn.Module is ember.nn.Module` and
there is exactly one copy of every class. `torchvision` and `torchvision.X` are served
the same way by `ember.vision` / `ember.vision.X`. The finder is installed only by this
runner; `import ember` never installs it.

Missing API. Under the runner every ember module gets a module-level `__getattr__`
(PEP 562) that first tries a submodule of that name (torch imports `torch.fft`,
`torch.backends` ... eagerly, ember lazily) and otherwise raises
`MissingTorchAttributeError` saying `ember does not implement torch.fft.rfft`. A
missing submodule raises `MissingTorchModuleError` with the same wording. Both
subclass the errors Python would raise (AttributeError / ModuleNotFoundError), so
`hasattr` and `try: import ... except ImportError` in user code keep working.
"""
from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import os
import runpy
import sys
import traceback
import types
from collections.abc import Sequence

__all__ = ["MissingTorchAttributeError", "MissingTorchModuleError", "install_torch_alias",
           "uninstall_torch_alias", "resolve", "scan_source", "report", "main"]

_USAGE = """usage: ember run [--report] script.py [args...]
       ember run -m module [args...]

Runs an unmodified PyTorch program with `torch` and `torchvision` (and their
submodules) served by ember. --report lists the torch APIs the script uses and which ember lacks,
without running it (exit status 1 when something is missing)."""


class MissingTorchAttributeError(AttributeError):
    """A torch attribute the program asked for that ember does not provide.

    `torch_name` holds the dotted torch name (`torch.nn.functional.foo`).
    """

    torch_name: str = ""


class MissingTorchModuleError(ModuleNotFoundError):
    """A torch submodule the program imported that ember does not provide."""

    torch_name: str = ""


# (torch package, the ember package serving it); the more specific ember name first, so
# `ember.vision.X` reads back as `torchvision.X`, not `torch.vision.X`.
_ALIASES = (("torchvision", "ember.vision"), ("torch", "ember"))


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _ember_name(torch_name: str) -> str:
    for torch_pkg, ember_pkg in _ALIASES:
        if _under(torch_name, torch_pkg):
            return ember_pkg + torch_name[len(torch_pkg):]
    raise ValueError(f"{torch_name!r} is not a torch or torchvision name")


def _torch_name(ember_name: str) -> str:
    for torch_pkg, ember_pkg in _ALIASES:
        if _under(ember_name, ember_pkg):
            return torch_pkg + ember_name[len(ember_pkg):]
    raise ValueError(f"{ember_name!r} is not an ember name")


def _is_torch_name(fullname: str) -> bool:
    """`torch`, `torchvision` or a submodule of either."""
    return any(_under(fullname, torch_pkg) for torch_pkg, _ in _ALIASES)


def _import_ember_module(ember_name: str) -> types.ModuleType | None:
    """Import `ember_name`; None when it (or a parent package) does not exist.

    A ModuleNotFoundError raised for some *other* module (a broken import inside
    ember, a missing optional dependency) propagates unchanged.
    """
    try:
        return importlib.import_module(ember_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == ember_name or ember_name.startswith(missing + "."):
            return None
        raise


# ----------------------------------------------------------------------------------------
# Module-level __getattr__ for aliased modules

def _make_getattr(module: types.ModuleType, previous):
    """A PEP 562 `__getattr__` for `module`: submodules on demand, then a named error."""
    ember_name = module.__name__
    not_submodules: set[str] = set()  # failed lookups are not searched on disk again

    def __getattr__(name: str):
        if previous is not None:  # the module's own lazy attributes come first
            try:
                return previous(name)
            except AttributeError:
                pass
        if name.startswith("__") and name.endswith("__"):
            # Protocol probes (__path__, __wrapped__ ...) get Python's ordinary answer.
            raise AttributeError(f"module {ember_name!r} has no attribute {name!r}")
        if hasattr(module, "__path__") and not name.startswith("_") \
                and name not in not_submodules:
            sub = _import_ember_module(f"{ember_name}.{name}")
            if sub is not None:
                _install_getattr_everywhere()
                return sub
            not_submodules.add(name)
        torch_name = f"{_torch_name(ember_name)}.{name}"
        exc = MissingTorchAttributeError(f"ember does not implement {torch_name}",
                                         name=name, obj=module)
        exc.torch_name = torch_name
        raise exc

    __getattr__._ember_torch_alias = True
    return __getattr__


def _install_getattr(module: types.ModuleType) -> None:
    current = module.__dict__.get("__getattr__")
    if getattr(current, "_ember_torch_alias", False):
        return
    module.__getattr__ = _make_getattr(module, current)


def _install_getattr_everywhere() -> None:
    for name, module in list(sys.modules.items()):
        if (name == "ember" or name.startswith("ember.")) and isinstance(module,
                                                                         types.ModuleType):
            _install_getattr(module)


def _remove_getattr_everywhere() -> None:
    for name, module in list(sys.modules.items()):
        if name == "ember" or name.startswith("ember."):
            current = getattr(module, "__dict__", {}).get("__getattr__")
            if getattr(current, "_ember_torch_alias", False):
                del module.__getattr__


# ----------------------------------------------------------------------------------------
# The import hook

class _AliasLoader(importlib.abc.Loader):
    """Serves an already-imported ember module under its torch name."""

    def __init__(self, module: types.ModuleType) -> None:
        self.module = module
        self.ember_spec = module.__spec__

    def create_module(self, spec):
        return self.module

    def exec_module(self, module) -> None:
        # The import system stamped the torch spec on the module; ember's own
        # modules keep their own identity (pickling, reload, inspect).
        module.__spec__ = self.ember_spec


class _TorchAliasFinder(importlib.abc.MetaPathFinder):
    """Maps `torch` / `torch.X` imports onto `ember` / `ember.X`, and `torchvision` /
    `torchvision.X` onto `ember.vision` / `ember.vision.X`."""

    def find_spec(self, fullname, path=None, target=None):
        if not _is_torch_name(fullname):
            return None
        module = _import_ember_module(_ember_name(fullname))
        if module is None:
            exc = MissingTorchModuleError(f"ember does not implement {fullname}",
                                          name=fullname)
            exc.torch_name = fullname
            raise exc
        _install_getattr_everywhere()
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(module),
                                              is_package=hasattr(module, "__path__"))


def install_torch_alias() -> None:
    """Serve `torch`, `torchvision` and their submodules from ember in this process.

    Drops any torch or torchvision modules already imported so the next `import torch` comes
    from ember, and puts the finder ahead of every other one.
    """
    uninstall_torch_alias()
    for name in [n for n in sys.modules if _is_torch_name(n)]:
        del sys.modules[name]
    sys.meta_path.insert(0, _TorchAliasFinder())
    import ember  # noqa: F401  (so the hook and `torch` refer to one loaded ember)
    _install_getattr_everywhere()


def uninstall_torch_alias() -> None:
    """Undo `install_torch_alias`: `torch` is looked up normally again."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _TorchAliasFinder)]
    for name in [n for n in sys.modules if _is_torch_name(n)]:
        if (getattr(sys.modules[name], "__name__", "") or "").startswith("ember"):
            del sys.modules[name]
    _remove_getattr_everywhere()


# ----------------------------------------------------------------------------------------
# Static report

def resolve(torch_name: str) -> tuple[str, bool]:
    """Look up a dotted torch (or torchvision) name in ember without running user code.

    Follows the chain through modules (importing ember submodules as needed) and
    stops at the first object that is not a module: `torch.nn.Linear.forward`
    resolves as `torch.nn.Linear`. A missing lower-case name is taken to be a module
    and the chain goes on: `torch.fft.rfft` is reported whole. Returns (the API name
    checked, whether ember has it).
    """
    parts = torch_name.split(".")
    obj = importlib.import_module(_ember_name(parts[0]))
    for i, part in enumerate(parts[1:], start=1):
        checked = ".".join(parts[:i + 1])
        attr = obj.__dict__.get(part, _MISSING) if isinstance(obj, types.ModuleType) else _MISSING
        if attr is _MISSING and isinstance(obj, types.ModuleType):
            previous = obj.__dict__.get("__getattr__")
            if previous is not None and not getattr(previous, "_ember_torch_alias", False):
                try:
                    attr = previous(part)
                except AttributeError:
                    attr = _MISSING
            if attr is _MISSING and hasattr(obj, "__path__"):
                sub = _import_ember_module(f"{obj.__name__}.{part}")
                attr = _MISSING if sub is None else sub
        if attr is _MISSING:
            # A missing module-like name (`torch.fft`): name the API used inside it too.
            j = i
            while j + 1 < len(parts) and parts[j].islower():
                j += 1
            return ".".join(parts[:j + 1]), False
        if not isinstance(attr, types.ModuleType):
            return checked, True
        obj = attr
    return torch_name, True


_MISSING = object()


class _TorchUseCollector(ast.NodeVisitor):
    """Collects dotted torch and torchvision names a script uses: imports and attribute
    chains."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}  # local name -> torch dotted name
        self.uses: dict[str, int] = {}  # torch dotted name -> first line
        self.all_uses: list[tuple[str, int]] = []  # every (name, line), in source order

    def _use(self, name: str, lineno: int) -> None:
        self.uses.setdefault(name, lineno)
        self.all_uses.append((name, lineno))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if not _is_torch_name(alias.name):
                continue
            self._use(alias.name, node.lineno)
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:  # `import torch.nn` binds `torch`, `import torchvision.X` `torchvision`
                top = alias.name.split(".")[0]
                self.aliases[top] = top

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module or not _is_torch_name(node.module):
            return
        self._use(node.module, node.lineno)
        for alias in node.names:
            if alias.name == "*":
                continue
            full = f"{node.module}.{alias.name}"
            self._use(full, node.lineno)
            self.aliases[alias.asname or alias.name] = full

    def visit_Attribute(self, node: ast.Attribute) -> None:
        chain = []
        cur: ast.AST = node
        while isinstance(cur, ast.Attribute):
            chain.append(cur.attr)
            cur = cur.value
        if isinstance(cur, ast.Name) and cur.id in self.aliases:
            self._use(".".join([self.aliases[cur.id], *reversed(chain)]), node.lineno)
            return  # the inner attributes are prefixes of this chain
        self.generic_visit(node)


def scan_source(source: str, filename: str = "<script>") -> dict[str, int]:
    """The torch names a program's source uses, each with the first line using it."""
    collector = _TorchUseCollector()
    collector.visit(ast.parse(source, filename))
    return collector.uses


def report(path: str, out=None) -> int:
    """Print which torch APIs `path` uses and whether ember has them.

    Exit status: 0 when ember has them all, 1 when some are missing, 2 when the
    script cannot be read or parsed.
    """
    out = out or sys.stdout
    try:
        with open(path, encoding="utf-8") as f:
            uses = scan_source(f.read(), path)
    except (OSError, SyntaxError, ValueError) as exc:
        print(f"ember run --report: cannot scan {path}: {exc}", file=sys.stderr)
        return 2
    results: dict[str, tuple[bool, int]] = {}
    for name, line in uses.items():
        try:
            checked, ok = resolve(name)
        except Exception:  # noqa: BLE001  (an ember module that fails to import lacks it)
            checked, ok = name, False
        if checked not in results or results[checked][1] > line:
            results[checked] = (ok, line)
    missing = sorted(n for n, (ok, _) in results.items() if not ok)
    print(f"{path}: {len(results)} torch APIs used, {len(missing)} missing in ember", file=out)
    for name in sorted(results):
        ok, line = results[name]
        print(f"  {'ok' if ok else 'MISSING':8} {name}  (line {line})", file=out)
    if missing:
        print("missing: " + ", ".join(missing), file=out)
    return 1 if missing else 0


# ----------------------------------------------------------------------------------------
# Running

def _explain_import_error(exc: ImportError) -> None:
    """Add the torch name to `from torch.X import Y` failures (Python reports ember.X)."""
    name = getattr(exc, "name", None) or ""
    msg = str(exc)
    if (name == "ember" or name.startswith("ember.")) and msg.startswith("cannot import name"):
        missing = msg.split("'")[1] if "'" in msg else "?"
        exc.add_note(f"ember does not implement {_torch_name(name)}.{missing}")


class _AliasInChild:
    """Unpickled first thing in a `spawn`ed child: installs the alias there too."""

    def __reduce__(self):
        return (_install_for_program, ())


def _install_for_program() -> None:
    """The alias, plus its hand-over to multiprocessing children started by `spawn`.

    A spawned child (DataLoader workers with multiprocessing_context="spawn") is a
    fresh interpreter that re-imports the program as `__mp_main__`; it must see
    ember as torch before that. The child unpickles the parent's "preparation data"
    before importing the program, so an extra entry whose unpickling installs the
    alias does it at the right moment (multiprocessing ignores keys it does not know).
    `fork` children inherit the hook with the rest of the process.
    """
    install_torch_alias()
    from multiprocessing import spawn

    original = spawn.get_preparation_data
    if getattr(original, "_ember_torch_alias", False):
        return

    def get_preparation_data(name):
        data = original(name)
        data["ember_torch_alias"] = _AliasInChild()
        return data

    get_preparation_data._ember_torch_alias = True
    spawn.get_preparation_data = get_preparation_data


def _set_path0(folder: str) -> None:
    # sys.path[0] is the runner's own folder (the console script's bin/ or the cwd of
    # `python -m ember`); python would have put the program's folder there instead.
    if sys.path:
        sys.path[0] = folder
    else:
        sys.path.insert(0, folder)


def run_script(argv: Sequence[str]) -> None:
    """Run `argv[0]` (a path, or `-m module`) as __main__ with torch served by ember."""
    _install_for_program()
    try:
        if argv[0] == "-m":
            if len(argv) < 2:
                raise SystemExit("ember run: -m needs a module name")
            sys.argv = [argv[1], *argv[2:]]
            _set_path0(os.getcwd())  # as `python -m module` does
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            path = argv[0]
            if not os.path.exists(path):
                raise SystemExit(f"ember run: can't open file {path!r}: no such file")
            sys.argv = list(argv)
            _set_path0(os.path.dirname(os.path.abspath(path)))  # as `python script.py`
            runpy.run_path(path, run_name="__main__")
    except ImportError as exc:
        _explain_import_error(exc)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `ember` console script and of `python -m ember`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]) or args[:2] in (["run", "-h"], ["run", "--help"]):
        print(_USAGE)
        return 0
    if len(args) < 2 or args[0] != "run" or (args[1] == "--report" and len(args) != 3):
        print(_USAGE, file=sys.stderr)
        return 2
    args = args[1:]
    if args[0] == "--report":
        return report(args[1])
    try:
        run_script(args)
    except Exception as exc:  # noqa: BLE001  (reported as python would, then exit 1)
        _print_user_traceback(exc)
        return 1
    return 0


def _name_full_use(exc: BaseException) -> None:
    """For a missing module (`torch.fft`), note the full API the failing line used.

    At run time only `torch.fft` is known to be missing; the program's source line
    says it was `torch.fft.rfft` (found with the same scan as `--report`).
    """
    missing = getattr(exc, "torch_name", "")
    tb, where = exc.__traceback__, None
    while tb is not None:  # the innermost frame outside this file made the access
        filename = tb.tb_frame.f_code.co_filename
        if filename != __file__ and not filename.startswith("<frozen"):
            where = (filename, tb.tb_lineno)
        tb = tb.tb_next
    if not missing or where is None:
        return
    try:
        with open(where[0], encoding="utf-8") as f:
            collector = _TorchUseCollector()
            collector.visit(ast.parse(f.read(), where[0]))
    except (OSError, SyntaxError, ValueError):
        return
    full = sorted({n for n, line in collector.all_uses
                   if line == where[1] and n.startswith(missing + ".")}, key=len)
    if full:
        exc.add_note(f"ember does not implement {full[-1]} (the program uses it at "
                     f"{os.path.basename(where[0])}:{where[1]})")


def _print_user_traceback(exc: BaseException) -> None:
    """Print `exc` as `python script.py` would: without the runner's own frames."""
    if isinstance(exc, (MissingTorchAttributeError, MissingTorchModuleError)):
        _name_full_use(exc)
    tb = exc.__traceback__
    runner_files = (__file__, runpy.__file__, "<frozen runpy>")
    while tb is not None and tb.tb_frame.f_code.co_filename in runner_files:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb or exc.__traceback__)


if __name__ == "__main__":
    sys.exit(main())
