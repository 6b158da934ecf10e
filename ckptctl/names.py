"""Names that come from a file: ordering them (a hostile checkpoint must not crash the reader),
and telling a TF1 checkpoint's training state from its model by name."""

from __future__ import annotations

import re


def digits_order(digits: str) -> tuple[int, str]:
    """A sort key ordering decimal strings (``"2"``, ``"10"``, ``"007"``) by value without
    ``int()``, which refuses strings of more than 4,300 digits."""
    stripped = digits.lstrip("0")
    return len(stripped), stripped


def natural_order(name: str) -> list[tuple[int, str]]:
    """A sort key putting ``vars/2`` before ``vars/10``: each run of digits by its value
    (:func:`digits_order`), each other run as text."""
    key: list[tuple[int, str]] = []
    for run in _RUNS.findall(name):
        key.append(digits_order(run) if "0" <= run[0] <= "9" else (-1, run))
    return key


_RUNS = re.compile(r"[0-9]+|[^0-9]+")


# Name-based (TF1) optimizer state: slot variables live under the optimizer's name
# (``dense/kernel/Adam_1``), and the step counters sit beside the model's variables.
_TF1_SLOT_RE = re.compile(
    r"(?:^|/)(?:Adam|AdamW|Adamax|Nadam|Momentum|RMSProp|Adagrad|AdagradDA|ProximalAdagrad"
    r"|Adadelta|Ftrl|LazyAdam)(?:_\d+)?(?:/|$)"
)
_TF1_COUNTER_NAMES = frozenset({"beta1_power", "beta2_power", "global_step"})


def tf1_training_state(key: str) -> bool:
    """Whether a name-based (TF1) checkpoint's ``key`` is training state, not the model's:
    an optimizer's slot (``layer1/weights/Adam_1``) or a step counter (``global_step``,
    ``beta1_power``)."""
    return bool(_TF1_SLOT_RE.search(key)) or key.rsplit("/", 1)[-1] in _TF1_COUNTER_NAMES
