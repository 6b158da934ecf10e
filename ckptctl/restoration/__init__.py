"""``restore``: build the user's model, match it against a checkpoint, restore, and prove it.

:mod:`.pipeline` is the proof, the same for every format; :mod:`.graph_match` and
:mod:`.name_match` make the plan for object-based and name-based checkpoints.
"""

from ckptctl.objgraph import ROOT as ROOT_KEY
from ckptctl.restoration.checks import check_values, load_golden, save_golden
from ckptctl.restoration.inputs import (
    InputSpec,
    build_model,
    call_model,
    make_batches,
    parse_shape,
)
from ckptctl.restoration.live import live_graph, make_optimizer
from ckptctl.restoration.options import RestoreOptions, make_options, read_allow_file
from ckptctl.restoration.pipeline import restore, restore_into
from ckptctl.restoration.plan import Pair, Plan, suggest_maps
from ckptctl.restoration.report import (
    RNG_STATE,
    GoldenCheck,
    MappedEntry,
    MismatchedEntry,
    MissingEntry,
    NotCheckpointed,
    OutputCheck,
    RestoreReport,
    UnusedEntry,
    ValueCheck,
)

__all__ = [
    "RNG_STATE",
    "ROOT_KEY",
    "GoldenCheck",
    "InputSpec",
    "MappedEntry",
    "MismatchedEntry",
    "MissingEntry",
    "NotCheckpointed",
    "OutputCheck",
    "Pair",
    "Plan",
    "RestoreOptions",
    "RestoreReport",
    "UnusedEntry",
    "ValueCheck",
    "build_model",
    "call_model",
    "check_values",
    "live_graph",
    "load_golden",
    "make_batches",
    "make_optimizer",
    "make_options",
    "parse_shape",
    "read_allow_file",
    "restore",
    "restore_into",
    "save_golden",
    "suggest_maps",
]
