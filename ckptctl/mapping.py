"""``--map`` rules: place checkpoint values into a model whose object paths changed.

A rule is ``OLD=NEW``, a regular expression over checkpoint object paths and its replacement
(``re.sub`` syntax, so ``dense(\\d)=block\\1`` works); rules apply in order, each to the result
of the previous one. ``keras2`` names a built-in rule set for a Keras 2 (tf-keras) checkpoint
restored into the Keras 3 version of the same model:

- layer weights by name: Keras 3 tracks ``Dense`` weights as ``_kernel`` where Keras 2 tracked
  ``kernel``, so a path's last part is compared without leading underscores;
- optimizer slots by the variable they belong to (Keras 2 names them in ``full_name``,
  ``Adam/m/my_model/dense/kernel``), never by position; ``iterations`` and the learning rate
  by name.

Whenever rules are given, optimizer slots are placed by the variable they belong to.
Sequential and functional models are tracked differently by the two versions (Keras 2's
``layer_with_weights-0`` is Keras 3's ``_functional._operations.1``): map those with explicit
rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ckptctl.errors import UsageError

KERAS2 = "keras2"
NAMED_RULE_SETS = (KERAS2,)


@dataclass(frozen=True)
class Rule:
    text: str
    pattern: re.Pattern[str]
    replacement: str


@dataclass
class PathMap:
    """Parsed ``--map`` options."""

    rules: list[Rule] = field(default_factory=list)
    keras2: bool = False

    def __bool__(self) -> bool:
        return bool(self.rules) or self.keras2

    @property
    def texts(self) -> list[str]:
        return [r.text for r in self.rules] + ([KERAS2] if self.keras2 else [])

    def apply(self, path: str) -> tuple[str, list[str]]:
        """``path`` rewritten by every rule in order, and the rules that changed it."""
        applied = []
        for rule in self.rules:
            new = rule.pattern.sub(rule.replacement, path)
            if new != path:
                applied.append(rule.text)
                path = new
        return path, applied


@dataclass(frozen=True)
class Placed:
    """Where ``--map`` puts one name: its new name and the rules that rewrote it."""

    name: str
    new_name: str
    rules: list[str]


def collision(first: str, second: str, onto: str) -> UsageError:
    """The error for rules that place two checkpoint values onto one place."""
    return UsageError(
        f"--map places both {first} and {second} onto {onto}",
        "make the rules more specific (anchor them with ^ and $, e.g. '^model\\.dense1\\.')",
    )


def place_once(path_map: PathMap, names: Iterable[str], where: str) -> dict[str, Placed]:
    """Each of ``names`` rewritten by ``path_map``, keyed by its new name.

    Raises ``UsageError`` when the rules place two names onto one, or when a rule changes no
    name in ``where`` (a checkpoint's prefix): a rule that does nothing is a typo.
    """
    placed: dict[str, Placed] = {}
    used: set[str] = set()
    for name in names:
        new, applied = path_map.apply(name)
        if new in placed:
            raise collision(placed[new].name, name, new)
        placed[new] = Placed(name, new, applied)
        used.update(applied)
    for rule in path_map.rules:
        if rule.text not in used:
            raise UsageError(f"--map {rule.text!r} matches no key in {where}")
    return placed


def parse_maps(texts: Sequence[str]) -> PathMap:
    out = PathMap()
    for text in texts:
        if text.strip() == KERAS2:
            out.keras2 = True
            continue
        old, sep, new = text.partition("=")
        if not sep or not old:
            raise UsageError(
                f"--map {text!r}: expected OLD=NEW (a regular expression over object paths "
                "and its replacement) or a named rule set",
                f"e.g. --map 'dense1=encoder', or --map {KERAS2}",
            )
        try:
            pattern = re.compile(old)
        except re.error as e:
            raise UsageError(f"--map {text!r}: {old!r} is not a regular expression ({e})") from e
        try:
            pattern.sub(new, "")
        except (re.error, IndexError) as e:
            raise UsageError(f"--map {text!r}: bad replacement {new!r} ({e})") from e
        out.rules.append(Rule(text, pattern, new))
    return out


_LEADING_UNDERSCORES = re.compile(r"(^|\.)_+(?=[^.]+$)")


def keras2_normal(path: str) -> str:
    """A path compared across Keras 2 and 3: the weight's name without leading underscores."""
    return _LEADING_UNDERSCORES.sub(r"\1", path)
