"""JAX / optax adapter: lrkit schedules as optax schedules, hyper-parameter injection, plateau.

An lrkit schedule already *is* an optax schedule: ``optax.adamw(learning_rate=s)`` calls ``s``
with the optimizer's int32 step ``count`` and the value is computed with ``jax.numpy`` (no Python
branching on the step), so it traces under ``jax.jit``. This module adds what a training loop needs
around that:

- :func:`as_optax` binds shares of training (``"20%"``) and fixes the output dtype;
- :func:`inject_hyperparams` schedules any optimizer argument (``b1``, ``momentum``,
  ``weight_decay``) with lrkit schedules, via ``optax.inject_hyperparams``;
- :func:`current_hyperparams` reads the injected values back from an optimizer state;
- :func:`with_plateau` / :func:`apply_plateau` multiply the updates by an :class:`lrkit.Plateau`
  scale held in the optimizer state (so a jitted step keeps working after a reduction).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import optax

import lrkit
from lrkit._binding import bound_schedule
from lrkit.errors import ScheduleError, ScheduleTypeError
from lrkit.plateau import Plateau

__all__ = [
    "OptaxSchedule",
    "apply_plateau",
    "as_optax",
    "current_hyperparams",
    "inject_hyperparams",
    "with_plateau",
]


@dataclass(frozen=True)
class OptaxSchedule:
    """An lrkit schedule as an optax schedule: ``count -> jax.Array`` of a fixed dtype.

    ``OptaxSchedule(s, dtype)(count) = jnp.asarray(s(count), dtype)``. Build it with
    :func:`as_optax`, which also resolves shares of training. ``str()`` gives the lrkit text form.

    Args:
        schedule: the lrkit schedule, with every duration in steps (``schedule.is_bound``).
        dtype: the dtype of the values (default ``None``: JAX's default float).

    >>> import jax.numpy as jnp, lrkit
    >>> lr = OptaxSchedule(lrkit.linear(0.1, 0.0, steps=10), dtype=jnp.float16)
    >>> str(lr), lr(5).dtype, [float(v) for v in lr(jnp.array([0, 5, 10]))]
    ('linear(start=0.1, steps=10)', dtype('float16'), [0.0999755859375, 0.04998779296875, 0.0])
    """

    schedule: lrkit.Schedule
    dtype: Any = None

    def __call__(self, count: Any) -> jax.Array:
        value = self.schedule(jnp.asarray(count))
        dtype = self.dtype if self.dtype is not None else jnp.result_type(float)
        return jnp.asarray(value, dtype=dtype)

    def __str__(self) -> str:
        return str(self.schedule)


def as_optax(
    schedule: lrkit.Schedule | str, total_steps: int | None = None, *, dtype: Any = None
) -> OptaxSchedule:
    """An lrkit schedule (or its text) as an optax schedule, shares bound to ``total_steps``.

    The result maps optax's step ``count`` (an int32 scalar, or any array of steps) to a
    ``jax.Array`` of ``dtype`` (default: JAX's default float, float32 unless x64 is enabled)
    and traces under ``jax.jit``.

    Args:
        schedule: an ``lrkit.Schedule`` or its text form.
        total_steps: optimizer steps of the whole run (an int > 0), to resolve durations given
            as shares (``"20%"``); required when ``schedule`` has any.
        dtype: the dtype of the values (keyword-only; default ``None``: JAX's default float).

    >>> import lrkit, lrkit.optax
    >>> lr = lrkit.optax.as_optax("warmup(10) >> cosine(start=0.1, steps='90%')", total_steps=100)
    >>> [round(float(lr(t)), 4) for t in (0, 5, 10, 100)]
    [0.0, 0.05, 0.1, 0.0]
    """
    return OptaxSchedule(bound_schedule(schedule, total_steps, "lrkit.optax.as_optax"), dtype)


def inject_hyperparams(
    optimizer: Callable[..., optax.GradientTransformation],
    /,
    *,
    total_steps: int | None = None,
    static_args: str | Iterable[str] = (),
    **hyperparams: Any,
) -> optax.GradientTransformation:
    """Build ``optimizer(**hyperparams)`` with lrkit schedules driving any of its arguments.

    Every lrkit schedule among ``hyperparams`` becomes an :func:`as_optax`
    schedule evaluated at the optimizer's step; numbers stay numbers. The values live in the
    optimizer state (``optax.inject_hyperparams``), where :func:`current_hyperparams` reads
    them. Typical use: a one-cycle learning rate with the inverse momentum curve::

        tx = lrkit.optax.inject_hyperparams(
            optax.sgd, learning_rate=lrkit.one_cycle(0.1, steps=1000),
            momentum=lrkit.one_cycle_momentum(steps=1000), nesterov=True)

    Args:
        optimizer: an optax optimizer factory (positional-only), e.g. ``optax.adamw``.
        total_steps: optimizer steps of the whole run (keyword-only, an int > 0), to resolve
            durations given as shares of training in the schedules.
        static_args: names of ``hyperparams`` passed through unchanged, not injected (for
            arguments that must be Python values, such as ``nesterov``).
        **hyperparams: the optimizer's arguments: lrkit schedules (evaluated at each step),
            numbers or anything ``optimizer`` accepts.

    >>> import jax.numpy as jnp, optax, lrkit, lrkit.optax
    >>> tx = lrkit.optax.inject_hyperparams(
    ...     optax.sgd, learning_rate=lrkit.linear(0.1, 0.0, steps=10), momentum=0.9)
    >>> params = {"w": jnp.zeros(2)}
    >>> state = tx.init(params)
    >>> for _ in range(5):
    ...     updates, state = tx.update({"w": jnp.ones(2)}, state, params)
    >>> round(lrkit.optax.current_hyperparams(state)["learning_rate"], 6)  # step 4: 0.1·(1 − 4/10)
    0.06
    """
    static = {static_args} if isinstance(static_args, str) else set(static_args)
    converted = {
        name: as_optax(value, total_steps)
        if isinstance(value, lrkit.Schedule) and name not in static
        else value
        for name, value in hyperparams.items()
    }
    return optax.inject_hyperparams(optimizer, static_args=static)(**converted)


def current_hyperparams(opt_state: Any) -> dict[str, float]:
    """The injected hyper-parameters of the first ``inject_hyperparams`` state in ``opt_state``.

    The values are those used by the last update (``init`` values before any update).

    Args:
        opt_state: an optimizer state (any pytree) holding the state of an optimizer built with
            :func:`inject_hyperparams` (or ``optax.inject_hyperparams``).

    >>> import jax.numpy as jnp, optax, lrkit, lrkit.optax
    >>> tx = lrkit.optax.inject_hyperparams(optax.adam, learning_rate=lrkit.constant(1e-3))
    >>> hyper = lrkit.optax.current_hyperparams(tx.init(jnp.zeros(3)))
    >>> sorted(hyper), round(hyper["learning_rate"], 6)
    (['b1', 'b2', 'eps', 'eps_root', 'learning_rate'], 0.001)
    """
    for node in jax.tree_util.tree_leaves(
        opt_state, is_leaf=lambda x: hasattr(x, "hyperparams") and hasattr(x, "inner_state")
    ):
        if hasattr(node, "hyperparams") and hasattr(node, "inner_state"):
            return {k: float(v) for k, v in node.hyperparams.items()}
    raise ScheduleError(
        "lrkit.optax.current_hyperparams: opt_state holds no optax.inject_hyperparams state; "
        "build the optimizer with lrkit.optax.inject_hyperparams"
    )


def with_plateau(optimizer: optax.GradientTransformation) -> optax.GradientTransformation:
    """``optimizer`` followed by a scale factor kept in its state, for :func:`apply_plateau`.

    ``updates <- scale * optimizer(updates)`` with ``scale = 1`` until :func:`apply_plateau`
    sets it; the scale is state (not a constant), so a jitted step needs no recompilation.

    Args:
        optimizer: the optax ``GradientTransformation`` whose updates are scaled.

    >>> import jax.numpy as jnp, optax, lrkit.optax
    >>> tx = lrkit.optax.with_plateau(optax.sgd(0.1))
    >>> updates, state = tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))
    >>> updates.tolist(), lrkit.optax.current_hyperparams(state)  # scale 1 until a reduction
    ([-0.10000000149011612, -0.10000000149011612], {'step_size': 1.0})
    """
    return optax.chain(optimizer, optax.inject_hyperparams(optax.scale)(step_size=1.0))


def apply_plateau(opt_state: Any, plateau: Plateau) -> Any:
    """Return ``opt_state`` (from :func:`with_plateau`) with its scale set to ``plateau.scale``.

    Call it on the host after ``plateau.report(metric)``; ``plateau.scale`` is
    ``factor ** reductions`` (its ``min_lr`` floor does not apply to a multiplier).

    Args:
        opt_state: the state of ``lrkit.optax.with_plateau(optimizer)`` (it is not modified).
        plateau: the :class:`lrkit.Plateau` whose ``scale`` multiplies the updates.

    >>> import jax.numpy as jnp, optax, lrkit, lrkit.optax
    >>> tx = lrkit.optax.with_plateau(optax.sgd(0.1))
    >>> state = tx.init(jnp.zeros(2))
    >>> plateau = lrkit.Plateau(factor=0.5, patience=0)
    >>> plateau.report(1.0), plateau.report(1.0)  # no improvement: one reduction
    (False, True)
    >>> state = lrkit.optax.apply_plateau(state, plateau)
    >>> updates, state = tx.update(jnp.ones(2), state)
    >>> [round(u, 6) for u in updates.tolist()]  # 0.1 · 0.5
    [-0.05, -0.05]
    """
    if not isinstance(plateau, Plateau):
        raise ScheduleTypeError(
            f"lrkit.optax.apply_plateau: plateau={plateau!r} is invalid; "
            "plateau must be an lrkit.Plateau"
        )
    if not (isinstance(opt_state, tuple) and len(opt_state) == 2):
        raise ScheduleError(
            "lrkit.optax.apply_plateau: opt_state is not the state of "
            "lrkit.optax.with_plateau(optimizer)"
        )
    inner, scale_state = opt_state
    hyper = getattr(scale_state, "hyperparams", None)
    if not isinstance(hyper, Mapping) or "step_size" not in hyper:
        raise ScheduleError(
            "lrkit.optax.apply_plateau: opt_state is not the state of "
            "lrkit.optax.with_plateau(optimizer)"
        )
    old = hyper["step_size"]
    new_hyper = dict(hyper)
    new_hyper["step_size"] = jnp.asarray(plateau.scale, dtype=jnp.asarray(old).dtype)
    return (inner, scale_state._replace(hyperparams=new_hyper))
