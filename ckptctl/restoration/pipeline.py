"""The proof pipeline: build, plan, assign, check values, check outputs, golden.

The order matters (see docs/TF_NOTES.md):

1. construct and *build* the model before anything is restored (an unbuilt Keras 3 model
   silently keeps fresh kernels);
2. match checkpoint and model without assigning anything (a format's matcher makes the plan);
3. assign nothing if anything mismatches (TensorFlow would fail part-way), unless ``partial``;
4. restore, and record the outputs on seeded random batches;
5. let the first instance go (one model in memory at a time), restore a second,
   independently initialised one, compare every variable of it with the stored tensor, bit
   for bit, and require the same outputs as the first's; this second instance is returned.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ckptctl import _tf
from ckptctl.errors import CheckpointError, ModelError, UsageError
from ckptctl.loader import construct, one_line, parse_spec, resolve_factory
from ckptctl.mapping import parse_maps
from ckptctl.objgraph import ROOT
from ckptctl.outputs import refuse_outputs_into_checkpoints
from ckptctl.reader import Checkpoint, open_checkpoint
from ckptctl.restoration.checks import (
    BatchCalls,
    check_outputs,
    check_values,
    compare_outputs,
    flatten_outputs,
    load_golden,
    save_golden,
)
from ckptctl.restoration.graph_match import (
    OptimizerRef,
    choose_key,
    find_optimizer,
    key_candidates,
    match_graph,
)
from ckptctl.restoration.inputs import build_model, call_model, input_specs, make_batches
from ckptctl.restoration.keras_match import (
    attach_optimizer,
    check_keras_values,
    load_into,
    match_keras,
    save_live,
    unsaved_variables,
)
from ckptctl.restoration.legacy_match import match_legacy
from ckptctl.restoration.live import NameCounters, make_optimizer, variables_of
from ckptctl.restoration.name_match import match_by_name
from ckptctl.restoration.options import RestoreOptions, make_options
from ckptctl.restoration.plan import Pair, Plan, accept, suggest_maps
from ckptctl.restoration.report import (
    GoldenCheck,
    MappedEntry,
    OutputCheck,
    RestoreReport,
    ValueCheck,
)


@dataclass
class _Instance:
    model: Any
    optimizer: Any
    root: Any
    plan: Plan
    root_is_model: bool = False


def restore(
    checkpoint: str | os.PathLike[str],
    model: str | Callable[..., Any],
    options: RestoreOptions | None = None,
    **kwargs: Any,
) -> RestoreReport:
    """Restore ``checkpoint`` into ``model`` and prove it restored completely and correctly.

    ``model`` is ``"pkg.module:Name"``, ``"path/file.py:Name"`` or a callable returning a
    model. Options are :class:`RestoreOptions` (or its fields as keyword arguments, named as
    the CLI's options). Raises ``CkptctlError`` when an input cannot be read or used; every
    problem the checks find is in the returned report (``report.ok`` is False).
    """
    report, _, _ = restore_into(checkpoint, model, make_options(options, **kwargs))
    return report


def restore_into(
    checkpoint: str | os.PathLike[str],
    model: str | Callable[..., Any],
    options: RestoreOptions | None = None,
    **kwargs: Any,
) -> tuple[RestoreReport, Any, Any]:
    """:func:`restore`, also returning the restored model and optimizer (None when nothing
    was restored). A checkpoint in object storage is restored from a temporary local copy
    (see :func:`~ckptctl.location.local_copy`); the report names it by its URL."""
    from ckptctl.location import local_copy

    with local_copy(checkpoint) as (local, remote):
        report, live_model, live_optimizer = _restore_local(local, model, options, **kwargs)
    if remote is not None:
        report = dataclasses.replace(report, checkpoint=remote)
    return report, live_model, live_optimizer


def _restore_local(
    checkpoint: str | os.PathLike[str],
    model: str | Callable[..., Any],
    options: RestoreOptions | None = None,
    **kwargs: Any,
) -> tuple[RestoreReport, Any, Any]:
    opts = make_options(options, **kwargs)
    spec = parse_spec(model) if isinstance(model, str) else None
    golden_path = Path(opts.golden) if opts.golden is not None else None
    save_path = Path(opts.save_golden) if opts.save_golden is not None else None
    path_map = parse_maps(opts.maps)
    allow_unused, allow_missing = opts.accepted_patterns()
    input_shapes, input_dtype = opts.input_shapes, opts.input_dtype

    if save_path is not None:
        _check_golden_destination(save_path, checkpoint)
    golden_data = load_golden(golden_path) if golden_path is not None else None
    if golden_data is not None and not input_shapes and golden_data[0]:
        # The golden file records the inputs: their shapes and dtype are the ones to use.
        first = golden_data[0][0]
        input_shapes = [tuple(x.shape) for x in first]
        if len({x.dtype for x in first}) == 1:
            input_dtype = first[0].dtype.name

    with open_checkpoint(checkpoint) as ckpt, _scratch() as scratch:
        problems = ckpt.file_problems()
        if problems:
            raise problems[0]  # a missing or short data shard: nothing can be restored
        tf = _tf.tensorflow()
        keras = _tf.keras()
        if spec is not None:
            factory, label = resolve_factory(spec), str(spec)
        else:
            assert callable(model)
            factory, label = model, getattr(model, "__qualname__", repr(model))
        named = ckpt.naming == "object-graph"
        if opts.by_name and ckpt.naming != "keras-legacy":
            raise UsageError(
                f"--by-name: {ckpt.prefix} is not a Keras 2 HDF5 file",
                "--by-name pairs the layers of a Keras 2 .h5 file by name; other formats "
                "are matched by path",
            )
        candidates = key_candidates(ckpt, opts.key) if named else [ROOT]
        scope = () if candidates[0] == ROOT else (candidates[0],)

        counters = NameCounters()

        def make(instance_seed: int) -> tuple[Any, list[Any]]:
            keras.utils.set_random_seed(instance_seed)
            counters.rewind()  # each instance gets the first one's layer names
            m = construct(label, factory, opts.model_args)
            return m, input_specs(m, input_shapes, input_dtype, ckpt, scope, label)

        model_a, specs = make(opts.seed + 1)
        random_batches = make_batches(specs, opts.seed, opts.batches, opts.input_range)
        try:
            build_model(model_a, label, random_batches[0])
        except ModelError as built:
            if golden_path is None or opts.input_shapes:
                raise
            raise ModelError(
                f"--golden {golden_path} recorded inputs the model does not take: {built.message}",
                "a golden file is made for one model: record this one's with --save-golden",
                user_traceback=built.user_traceback,
            ) from built.__cause__
        optimizers: dict[str, OptimizerRef | None] = {}

        def prepare(m: Any, chosen: str) -> _Instance:
            opt = make_optimizer(opts.optimizer, m) if opts.optimizer is not None else None
            if ckpt.naming == "keras":
                if opt is not None:
                    attach_optimizer(m, opt)
                live = save_live(m, scratch / f"live-{id(m)}.weights.h5", label)
                try:
                    unsaved = unsaved_variables(m, keras)
                    plan = match_keras(ckpt, live, opt is not None, path_map, unsaved)
                finally:
                    live.store.close()
                accept(plan, allow_unused, allow_missing)
                return _Instance(m, opt, None, plan)
            if ckpt.naming == "keras-legacy":
                plan = match_legacy(ckpt, m, opt is not None, path_map, opts.by_name)
                accept(plan, allow_unused, allow_missing)
                return _Instance(m, opt, None, plan)
            if not named:
                plan = match_by_name(ckpt, m, path_map)
                accept(plan, allow_unused, allow_missing)
                return _Instance(m, opt, None, plan)
            ref = None
            if opt is not None:
                if chosen not in optimizers:
                    optimizers[chosen] = find_optimizer(ckpt, chosen, opts.optimizer_key)
                ref = optimizers[chosen]
            live_name = None
            if chosen == ROOT:
                if opt is not None and ref is not None:
                    if not ref.at_root:
                        raise UsageError(
                            f"--optimizer: the optimizer of {ckpt.prefix} is at {ref.name}, "
                            "below an object of the model, where ckptctl cannot place one",
                            "restore the model alone (without --optimizer)",
                        )
                    # The root is the model and the optimizer its child (tf-keras's
                    # save_weights in TF format writes net.optimizer so): the made one goes
                    # there, as compile() puts it.
                    attach_optimizer(m, opt, ref.name)
                    live_name = ref.name
                root, live_root = tf.train.Checkpoint(root=m), m
            else:
                children: dict[str, Any] = {chosen: m}
                if opt is not None:
                    live_name = ref.name if ref is not None and ref.at_root else "optimizer"
                    children[live_name] = opt
                root = live_root = tf.train.Checkpoint(**children)
            plan = match_graph(ckpt, chosen, live_root, ref, live_name, variables_of(m), path_map)
            accept(plan, allow_unused, allow_missing)
            return _Instance(m, opt, root, plan, chosen == ROOT)

        tried: dict[str, _Instance] = {}
        if len(candidates) == 1:
            chosen_key = candidates[0]
            a = prepare(model_a, chosen_key)
        else:
            tried = {k: prepare(model_a, k) for k in candidates}
            chosen_key = choose_key(ckpt, candidates, {k: i.plan for k, i in tried.items()})
            a = tried[chosen_key]
        ref = optimizers.get(chosen_key)
        report = RestoreReport(
            ok=False,
            checkpoint=ckpt.prefix,
            model=label,
            root_child=chosen_key,
            input_shapes=[list(s.shape) for s in specs],
            input_dtype=",".join(sorted({s.dtype for s in specs})),
            input_dtypes=[s.dtype for s in specs],
            matched=len(a.plan.pairs),
            unused=a.plan.unused,
            missing=a.plan.missing,
            mismatched=a.plan.mismatched,
            values=ValueCheck(),
            outputs=OutputCheck(),
            naming=ckpt.naming,
            optimizer=_optimizer_label(opts.optimizer),
            optimizer_key=ref.name if ref is not None else None,
            partial=opts.partial,
            not_requested=a.plan.not_requested,
            not_checkpointed=a.plan.not_checkpointed,
            maps=path_map.texts,
            mapped=[
                MappedEntry(p.entry.key, p.path, p.model_path or p.path, p.rule)
                for p in a.plan.pairs
                if p.rule is not None
            ],
            suggested_maps=suggest_maps(a.plan.unused),
            drifted=a.plan.drifted,
            renamed=a.plan.renamed,
        )
        if a.plan.problems and not opts.partial:
            report.stopped = "skipped: nothing was assigned"
            return report, None, None

        _restore_first(ckpt, a, opts.partial)
        report.restored = len(a.plan.pairs)
        calls = BatchCalls(random_batches, stack=save_path is None)
        outputs_a = calls.outputs(a.model)
        # Accepted missing variables are not restored: initialise both instances alike so
        # that they do not make the outputs differ (restored values are checked below).
        accepted_missing = any(m.accepted for m in a.plan.missing)
        # One instance at a time: the first is let go once its outputs are known, so a model
        # of N GiB costs N GiB, not 2N. The second, restored the same way, is the one whose
        # values are checked bit for bit, and the one returned.
        del a, model_a, tried
        gc.collect()

        model_b, _ = make(opts.seed + 1 if accepted_missing else opts.seed + 2)
        build_model(model_b, label, random_batches[0])
        b = prepare(model_b, chosen_key)
        if b.plan.problems and not opts.partial:
            raise _unlike_first(ckpt, label, b.plan)
        _restore_instance(ckpt, b, opts.partial)
        if ckpt.naming == "keras":
            restored = scratch / "restored.weights.h5"
            report.values = check_keras_values(ckpt, b.model, b.plan.pairs, restored)
        else:
            report.values = check_values(ckpt, b.plan.pairs)
        outputs_b = calls.outputs(b.model)
        report.outputs = check_outputs(
            outputs_a, outputs_b, len(random_batches), opts.atol, opts.rtol
        )
        report.outputs.stacked = bool(calls.stacked)

        if golden_path is not None and golden_data is not None and report.outputs.comparable:
            golden_inputs, expected = golden_data
            equal, worst, finite = True, 0.0, True
            for batch, want in zip(golden_inputs, expected, strict=True):
                got = flatten_outputs(call_model(b.model, batch))
                e, w, f = compare_outputs(got, want, opts.atol, opts.rtol)
                equal, worst, finite = equal and e, max(worst, w), finite and f
            report.outputs.golden = GoldenCheck(str(golden_path), equal and finite, worst)

        report.ok = (
            not report.problems
            and not report.values.differing
            and report.outputs.equal
            and report.outputs.finite
            and (report.outputs.golden is None or report.outputs.golden.equal)
        )
        if save_path is not None and report.ok and isinstance(outputs_b, list):
            save_golden(save_path, random_batches, outputs_b)
            report.saved_golden = str(save_path)
        return report, b.model, b.optimizer


def _unlike_first(ckpt: Checkpoint, label: str, plan: Plan) -> ModelError:
    """The second instance of the model matches the file where the first did not: its
    variables, or the layer names the file is checked against, differ between instances."""
    found = [
        *(f"unused {u.path or u.key}" for u in plan.unused if not u.accepted),
        *(f"missing {m.path}" for m in plan.missing if not m.accepted),
        *(f"mismatched {m.path}" for m in plan.mismatched),
        *(f"{d.group} named {d.model} (the file: {d.saved})" for d in plan.drifted),
    ]
    shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
    return ModelError(
        f"{ckpt.prefix}: a second instance of {label} does not match the file as the first "
        f"did ({shown})",
        "the model's variables must not depend on anything but its code and arguments "
        "(a global counter, a random choice); run again with --debug and report it",
    )


def _optimizer_label(optimizer: str | Callable[[], Any] | None) -> str | None:
    return optimizer if isinstance(optimizer, str) or optimizer is None else repr(optimizer)


def _check_golden_destination(path: Path, checkpoint: str | os.PathLike[str]) -> None:
    refuse_outputs_into_checkpoints({"--save-golden": path}, checkpoint)
    if not path.expanduser().resolve().parent.is_dir():
        raise UsageError(
            f"--save-golden {path}: the directory {path.parent} does not exist",
            "create it first, or write the golden file elsewhere",
        )


def _restore_first(ckpt: Checkpoint, inst: _Instance, partial: bool) -> None:
    """Restore the first instance, which is let go once its outputs are known.

    TensorFlow's restore and ckptctl's own assignment check each value's crc32c as they read
    it, so the values are not read beforehand: where the restore fails, every value is read
    then, to name the damaged one and its file. The second instance, the one returned, is
    restored only after this one was, and :func:`check_values` compares every value of it with
    the file; a model is never handed back half-restored. Keras loads a file without such
    checks, part by part: its values are read, and checked, first."""
    if ckpt.naming == "keras":
        _verify_readable(ckpt, inst.plan.pairs)
        _restore_instance(ckpt, inst, partial)
        return
    try:
        _restore_instance(ckpt, inst, partial)
    except CheckpointError:
        _verify_readable(ckpt, inst.plan.pairs)  # raises the error of a damaged value
        raise


def _verify_readable(ckpt: Checkpoint, pairs: list[Pair]) -> None:
    """Stream every value to be restored once, checking its crc32c: a corrupt value then
    names its file."""
    for p in pairs:
        for _ in ckpt.read_chunks(p.entry.key):
            pass


def _assign(ckpt: Checkpoint, pairs: list[Pair]) -> None:
    """Read every value first, then assign: a read error leaves the model untouched."""
    values = [ckpt.read(p.entry.key) for p in pairs]
    for p, value in zip(pairs, values, strict=True):
        p.var.assign(value)


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    """A private temporary directory (never near the checkpoint), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="ckptctl-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _restore_instance(ckpt: Checkpoint, inst: _Instance, partial: bool) -> None:
    plan = inst.plan
    if ckpt.naming == "keras":
        if plan.leftovers:
            raise UsageError(
                f"{ckpt.prefix}: --partial and accepted leftovers are not supported for Keras "
                "files: Keras's load_weights loads all of a file or fails part-way",
                "restore without them, or migrate the file to a checkpoint first",
            )
        load_into(inst.model, ckpt, "", with_optimizer=inst.optimizer is not None)
        return
    if partial or inst.root is None or plan.leftovers or plan.assign_by_ckptctl:
        # TensorFlow's restore can apply no mapping and fails part-way on a mismatch.
        _assign(ckpt, plan.pairs)
        return
    try:
        # Completeness is proven by the plan, and every value is compared after this; TF's
        # own assertions would also fail on what the plan deliberately leaves out (a
        # save_counter that ``write()`` never stored, optimizer values not requested).
        inst.root.restore(ckpt.prefix).expect_partial()
    except Exception as e:
        interrupt = _interrupt_under(e)
        if interrupt is not None:
            raise interrupt from None  # Ctrl-C, which TensorFlow's scopes turned into another
        raise CheckpointError(
            f"{ckpt.prefix}: TensorFlow's restore failed after matching: {one_line(e)}",
            "run again with --debug for the traceback, and report it",
        ) from e


def _interrupt_under(error: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C that ``error`` was raised while handling, if any: TensorFlow's device scope
    raises ``RuntimeError: Exiting device scope without proper scope nesting`` when a
    ``KeyboardInterrupt`` unwinds through it mid-restore."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


__all__ = ["RestoreOptions", "restore", "restore_into"]
