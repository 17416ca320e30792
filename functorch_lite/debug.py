"""``fl.debug``: look at values while a transformed or compiled program runs (JAX's
``jax.debug``).

``print`` and ``callback`` work the same eagerly, under ``jit`` (XLA calls back into Python
when the program runs, with the values of that run), under ``grad`` (they see primal values)
and under ``vmap`` (once per element).

>>> @fl.jit
... def f(x):
...     fl.debug.print("x = {x}, sum = {}", x.sum(), x=x)
...     return x * 2
>>> f(fnp.arange(3.0))
x = [0. 1. 2.], sum = 3.0
"""
from __future__ import annotations

import builtins
import string
from typing import Any, Callable

from functorch_lite.lax.callbacks import debug_callback

__all__ = ["callback", "print"]


def callback(callback: Callable[..., Any], *args: Any, ordered: bool = False,
             **kwargs: Any) -> None:
    """Call ``callback(*args, **kwargs)`` with the values the (pytree) arguments have when
    the program runs, as NumPy arrays; returns None. ``ordered=True`` keeps the calls of
    one program (or loop body) in program order."""
    debug_callback(callback, *args, ordered=ordered, **kwargs)


def _check_format(fmt: str, num_args: int, names) -> None:
    """Fail at trace time, not inside XLA, when ``fmt`` asks for arguments not given, with
    the exception ``str.format`` (and so JAX) raises: IndexError or KeyError."""
    auto = 0
    for _, field, _, _ in string.Formatter().parse(fmt):
        if field is None:
            continue
        key = field.split(".")[0].split("[")[0]
        if key == "":
            auto += 1
            if auto > num_args:
                raise IndexError(f"debug.print: {fmt!r} has more '{{}}' fields than the "
                                 f"{num_args} positional argument(s) given")
        elif key.isdigit():
            if int(key) >= num_args:
                raise IndexError(f"debug.print: {fmt!r} refers to positional argument "
                                 f"{key}, but {num_args} were given")
        elif key not in names:
            raise KeyError(f"debug.print: {fmt!r} refers to {key!r}, which is not among "
                           f"the keyword arguments {sorted(names)}")


def print(fmt: str, *args: Any, ordered: bool = False, **kwargs: Any) -> None:  # noqa: A001
    """Print ``fmt.format(*args, **kwargs)`` with the runtime values of ``args`` and
    ``kwargs`` (pytrees of arrays, printed as NumPy prints them), from inside ``jit``,
    ``grad`` and ``vmap`` as well as eagerly.

    >>> fl.debug.print("step {} loss {loss:.3f}", 3, loss=fnp.float32(0.25))
    step 3 loss 0.250
    """
    if not isinstance(fmt, str):
        raise TypeError(f"debug.print: the format must be a str, got {type(fmt).__name__}")
    _check_format(fmt, len(args), set(kwargs))

    def show(*a, **kw):
        builtins.print(fmt.format(*a, **kw))
    debug_callback(show, *args, ordered=ordered, **kwargs)
