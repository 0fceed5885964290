"""Other libraries' schedulers, by their own names and arguments, built from lrkit schedules.

* :mod:`lrkit.compat.torch` — drop-ins for every ``torch.optim.lr_scheduler`` class
  (``StepLR(optimizer, step_size=30)`` ...), returning :class:`lrkit.torch.Scheduler` objects whose
  ``.schedule`` prints as lrkit text (imports torch).
* :mod:`lrkit.compat.transformers` — Hugging Face's ``get_scheduler(name, optimizer, ...)`` and
  ``get_*_schedule_with_warmup`` functions, plus :func:`lrkit.compat.transformers.schedule`, the
  pure mapping from a scheduler name to an lrkit schedule (imports neither torch nor transformers
  until an optimizer is involved).
* :mod:`lrkit.compat.optax` — optax's schedule functions (``warmup_cosine_decay_schedule``,
  ``join_schedules``, ``sgdr_schedule`` ...) with optax's names and arguments, returning lrkit
  schedules (imports neither JAX nor optax).
* :mod:`lrkit.compat.keras` — Keras 3's ``keras.optimizers.schedules`` classes
  (``CosineDecay``, ``CosineDecayRestarts`` ...), returning :class:`lrkit.keras.Schedule` objects
  whose ``.schedule`` is the lrkit value (imports keras).

Drop-ins equal the original for the steps it defines; lrkit's own schedules hold their last value.
This package itself imports nothing heavy.
"""

__all__: list[str] = []
