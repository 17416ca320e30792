"""Global flags, set with ``config.update(name, value)`` as in JAX.

JAX's ``jax_``-prefixed spellings are accepted too (``jax_enable_x64``)."""
from __future__ import annotations

import os
from typing import Any, Callable


class Config:
    """A small flag registry. Read a flag as an attribute: ``config.enable_x64``."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._listeners: dict[str, list[Callable[[Any], None]]] = {}
        self._checks: dict[str, Callable[[Any], None]] = {}

    def define(self, name: str, default: Any, env: str | None = None,
               parse: Callable[[str], Any] = str,
               check: Callable[[Any], None] | None = None) -> None:
        """A flag ``name``, read from the environment variable ``env`` when set;
        ``check(value)`` raises for a value the flag does not take (at every update)."""
        value = default
        if env and env in os.environ:
            value = parse(os.environ[env])
        if check is not None:
            check(value)
            self._checks[name] = check
        self._values[name] = value
        self.__dict__[name] = value  # plain attribute reads: flags are read on hot paths

    def _canonical(self, name: str) -> str:
        if name not in self._values and name.startswith("jax_") and name[4:] in self._values:
            return name[4:]
        if name not in self._values:
            known = ", ".join(sorted(self._values))
            raise AttributeError(f"unknown config option {name!r}; known options: {known}")
        return name

    def update(self, name: str, value: Any) -> None:
        name = self._canonical(name)
        check = self._checks.get(name)
        if check is not None:
            check(value)
        self._values[name] = value
        self.__dict__[name] = value
        for listener in self._listeners.get(name, ()):
            listener(value)

    def on_change(self, name: str, listener: Callable[[Any], None]) -> None:
        """Call ``listener(new_value)`` whenever ``name`` is updated (used to clear caches)."""
        self._listeners.setdefault(self._canonical(name), []).append(listener)

    def read(self, name: str) -> Any:
        return self._values[self._canonical(name)]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[self._canonical(name)]
        except AttributeError:
            raise AttributeError(name) from None


_NO_DEFAULT = object()


def _parse_bool(s: str) -> bool:
    return s.strip().lower() in ("1", "true", "yes", "on")


config = Config()
config.define("enable_x64", False, env="JAX_ENABLE_X64", parse=_parse_bool)
config.define("debug_nans", False, env="JAX_DEBUG_NANS", parse=_parse_bool)
config.define("debug_infs", False, env="JAX_DEBUG_INFS", parse=_parse_bool)
# Check what tracing builds as it goes (JAX's internal checks; slow): every program staged
# for jit, make_ir or a primitive's body is type-checked (each equation's output types
# derived again from its inputs).
config.define("enable_checks", False, env="JAX_ENABLE_CHECKS", parse=_parse_bool)
config.define("log_compiles", False, env="JAX_LOG_COMPILES", parse=_parse_bool)
# When jit traces a function again, log which argument's shape, dtype, structure or static
# value differs from the closest earlier call.
config.define("explain_cache_misses", False, env="JAX_EXPLAIN_CACHE_MISSES",
              parse=_parse_bool)
# jit(f) runs f as plain Python, op by op (prints and Python control flow on values work).
config.define("disable_jit", False, env="JAX_DISABLE_JIT", parse=_parse_bool)
config.define("compilation_cache_dir", None, env="FUNCTORCH_LITE_COMPILATION_CACHE_DIR")


# Checks for the flags below: each raises ValueError, as JAX's config does.
def _one_of(name: str, choices: tuple, none_ok: bool = False,
            hint: Callable[[Any], str] = lambda value: "") -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if (value is None and none_ok) or value in choices:
            return
        raise ValueError(f"{name} must be {'None or ' if none_ok else ''}one of "
                         f"{list(choices)}, got {value!r}{hint(value)}")
    return check


def _str_or_none(name: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{name} must be None or a string, got {value!r} of type "
                             f"{type(value).__name__}")
    return check


def _at_least(name: str, minimum: int, integer: bool = False) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        kinds = (int,) if integer else (int, float)
        if not (isinstance(value, kinds) and not isinstance(value, bool) and value >= minimum):
            raise ValueError(f"{name} must be {'an integer' if integer else 'a number'} >= "
                             f"{minimum}, got {value!r}")
    return check


# What the on-disk compilation cache keeps (JAX's options): compiles that took at least
# this many seconds, executables of at least this many bytes (-1, as 0: no limit). JAX
# defaults the time to 1 s; here every compile is kept unless you ask otherwise.
config.define("persistent_cache_min_compile_time_secs", 0.0,
              env="JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", parse=float,
              check=_at_least("persistent_cache_min_compile_time_secs", 0))
config.define("persistent_cache_min_entry_size_bytes", 0,
              env="JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", parse=int,
              check=_at_least("persistent_cache_min_entry_size_bytes", -1, integer=True))

# The precision of float32 matrix products and convolutions given no ``precision`` of their
# own, JAX's names: 'bfloat16' (or 'default': the accelerator's fastest), 'tensorfloat32'
# ('high'), 'float32' ('highest'); None leaves it to the platform (TF32 on recent GPUs,
# bfloat16 passes on TPU; CPUs always compute in full float32). lax applies it when an
# operation is traced, so a change clears jit's caches (as enable_x64 does).
MATMUL_PRECISIONS = ("default", "high", "highest", "bfloat16", "tensorfloat32", "float32")
config.define("default_matmul_precision", None, env="JAX_DEFAULT_MATMUL_PRECISION",
              check=_one_of("default_matmul_precision", MATMUL_PRECISIONS, none_ok=True,
                            hint=lambda v: " (JAX's dot algorithm presets are not supported)"
                            if isinstance(v, str) and v.isupper() else ""))

# What the NumPy API does when an elementwise operation broadcasts operands of different
# ranks (x of shape (3, 4) + y of shape (4,)): 'allow' (NumPy's rule), 'warn' or 'raise'.
# It acts while tracing, so a change traces jitted functions again.
config.define("numpy_rank_promotion", "allow", env="JAX_NUMPY_RANK_PROMOTION",
              check=_one_of("numpy_rank_promotion", ("allow", "warn", "raise")))
config.define("platform_name", None, env="FUNCTORCH_LITE_PLATFORM")
# Which platforms the runtime starts, in order of preference (JAX's ``jax_platforms``,
# variable ``JAX_PLATFORMS``): "cpu", "cuda,cpu", ...; the first is the default, and each
# listed one must start (RuntimeError otherwise, at the first use of the runtime). None or ""
# starts every installed one, the best first. It is read once, when the runtime starts.
config.define("platforms", None, env="JAX_PLATFORMS", check=_str_or_none("platforms"))

# How the NumPy API promotes operands of different dtypes: 'standard' (JAX's lattice) or
# 'strict' (only a weak scalar joins an array: see core/dtypes). It acts while tracing.
config.define("numpy_dtype_promotion", "standard", env="JAX_NUMPY_DTYPE_PROMOTION",
              check=_one_of("numpy_dtype_promotion", ("standard", "strict")))

# Which threefry stream ``random`` draws from: the partitionable one (JAX's default since
# 0.5) or, off, JAX's original one. It acts while tracing, so a change traces again.
config.define("threefry_partitionable", True, env="JAX_THREEFRY_PARTITIONABLE",
              parse=_parse_bool)


# JAX's PRNG implementations by name; random implements threefry2x32 only, so the others
# are refused with NotImplementedError (an unknown name is a ValueError, as in JAX).
def _check_prng_impl(value: Any) -> None:
    _one_of("default_prng_impl", ("threefry2x32", "threefry4x32", "rbg", "unsafe_rbg",
                                  "philox2x32", "philox4x32"))(value)
    if value != "threefry2x32":
        raise NotImplementedError(f"default_prng_impl={value!r}: functorch_lite.random "
                                  f"implements 'threefry2x32' only")


config.define("default_prng_impl", "threefry2x32", env="JAX_DEFAULT_PRNG_IMPL",
              check=_check_prng_impl)

# JAX's transfer guard (see core/transfer_guard): a level for every direction, and one per
# direction that overrides it; None is "allow".
TRANSFER_GUARD_LEVELS = ("allow", "log", "disallow", "log_explicit", "disallow_explicit")
TRANSFER_KINDS = ("host_to_device", "device_to_device", "device_to_host")
for _name in ("transfer_guard", *("transfer_guard_" + k for k in TRANSFER_KINDS)):
    config.define(_name, None, env="JAX_" + _name.upper(),
                  check=_one_of(_name, TRANSFER_GUARD_LEVELS, none_ok=True))


class State:
    """A flag as JAX exposes it at the top level (``jax.enable_x64``): ``.value`` reads it,
    and calling it gives a context manager that sets it for a block and then restores it
    (``with fl.enable_x64(True): ...``; a boolean flag defaults to True). Unlike JAX's, the
    setting is process-wide, not per thread."""

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def value(self) -> Any:
        return config.read(self._name)

    def __call__(self, new_value: Any = _NO_DEFAULT) -> "_Scoped":
        if new_value is _NO_DEFAULT:
            if not isinstance(self.value, bool):
                raise TypeError(f"{self._name}(...) needs the value to set")
            new_value = True
        return _Scoped(self._name, new_value)

    def __repr__(self) -> str:
        return f"State({self._name}={self.value!r})"


class _Scoped:
    def __init__(self, name: str, value: Any) -> None:
        self._name, self._value = name, value
        self._saved: list[Any] = []

    def __enter__(self) -> None:
        self._saved.append(config.read(self._name))
        config.update(self._name, self._value)

    def __exit__(self, *exc: Any) -> None:
        config.update(self._name, self._saved.pop())
