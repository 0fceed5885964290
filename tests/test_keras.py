"""lrkit.keras: schedules in model.fit, saved in .keras files, and the plateau callback."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before the first import of keras

from pathlib import Path
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")

# Keras' torch backend converts tensors with np.array(x, copy=False): numpy 2 warns, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

import lrkit  # noqa: E402
from lrkit.keras import PlateauCallback, Schedule  # noqa: E402
from lrkit.plateau import Plateau  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 3)).astype("float32")
Y = (X @ np.array([1.0, -2.0, 0.5], dtype="float32") + 0.3)[:, None]


def tiny_model(learning_rate: Any) -> Any:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss="mse")
    return model


class RecordLR(keras.callbacks.Callback):  # type: ignore[misc]
    """The optimizer's learning rate at the start of every batch."""

    def __init__(self) -> None:
        super().__init__()
        self.rates: list[float] = []
        self.steps: list[int] = []

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        optimizer = self.model.optimizer
        self.steps.append(int(optimizer.iterations.numpy()))
        self.rates.append(float(optimizer.learning_rate))


def test_schedule_is_a_keras_learning_rate_schedule_with_text_config() -> None:
    s = lrkit.warmup(10) >> lrkit.cosine(start=0.1, end=0.001, steps=90)
    k = Schedule(s)
    assert isinstance(k, keras.optimizers.schedules.LearningRateSchedule)
    config = k.get_config()
    assert config["schedule"] == "warmup(10) >> cosine(start=0.1, end=0.001, steps=90)"
    again = Schedule.from_config(config)
    assert again.schedule == s
    serialized = keras.optimizers.schedules.serialize(k)
    assert serialized["registered_name"] == "lrkit>Schedule"
    restored = keras.optimizers.schedules.deserialize(serialized)
    assert isinstance(restored, Schedule) and restored.schedule == s
    assert float(k(55)) == pytest.approx(s(55), rel=1e-6)
    assert str(k) == "warmup(10) >> cosine(start=0.1, end=0.001, steps=90)"


def test_schedule_binds_shares_and_rejects_unbound_ones() -> None:
    k = Schedule("cosine(start=0.1, steps='50%')", total_steps=200)
    assert str(k) == "cosine(start=0.1, steps=100)"
    assert Schedule.from_config(k.get_config()).schedule == k.schedule
    with pytest.raises(ValueError, match="total_steps"):
        Schedule(lrkit.cosine(start=0.1, steps="50%"))
    with pytest.raises(TypeError, match="schedule"):
        Schedule(0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="plateau"):
        Schedule("constant(0.1)", plateau="yes")  # type: ignore[arg-type]


def test_fit_uses_the_schedule_value_at_every_step() -> None:
    s = lrkit.one_cycle(0.05, steps=24)
    record = RecordLR()
    model = tiny_model(Schedule(s))
    history = model.fit(X, Y, batch_size=8, epochs=3, verbose=0, callbacks=[record])
    assert record.steps == list(range(24))
    np.testing.assert_allclose(record.rates, s(np.arange(24)), rtol=1e-6)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_model_with_schedule_saves_and_loads_from_a_keras_file(tmp_path: Path) -> None:
    s = lrkit.warmup(4) >> lrkit.linear(start=0.05, end=0.0, steps=28)
    model = tiny_model(Schedule(s))
    model.fit(X, Y, batch_size=16, epochs=2, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    schedule = loaded.optimizer._learning_rate
    assert isinstance(schedule, Schedule) and schedule.schedule == s
    assert int(loaded.optimizer.iterations.numpy()) == 8
    assert float(loaded.optimizer.learning_rate) == pytest.approx(s(8), rel=1e-6)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    record = RecordLR()
    loaded.fit(X, Y, batch_size=16, epochs=1, verbose=0, callbacks=[record])
    np.testing.assert_allclose(record.rates, s(np.arange(8, 12)), rtol=1e-6)


def test_plateau_callback_reduces_the_schedule_and_state_survives_save(tmp_path: Path) -> None:
    # mode="max" on a falling loss: no evaluation after the first is better -> one halving per
    # epoch from epoch 2 on (patience 0).
    plateau = Plateau(mode="max", factor=0.5, patience=0)
    s = lrkit.cosine(start=0.1, end=0.01, steps=40)
    record = RecordLR()
    model = tiny_model(Schedule(s))
    model.fit(
        X,
        Y,
        batch_size=16,
        epochs=4,
        verbose=0,
        validation_data=(X, Y),
        callbacks=[record, PlateauCallback(plateau, monitor="val_loss")],
    )
    assert plateau.reductions == 3
    steps = np.arange(16)
    scale = 0.5 ** np.maximum(steps // 4 - 1, 0)  # reductions after epochs 2, 3, 4
    scale[4:8] = 1.0
    np.testing.assert_allclose(record.rates, s(steps) * scale, rtol=1e-6)

    path = tmp_path / "plateau.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    restored = loaded.optimizer._learning_rate.plateau
    assert restored is not None and restored.reductions == 3
    assert restored.state_dict() == plateau.state_dict()
    callback = PlateauCallback(monitor="val_loss")  # picks up the loaded schedule's plateau
    loaded.fit(
        X, Y, batch_size=16, epochs=1, verbose=0, validation_data=(X, Y), callbacks=[callback]
    )
    assert callback.plateau is restored and restored.reductions == 4


def test_plateau_callback_on_a_float_learning_rate_sets_it() -> None:
    plateau = Plateau(mode="max", factor=0.1, patience=0, min_lr=1e-3)
    model = tiny_model(0.1)
    model.fit(
        X, Y, batch_size=32, epochs=4, verbose=0, callbacks=[PlateauCallback(plateau, "loss")]
    )
    assert plateau.reductions == 3
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)  # min_lr floor


def test_plateau_callback_warns_on_a_missing_metric_and_checks_its_arguments() -> None:
    model = tiny_model(Schedule("constant(0.01)"))
    with pytest.warns(UserWarning, match="val_accuracy"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[PlateauCallback(monitor="val_accuracy")])
    with pytest.raises(TypeError, match="plateau"):
        PlateauCallback(plateau=0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="monitor"):
        PlateauCallback(monitor="")
    keras_own = tiny_model(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(TypeError, match="ExponentialDecay"):
        keras_own.fit(X, Y, epochs=1, verbose=0, callbacks=[PlateauCallback(Plateau(), "loss")])
    other = tiny_model(Schedule("constant(0.01)", plateau=Plateau()))
    with pytest.raises(ValueError, match="different plateau"):
        other.fit(X, Y, epochs=1, verbose=0, callbacks=[PlateauCallback(Plateau(), "loss")])


@pytest.mark.parametrize(
    ("call", "kind", "message"),
    [
        (lambda: Schedule("cosine(start=1.0, steps=10)", total_steps=0), ValueError, "total"),
        (lambda: Schedule("cosine(start=1.0, steps='50%')"), ValueError, "share"),
        (lambda: Schedule("constant(0.1)", plateau="p"), TypeError, "plateau"),
        (lambda: PlateauCallback(plateau="p"), TypeError, "plateau"),
        (lambda: PlateauCallback(monitor=""), ValueError, "monitor"),
    ],
)
def test_adapter_misuse_raises_the_schedule_error_family(
    call: Any, kind: type[Exception], message: str
) -> None:
    with pytest.raises(kind, match=message) as info:
        call()
    assert isinstance(info.value, lrkit.ScheduleError)
