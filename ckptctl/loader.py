"""``pkg.module:Name`` or ``path/to/file.py:Name`` -> a constructed model.

The user's code runs here; anything it raises becomes a ``ModelError`` carrying the user's own
traceback (ckptctl's frames cut off), so the message says whose code failed and where. Every
place ckptctl runs the user's code (import, construction, calls, an optimizer factory) goes
through :func:`user_code`: ``sys.exit()`` and other ``BaseException`` subclasses are the user's code
failing too, only Ctrl-C stays an interruption (a ``KeyboardInterrupt``, or an error C code made
of one: see :mod:`ckptctl.interrupts`), and the code sees a
``sys.argv`` of its own (``[its file]``), not ckptctl's command line.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.util
import inspect
import json
import os
import re
import sys
import sysconfig
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ckptctl import interrupts
from ckptctl.errors import CkptctlError, ModelError, UsageError

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
        # Not ckptctl's, not Python's (its import machinery, importlib), not an installed
        # library (Keras, TF).
        if filename.startswith("<frozen") or "site-packages" in filename:
            return False
        resolved = str(Path(filename).resolve())
        return not resolved.startswith(package_dir) and not resolved.startswith(_STDLIB)

    user = [f for f in frames if theirs(f.filename)]
    # None of theirs (a SyntaxError names its line in the exception itself): no frames.
    lines = ["Traceback (your code):\n", *traceback.format_list(user)]
    if isinstance(exc, SyntaxError):
        lines += traceback.format_exception_only(type(exc), exc)  # with the caret
    else:
        lines.append(one_line(exc, limit=1000))  # without Keras's "Arguments received by"
    return "".join(lines).rstrip()


_STDLIB = str(Path(sysconfig.get_paths()["stdlib"]).resolve()) + os.sep
"""Python's own modules: ``importlib.import_module``'s frame is not the user's code."""

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
    with user_code(f"importing {spec.module} raised", argv0=_module_origin(spec.module)):
        try:
            return importlib.import_module(spec.module)
        except ModuleNotFoundError as e:
            if e.name and (spec.module == e.name or spec.module.startswith(e.name + ".")):
                raise ModelError(
                    f"--model {spec}: no module named {e.name!r} (searched {cwd} and sys.path)",
                    "run ckptctl from the directory that contains the package, or pass "
                    "path/to/file.py:Name",
                ) from e
            raise


def _module_origin(name: str) -> str:
    """The file a module would be imported from (its ``sys.argv[0]`` while it is imported)."""
    try:
        found = importlib.util.find_spec(name)
    except Exception:  # a parent package's own code raised: importing it will say so
        return name
    return str(found.origin) if found is not None and found.origin else name


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
        with user_code(f"importing {path} raised", argv0=str(path)):
            module_spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


_USER_HINT = "this is an error in the model code (traceback above); fix it and run again"


def _exit_hint(what: str) -> str:
    if what.startswith("importing "):
        return (
            "the module exited while being imported (sys.exit(), or argparse parsing the "
            "command line at import): put that under if __name__ == '__main__':"
        )
    return "the model code called sys.exit() (or exit()); ckptctl counts that as a failure"


def _raised_by_user(what: str, e: BaseException, hint: str | None = None) -> ModelError:
    """``what`` ends the message before the exception: ``importing models.py raised``."""
    if isinstance(e, SystemExit):
        hint = _exit_hint(what)
    return ModelError(
        f"{what} {one_line(e)}",
        hint or _USER_HINT,
        user_traceback=user_traceback(e),
    )


def source_file(obj: object) -> str | None:
    """The file that defines ``obj`` (a class, a function, or an instance of a class)."""
    module_name = getattr(obj, "__module__", None) or type(obj).__module__
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    return str(file) if file else None


@contextlib.contextmanager
def user_code(what: str, hint: str | None = None, *, argv0: str | None = None) -> Iterator[None]:
    """Run the user's code: anything it raises (``SystemExit`` and every other
    ``BaseException`` too) becomes a ``ModelError`` whose message starts with ``what``, with
    the user's traceback; ckptctl's own errors and Ctrl-C pass unchanged. Meanwhile
    ``sys.argv`` is ``[argv0]``: a training script that parses its command line at import
    sees none, rather than ckptctl's."""
    saved = sys.argv
    sys.argv = [argv0 or "model"]
    try:
        yield
    except (KeyboardInterrupt, CkptctlError):
        raise
    except BaseException as e:
        if interrupts.caused(e):
            raise KeyboardInterrupt from e
        raise _raised_by_user(what, e, hint) from e
    finally:
        sys.argv = saved


def _did_you_mean(name: str, candidates: list[str], shown: int = 12) -> str:
    """The names ``name`` may stand for (those containing it, else the closest by spelling),
    then the module's classes and functions, the first ``shown`` of them and a count."""
    lowered = name.lower()
    close = [c for c in candidates if lowered in c.lower()] or difflib.get_close_matches(
        name, candidates, n=1
    )
    guess = ""
    if close:
        more = f" (or {len(close) - 3} more)" if len(close) > 3 else ""
        guess = f"did you mean {' or '.join(close[:3])}{more}? "
    listed = ", ".join(candidates[:shown]) or "none"
    if len(candidates) > shown:
        listed += f", and {len(candidates) - shown} more"
    return f"{guess}classes and functions defined there: {listed}"


def resolve_factory(spec: ModelSpec) -> Callable[..., Any]:
    module = import_module(spec)
    obj: Any = module
    for part in spec.name.split("."):
        if not hasattr(obj, part):
            candidates = sorted(
                n
                for n, v in vars(module).items()
                if (isinstance(v, type) or inspect.isfunction(v))
                and not n.startswith("_")
                and getattr(v, "__module__", None) == module.__name__
            )
            raise ModelError(
                f"--model {spec}: {spec.module} has no attribute {spec.name!r}",
                _did_you_mean(spec.name, candidates),
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
    with user_code(f"constructing {spec} raised", argv0=source_file(factory)):
        try:
            model = factory(**kwargs)
        except (TypeError, ValueError) as e:
            if kwargs and _names_an_argument(e, kwargs):
                raise ModelError(
                    f"--model {spec}: {one_line(e)}",
                    "check the --model-arg names against the constructor's parameters",
                    user_traceback=user_traceback(e),
                ) from e
            raise
    if not isinstance(model, tf.__internal__.tracking.Trackable):
        raise ModelError(
            f"--model {spec} gave a {type(model).__module__}.{type(model).__name__}, "
            "not a Keras model or tf.Module",
            "NAME must be a model class or a function returning a model",
        )
    return model
