"""Recurrent layers: the LSTM and GRU cells (one time step, Flax's gate names and
equations), ``RNN`` (a cell run over a sequence with ``lax.scan``) and ``Bidirectional``."""
from __future__ import annotations

from typing import Callable

import functorch_lite.numpy as fnp
from functorch_lite import lax, random, tree

from . import initializers
from .activations import sigmoid
from .linear import Dense
from .module import Module

__all__ = ["LSTMCell", "GRUCell", "RNN", "Bidirectional"]


class _Cell(Module):
    """What the recurrent cells share: gate layers kept in ``self._gates`` under Flax's
    names (``if`` and ``in`` are Python keywords, so they cannot be attributes), and the
    time-step interface ``RNN`` relies on."""

    num_feature_axes = 1           # the input of one step is (*batch, features_in)

    def _setup(self, features, gate_fn, activation_fn, kernel_init, recurrent_kernel_init,
               bias_init, carry_init, dtype, param_dtype, input_bias: bool):
        if int(features) <= 0:
            raise ValueError(f"{type(self).__name__}: features must be a positive int, got "
                             f"{features!r}")
        self.features = int(features)
        self.gate_fn, self.activation_fn = gate_fn, activation_fn
        self.kernel_init, self.recurrent_kernel_init = kernel_init, recurrent_kernel_init
        self.bias_init, self.carry_init = bias_init, carry_init
        self.dtype, self.param_dtype = dtype, param_dtype

        # The input and hidden projections are summed, so one bias per gate suffices: the
        # LSTM keeps it on the hidden side, the GRU on the input side (plus `hn`, which
        # is multiplied by the reset gate before the sum and so needs its own).
        def dense(side, gate):
            return Dense(self.features, use_bias=(side == "i") == input_bias or
                         side + gate == "hn", dtype=dtype, param_dtype=param_dtype,
                         kernel_init=recurrent_kernel_init if side == "h" else kernel_init,
                         bias_init=bias_init)
        self._gates = {side + g: dense(side, g) for side in "ih" for g in self._gate_letters}

    def _named_children(self):
        # Flax's names exactly ("ii", "if", ...), not the "_gates_ii" a dict would give.
        return iter(self._gates.items())

    def _check_hidden(self, h, x):
        if h.shape[-1] != self.features or h.shape[:-1] != x.shape[:-1]:
            raise ValueError(f"expected a carry of shape {x.shape[:-1] + (self.features,)} "
                             f"for input shape {tuple(x.shape)}, got carry shape "
                             f"{tuple(h.shape)}")

    def _pre(self, gate, x, h):
        return self._gates["i" + gate](x) + self._gates["h" + gate](h)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(features={self.features}, dtype={self.dtype}, "
                f"param_dtype={self.param_dtype})")

    def initialize_carry(self, rng, input_shape):
        """The starting carry for inputs of shape ``input_shape`` = ``(*batch, features_in)``
        (one time step): ``carry_init`` (zeros) of shape ``(*batch, features)``."""
        return self.carry_init(rng, tuple(input_shape)[:-1] + (self.features,),
                               self.param_dtype)


class LSTMCell(_Cell):
    """One LSTM step, as ``flax.linen.LSTMCell``: ``(c, h), h = cell((c, h), x)`` with
    ``i, f, o = gate_fn(W_i* x + W_h* h + b_h*)``, ``g = activation_fn(...)``,
    ``c' = f*c + i*g``, ``h' = o*activation_fn(c')``. Params ``ii, if, ig, io`` (kernel
    ``(in, features)``) and ``hi, hf, hg, ho`` (kernel ``(features, features)`` and bias).

    >>> cell = LSTMCell(32)
    >>> carry = cell.initialize_carry(key, (8, 16))       # ((8, 32), (8, 32))
    >>> params, _ = cell.init(key, carry, fnp.ones((8, 16)))
    >>> (carry, y), _ = cell.apply(params, carry, x)      # y: (8, 32)
    """

    _gate_letters = "ifgo"

    def __init__(self, features: int, gate_fn: Callable = sigmoid,
                 activation_fn: Callable = fnp.tanh,
                 kernel_init: Callable = initializers.lecun_normal(),
                 recurrent_kernel_init: Callable = initializers.orthogonal(),
                 bias_init: Callable = initializers.zeros,
                 dtype=None, param_dtype=fnp.float32,
                 carry_init: Callable = initializers.zeros):
        self._setup(features, gate_fn, activation_fn, kernel_init, recurrent_kernel_init,
                    bias_init, carry_init, dtype, param_dtype, input_bias=False)

    def __call__(self, carry, inputs):
        c, h = carry
        x = fnp.asarray(inputs)
        self._check_hidden(h, x)
        if c.shape != h.shape:
            raise ValueError(f"the carry (c, h) must hold two arrays of one shape, got "
                             f"{tuple(c.shape)} and {tuple(h.shape)}")
        i = self.gate_fn(self._pre("i", x, h))
        f = self.gate_fn(self._pre("f", x, h))
        g = self.activation_fn(self._pre("g", x, h))
        o = self.gate_fn(self._pre("o", x, h))
        new_c = f * c + i * g
        new_h = o * self.activation_fn(new_c)
        return (new_c, new_h), new_h

    def initialize_carry(self, rng, input_shape):
        """``(c, h)``, each ``(*batch, features)`` for ``input_shape`` ``(*batch, in)``."""
        k1, k2 = random.split(rng)
        return super().initialize_carry(k1, input_shape), \
            super().initialize_carry(k2, input_shape)


class GRUCell(_Cell):
    """One GRU step, as ``flax.linen.GRUCell``: ``h, h = cell(h, x)`` with
    ``r = gate_fn(W_ir x + b_ir + W_hr h)``, ``z`` likewise,
    ``n = activation_fn(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1-z)*n + z*h``.
    Params ``ir, iz, in`` (kernel ``(in, features)`` and bias) and ``hr, hz`` (kernel
    ``(features, features)``), ``hn`` (kernel and bias).

    >>> cell = GRUCell(32)
    >>> h = cell.initialize_carry(key, (8, 16))            # (8, 32)
    >>> params, _ = cell.init(key, h, fnp.ones((8, 16)))
    >>> (h, y), _ = cell.apply(params, h, x)
    """

    _gate_letters = "rzn"

    def __init__(self, features: int, gate_fn: Callable = sigmoid,
                 activation_fn: Callable = fnp.tanh,
                 kernel_init: Callable = initializers.lecun_normal(),
                 recurrent_kernel_init: Callable = initializers.orthogonal(),
                 bias_init: Callable = initializers.zeros,
                 dtype=None, param_dtype=fnp.float32,
                 carry_init: Callable = initializers.zeros):
        self._setup(features, gate_fn, activation_fn, kernel_init, recurrent_kernel_init,
                    bias_init, carry_init, dtype, param_dtype, input_bias=True)

    def __call__(self, carry, inputs):
        h = carry
        x = fnp.asarray(inputs)
        self._check_hidden(h, x)
        r = self.gate_fn(self._pre("r", x, h))
        z = self.gate_fn(self._pre("z", x, h))
        n = self.activation_fn(self._gates["in"](x) + r * self._gates["hn"](h))
        new_h = (1.0 - z) * n + z * h
        return new_h, new_h


def _flip(xs, seq_lengths):
    """Reverse time-major ``xs`` ``(time, *batch, ...)`` along time; with ``seq_lengths``
    ``(*batch)`` only each sequence's first ``length`` steps are reversed, so padding stays
    at the end (as Flax's ``flip_sequences``)."""
    if seq_lengths is None:
        return fnp.flip(xs, axis=0)
    steps = xs.shape[0]
    lengths = fnp.asarray(seq_lengths)
    back = fnp.arange(steps - 1, -1, -1).reshape((steps,) + (1,) * lengths.ndim)
    idx = (back + lengths[None]) % steps                       # (time, *batch)
    idx = idx.reshape(idx.shape + (1,) * (xs.ndim - idx.ndim))
    return fnp.take_along_axis(xs, idx, axis=0)


class RNN(Module):
    """Run ``cell`` over the time axis of ``inputs`` with ``lax.scan``; the cell's params
    live under ``params["cell"]`` (as ``flax.linen.RNN``). Inputs are ``(*batch, time,
    features)`` (``(time, *batch, features)`` with ``time_major=True``); outputs
    ``(*batch, time, cell.features)``, in the input's time order also when
    ``reverse=True`` (``keep_order=True`` by default, unlike Flax). ``return_carry=True``
    gives ``(final carry, outputs)``. ``__call__(inputs, initial_carry=None,
    seq_lengths=None, ...)``: ``seq_lengths`` ``(*batch)`` makes the carry returned the one
    after each sequence's last valid step and keeps padding at the end when reversing;
    ``return_carry``, ``time_major``, ``reverse``, ``keep_order`` override the attributes.

    >>> lstm = RNN(LSTMCell(64))
    >>> params, _ = lstm.init(key, fnp.ones((10, 50, 32)))   # params["cell"]["ii"]...
    >>> y, _ = lstm.apply(params, x)                          # (10, 50, 64)
    """

    def __init__(self, cell: Module, reverse: bool = False, return_carry: bool = False,
                 time_major: bool = False, keep_order: bool = True, unroll: int = 1):
        if not (isinstance(cell, Module) and hasattr(cell, "initialize_carry")):
            raise TypeError(f"RNN: cell must be a recurrent cell module such as LSTMCell or "
                            f"GRUCell (with initialize_carry), got {cell!r}")
        self.cell = cell
        self.reverse, self.return_carry = reverse, return_carry
        self.time_major, self.keep_order, self.unroll = time_major, keep_order, unroll

    def __call__(self, inputs, initial_carry=None, seq_lengths=None, *, init_key=None,
                 return_carry=None, time_major=None, reverse=None, keep_order=None):
        pick = lambda v, d: d if v is None else v               # noqa: E731
        return_carry = pick(return_carry, self.return_carry)
        time_major, reverse = pick(time_major, self.time_major), pick(reverse, self.reverse)
        keep_order = pick(keep_order, self.keep_order)
        x = fnp.asarray(inputs)
        n_feat = getattr(self.cell, "num_feature_axes", 1)
        if x.ndim < n_feat + 1:
            raise ValueError(f"expected inputs of shape ({'time' if time_major else '*batch'}"
                             f", {'*batch' if time_major else 'time'}, features), got shape "
                             f"{tuple(x.shape)}")
        time_axis = 0 if time_major else x.ndim - n_feat - 1
        xs = fnp.moveaxis(x, time_axis, 0)                       # scan runs over axis 0
        if xs.shape[0] == 0:
            raise ValueError(f"expected at least one time step, got inputs of shape "
                             f"{tuple(x.shape)} (time axis {time_axis})")
        if seq_lengths is not None and tuple(fnp.shape(seq_lengths)) != xs.shape[1:-n_feat]:
            raise ValueError(f"seq_lengths must have the batch shape {xs.shape[1:-n_feat]}, "
                             f"got {tuple(fnp.shape(seq_lengths))}")
        if reverse:
            xs = _flip(xs, seq_lengths)
        carry = initial_carry
        if carry is None:
            key = random.PRNGKey(0) if init_key is None else init_key
            carry = self.cell.initialize_carry(key, xs.shape[1:])
        if self.is_initializing:
            # Create the params on one step outside the scan: made inside the body they
            # would be tracers of the body. In the scan they are then plain constants.
            self.cell(carry, xs[0])
        keep_carries = seq_lengths is not None and return_carry

        def step(carry, x_t):
            new, y = self.cell(carry, x_t)
            # The carry keeps its dtype (bfloat16 params and float32 inputs would promote
            # it, and scan needs one type per carry leaf).
            new = tree.map(lambda n, c: n.astype(c.dtype), new, carry)
            return new, ((new, y) if keep_carries else y)

        carry, ys = lax.scan(step, carry, xs, unroll=self.unroll)
        if keep_carries:
            carries, ys = ys
            last = fnp.asarray(seq_lengths) - 1

            def at_last(c):                                        # c: (time, *batch, ...)
                idx = last.reshape((1,) + last.shape + (1,) * (c.ndim - 1 - last.ndim))
                return fnp.take_along_axis(c, idx, axis=0)[0]
            carry = tree.map(at_last, carries)
        if reverse and keep_order:
            ys = tree.map(lambda y: _flip(y, seq_lengths), ys)
        ys = tree.map(lambda y: fnp.moveaxis(y, 0, time_axis), ys)
        return (carry, ys) if return_carry else ys

    def __repr__(self) -> str:
        return (f"RNN({self.cell!r}, reverse={self.reverse}, return_carry={self.return_carry}"
                f", time_major={self.time_major}, keep_order={self.keep_order})")


def _concatenate(a, b):
    return fnp.concatenate([a, b], axis=-1)


class Bidirectional(Module):
    """Run ``forward_rnn`` left to right and ``backward_rnn`` right to left (both ``RNN``)
    and merge their time-aligned outputs with ``merge_fn`` (concatenation of the feature
    axes by default), as ``flax.linen.Bidirectional``; params under ``forward_rnn`` and
    ``backward_rnn``. ``return_carry=True`` gives ``((carry_fwd, carry_bwd), outputs)``.

    >>> bi = Bidirectional(RNN(GRUCell(16)), RNN(GRUCell(16)))
    >>> params, _ = bi.init(key, fnp.ones((4, 7, 8)))         # outputs (4, 7, 32)
    """

    def __init__(self, forward_rnn: RNN, backward_rnn: RNN,
                 merge_fn: Callable = _concatenate, time_major: bool = False,
                 return_carry: bool = False):
        self.forward_rnn, self.backward_rnn = forward_rnn, backward_rnn
        self.merge_fn, self.time_major, self.return_carry = merge_fn, time_major, return_carry

    def __repr__(self) -> str:
        return f"Bidirectional({self.forward_rnn!r}, {self.backward_rnn!r})"

    def __call__(self, inputs, initial_carry=None, seq_lengths=None, *, init_key=None,
                 return_carry=None, time_major=None):
        return_carry = self.return_carry if return_carry is None else return_carry
        time_major = self.time_major if time_major is None else time_major
        keys = (None, None) if init_key is None else tuple(random.split(init_key))
        carries = (None, None) if initial_carry is None else initial_carry
        carry_f, out_f = self.forward_rnn(inputs, carries[0], seq_lengths, init_key=keys[0],
                                          return_carry=True, time_major=time_major,
                                          reverse=False)
        carry_b, out_b = self.backward_rnn(inputs, carries[1], seq_lengths, init_key=keys[1],
                                           return_carry=True, time_major=time_major,
                                           reverse=True, keep_order=True)
        outputs = tree.map(self.merge_fn, out_f, out_b)
        return ((carry_f, carry_b), outputs) if return_carry else outputs
