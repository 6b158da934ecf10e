"""``pkg.module:Name`` or ``path/to/file.py:Name`` -> a constructed model.

The user's code runs here; anything it raises becomes a ``ModelError`` carrying the user's own
traceback (ckptctl's frames cut off), so the message says whose code failed and where.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ckptctl.errors import ModelError, UsageError

_SPEC_HINT = "use --model pkg.module:ClassName or --model path/to/file.py:ClassName"


@dataclass(frozen=True)
class ModelSpec:
    module: str
    name: str
    is_file: bool

    def __str__(self) -> str:
        return f"{self.module}:{self.name}"


def parse_spec(spec: str) -> ModelSpec:
    module, sep, name = spec.rpartition(":")
    if not sep or not module or not name or not name.replace(".", "_").isidentifier():
        raise UsageError(f"--model {spec!r}: expected MODULE:NAME", _SPEC_HINT)
    is_file = module.endswith(".py") or os.sep in module or "/" in module
    return ModelSpec(module, name, is_file)


def parse_model_args(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; VALUE is parsed as JSON, else kept as a string."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.isidentifier():
            raise UsageError(f"--model-arg {pair!r}: expected KEY=VALUE (e.g. units=64)")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` from the first frame outside ckptctl on."""
    frames = traceback.extract_tb(exc.__traceback__)
    package_dir = str(Path(__file__).resolve().parent)

    def theirs(filename: str) -> bool:
        # Not ckptctl's, not Python's import machinery, not an installed library (Keras, TF).
        if filename.startswith("<frozen") or "site-packages" in filename:
            return False
        return not str(Path(filename).resolve()).startswith(package_dir)

    user = [f for f in frames if theirs(f.filename)]
    # None of theirs (a SyntaxError names its line in the exception itself): no frames.
    lines = ["Traceback (your code):\n", *traceback.format_list(user)]
    if isinstance(exc, SyntaxError):
        lines += traceback.format_exception_only(type(exc), exc)  # with the caret
    else:
        lines.append(one_line(exc, limit=1000))  # without Keras's "Arguments received by"
    return "".join(lines).rstrip()


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_NOISE = ("Exception encountered when calling", "Traceback", "Arguments received by")


def _article(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def one_line(exc: BaseException, limit: int = 240) -> str:
    """``Type: the first informative line`` of an exception's message."""
    lines = [_ANSI.sub("", ln).strip() for ln in str(exc).splitlines()]
    useful = [ln for ln in lines if ln and not ln.startswith(_NOISE)]
    text = useful[0] if useful else (lines[0] if lines and lines[0] else "")
    return f"{type(exc).__name__}: {text[:limit]}" if text else type(exc).__name__


def import_module(spec: ModelSpec) -> ModuleType:
    if spec.is_file:
        return _import_file(Path(spec.module))
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(spec.module)
    except ModuleNotFoundError as e:
        if e.name and (spec.module == e.name or spec.module.startswith(e.name + ".")):
            raise ModelError(
                f"--model {spec}: no module named {e.name!r} (searched {cwd} and sys.path)",
                "run ckptctl from the directory that contains the package, or pass "
                "path/to/file.py:Name",
            ) from e
        raise _raised_by_user(f"importing {spec.module}", e) from e
    except Exception as e:
        raise _raised_by_user(f"importing {spec.module}", e) from e


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise ModelError(f"--model {path}: no such file", _SPEC_HINT)
    directory = str(path.resolve().parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    name = f"ckptctl_user_{path.stem}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ModelError(f"--model {path}: cannot be imported as a Python file")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as e:
        sys.modules.pop(name, None)
        raise _raised_by_user(f"importing {path}", e) from e
    return module


def _raised_by_user(what: str, e: BaseException) -> ModelError:
    return ModelError(
        f"{what} raised {one_line(e)}",
        "this is an error in the model code (traceback above); fix it and run again",
        user_traceback=user_traceback(e),
    )


def resolve_factory(spec: ModelSpec) -> Callable[..., Any]:
    module = import_module(spec)
    obj: Any = module
    for part in spec.name.split("."):
        if not hasattr(obj, part):
            candidates = sorted(
                n
                for n, v in vars(module).items()
                if isinstance(v, type)
                and not n.startswith("_")
                and getattr(v, "__module__", None) == module.__name__
            )
            shown = ", ".join(candidates[:8]) or "none"
            raise ModelError(
                f"--model {spec}: {spec.module} has no attribute {spec.name!r}",
                f"classes defined there: {shown}",
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise ModelError(
            f"--model {spec}: {spec.name} is {_article(type(obj).__name__)}, "
            "not a class or function",
            "NAME must be a model class or a function returning a model",
        )
    return obj  # type: ignore[no-any-return]


def _names_an_argument(e: BaseException, kwargs: dict[str, Any]) -> bool:
    """An error about the keyword arguments themselves (Python's TypeError, or Keras's
    ValueError "Unrecognized keyword arguments"), naming one of those passed."""
    text = str(e)
    if isinstance(e, TypeError):
        return "argument" in text
    return "keyword argument" in text and any(repr(k) in text or k in text for k in kwargs)


def construct(spec: object, factory: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """Call the user's factory; check the result is something TensorFlow can checkpoint."""
    from ckptctl import _tf

    tf = _tf.tensorflow()
    try:
        model = factory(**kwargs)
    except (TypeError, ValueError) as e:
        if kwargs and _names_an_argument(e, kwargs):
            raise ModelError(
                f"--model {spec}: {one_line(e)}",
                "check the --model-arg names against the constructor's parameters",
                user_traceback=user_traceback(e),
            ) from e
        raise _raised_by_user(f"constructing {spec}", e) from e
    except Exception as e:
        raise _raised_by_user(f"constructing {spec}", e) from e
    if not isinstance(model, tf.__internal__.tracking.Trackable):
        raise ModelError(
            f"--model {spec} gave a {type(model).__module__}.{type(model).__name__}, "
            "not a Keras model or tf.Module",
            "NAME must be a model class or a function returning a model",
        )
    return model
