"""ckptctl: know what is in a TensorFlow checkpoint, and prove your model code restores it.

The Python API mirrors the command line; each verb returns a report dataclass::

    import ckptctl
    report = ckptctl.inspect("runs/exp1")          # InspectReport
    report = ckptctl.restore("runs/exp1", "mypkg.model:Net", input_shapes=[(8, 128)])
    print(report.total_params, [v.path for v in report.variables])

Nothing here imports TensorFlow until a checkpoint is actually read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ckptctl.errors import CheckpointError, CkptctlError, ModelError, UsageError

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "CkptctlError",
    "ModelError",
    "UsageError",
    "__version__",
    "diff",
    "inspect",
    "locate",
    "open_checkpoint",
    "restore",
]

if TYPE_CHECKING:
    from ckptctl.diffing import diff
    from ckptctl.inspection import inspect
    from ckptctl.location import locate
    from ckptctl.reader import open_checkpoint
    from ckptctl.restoration import restore

_LAZY = {
    "diff": ("ckptctl.diffing", "diff"),
    "inspect": ("ckptctl.inspection", "inspect"),
    "locate": ("ckptctl.location", "locate"),
    "open_checkpoint": ("ckptctl.reader", "open_checkpoint"),
    "restore": ("ckptctl.restoration", "restore"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'ckptctl' has no attribute {name!r}")
