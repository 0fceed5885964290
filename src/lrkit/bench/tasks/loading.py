"""Finding bench tasks: the built-in registry and user tasks by path (``file.py:fn``, ``pkg.mod:fn``).

A user task is a task function (see :mod:`lrkit.bench.api`) or a factory returning a
:class:`~lrkit.bench.tasks.base.TaskSpec`.

>>> task_names()
['charlm', 'digits-mlp', 'digits-numpy', 'synthetic-linear']
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
import zlib
from pathlib import Path
from types import ModuleType

from lrkit.bench.api import as_function_task
from lrkit.bench.tasks.base import TaskSpec

__all__ = ["get_task", "task_names"]

# Built-in tasks are loaded through the same "module:factory" path as user tasks, so listing
# or looking them up imports no framework.
_BUILTIN: dict[str, str] = {
    "synthetic-linear": "lrkit.bench.tasks.synthetic_linear:task",
    "digits-mlp": "lrkit.bench.tasks.digits_mlp:task",
    "digits-numpy": "lrkit.bench.tasks.digits_numpy:task",
    "charlm": "lrkit.bench.tasks.charlm:task",
}

_FILE_RE = re.compile(r"^.+\.py:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")
_PATH_RE = re.compile(
    r"^(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):(?P<attr>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$"
)


def task_names() -> list[str]:
    """Names of the built-in tasks, sorted.

    >>> task_names()
    ['charlm', 'digits-mlp', 'digits-numpy', 'synthetic-linear']
    """
    return sorted(_BUILTIN)


def _import_file(path: str, origin: str) -> ModuleType:
    """Import a task file by path (once per process); its folder goes on sys.path so the file
    can import its neighbours."""
    file = Path(path).expanduser().resolve()
    if not file.is_file() and Path(file.name).is_file():
        file = Path(file.name).resolve()  # a Ray worker: the folder came as its working dir
    if not file.is_file():
        raise ImportError(f"get_task({origin!r}): task file {str(file)!r} does not exist")
    digest = zlib.crc32(str(file).encode())
    stem = re.sub(r"\W", "_", file.stem)
    module_name = f"_lrkit_task_{stem}_{digest:08x}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    folder = str(file.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"get_task({origin!r}): cannot load {str(file)!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: say which one failed, and how
        del sys.modules[module_name]
        raise ImportError(
            f"get_task({origin!r}): importing task file {str(file)!r} failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def _import_module(path: str, origin: str) -> tuple[ModuleType, str]:
    if _FILE_RE.match(path):
        file, attr = path.rsplit(":", 1)
        return _import_file(file, origin), attr
    match = _PATH_RE.match(path)
    if match is None:
        raise ValueError(
            f"get_task: {origin!r} is neither a built-in task ({', '.join(task_names())}) nor a "
            f"user task 'package.module:factory' or 'path/to/file.py:function'"
        )
    module_name = match.group("module")
    try:
        return importlib.import_module(module_name), match.group("attr")
    except ModuleNotFoundError as exc:
        # `lrkit` is a console script, so the current folder is not on sys.path as it is for
        # `python -m`; a package next to the user (./mypkg) is what they mean
        top = module_name.split(".")[0]
        cwd = os.getcwd()
        here = Path(cwd, top).is_dir() or Path(cwd, f"{top}.py").is_file()
        if exc.name != top or not here or cwd in sys.path:
            hint = (
                f" (is {top!r} installed, or its folder on PYTHONPATH?)" if exc.name == top else ""
            )
            raise ImportError(
                f"get_task({origin!r}): cannot import module {module_name!r}: {exc}{hint}"
            ) from exc
        sys.path.insert(0, cwd)
        return _import_module(path, origin)
    except ImportError as exc:
        raise ImportError(
            f"get_task({origin!r}): cannot import module {module_name!r}: {exc}"
        ) from exc
    except Exception as exc:  # the module raised while importing
        raise ImportError(
            f"get_task({origin!r}): importing module {module_name!r} failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _missing_attr(module: ModuleType, attr: str, origin: str) -> str:
    """The error for ``file.py:name`` / ``module:name`` without ``name``: the file or module it
    looked in, and the task functions found there (a close match first)."""
    import difflib
    import inspect

    from lrkit.bench.api import FunctionTask

    is_file = module.__name__.startswith("_lrkit_task_")
    where = f"task file {module.__file__!r}" if is_file else f"module {module.__name__!r}"
    found = sorted(
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and (
            isinstance(v, FunctionTask)
            or (inspect.isfunction(v) and v.__module__ == module.__name__)
        )
    )
    msg = f"get_task({origin!r}): {where} has no attribute {attr!r}"
    close = difflib.get_close_matches(attr, found, n=1)
    if close:
        msg += f"; did you mean {close[0]!r}?"
    if found:
        msg += f" (functions there: {', '.join(found)})"
    return msg


def _load(path: str, origin: str) -> TaskSpec:
    module, attr = _import_module(path, origin)
    obj: object = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ImportError(_missing_attr(module, attr, origin)) from None
    function_task = as_function_task(obj)
    if function_task is not None:
        return function_task.to_spec(origin)
    if not callable(obj):
        raise TypeError(
            f"get_task({origin!r}): {attr} must be a callable returning a TaskSpec or a task "
            f"function (taking a lrkit.bench.Run), got {type(obj).__name__}"
        )
    spec = obj()
    if not isinstance(spec, TaskSpec):
        raise TypeError(
            f"get_task({origin!r}): {attr}() must return a "
            f"lrkit.bench.tasks.TaskSpec, got {type(spec).__name__}"
        )
    return spec


def get_task(name_or_path: str) -> TaskSpec:
    """The :class:`TaskSpec` for a built-in task name or a user task.

    A user task is ``"package.module:attr"`` or ``"path/to/file.py:attr"``: a task function
    (decorated with :func:`lrkit.bench.task`, or a plain function of one argument, the run),
    or a factory called with no arguments that returns a TaskSpec. Errors: ValueError
    for an unknown name or a malformed path, ImportError naming the module that cannot be
    imported (or lacks the factory), TypeError when the factory does not return a TaskSpec.

    Args:
        name_or_path: a built-in task name (:func:`task_names`), ``"package.module:attr"`` or
            ``"path/to/file.py:attr"``.

    >>> get_task("synthetic-linear").steps
    300
    >>> get_task("no-such-task")
    Traceback (most recent call last):
    ...
    ValueError: get_task: 'no-such-task' is neither a built-in task (charlm, digits-mlp, \
digits-numpy, synthetic-linear) nor a user task 'package.module:factory' or \
'path/to/file.py:function'
    """
    if not isinstance(name_or_path, str):
        raise TypeError(
            f"get_task: name_or_path must be a str (task name or 'package.module:factory'), "
            f"got {type(name_or_path).__name__}"
        )
    builtin = _BUILTIN.get(name_or_path)
    return _load(builtin if builtin is not None else name_or_path.strip(), name_or_path)
