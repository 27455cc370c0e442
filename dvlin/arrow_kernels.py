"""pyarrow.compute's kernels without the 40-75 ms import of :mod:`pyarrow.compute`.

``import pyarrow.compute`` builds a documented Python wrapper (signature, docstring scraped
from the C++ docs) for each of the ~290 kernels in the registry: 40-75 ms of every command
that touches a column, more than the kernels themselves take on a 20,000-file tree. The
kernels, ``call_function`` and the ``*Options`` classes all live in the compiled
``pyarrow._compute``, which ``import pyarrow`` loads anyway.

:func:`install` (called by :func:`dvlin.cli.main` only, like the pandas and NumPy blocks of
:mod:`dvlin.cli.arrow_shim` and :mod:`dvlin.lean`) puts a stand-in module under the name
``pyarrow.compute`` in the ``dvlin`` process, before pyarrow is imported. Each name is built
the first time it is asked for, by dvlin's code or by pyarrow's own methods (``Array.cast``,
``Table.take``, ``filter``... import ``pyarrow.compute`` to run):

- a kernel of the registry: the same wrapper as pyarrow.compute generates (the kernel's
  arguments, then its options positionally or by keyword, or ``options=``; an Expression as
  first argument builds an expression), without the signature and docstring;
- ``cast``, ``fill_null``, ``take``, ``index``: pyarrow.compute's hand-written functions,
  same code;
- a name of ``pyarrow._compute`` (``call_function``, the ``*Options`` classes, ``Expression``);
- anything else (``field``, ``scalar``, ``random``, ``top_k_unstable``, a name this module
  cannot build from another pyarrow's ``pyarrow._compute``): the real pyarrow.compute,
  imported then (once) and asked.

The Python API never installs it: a program that uses dvlin gets pyarrow as it ships.
``tests/test_arrow_kernels.py`` checks results against pyarrow.compute on random columns and
that the commands it serves do not import the real module.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

NAME = "pyarrow.compute"
_HAND_WRITTEN = frozenset({"random", "field", "scalar", "top_k_unstable", "bottom_k_unstable"})
"""pyarrow.compute's own functions this module does not copy: taken from the real module."""

_real: ModuleType | None = None


def _compute() -> Any:
    """``pyarrow._compute`` (imported on first use: NumPy may be blocked before pyarrow loads)."""
    from pyarrow import _compute

    return _compute


_REWRITES = {"and_": "and", "or_": "or"}
"""Python names of kernels whose C++ name is a keyword (as in pyarrow.compute)."""


def install() -> None:
    """Serve ``import pyarrow.compute`` from the stand-in in this process (CLI only).

    Does nothing once pyarrow.compute is imported (the real one is then in use).
    """
    if NAME in sys.modules or any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())


def installed() -> bool:
    """True when ``pyarrow.compute`` in this process is the stand-in (imported or not yet)."""
    return any(isinstance(f, _Finder) for f in sys.meta_path) and not real_imported()


def real_imported() -> bool:
    """True when the real pyarrow.compute has been imported in this process."""
    module = sys.modules.get(NAME)
    return _real is not None or (
        module is not None and not getattr(module, "_dvlin_standin", False)
    )


def lookup(name: str) -> Any:
    """What ``pyarrow.compute.<name>`` is, built without importing pyarrow.compute if it can."""
    if name.startswith("__"):
        raise AttributeError(name)
    value = _built(name)
    if value is None:
        value = getattr(_real_module(), name)
    return value


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != NAME:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, origin=__name__)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        module.__dict__["_dvlin_standin"] = True

        def module_getattr(name: str) -> Any:
            value = lookup(name)
            setattr(module, name, value)
            return value

        module.__dict__["__getattr__"] = module_getattr


def _real_module() -> ModuleType:
    """The real pyarrow.compute, imported (once) beside the stand-in."""
    global _real
    if _real is None:
        module = sys.modules.get(NAME)
        if module is not None and not getattr(module, "_dvlin_standin", False):
            _real = module
        else:
            import pyarrow

            spec = importlib.machinery.PathFinder.find_spec(NAME, pyarrow.__path__)
            if spec is None or spec.loader is None:  # pragma: no cover - pyarrow without it
                raise ImportError(f"no {NAME} in this pyarrow", name=NAME)
            real = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(real)
            _real = real
    return _real


def _built(name: str) -> Any:
    if name in _HAND_WRITTEN:
        return None
    if name in _OWN:
        return _OWN[name]
    try:
        c = _compute()
        func = c.get_function(_REWRITES.get(name, name))
    except (KeyError, ValueError, LookupError):  # pyarrow.lib.ArrowKeyError is a KeyError
        return getattr(c, name, None) if not name.startswith("_") else None
    except (ImportError, AttributeError):  # pragma: no cover - another pyarrow's layout
        return None
    try:
        arity = func.arity
        class_name = func._doc.options_class
    except AttributeError:  # pragma: no cover - another pyarrow's Function
        return None
    if func.kind == "hash_aggregate" or (func.kind == "scalar_aggregate" and arity == 0):
        return None  # not exposed by pyarrow.compute either
    if not class_name:
        return _plain(name, func, arity)
    options_class = getattr(c, class_name, None)
    if options_class is None:
        return None
    return _with_options(name, func, arity, options_class)


def _plain(name: str, func: Any, arity: Any) -> Callable[..., Any]:
    def wrapper(*args: Any, memory_pool: Any = None) -> Any:
        if arity is not Ellipsis and len(args) != arity:
            raise TypeError(
                f"{name} takes {arity} positional argument(s), but {len(args)} were given"
            )
        if args and isinstance(args[0], _compute().Expression):
            return _compute().Expression._call(name, list(args))
        return func.call(args, None, memory_pool)

    wrapper.__name__ = wrapper.__qualname__ = name
    return wrapper


def _with_options(name: str, func: Any, arity: Any, options_class: Any) -> Callable[..., Any]:
    def wrapper(*args: Any, memory_pool: Any = None, options: Any = None, **kwargs: Any) -> Any:
        option_args: tuple[Any, ...] = ()
        if arity is not Ellipsis:
            if len(args) < arity:
                raise TypeError(
                    f"{name} takes {arity} positional argument(s), but {len(args)} were given"
                )
            args, option_args = args[:arity], args[arity:]
        if option_args or kwargs:
            if options is not None:
                raise TypeError(
                    f"Function {name!r} called with both an 'options' argument and additional arguments"
                )
            options = options_class(*option_args, **kwargs)
        elif isinstance(options, dict):
            options = options_class(**options)
        elif options is not None and not isinstance(options, options_class):
            raise TypeError(
                f"Function {name!r} expected a {options_class} parameter, got {type(options)}"
            )
        if args and isinstance(args[0], _compute().Expression):
            return _compute().Expression._call(name, list(args), options)
        return func.call(args, options, memory_pool)

    wrapper.__name__ = wrapper.__qualname__ = name
    return wrapper


# pyarrow.compute's hand-written functions (not generated from the registry), same behaviour.


def cast(
    arr: Any,
    target_type: Any = None,
    safe: bool | None = None,
    options: Any = None,
    memory_pool: Any = None,
) -> Any:
    """``pyarrow.compute.cast``."""
    import pyarrow as pa

    c = _compute()
    if (safe is not None or target_type is not None) and options is not None:
        raise ValueError(
            "Must either pass values for 'target_type' and 'safe' or pass a value for 'options'"
        )
    if options is None:
        target_type = pa.lib.ensure_type(target_type)
        options = (
            c.CastOptions.unsafe(target_type) if safe is False else c.CastOptions.safe(target_type)
        )
    return c.call_function("cast", [arr], options, memory_pool)


def fill_null(values: Any, fill_value: Any) -> Any:
    """``pyarrow.compute.fill_null``: ``coalesce`` with ``fill_value`` cast to the values' type."""
    import pyarrow as pa

    if not isinstance(fill_value, (pa.Array, pa.ChunkedArray, pa.Scalar)):
        fill_value = pa.scalar(fill_value, type=values.type)
    elif values.type != fill_value.type:
        fill_value = pa.scalar(fill_value.as_py(), type=values.type)
    return _compute().call_function("coalesce", [values, fill_value])


def take(data: Any, indices: Any, *, boundscheck: bool = True, memory_pool: Any = None) -> Any:
    """``pyarrow.compute.take``."""
    c = _compute()
    return c.call_function(
        "take", [data, indices], c.TakeOptions(boundscheck=boundscheck), memory_pool
    )


def index(
    data: Any,
    value: Any,
    start: int | None = None,
    end: int | None = None,
    *,
    memory_pool: Any = None,
) -> Any:
    """``pyarrow.compute.index``: the first position of ``value`` in ``data``, -1 if absent."""
    import pyarrow as pa

    c = _compute()
    if start is not None:
        data = data.slice(start, end - start) if end is not None else data.slice(start)
    elif end is not None:
        data = data.slice(0, end)
    if not isinstance(value, pa.Scalar):
        value = pa.scalar(value, type=data.type)
    elif data.type != value.type:
        value = pa.scalar(value.as_py(), type=data.type)
    result = c.call_function("index", [data], c.IndexOptions(value=value), memory_pool)
    if start is not None and result.as_py() >= 0:
        result = pa.scalar(result.as_py() + start, type=pa.int64())
    return result


_OWN: dict[str, Any] = {"cast": cast, "fill_null": fill_null, "take": take, "index": index}
