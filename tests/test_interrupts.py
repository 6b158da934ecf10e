"""Which errors are Ctrl-C: the exception itself, or one whose cause or context chain holds it."""

from __future__ import annotations

from ckptctl import interrupts


def chained(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as e:
            raise outer from e
    except BaseException as e:
        return e


def test_ctrl_c_itself_and_errors_it_caused_are_interruptions() -> None:
    assert interrupts.caused(KeyboardInterrupt())
    assert interrupts.caused(
        chained(SystemError("a result with an exception set"), KeyboardInterrupt())
    )
    deep = chained(RuntimeError("outer"), chained(ValueError("middle"), KeyboardInterrupt()))
    assert interrupts.caused(deep)


def test_other_errors_are_not_even_with_a_cyclic_chain() -> None:
    assert not interrupts.caused(chained(RuntimeError("outer"), ValueError("inner")))
    first, second = ValueError("first"), ValueError("second")
    first.__context__, second.__context__ = second, first
    assert not interrupts.caused(first)
