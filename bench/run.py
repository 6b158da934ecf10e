"""Benchmark ckptctl against TensorFlow's own tools: wall time, throughput and peak memory.

Usage: ``python bench/run.py [--rebuild] [--only ROW_ID ...] [--data-dir DIR]`` (``make bench``).

1. Builds the checkpoints once, with TensorFlow, in a subprocess (``bench/build.py``), under
   ``bench/.data/``; they are reused on later runs (``--rebuild`` writes them again). About
   13 GB, shaped like real models: 5,000 values (small variables and their Adam slots) with
   one 2 GiB embedding; 100,000 values of ``[4]``; a ``.weights.h5`` of 5,000 datasets; a
   1 GiB Keras model (``bench/models.py``) to restore; 5,000 small variables; and pairs (A
   and a slightly changed B) of single-tensor checkpoints of 64 MiB, 256 MiB, 1 GiB and 2 GiB.
2. Measures every command in a fresh process: ``bench/_measure.py`` spawns it as its only
   child and reports wall time and the child's peak RSS (``ru_maxrss`` of
   ``RUSAGE_CHILDREN``). ckptctl runs through ``bench/_ckptctl.py``, which also records
   whether TensorFlow ended up imported. Each command runs once untimed (warming the page
   cache; its output is kept under ``bench/.data/logs/`` and checked), then N timed times:
   the best wall time counts, and the largest peak RSS.
3. Prints a table with the machine description and each target met or missed, and writes the
   same results to ``bench/.data/results.json`` (and a Markdown table to ``results.md``).

Throughput is bytes of tensor data read divided by wall time; ``diff`` reads both
checkpoints, so both count. Each row reports ratios from the one run: against TensorFlow's own
tool, against what a user would run instead (a bare interpreter for ``--help``, an h5py walk,
a bare restore script), or against another ckptctl row (``--tree`` against plain
``inspect``: measure those rows together). Exit status: 0 when every command ran as expected
(targets met or not), 1 when a command failed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
MEASURE = str(BENCH / "_measure.py")
CKPTCTL = str(BENCH / "_ckptctl.py")
MARKER_ENV = "CKPTCTL_BENCH_TF_MARKER"
MiB = 1 << 20
GB = 1e9
QUICK_REPEAT = 5
BIG_REPEAT = 3
BIG_BYTES = 1 << 30
"""Fixtures of at least this size are timed ``BIG_REPEAT`` times, smaller ones ``QUICK_REPEAT``."""


# ------------------------------------------------------------------------------ fixtures


@dataclass(frozen=True)
class Fixture:
    """A checkpoint (or an A/B pair) that ``bench/build.py`` writes into ``data_dir/name``."""

    name: str
    kind: str  # what bench/build.py writes: "many", "model", "tiny", "tinypair", "h5", ...
    elements: int = 0  # float32 elements of the big tensor ("big" and "model")
    label: str = ""

    @property
    def approx_bytes(self) -> int:
        """Disk space the fixture takes (both checkpoints of a pair)."""
        sizes = {"big": 2 * 4 * self.elements, "model": 4 * self.elements, "restore": 1 << 30}
        return sizes.get(self.kind, 32 * MiB)


FIXTURES: dict[str, Fixture] = {
    f.name: f
    for f in (
        Fixture("many5000", "many", label="5,000 small variables"),
        Fixture("model", "model", 512 << 20, "5,000 values + 2 GiB embedding"),
        Fixture("tiny100k", "tiny", label="100,000 values of [4]"),
        Fixture("tiny100k-pair", "tinypair", label="100,000 values of [4], twice, all changed"),
        Fixture("h5", "h5", label=".weights.h5, 5,000 datasets"),
        Fixture("restore1g", "restore", label="1 GiB model"),
        Fixture("big64m", "big", 16 << 20, "64 MiB"),
        Fixture("big256m", "big", 64 << 20, "256 MiB"),
        Fixture("big1g", "big", 256 << 20, "1 GiB"),
        Fixture("big2g", "big", 512 << 20, "2 GiB"),
    )
}


def ensure_fixture(fixture: Fixture, data_dir: Path, rebuild: bool) -> dict[str, object]:
    """Build ``fixture`` unless a complete build with the same parameters exists; describe it.

    A build is complete when ``done.json`` exists (``build.py`` writes it last). The build runs
    in a TensorFlow subprocess; its output goes to ``data_dir/build.log``.
    """
    out = data_dir / fixture.name
    done = out / "done.json"
    if done.exists() and not rebuild:
        info: dict[str, object] = json.loads(done.read_text())
        if info.get("kind") == fixture.kind and info.get("elements", 0) == fixture.elements:
            return _resolved(info, out)
    if out.exists():
        shutil.rmtree(out)
    need = fixture.approx_bytes + (256 * MiB)
    data_dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(data_dir).free
    if free < need:
        raise SystemExit(
            f"not enough disk space for {fixture.name}: {need / GB:.1f} GB needed, "
            f"{free / GB:.1f} GB free under {data_dir}"
        )
    cmd = [PYTHON, str(BENCH / "build.py"), fixture.kind, str(out)]
    if fixture.elements:
        cmd += ["--elements", str(fixture.elements)]
    _say(f"building {fixture.name} ({fixture.label}) with TensorFlow ...")
    start = time.perf_counter()
    with open(data_dir / "build.log", "ab") as log:
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
    if rc != 0 or not done.exists():
        raise SystemExit(f"building {fixture.name} failed (exit {rc}); see {data_dir}/build.log")
    _say(f"  built in {time.perf_counter() - start:.1f} s")
    return _resolved(json.loads(done.read_text()), out)


def _resolved(info: dict[str, object], out: Path) -> dict[str, object]:
    """``info`` (a ``done.json``) with its prefixes made absolute under ``out``."""
    for key in ("prefix", "prefix_a", "prefix_b"):
        if key in info:
            info[key] = str(out / str(info[key]))
    return info


# --------------------------------------------------------------------------- measuring


@dataclass
class Measurement:
    """Timed runs of one command: best wall time, largest peak RSS, and whether TensorFlow was
    imported in any run (the untimed one included)."""

    cmd: list[str]
    seconds: list[float]
    max_rss_mib: float
    returncode: int
    tf_imported: bool | None  # None: not checked (the TensorFlow baselines)

    @property
    def best(self) -> float:
        """The fastest of the timed runs."""
        return min(self.seconds)


class CommandFailed(Exception):
    """A measured command exited with an unexpected status; the text names its log."""


def _say(text: str, end: str = "\n") -> None:
    """Progress on stderr."""
    print(text, end=end, file=sys.stderr, flush=True)


def _run_once(cmd: Sequence[str], stdout: str, log: Path, marker: Path | None) -> dict[str, float]:
    """One measurement of ``cmd`` in a fresh ``_measure.py`` process; its JSON, plus ``tf``."""
    env = dict(os.environ)
    env.pop(MARKER_ENV, None)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if marker is not None:
        marker.unlink(missing_ok=True)
        env[MARKER_ENV] = str(marker)
    with open(log, "ab") as err:
        proc = subprocess.run(
            [PYTHON, MEASURE, "--stdout", stdout, "--", *cmd],
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
            check=False,
        )
    if proc.returncode != 0:
        raise CommandFailed(f"the measuring wrapper failed (exit {proc.returncode}); see {log}")
    result: dict[str, float] = json.loads(proc.stdout)
    if marker is not None:
        result["tf"] = float(marker.read_text() == "yes") if marker.exists() else -1.0
    return result


def measure(
    name: str,
    cmd: Sequence[str],
    *,
    repeat: int,
    expect_rc: int,
    logs: Path,
    check_tf: bool,
    check_output: Callable[[str], None] | None = None,
) -> Measurement:
    """Run ``cmd`` once untimed (its stdout kept as ``logs/NAME.out``), then ``repeat`` times.

    Raises :class:`CommandFailed` when an exit status is not ``expect_rc`` or
    ``check_output`` rejects the untimed run's output.
    """
    log = logs / f"{name}.log"
    out = logs / f"{name}.out"
    log.unlink(missing_ok=True)
    marker = logs / f"{name}.tf" if check_tf else None
    runs: list[dict[str, float]] = []
    tf_seen = False
    _say(f"  {name}:", end="")
    for i in range(repeat + 1):
        warm = i == 0
        r = _run_once(cmd, str(out) if warm else os.devnull, log, marker)
        _say(f" {r['seconds']:.3f}{' (warm-up)' if warm else ''}", end="" if i < repeat else " s\n")
        if int(r["returncode"]) != expect_rc:
            raise CommandFailed(
                f"{name}: exit {int(r['returncode'])}, expected {expect_rc}; see {log} and {out}"
            )
        if r.get("tf") == -1.0:
            raise CommandFailed(f"{name}: the TensorFlow-import marker was not written")
        tf_seen |= r.get("tf") == 1.0
        if warm:
            if check_output is not None:
                check_output(out.read_text())
        else:
            runs.append(r)
    return Measurement(
        cmd=list(cmd),
        seconds=[r["seconds"] for r in runs],
        max_rss_mib=max(r["max_rss_mib"] for r in runs),
        returncode=expect_rc,
        tf_imported=tf_seen if check_tf else None,
    )


# ------------------------------------------------------------------------------- rows


@dataclass
class Target:
    """One target of a row, e.g. ``ratio >= 10``; ``met`` is filled in from the results."""

    text: str
    met: bool


@dataclass
class Row:
    """One line of the table: a ckptctl command, optionally against a TensorFlow baseline."""

    id: str
    title: str
    ckptctl: Measurement
    baseline: Measurement | None = None
    data_bytes: int | None = None
    targets: list[Target] = field(default_factory=list)
    reference: Measurement | None = None
    """For a row judged against another ckptctl row (``--tree`` against plain ``inspect``)."""

    @property
    def slowdown(self) -> float | None:
        """ckptctl's best time over the baseline's (the rows whose baseline does less)."""
        return self.ckptctl.best / self.baseline.best if self.baseline else None

    @property
    def relative(self) -> float | None:
        """ckptctl's best time over its reference row's."""
        return self.ckptctl.best / self.reference.best if self.reference else None

    @property
    def speedup(self) -> float | None:
        """TensorFlow's best time over ckptctl's (higher: ckptctl faster)."""
        return self.baseline.best / self.ckptctl.best if self.baseline else None

    def throughput(self, m: Measurement | None) -> float | None:
        """GB/s of tensor data for measurement ``m``, where the row reads tensor data."""
        if m is None or not self.data_bytes:
            return None
        return self.data_bytes / m.best / GB


@dataclass
class Plan:
    """A row to measure: what to run, how often, and how to judge it."""

    id: str
    title: str
    fixtures: list[str]
    ckptctl: Callable[[dict[str, dict[str, object]]], list[str]]
    ckptctl_rc: int = 0
    baseline: Callable[[dict[str, dict[str, object]]], list[str]] | None = None
    baseline_rc: int = 0
    repeat: int = QUICK_REPEAT
    data_bytes: Callable[[dict[str, dict[str, object]]], int] | None = None
    targets: Callable[[Row], list[Target]] | None = None
    check_output: Callable[[str], None] | None = None
    reference: str | None = None
    """The id of a row measured earlier whose ckptctl time this row is judged against."""


def _prefix(info: dict[str, object], key: str = "prefix") -> str:
    return str(info[key])


def _bytes(info: dict[str, object]) -> int:
    value = info["bytes"]
    assert isinstance(value, int)
    return value


def _check_inspect_json(text: str) -> None:
    doc = json.loads(text)
    if len(doc["variables"]) != 5000:
        raise CommandFailed(f"inspect --json listed {len(doc['variables'])} values, not 5000")


def _check_lines(expected: int) -> Callable[[str], None]:
    def check(text: str) -> None:
        if len(text.splitlines()) < expected:
            raise CommandFailed(f"expected at least {expected} lines of output")

    return check


def _inspect_targets(row: Row) -> list[Target]:
    ratio = row.speedup or 0.0
    return [
        Target(f">= 10x faster than TF (is {ratio:.1f}x)", ratio >= 10),
        Target(
            f"peak RSS < 100 MiB (is {row.ckptctl.max_rss_mib:.0f})",
            row.ckptctl.max_rss_mib < 100,
        ),
    ]


def _stats_targets(row: Row) -> list[Target]:
    gbps = row.throughput(row.ckptctl) or 0.0
    return [
        Target(f">= 2 GB/s (is {gbps:.2f})", gbps >= 2),
        Target(
            f"peak RSS < 500 MiB (is {row.ckptctl.max_rss_mib:.0f})",
            row.ckptctl.max_rss_mib < 500,
        ),
    ]


def _fast_inspect_targets(times: float, rss_mib: float) -> Callable[[Row], list[Target]]:
    """``inspect`` at least ``times`` faster than TensorFlow's tool, within ``rss_mib``."""

    def targets(row: Row) -> list[Target]:
        ratio = row.speedup or 0.0
        rss = row.ckptctl.max_rss_mib
        return [
            Target(f">= {times:g}x faster than TF (is {ratio:.1f}x)", ratio >= times),
            Target(f"peak RSS <= {rss_mib:g} MiB (is {rss:.0f})", rss <= rss_mib),
            *_no_tf_target(row),
        ]

    return targets


def _gbps_targets(gbps_min: float, rss_mib: float | None = None) -> Callable[[Row], list[Target]]:
    def targets(row: Row) -> list[Target]:
        gbps = row.throughput(row.ckptctl) or 0.0
        out = [Target(f">= {gbps_min:g} GB/s (is {gbps:.2f})", gbps >= gbps_min)]
        if rss_mib is not None:
            rss = row.ckptctl.max_rss_mib
            out.append(Target(f"peak RSS <= {rss_mib:g} MiB (is {rss:.0f})", rss <= rss_mib))
        return [*out, *_no_tf_target(row)]

    return targets


def _within_targets(times: float, of: str, rss: bool = False) -> Callable[[Row], list[Target]]:
    """ckptctl at most ``times`` the baseline's time (and peak RSS, with ``rss``)."""

    def targets(row: Row) -> list[Target]:
        ratio = row.slowdown or math.inf
        out = [Target(f"<= {times:g}x {of} (is {ratio:.2f}x)", ratio <= times)]
        if rss and row.baseline is not None:
            r = row.ckptctl.max_rss_mib / row.baseline.max_rss_mib
            out.append(Target(f"peak RSS <= {times:g}x {of}'s (is {r:.2f}x)", r <= times))
        return out

    return targets


def _relative_targets(times: float, of: str) -> Callable[[Row], list[Target]]:
    """ckptctl at most ``times`` its reference row's time."""

    def targets(row: Row) -> list[Target]:
        ratio = row.relative or math.inf
        return [
            Target(f"<= {times:g}x {of} (is {ratio:.2f}x)", ratio <= times),
            *_no_tf_target(row),
        ]

    return targets


def _no_tf_target(row: Row) -> list[Target]:
    return [Target("imports TF: no", row.ckptctl.tf_imported is False)]


def _repeat(fixture: Fixture) -> int:
    return BIG_REPEAT if 4 * fixture.elements >= BIG_BYTES else QUICK_REPEAT


def _row_id(kind: str, fixture: Fixture) -> str:
    return f"{kind}-{fixture.label.replace(' ', '').replace('MiB', 'm').replace('GiB', 'g')}"


def _stats_plan(name: str, headline: bool = False) -> Plan:
    """``inspect A --stats`` on fixture ``name`` against ``bench/tf_stats.py``."""
    fixture = FIXTURES[name]
    return Plan(
        _row_id("stats", fixture),
        f"inspect --stats, {fixture.label}",
        [name],
        lambda f: ["inspect", _prefix(f[name], "prefix_a"), "--stats"],
        baseline=lambda f: [PYTHON, str(BENCH / "tf_stats.py"), _prefix(f[name], "prefix_a")],
        repeat=_repeat(fixture),
        data_bytes=lambda f: _bytes(f[name]),
        targets=(lambda r: [*_stats_targets(r), *_no_tf_target(r)]) if headline else _no_tf_target,
    )


def _diff_plan(name: str) -> Plan:
    """``diff A B`` on fixture ``name`` against ``bench/tf_diff.py`` (both exit 1: they differ)."""
    fixture = FIXTURES[name]
    a, b = "prefix_a", "prefix_b"
    return Plan(
        _row_id("diff", fixture),
        f"diff A B, {fixture.label} each",
        [name],
        lambda f: ["diff", _prefix(f[name], a), _prefix(f[name], b)],
        ckptctl_rc=1,
        baseline=lambda f: [
            PYTHON,
            str(BENCH / "tf_diff.py"),
            _prefix(f[name], a),
            _prefix(f[name], b),
        ],
        baseline_rc=1,
        repeat=_repeat(fixture),
        data_bytes=lambda f: 2 * _bytes(f[name]),
        targets=_no_tf_target,
    )


def _tf_tool(name: str) -> Callable[[dict[str, dict[str, object]]], list[str]]:
    """TensorFlow's ``inspect_checkpoint`` listing every value of fixture ``name``."""
    return lambda f: [
        PYTHON,
        "-m",
        "tensorflow.python.tools.inspect_checkpoint",
        f"--file_name={_prefix(f[name])}",
        "--all_tensor_names",
    ]


def _check_json_values(expected: int) -> Callable[[str], None]:
    def check(text: str) -> None:
        listed = len(json.loads(text)["variables"])
        if listed != expected:
            raise CommandFailed(f"inspect --json listed {listed} values, not {expected}")

    return check


def _values(info: dict[str, object]) -> int:
    value = info["values"]
    assert isinstance(value, int)
    return value


def model_plans() -> list[Plan]:
    """Rows on checkpoints shaped like real models (the headline table)."""
    tiny, pair = "tiny100k", "tiny100k-pair"
    return [
        Plan(
            "help",
            "ckptctl --help vs a bare `python -c pass`",
            [],
            lambda f: ["--help"],
            baseline=lambda f: [PYTHON, "-c", "pass"],
            targets=lambda r: [
                *_within_targets(3, "a bare interpreter")(r),
                *_no_tf_target(r),
            ],
        ),
        Plan(
            "model-inspect",
            "inspect, 5,000 values + 2 GiB embedding",
            ["model"],
            lambda f: ["inspect", _prefix(f["model"])],
            baseline=_tf_tool("model"),
            targets=_fast_inspect_targets(20, 60),
            check_output=_check_lines(5000),
        ),
        Plan(
            "model-stats",
            "inspect --stats, 5,000 values + 2 GiB embedding",
            ["model"],
            lambda f: ["inspect", _prefix(f["model"]), "--stats"],
            baseline=lambda f: [PYTHON, str(BENCH / "tf_stats.py"), _prefix(f["model"])],
            repeat=BIG_REPEAT,
            data_bytes=lambda f: _bytes(f["model"]),
            targets=_gbps_targets(2, 500),
            check_output=_check_lines(5000),
        ),
        Plan(
            "stats-2g",
            "inspect --stats, one 2 GiB value",
            ["big2g"],
            lambda f: ["inspect", _prefix(f["big2g"], "prefix_a"), "--stats"],
            baseline=lambda f: [
                PYTHON,
                str(BENCH / "tf_stats.py"),
                _prefix(f["big2g"], "prefix_a"),
            ],
            repeat=BIG_REPEAT,
            data_bytes=lambda f: _bytes(f["big2g"]),
            targets=_gbps_targets(4, 500),
        ),
        Plan(
            "tiny-inspect",
            "inspect, 100,000 values of [4]",
            [tiny],
            lambda f: ["inspect", _prefix(f[tiny])],
            baseline=_tf_tool(tiny),
            repeat=BIG_REPEAT,
            targets=_fast_inspect_targets(10, 150),
            check_output=_check_lines(100_000),
        ),
        Plan(
            "tiny-tree",
            "inspect --tree, 100,000 values",
            [tiny],
            lambda f: ["inspect", _prefix(f[tiny]), "--tree"],
            repeat=BIG_REPEAT,
            reference="tiny-inspect",
            targets=_relative_targets(2, "plain inspect"),
            check_output=_check_lines(100_000),
        ),
        Plan(
            "tiny-json",
            "inspect --json, 100,000 values",
            [tiny],
            lambda f: ["inspect", _prefix(f[tiny]), "--json"],
            repeat=BIG_REPEAT,
            reference="tiny-inspect",
            targets=_relative_targets(2, "plain inspect"),
            check_output=_check_json_values(100_000),
        ),
        Plan(
            "tiny-diff",
            "diff A A, 100,000 values",
            [tiny],
            lambda f: ["diff", _prefix(f[tiny]), _prefix(f[tiny])],
            repeat=BIG_REPEAT,
            reference="tiny-inspect",
            targets=_relative_targets(2, "plain inspect"),
        ),
        Plan(
            "tiny-diff-changed",
            "diff A B, 100,000 values all changed",
            [pair],
            lambda f: ["diff", _prefix(f[pair], "prefix_a"), _prefix(f[pair], "prefix_b")],
            ckptctl_rc=1,
            repeat=BIG_REPEAT,
            reference="tiny-inspect",
            targets=_relative_targets(3, "plain inspect"),
        ),
        Plan(
            "tiny-stats",
            "inspect --stats, 100,000 values",
            [tiny],
            lambda f: ["inspect", _prefix(f[tiny]), "--stats"],
            repeat=BIG_REPEAT,
            reference="tiny-inspect",
            targets=_no_tf_target,
            check_output=_check_lines(100_000),
        ),
        Plan(
            "h5-inspect",
            "inspect a .weights.h5 of 5,000 datasets vs a bare h5py walk",
            ["h5"],
            lambda f: ["inspect", _prefix(f["h5"])],
            baseline=lambda f: [PYTHON, str(BENCH / "h5_walk.py"), _prefix(f["h5"])],
            targets=lambda r: [*_within_targets(2, "the h5py walk")(r), *_no_tf_target(r)],
            check_output=_check_lines(5000),
        ),
        Plan(
            "restore-1g",
            "restore + verify, 1 GiB model vs a bare restore script",
            ["restore1g"],
            lambda f: [
                "restore",
                _prefix(f["restore1g"]),
                "--model",
                f"{BENCH / 'models.py'}:Wide",
                "--input-shape",
                "2,8192",
            ],
            baseline=lambda f: [PYTHON, str(BENCH / "tf_restore.py"), _prefix(f["restore1g"])],
            repeat=BIG_REPEAT,
            data_bytes=lambda f: _bytes(f["restore1g"]),
            targets=_within_targets(1.2, "the bare script", rss=True),
        ),
    ]


def plans() -> list[Plan]:
    """Every row, in table order: the model-shaped rows, then the earlier ones."""
    tool = ["-m", "tensorflow.python.tools.inspect_checkpoint"]
    out: list[Plan] = [
        *model_plans(),
        Plan(
            "inspect-5000",
            "inspect, 5,000 values (table)",
            ["many5000"],
            lambda f: ["inspect", _prefix(f["many5000"])],
            baseline=lambda f: [
                PYTHON,
                *tool,
                f"--file_name={_prefix(f['many5000'])}",
                "--all_tensor_names",
            ],
            targets=lambda r: [*_inspect_targets(r), *_no_tf_target(r)],
            check_output=_check_lines(5000),
        ),
        Plan(
            "inspect-5000-json",
            "inspect --json, 5,000 values",
            ["many5000"],
            lambda f: ["inspect", _prefix(f["many5000"]), "--json"],
            baseline=lambda f: [
                PYTHON,
                *tool,
                f"--file_name={_prefix(f['many5000'])}",
                "--all_tensor_names",
            ],
            targets=lambda r: [*_inspect_targets(r), *_no_tf_target(r)],
            check_output=_check_inspect_json,
        ),
        Plan(
            "stats-5000",
            "inspect --stats, 5,000 small variables",
            ["many5000"],
            lambda f: ["inspect", _prefix(f["many5000"]), "--stats"],
            baseline=lambda f: [PYTHON, str(BENCH / "tf_stats.py"), _prefix(f["many5000"])],
            data_bytes=lambda f: _bytes(f["many5000"]),
            targets=_no_tf_target,
            check_output=_check_lines(5000),
        ),
    ]
    out += [_diff_plan("big2g")]
    out += [_stats_plan(name) for name in ("big64m", "big256m", "big1g")]
    out += [_diff_plan(name) for name in ("big64m", "big256m", "big1g")]
    return out


def run_plan(
    plan: Plan,
    fixtures: dict[str, dict[str, object]],
    logs: Path,
    done: dict[str, Row] | None = None,
) -> Row:
    """Measure ckptctl (and the baseline) for ``plan``; judge the targets (against the row
    ``plan.reference`` names, from ``done``, the rows measured so far)."""
    _say(f"{plan.id}: {plan.title}")
    ckptctl = measure(
        f"{plan.id}.ckptctl",
        [PYTHON, CKPTCTL, *plan.ckptctl(fixtures)],
        repeat=plan.repeat,
        expect_rc=plan.ckptctl_rc,
        logs=logs,
        check_tf=True,
        check_output=plan.check_output,
    )
    baseline = None
    if plan.baseline is not None:
        baseline = measure(
            f"{plan.id}.tf",
            plan.baseline(fixtures),
            repeat=plan.repeat,
            expect_rc=plan.baseline_rc,
            logs=logs,
            check_tf=False,
        )
    row = Row(
        plan.id,
        plan.title,
        ckptctl,
        baseline,
        plan.data_bytes(fixtures) if plan.data_bytes else None,
    )
    if plan.reference is not None and done and plan.reference in done:
        row.reference = done[plan.reference].ckptctl
    if plan.targets is not None:
        row.targets = plan.targets(row)
    return row


# ------------------------------------------------------------------------------- report


def _package_version(*names: str) -> str:
    for name in names:
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return "not installed"


def ckptctl_commit() -> str:
    """The checked-out commit of this repository, marked when the work tree has changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "ckptctl"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} + uncommitted changes" if dirty else head


def machine() -> dict[str, object]:
    """CPU model, cores, RAM, OS, Python and library versions (TensorFlow is not imported)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) * 1024
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(ram / (1 << 30), 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "tensorflow": _package_version("tensorflow-cpu", "tensorflow"),
        "numpy": _package_version("numpy"),
        "keras": _package_version("keras"),
        "h5py": _package_version("h5py"),
        "ml_dtypes": _package_version("ml_dtypes"),
        "ckptctl": _package_version("ckptctl"),
        "ckptctl_commit": ckptctl_commit(),
    }


def machine_line(m: dict[str, object]) -> str:
    """The machine description in one line."""
    return (
        f"{m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, {m['os']}, "
        f"Python {m['python']}, TensorFlow {m['tensorflow']}, Keras {m.get('keras')}, "
        f"numpy {m['numpy']}, h5py {m.get('h5py')}, ml_dtypes {m.get('ml_dtypes')}, "
        f"ckptctl {m['ckptctl']} ({m['ckptctl_commit']})"
    )


HEADER = [
    "row",
    "ckptctl",
    "GB/s",
    "RSS MiB",
    "baseline",
    "GB/s",
    "RSS MiB",
    "speed-up",
    "imports TF",
    "targets",
]


def _cells(row: Row) -> list[str]:
    def secs(m: Measurement | None) -> str:
        return "—" if m is None else f"{m.best:.3f} s"

    def rate(m: Measurement | None) -> str:
        v = row.throughput(m)
        return "—" if v is None else f"{v:.2f}"

    def rss(m: Measurement | None) -> str:
        return "—" if m is None else f"{m.max_rss_mib:.0f}"

    speedup = "—" if row.speedup is None else f"{row.speedup:.1f}x"
    tf = {True: "yes", False: "no", None: "?"}[row.ckptctl.tf_imported]
    shown = [t for t in row.targets if t.text != "imports TF: no"]
    targets = (
        "; ".join(("met: " if t.met else "MISSED: ") + t.text for t in shown) if shown else "—"
    )
    return [
        row.title,
        secs(row.ckptctl),
        rate(row.ckptctl),
        rss(row.ckptctl),
        secs(row.baseline),
        rate(row.baseline),
        rss(row.baseline),
        speedup,
        tf,
        targets,
    ]


def text_table(rows: list[Row]) -> str:
    """The results as an aligned plain-text table."""
    cells = [HEADER, *(_cells(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    right = {1, 2, 3, 4, 5, 6, 7}

    def fmt(line: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(HEADER), rule, *(fmt(c) for c in cells[1:])])


def markdown_table(rows: list[Row]) -> str:
    """The results as a Markdown table (for the README)."""
    lines = [
        "| " + " | ".join(HEADER) + " |",
        "| " + " | ".join(["---"] + ["---:"] * 7 + ["---", "---"]) + " |",
    ]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def compile_package() -> None:
    """Write ckptctl's bytecode before measuring: an installed package has its ``.pyc`` files
    (pip compiles them), and so does an editable install once run, unless
    ``PYTHONDONTWRITEBYTECODE`` is set, as it is in some CI images. Without them every run
    would compile each module it imports again (about 0.05 s for ``inspect``)."""
    subprocess.run(
        [PYTHON, "-m", "compileall", "-q", str(ROOT / "ckptctl")],
        check=True,
        stdout=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    )


def main(argv: list[str] | None = None) -> int:
    """Build what is missing, measure every selected row, print and save the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rebuild", action="store_true", help="write the checkpoints again")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="ROW_ID",
        help="measure only these rows, and those they are measured against (ids: see --list)",
    )
    parser.add_argument("--list", action="store_true", help="list the row ids and exit")
    parser.add_argument("--data-dir", type=Path, default=BENCH / ".data")
    args = parser.parse_args(argv)
    selected = plans()
    if args.list:
        for p in selected:
            print(f"{p.id:20} {p.title}")
        return 0
    if args.only:
        unknown = set(args.only) - {p.id for p in selected}
        if unknown:
            parser.error(f"unknown row id(s): {', '.join(sorted(unknown))}")
        # A row measured against another (its reference) needs that one in the same run.
        wanted = set(args.only) | {p.reference for p in selected if p.id in args.only}
        selected = [p for p in selected if p.id in wanted]
    data_dir: Path = args.data_dir.resolve()
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    needed = sorted({name for p in selected for name in p.fixtures}, key=list(FIXTURES).index)
    fixtures = {name: ensure_fixture(FIXTURES[name], data_dir, args.rebuild) for name in needed}

    compile_package()
    load_start = os.getloadavg()[0]
    if load_start > 0.5:
        _say(f"note: the 1-minute load average is {load_start:.2f}; other work skews timings")
    rows: list[Row] = []
    failures: list[str] = []
    for plan in selected:
        try:
            rows.append(run_plan(plan, fixtures, logs, {r.id: r for r in rows}))
        except CommandFailed as e:
            failures.append(str(e))
            _say(f"\n  FAILED: {e}")

    m = machine()
    m["load_avg_1min"] = [round(load_start, 2), round(os.getloadavg()[0], 2)]
    print(f"\nMachine: {machine_line(m)}")
    print(f"Load average (1 min) at start and end: {load_start:.2f}, {os.getloadavg()[0]:.2f}")
    print(
        f"Best of {QUICK_REPEAT} runs (< 1 GiB) or {BIG_REPEAT} (>= 1 GiB) after one untimed "
        "warm-up run (page cache warm); peak RSS of the process. speed-up = baseline time "
        "/ ckptctl time.\n"
    )
    print(text_table(rows))
    missed = [f"{r.title}: {t.text}" for r in rows for t in r.targets if not t.met]
    print()
    if missed:
        print("Targets missed:")
        for text in missed:
            print(f"  - {text}")
    elif rows:
        print("All targets met.")
    for text in failures:
        print(f"FAILED: {text}")

    results = {
        "machine": m,
        "machine_line": machine_line(m),
        "quick_repeat": QUICK_REPEAT,
        "big_repeat": BIG_REPEAT,
        "fixtures": fixtures,
        "rows": [
            {
                **asdict(r),
                "speedup": r.speedup,
                "ckptctl_gbps": r.throughput(r.ckptctl),
                "baseline_gbps": r.throughput(r.baseline),
            }
            for r in rows
        ],
        "targets_missed": missed,
        "failures": failures,
    }
    (data_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (data_dir / "results.md").write_text(f"Machine: {machine_line(m)}\n\n{markdown_table(rows)}\n")
    print(f"\nResults: {data_dir / 'results.json'} (Markdown table: {data_dir / 'results.md'})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
