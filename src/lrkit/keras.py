"""Keras 3 adapter: an lrkit schedule as a serializable ``LearningRateSchedule``, plus plateau.

``lrkit.keras.Schedule(s)`` is a ``keras.optimizers.schedules.LearningRateSchedule`` whose config
holds the schedule's text form, so a model compiled with it saves to and loads from a ``.keras``
file (import ``lrkit.keras`` before ``keras.models.load_model``). ``PlateauCallback`` reports a
metric to an :class:`lrkit.Plateau` at each epoch end; the schedule then returns
``plateau.apply(s(step))``, so the closed-form schedule and the metric-driven reductions compose.

Keras picks its backend at first import, from ``KERAS_BACKEND`` or ``keras.json``. A library does
not choose it for the application: when none is configured (TensorFlow, Keras' default) and
TensorFlow is not installed, importing this module raises :class:`BackendNotConfiguredError`
naming the variable to set (``KERAS_BACKEND=torch`` or ``jax``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Mapping
from typing import Any

from lrkit.errors import ScheduleError, ScheduleTypeError
from lrkit.plateau import Plateau

__all__ = ["BackendNotConfiguredError", "PlateauCallback", "Schedule"]


def _keras_would_fail_to_pick_backend() -> bool:
    """True when Keras would default to TensorFlow and TensorFlow is not installed."""
    if "keras" in sys.modules or os.environ.get("KERAS_BACKEND"):
        return False
    home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    try:
        with open(os.path.join(home, "keras.json")) as f:
            backend = json.load(f).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        backend = "tensorflow"
    return backend == "tensorflow" and importlib.util.find_spec("tensorflow") is None


class BackendNotConfiguredError(ImportError):
    """Keras would load TensorFlow, its default backend, which is not installed.

    lrkit never sets ``KERAS_BACKEND`` itself (a library must not choose for the application).

    It is raised by ``import lrkit.keras`` itself, before Keras is imported; it subclasses
    ``ImportError``, so code that treats the Keras adapter as optional catches it as it catches a
    missing package::

        try:
            import lrkit.keras
        except ImportError as err:  # BackendNotConfiguredError: set KERAS_BACKEND
            print(err)

    Args:
        message: names the variable and the backends that are installed.

    >>> err = BackendNotConfiguredError("set KERAS_BACKEND=torch in the environment")
    >>> isinstance(err, ImportError), str(err)
    (True, 'set KERAS_BACKEND=torch in the environment')
    """


def _backend_hint() -> str:
    found = [name for name in ("torch", "jax") if importlib.util.find_spec(name) is not None]
    choice = " or ".join(f"KERAS_BACKEND={name}" for name in found) or "KERAS_BACKEND=torch"
    return (
        "lrkit.keras: Keras would load its default backend, TensorFlow, which is not installed; "
        f"set {choice} in the environment (or 'backend' in keras.json) before importing keras"
    )


if _keras_would_fail_to_pick_backend():
    raise BackendNotConfiguredError(_backend_hint())

import keras  # noqa: E402

import lrkit  # noqa: E402
from lrkit._binding import bound_schedule  # noqa: E402
from lrkit.text import as_schedule  # noqa: E402


def _eager_step(step: Any) -> int | float | None:
    """The step as a Python number, or None when it is a traced (symbolic) tensor."""
    if isinstance(step, keras.Variable):
        step = step.value
    if isinstance(step, (int, float)) and not isinstance(step, bool):
        return step
    item = getattr(step, "item", None)
    if item is None:  # a symbolic tensor without a value
        return None
    try:
        out = item()
    except (TypeError, ValueError, RuntimeError):  # e.g. a jax tracer under jit
        return None
    return out if isinstance(out, (int, float)) else None


@keras.saving.register_keras_serializable(package="lrkit", name="Schedule")
class Schedule(keras.optimizers.schedules.LearningRateSchedule):  # type: ignore[misc]
    """An lrkit schedule as a Keras ``LearningRateSchedule`` (serializable, plateau-aware).

    ``Schedule(s)(step) = plateau.apply(s(step))`` (``s(step)`` without a plateau). The Keras
    config holds the text form of ``s`` (and the plateau's state), so models saved with
    ``model.save("m.keras")`` load back with the same schedule.

    Args:
        schedule: an ``lrkit.Schedule`` or its text form.
        total_steps: optimizer steps of the whole run, to resolve durations given as shares
            (``"20%"``); required when ``schedule`` has any.
        plateau: an optional :class:`lrkit.Plateau` whose reductions multiply the schedule;
            drive it with :class:`PlateauCallback`.
        name: a name for the Keras config.

    The step is evaluated eagerly as a Python number when Keras runs eagerly (the torch
    backend); under a traced backend (``jax`` with ``jit_compile``) the schedule is evaluated on
    the traced array and the plateau's ``scale`` is compiled in (``PlateauCallback`` rebuilds
    the train function after each reduction).

    >>> import lrkit, lrkit.keras
    >>> lr = lrkit.keras.Schedule("warmup(10) >> cosine(start=0.1, steps='90%')", total_steps=100)
    >>> str(lr), [round(lr.value(t), 4) for t in (0, 5, 10, 55, 100)]
    ('warmup(10) >> cosine(start=0.1, steps=90)', [0.0, 0.05, 0.1, 0.05, 0.0])
    >>> lr.get_config()["schedule"]  # what model.save() writes
    'warmup(10) >> cosine(start=0.1, steps="90%")'
    """

    def __init__(
        self,
        schedule: lrkit.Schedule | str,
        total_steps: int | None = None,
        plateau: Plateau | None = None,
        name: str = "lrkit",
    ) -> None:
        super().__init__()
        where = "lrkit.keras.Schedule"
        self.spec = as_schedule(schedule, f"{where}: schedule")
        self.total_steps = total_steps
        self.schedule = bound_schedule(self.spec, total_steps, where)
        if plateau is not None and not isinstance(plateau, Plateau):
            raise ScheduleTypeError(
                f"{where}: plateau={plateau!r} is invalid; plateau must be an lrkit.Plateau or None"
            )
        self.plateau = plateau
        self.name = name

    def value(self, step: int | float) -> float:
        """The learning rate at ``step`` as a Python float (plateau applied)."""
        v = float(self.schedule(step))
        return self.plateau.apply(v) if self.plateau is not None else v

    def __call__(self, step: Any) -> Any:
        dtype = keras.config.floatx()
        t = _eager_step(step)
        if t is not None:
            return keras.ops.convert_to_tensor(self.value(t), dtype=dtype)
        out = keras.ops.cast(self.schedule(keras.ops.convert_to_tensor(step)), dtype)
        if self.plateau is not None:
            out = out * self.plateau.scale
        return out

    def get_config(self) -> dict[str, Any]:
        return {
            "schedule": str(self.spec),
            "total_steps": self.total_steps,
            "plateau": None if self.plateau is None else self.plateau.state_dict(),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Schedule:
        config = dict(config)
        state = config.pop("plateau", None)
        plateau = None
        if state is not None:
            plateau = Plateau()
            plateau.load_state_dict(state, strict=False)
        return cls(plateau=plateau, **config)

    def __str__(self) -> str:
        return str(self.schedule)

    def __repr__(self) -> str:
        extra = "" if self.plateau is None else f", plateau={self.plateau!r}"
        return f"lrkit.keras.Schedule({str(self.schedule)!r}{extra})"


class PlateauCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Report a metric to an :class:`lrkit.Plateau` at each epoch end (``ReduceLROnPlateau``).

    With an :class:`lrkit.keras.Schedule` as the optimizer's learning rate, the callback links
    the plateau to it (``Schedule.plateau``), so the rate becomes ``plateau.apply(s(step))``.
    ``plateau=None`` reuses the schedule's own plateau (e.g. after ``load_model``). With a plain
    float learning rate, the callback sets ``optimizer.learning_rate = plateau.apply(lr0)``.

    Args:
        plateau: the controller; ``None`` takes the schedule's (a new ``Plateau()`` if neither).
        monitor: the ``logs`` key reported at each epoch end (``"val_loss"`` by default).
        verbose: print a line at each reduction when > 0.

    A model that cannot improve (no bias, zero inputs: the loss stays 1.0) gets a reduction
    after each epoch that does not beat the best (``patience=0``):

    >>> import keras, numpy as np
    >>> import lrkit, lrkit.keras
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    >>> lr = lrkit.keras.Schedule(lrkit.constant(0.1))
    >>> model.compile(keras.optimizers.SGD(lr), loss="mse")
    >>> cb = lrkit.keras.PlateauCallback(lrkit.Plateau(factor=0.5, patience=0), monitor="loss")
    >>> _ = model.fit(np.zeros((4, 1)), np.ones((4, 1)), epochs=3, verbose=0, callbacks=[cb])
    >>> cb.plateau.reductions, lr.plateau is cb.plateau, lr.value(0)  # 0.1 · 0.5²
    (2, True, 0.025)
    """

    def __init__(
        self, plateau: Plateau | None = None, monitor: str = "val_loss", verbose: int = 0
    ) -> None:
        super().__init__()
        if plateau is not None and not isinstance(plateau, Plateau):
            raise ScheduleTypeError(
                f"lrkit.keras.PlateauCallback: plateau={plateau!r} is invalid; "
                "plateau must be an lrkit.Plateau or None"
            )
        if not isinstance(monitor, str) or not monitor:
            raise ScheduleError(
                f"lrkit.keras.PlateauCallback: monitor={monitor!r} is invalid; "
                "monitor must be the name of a logged metric, e.g. 'val_loss'"
            )
        self.plateau = plateau
        self.monitor = monitor
        self.verbose = verbose
        self._base_lr: float | None = None

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        schedule = getattr(self.model.optimizer, "_learning_rate", None)
        if isinstance(schedule, Schedule):
            if schedule.plateau is None:
                schedule.plateau = self.plateau if self.plateau is not None else Plateau()
            elif self.plateau is not None and schedule.plateau is not self.plateau:
                raise ScheduleError(
                    "lrkit.keras.PlateauCallback: the optimizer's lrkit.keras.Schedule already "
                    "has a different plateau; pass plateau=None to use it, or build the "
                    "Schedule without one"
                )
            self.plateau = schedule.plateau
            self._base_lr = None
        elif isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            raise ScheduleTypeError(
                "lrkit.keras.PlateauCallback: the optimizer's learning rate is a "
                f"{type(schedule).__name__}, which cannot be scaled; use an lrkit.keras.Schedule "
                "(lrkit.compat.keras has Keras' schedules under their own names) or a float"
            )
        else:
            if self.plateau is None:
                self.plateau = Plateau()
            if self._base_lr is None:
                self._base_lr = float(
                    keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
                )

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        logs = logs or {}
        if self.monitor not in logs:
            warnings.warn(
                f"lrkit.keras.PlateauCallback: metric {self.monitor!r} is not in the logs "
                f"(available: {sorted(logs)}); the plateau was not updated",
                stacklevel=2,
            )
            return
        assert self.plateau is not None  # set in on_train_begin
        if not self.plateau.report(float(logs[self.monitor])):
            return
        if self._base_lr is not None:
            self.model.optimizer.learning_rate = self.plateau.apply(self._base_lr)
        elif not getattr(self.model, "run_eagerly", False):
            # Traced train functions compiled the old scale in: rebuild them.
            self.model.make_train_function(force=True)
        if self.verbose > 0:
            print(
                f"Epoch {epoch + 1}: lrkit.keras.PlateauCallback reduction "
                f"{self.plateau.reductions} (scale {self.plateau.scale:g})"
            )
