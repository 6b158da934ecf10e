"""``migrate``: rewrite a checkpoint in the model's current structure, proven equal.

With a model: restore ``source`` (with ``--map`` rules), verify it as ``restore`` does,
write ``tf.train.Checkpoint(<key>=model, optimizer=optimizer).save(.../"ckpt")`` (so
``ckpt-1``) into a temporary directory beside the destination, prove that a fresh model
restores it with ``assert_consumed()`` and holds the same values and outputs, then rename the
directory into place.

Without a model, for name-based (TF1) checkpoints whose keys are plain names: rename keys with
the rules, write every value under its new name, read everything back and compare bit for bit.

Nothing is ever written into the source's directory; an interrupted run leaves no temporary
directory behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ckptctl import _tf
from ckptctl._renamed import deprecated_alias, json_names
from ckptctl.compare import identical
from ckptctl.errors import CheckpointError, OutputError, UsageError
from ckptctl.loader import construct, one_line, parse_spec, resolve_factory
from ckptctl.location import is_remote
from ckptctl.mapping import parse_maps, place_once
from ckptctl.objgraph import ROOT, SAVE_COUNTER, ObjectGraph
from ckptctl.outputs import refuse_outputs_into_checkpoints
from ckptctl.reader import Checkpoint, open_checkpoint
from ckptctl.restoration import (
    InputSpec,
    RestoreOptions,
    RestoreReport,
    build_model,
    call_model,
    make_batches,
    make_optimizer,
    make_options,
    restore_into,
)
from ckptctl.restoration.checks import compare_outputs, flatten_outputs
from ckptctl.restoration.keras_match import attach_optimizer
from ckptctl.restoration.live import is_rng_state, is_variable

PREFIX_NAME = "ckpt-1"


@dataclass
class RenamedKey:
    key: str
    new_key: str
    rule: str | None


@dataclass
class MigrateReport:
    ok: bool
    source: str
    destination: str
    written: str | None
    model: str | None
    root_child: str | None
    """The child of the written checkpoint's root holding the model; JSON ``key``."""
    values: int = 0
    verified: bool = False
    detail: str | None = None
    restore: RestoreReport | None = None
    renamed: list[RenamedKey] = field(default_factory=list)
    carried: list[str] = field(default_factory=list)
    """Values saved beside the model at the root (``step``, ``epoch``), written again."""
    dropped: list[str] = field(default_factory=list)
    """Children of the source's root left out: ``--drop``, or an optimizer not requested."""

    key = deprecated_alias("key", "root_child")

    def to_dict(self) -> dict[str, Any]:
        d = json_names(asdict(self), {"root_child": "key"})
        d["restore"] = self.restore.to_dict() if self.restore is not None else None
        return d


def is_weights_file(destination: Path) -> bool:
    """``-o X.weights.h5`` asks for a Keras weights file; anything else for a directory."""
    return destination.name.endswith(".weights.h5")


def check_destination(source: str | os.PathLike[str], destination: Path, force: bool) -> None:
    """Refuse (exit 2) to write into or over the source's directories (see
    :mod:`ckptctl.outputs`), over the current directory, or over an existing destination."""
    refuse_outputs_into_checkpoints({"-o": destination}, source)
    dst = destination.resolve()
    cwd = Path.cwd().resolve()
    if dst == cwd or dst in cwd.parents:
        raise UsageError(
            f"-o {destination}: refusing to replace the current directory"
            + ("" if dst == cwd else f" {cwd}, which is inside it"),
            "write the migrated checkpoint to a new directory, e.g. -o ckpts/migrated",
        )
    if dst.exists() and not force:
        raise UsageError(
            f"-o {destination}: already exists",
            "choose a new directory, or pass --force to replace it",
        )
    if is_weights_file(dst):
        if dst.is_dir():
            raise UsageError(f"-o {destination}: exists and is a directory")
    elif dst.exists() and not dst.is_dir():
        raise UsageError(f"-o {destination}: exists and is not a directory")
    ancestor = next((p for p in dst.parents if p.exists()), None)
    if ancestor is not None and not ancestor.is_dir():
        raise UsageError(f"-o {destination}: {ancestor} is not a directory")


_WRITE_HINT = "nothing was written; make room or choose a writable place for -o"


def _cannot_write(destination: Path, e: BaseException) -> OutputError:
    """An OSError (or TensorFlow's error for one: ENOSPC from MergeV2Checkpoints) as the
    one-line message it deserves, rather than an internal error."""
    if isinstance(e, OSError) and e.strerror:
        reason = e.strerror
    else:
        # TensorFlow's: "{{function_node ...}} /path/of/a/temp/file; No space left on device
        # [Op:SaveV2]": the OS's words are the part that says what happened.
        text = re.sub(r"\s*\[Op:\w+\]\s*$", "", getattr(e, "message", None) or str(e))
        reason = text.rsplit("; ", 1)[-1].strip() or one_line(e)
    return OutputError(
        f"-o {destination}: cannot write the migrated checkpoint ({reason})", _WRITE_HINT
    )


def _is_write_error(e: BaseException) -> bool:
    """OSError, or a TensorFlow OpError raised by a failing file system (no space, read-only,
    permission denied, file too large)."""
    if isinstance(e, OSError):
        return True
    text = str(e)
    return type(e).__module__.startswith("tensorflow") and any(
        words in text
        for words in (
            "No space left",
            "Read-only file system",
            "Permission denied",
            "File too large",
            "Disk quota exceeded",
            "Input/output error",
        )
    )


@contextlib.contextmanager
def _writing(destination: Path) -> Iterator[None]:
    """File-system errors while the migrated checkpoint is written become an OutputError."""
    try:
        yield
    except OutputError:
        raise
    except Exception as e:
        if _is_write_error(e):
            raise _cannot_write(destination, e) from e
        raise


@contextlib.contextmanager
def _parents(destination: Path) -> Iterator[None]:
    """Create the destination's missing parent directories; remove them again on failure."""
    created = [p for p in reversed(destination.resolve().parents) if not p.exists()]
    try:
        for p in created:
            p.mkdir()
    except OSError as e:
        for made in reversed(created):
            with contextlib.suppress(OSError):
                made.rmdir()
        raise OutputError(f"-o {destination}: cannot create {p} ({e.strerror})", _WRITE_HINT) from e
    try:
        yield
    except BaseException:
        for p in reversed(created):
            with contextlib.suppress(OSError):
                p.rmdir()
        raise


@contextlib.contextmanager
def _staged_file(destination: Path, force: bool) -> Iterator[Path]:
    """A temporary ``.weights.h5`` beside ``destination``, renamed into place on success only."""
    parent = destination.resolve().parent
    with _writing(destination):
        fd, name = tempfile.mkstemp(
            prefix=f".{destination.name}.ckptctl-", suffix=".weights.h5", dir=parent
        )
    os.close(fd)
    tmp = Path(name)
    try:
        with _writing(destination):
            yield tmp
            umask = os.umask(0)
            os.umask(umask)
            tmp.chmod(0o666 & ~umask)
            os.replace(tmp, destination)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def _staging(destination: Path, force: bool) -> Iterator[Path]:
    """A temporary directory beside ``destination``, renamed into place on success only; an
    existing destination (``--force``) is put back if the new one cannot take its place."""
    parent = destination.resolve().parent
    with _writing(destination):
        tmp = Path(tempfile.mkdtemp(prefix=f".{destination.name}.ckptctl-", dir=parent))
    try:
        with _writing(destination):
            umask = os.umask(0)
            os.umask(umask)
            tmp.chmod(0o777 & ~umask)
            yield tmp
            if destination.exists() and force:
                _replace_directory(destination, tmp, parent)
            else:
                os.replace(tmp, destination)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _replace_directory(destination: Path, new: Path, parent: Path) -> None:
    old = Path(tempfile.mkdtemp(prefix=f".{destination.name}.old-", dir=parent))
    try:
        os.replace(destination, old / "d")
        try:
            os.replace(new, destination)
        except OSError:
            os.replace(old / "d", destination)  # the user's directory back where it was
            raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def _write_state_file(directory: Path, name: str) -> None:
    """A ``checkpoint`` state file with relative paths, valid after the directory moves."""
    (directory / "checkpoint").write_text(
        f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n'
    )


def migrate(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    model: str | Callable[..., Any] | None = None,
    options: RestoreOptions | None = None,
    *,
    force: bool = False,
    drop: Sequence[str] = (),
    **kwargs: Any,
) -> MigrateReport:
    """Migrate ``source`` into the directory ``destination``; see the module docstring.

    ``options`` (or its fields as keyword arguments) are :func:`ckptctl.restore`'s. Values
    the training loop saved beside the model at the root (``step``, ``epoch``) are carried
    across unless named in ``drop``; other objects at the root are refused unless dropped.
    Returns a report; ``report.ok`` is False (and nothing is written) when the restore or its
    verification found a problem.
    """
    opts = make_options(options, **kwargs)
    if is_remote(str(destination)):
        raise UsageError(
            f"-o {destination}: migrate writes a local directory only",
            "write it locally, then copy it into the bucket (aws s3 cp --recursive, gsutil cp -r)",
        )
    dst = Path(destination)
    check_destination(source, dst, force)
    if model is None:
        with _parents(dst):
            return _rename_only(source, dst, opts.maps, force)
    extras = _root_extras(source, opts, drop)
    if is_weights_file(dst) and extras.carried:
        names = ", ".join(sorted(extras.carried))
        raise UsageError(
            f"-o {dst}: a Keras weights file holds the model and optimizer only, not {names}",
            f"pass --drop {sorted(extras.carried)[0]} to leave it out, or migrate to a "
            "checkpoint directory",
        )
    report, live_model, live_optimizer = restore_into(source, model, opts)
    out = MigrateReport(
        ok=False,
        source=report.checkpoint,
        destination=str(dst),
        written=None,
        model=report.model,
        root_child=report.root_child,
        restore=report,
        carried=sorted(extras.carried),
        dropped=extras.dropped,
    )
    if not report.ok or live_model is None:
        out.detail = "the restore did not verify: nothing was written"
        return out
    with _parents(dst):
        if is_weights_file(dst):
            _write_weights_file(dst, force, live_model, live_optimizer, model, opts, report)
            out.written = str(dst)
        else:
            out.written = _write_checkpoint(
                dst, force, live_model, live_optimizer, extras, model, opts, report
            )
    out.ok = out.verified = True
    out.root_child = "model" if report.root_child == ROOT else report.root_child
    out.values = report.restored + len(extras.carried)
    return out


def _write_weights_file(
    dst: Path,
    force: bool,
    live_model: Any,
    live_optimizer: Any,
    model: str | Callable[..., Any],
    opts: RestoreOptions,
    report: RestoreReport,
) -> None:
    """Keras's own ``save_weights``, proven by a fresh model's plain ``load_weights``."""
    if live_optimizer is not None:
        attach_optimizer(live_model, live_optimizer)
    with _staged_file(dst, force) as tmp:
        live_model.save_weights(str(tmp))
        fresh, batches = _fresh_model(model, opts, report)
        sources: dict[str, Any] = {"model": live_model}
        fresh_side: dict[str, Any] = {"model": fresh}
        if live_optimizer is not None and opts.optimizer is not None:
            fresh_side["optimizer"] = make_optimizer(opts.optimizer, fresh)
            sources["optimizer"] = live_optimizer
            attach_optimizer(fresh, fresh_side["optimizer"])
        try:
            fresh.load_weights(str(tmp))
        except Exception as e:
            raise CheckpointError(
                f"{dst}: a fresh model does not load the migrated weights ({one_line(e)})",
                "nothing was written; run again with --debug and report it",
            ) from e
        _compare_restored(dst, sources, fresh_side, batches)


def _write_checkpoint(
    dst: Path,
    force: bool,
    live_model: Any,
    live_optimizer: Any,
    extras: _Extras,
    model: str | Callable[..., Any],
    opts: RestoreOptions,
    report: RestoreReport,
) -> str:
    tf = _tf.tensorflow()
    key = "model" if report.root_child == ROOT else report.root_child
    optimizer_name = (
        report.optimizer_key
        if report.optimizer_key and "." not in (report.optimizer_key)
        else "optimizer"
    )
    children: dict[str, Any] = {key: live_model}
    if live_optimizer is not None:
        children[optimizer_name] = live_optimizer
        if _compiled(live_model):
            # The model tracks its optimizer (net.optimizer): the restored one, so that the
            # checkpoint holds one optimizer, as the model's training saves it, and not also
            # the unrestored one compile() made.
            attach_optimizer(live_model, live_optimizer)
    carried = {name: tf.Variable(value, name=name) for name, value in extras.carried.items()}
    children.update(carried)
    with _staging(dst, force) as tmp:
        written = Path(tf.train.Checkpoint(**children).save(str(tmp / "ckpt")))
        _write_state_file(tmp, written.name)
        _verify_written(
            tmp / PREFIX_NAME,
            dst / PREFIX_NAME,
            {**children, key: live_model},
            key,
            optimizer_name if live_optimizer is not None else None,
            model,
            opts,
            report,
        )
    return str(dst / PREFIX_NAME)


@dataclass
class _Extras:
    carried: dict[str, np.ndarray]
    dropped: list[str]


def _root_extras(
    source: str | os.PathLike[str], opts: RestoreOptions, drop: Sequence[str]
) -> _Extras:
    """What the source holds at its root beside the model and the optimizer: variables to
    carry across (``step``), and anything else, which is refused unless dropped."""
    with open_checkpoint(source) as ckpt:
        graph = ckpt.object_graph
        if graph is None:
            return _Extras({}, [])
        model_children = set(graph.model_children())
        if opts.key not in (None, ROOT):
            model_children = {opts.key}
        optimizers = set(graph.optimizer_children())
        if opts.optimizer_key is not None:
            optimizers.add(opts.optimizer_key)
        kinds = graph.kinds()
        carried: dict[str, np.ndarray] = {}
        dropped: list[str] = []
        refused: list[str] = []
        for name, child in graph.nodes[0].children:
            if name == SAVE_COUNTER or name in model_children or opts.key == ROOT:
                continue
            if child == 0:
                continue  # `root`: tf.train.Checkpoint(root=model) names the root itself
            if name in optimizers:
                if opts.optimizer is None:
                    dropped.append(name)
                continue
            if name in drop:
                dropped.append(name)
                continue
            values = [a for a in graph.nodes[child].attributes if a.checkpoint_key in ckpt]
            if kinds.get(child) == "other" and len(values) == 1:
                carried[name] = ckpt.read(values[0].checkpoint_key)
            elif any(_holds_value(graph, n, ckpt) for n in graph.walk([((), child)])):
                refused.append(name)  # functions and signatures (a SavedModel's) hold none
        unknown = [d for d in drop if graph.child(0, d) is None]
        if unknown:
            raise UsageError(
                f"--drop {unknown[0]}: {ckpt.prefix} has no such child of its root",
                f"its children: {', '.join(graph.child_names())}",
            )
        if refused:
            raise UsageError(
                f"{ckpt.prefix}: migrate cannot carry {', '.join(refused)} across (not the "
                "model, the optimizer, or a single value)",
                f"pass --drop {refused[0]} to leave it out of the migrated checkpoint",
            )
        return _Extras(carried, dropped)


def _holds_value(graph: ObjectGraph, node: int, ckpt: Checkpoint) -> bool:
    return any(a.checkpoint_key in ckpt for a in graph.nodes[node].attributes)


def _verify_written(
    prefix: Path,
    shown: Path,
    source_children: dict[str, Any],
    key: str,
    optimizer_name: str | None,
    model: str | Callable[..., Any],
    opts: RestoreOptions,
    report: RestoreReport,
) -> None:
    """A fresh model and optimizer restore the written checkpoint with ``assert_consumed()``
    and hold exactly the migrated values; their outputs equal the migrated model's. Errors
    name the checkpoint as ``shown`` (where it would have been written), not the staging
    directory ``prefix`` is in, which is removed."""
    tf = _tf.tensorflow()
    fresh, batches = _fresh_model(model, opts, report)
    children: dict[str, Any] = {key: fresh}
    if optimizer_name is not None and opts.optimizer is not None:
        children[optimizer_name] = make_optimizer(opts.optimizer, fresh)
        if _compiled(fresh):
            attach_optimizer(fresh, children[optimizer_name])
    for name, var in source_children.items():
        if name not in children:
            children[name] = tf.Variable(tf.zeros_like(var), name=name)
    try:
        tf.train.Checkpoint(**children).restore(str(prefix)).assert_consumed()
    except AssertionError as e:
        raise CheckpointError(
            f"{shown}: the migrated checkpoint does not restore completely ({e})",
            "nothing was written; run again with --debug and report it",
        ) from e
    _compare_restored(shown, source_children, children, batches, key)


def _compiled(model: Any) -> bool:
    """Whether ``model`` holds an optimizer of its own (``compile()`` gives it one)."""
    return getattr(model, "optimizer", None) is not None


def _fresh_model(
    model: str | Callable[..., Any], opts: RestoreOptions, report: RestoreReport
) -> tuple[Any, list[list[np.ndarray]]]:
    """A new, built instance of the model, and the batches its outputs are compared on."""
    if isinstance(model, str):
        spec = parse_spec(model)
        fresh = construct(str(spec), resolve_factory(spec), opts.model_args)
    else:
        fresh = construct(report.model, model, opts.model_args)
    dtypes = report.input_dtypes or [report.input_dtype] * len(report.input_shapes)
    specs = [
        InputSpec(tuple(shape), dtype)
        for shape, dtype in zip(report.input_shapes, dtypes, strict=True)
    ]
    batches = make_batches(specs, opts.seed + 7, 2, opts.input_range)
    build_model(fresh, report.model, batches[0])
    return fresh, batches


def _compare_restored(
    written: Path,
    source_children: dict[str, Any],
    children: dict[str, Any],
    batches: list[list[np.ndarray]],
    key: str = "model",
) -> None:
    """Every object restored from ``written`` (as errors name it) holds the migrated values;
    the model gives the migrated model's outputs."""
    prefix = written
    for name, source_obj in source_children.items():
        a_vars, b_vars = _variables(source_obj), _variables(children[name])
        if len(a_vars) != len(b_vars):
            raise CheckpointError(
                f"{prefix}: {name} restores {len(b_vars)} variables where "
                f"{len(a_vars)} were migrated",
                "nothing was written; run again with --debug and report it",
            )
        for a, b in zip(a_vars, b_vars, strict=True):
            if not identical(np.asarray(b.numpy()), np.asarray(a.numpy())):
                raise CheckpointError(
                    f"{prefix}: {getattr(b, 'path', b.name)} differs after migration",
                    "nothing was written; run again with --debug and report it",
                )
    source_model, fresh = source_children[key], children[key]
    for batch in batches:
        out_a = flatten_outputs(call_model(source_model, batch))
        out_b = flatten_outputs(call_model(fresh, batch))
        if not compare_outputs(out_b, out_a, 0.0, 0.0)[0]:
            raise CheckpointError(
                f"{prefix}: a model restored from the migrated checkpoint gives other outputs",
                "nothing was written; run again with --debug and report it",
            )


def _variables(obj: Any) -> list[Any]:
    """What a checkpoint of ``obj`` holds: its variables, less random-number state."""
    return [obj] if is_variable(obj) else [v for v in obj.variables if not is_rng_state(v)]


def _rename_only(
    source: str | os.PathLike[str], dst: Path, maps: Sequence[str], force: bool
) -> MigrateReport:
    path_map = parse_maps(maps)
    with open_checkpoint(source) as ckpt:
        if ckpt.naming != "name-based":
            raise UsageError(
                f"{ckpt.prefix}: an object-based checkpoint is migrated through its model",
                "pass --model MODULE:NAME (and --map rules for changed paths)",
            )
        if not path_map.rules:
            raise UsageError(
                "migrate without --model renames keys: pass --map OLD=NEW rules",
                "or pass --model to rewrite through the model",
            )
        renamed = [
            RenamedKey(p.name, p.new_name, ", ".join(p.rules) or None)
            for p in place_once(path_map, (e.key for e in ckpt.entries), ckpt.prefix).values()
        ]
        tf = _tf.tensorflow()
        with _staging(dst, force) as tmp:
            prefix = tmp / PREFIX_NAME
            tensors = [_tensor(tf, ckpt.read(r.key)) for r in renamed]
            tf.raw_ops.SaveV2(
                prefix=str(prefix),
                tensor_names=[r.new_key for r in renamed],
                shape_and_slices=[""] * len(renamed),
                tensors=tensors,
            )
            _write_state_file(tmp, PREFIX_NAME)
            with open_checkpoint(prefix) as written:
                for r in renamed:
                    a, b = ckpt.read(r.key), written.read(r.new_key)
                    if not identical(b, a):
                        raise CheckpointError(f"{prefix}: {r.new_key} differs after migration")
        return MigrateReport(
            ok=True,
            source=ckpt.prefix,
            destination=str(dst),
            written=str(dst / PREFIX_NAME),
            model=None,
            root_child=None,
            values=len(renamed),
            verified=True,
            renamed=renamed,
        )


def _tensor(tf: Any, value: np.ndarray) -> Any:
    if value.dtype == object:
        return tf.constant(value.tolist() if value.shape else value.item(), dtype=tf.string)
    return tf.constant(value)
