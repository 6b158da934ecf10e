from collections.abc import Callable
from typing import Any

def scan_block(
    block: bytes,
    last_key: bytes | None,
    header_first: bool,
    dtypes: dict[int, tuple[str, int, str | None]],
    string_layout: tuple[str, int, None],
    shapes: dict[bytes, tuple[tuple[int, ...], int]],
    stored_cls: Callable[..., Any],
    values: dict[str, Any],
) -> tuple[bytes, bytes | None, int] | None: ...
def scan_graph(
    data: bytes,
    known_key: Callable[[str], str] | None,
    node_cls: Callable[..., Any],
    attr_cls: type,
    irregular: Callable[[int, int, int], Any],
) -> list[Any] | None: ...
