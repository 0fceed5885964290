"""Bench configuration: one frozen dataclass, presets, and the TOML config file.

Precedence: preset < config file < command-line flags (a flag left at None does not override).

>>> cfg = BenchConfig.from_layers(preset="smoke")
>>> cfg.tasks, cfg.seeds
(('synthetic-linear',), (0, 1))
>>> BenchConfig.from_layers(preset="quick", overrides={"seeds": 3}).seeds
(0, 1, 2)
"""

from __future__ import annotations

import math
import os
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from lrkit._validate import did_you_mean
from lrkit.bench.planning.suite import SuiteEntry, entry_from_mapping, parse_schedule_arg

__all__ = ["LR_MODES", "PRESETS", "BenchConfig", "load_toml"]

LR_MODES = ("fixed", "tune", "finder")

#: Schedules the literature preset runs (the claims of docs/findings.md need these).
LITERATURE_SCHEDULES: tuple[str, ...] = (
    "constant",
    "cosine",
    "cosine-to-10pct",
    "linear-to-zero",
    "wsd",
    "one-cycle+momentum",
    "triangular",
    "schedule-free",
    "cosine-restarts",
)
_BACKENDS = ("local", "ray", "serial")

#: Named presets (fields of :class:`BenchConfig`).
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"name": "quick", "tasks": ("digits-mlp", "synthetic-linear"), "seeds": (0, 1)},
    # What `make demo` runs: a race that stops early where the data allow, in well under a minute.
    "demo": {
        "name": "demo",
        "tasks": ("synthetic-linear",),
        "seeds": "auto",
        "max_seeds": 8,
        "only": (
            "constant",
            "exponential",
            "polynomial",
            "cosine",
            "one-cycle",
            "one-cycle+momentum",
        ),
    },
    "smoke": {
        "name": "smoke",
        "tasks": ("synthetic-linear",),
        "seeds": (0, 1),
        "steps": 40,
        "eval_every": 10,
        "bootstrap": 500,
    },
    # The literature's claims (docs/findings.md): tuned LR, 8 seeds, budgets for the anytime view.
    "literature": {
        "name": "literature",
        "tasks": ("digits-mlp", "synthetic-linear", "charlm"),
        "seeds": 8,
        "eval_every": 25,
        "lr_mode": "tune",
        "tune_seeds": 2,
        "budgets": (0.1, 0.25, 0.5, 1.0),
        "only": LITERATURE_SCHEDULES,
        "schedules": (
            SuiteEntry(
                "cosine-to-10pct",
                'cosine(start=1.0, end=0.1, steps="100%")',
                note="cosine to 10 % of the peak (Bergsma et al. 2025's baseline)",
            ),
        ),
        "claims": True,
    },
}


#: Upper bounds of the config's counts: generous for a bench of small tasks, small enough that a
#: typo (``seeds = 10000000000``, ``bootstrap = 10**9``) fails at once instead of exhausting the
#: memory or hanging the report. Seeds are numpy/torch seeds: ints in [0, 2**32).
MAX_SEEDS = 10_000
MAX_SEED = 2**32 - 1
MAX_STEPS = 10_000_000
MAX_WORKERS = 1024
MAX_BOOTSTRAP = 100_000
MAX_TUNE_SEEDS = 100
MAX_TUNE_EXTENSIONS = 20
MAX_TUNE_RATIO = 100.0
#: The largest config file read (a TOML file of a few schedules is a few kB).
MAX_CONFIG_BYTES = 1 << 20

#: Integer fields: (lowest, highest, None allowed).
_INTS: dict[str, tuple[int, int, bool]] = {
    "steps": (1, MAX_STEPS, True),
    "eval_every": (1, MAX_STEPS, True),
    "workers": (1, MAX_WORKERS, True),
    "batch_size": (1, 2**31 - 1, True),
    "gpus_per_run": (0, MAX_WORKERS, False),
    "tune_seed": (0, MAX_SEED, False),
    "tune_seeds": (1, MAX_TUNE_SEEDS, False),
    "tune_extensions": (0, MAX_TUNE_EXTENSIONS, False),
    "bootstrap": (100, MAX_BOOTSTRAP, False),
    "stats_seed": (0, 2**63 - 1, False),
}
#: Text fields: the allowed values (None: any non-empty text) and whether None is allowed.
_TEXTS: dict[str, tuple[tuple[str, ...] | None, bool]] = {
    "lr_mode": (LR_MODES, False),
    "backend": (_BACKENDS, False),
    "rank_metric": (("val_loss", "target"), False),
    "baseline": (None, False),
    "out": (None, False),
    "optimizer": (None, True),
    "address": (None, True),
}
_BOOLS = ("claims", "default_suite", "quiet", "plots")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bound(high: int) -> str:
    return "2**63 - 1" if high == 2**63 - 1 else "2**32 - 1" if high == MAX_SEED else str(high)


def _check_int(param: str, value: object) -> None:
    low, high, optional = _INTS[param]
    if value is None and optional:
        return
    if not _is_int(value) or not low <= value <= high:  # type: ignore[operator]
        none = "None or " if optional else ""
        raise ValueError(
            f"BenchConfig: {param}={value!r:.80} must be {none}an int in [{low}, {_bound(high)}]"
        )


def _check_text(param: str, value: object) -> None:
    allowed, optional = _TEXTS[param]
    if value is None and optional:
        return
    if allowed is not None:
        if value not in allowed:
            hint = did_you_mean(value, allowed) if isinstance(value, str) else ""
            raise ValueError(f"BenchConfig: {param}={value!r:.80}; allowed: {allowed}{hint}")
    elif not isinstance(value, str) or not value:
        none = "None or " if optional else ""
        raise ValueError(f"BenchConfig: {param}={value!r:.80} must be {none}a non-empty str")


def _names(param: str, value: object, *, empty: bool) -> tuple[str, ...]:
    """A name or a list of names (non-empty strs) as a tuple."""
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(v, str) and v for v in items):
        raise ValueError(
            f"BenchConfig: {param}={value!r:.80} must be a name or a list of names (str)"
        )
    if not items and not empty:
        raise ValueError(f"BenchConfig: {param} must name at least one task")
    return tuple(items)


def _seeds(value: object) -> tuple[int, ...]:
    """A seed count (``0 .. N-1``) or a list of distinct seeds, as a tuple."""
    if _is_int(value):
        if not 1 <= value <= MAX_SEEDS:  # type: ignore[operator]
            raise ValueError(
                f"BenchConfig: seeds={value!r} must be a count in [1, {MAX_SEEDS}] or a list "
                f"of seeds"
            )
        return tuple(range(value))  # type: ignore[call-overload]
    if isinstance(value, list | tuple) and 0 < len(value) <= MAX_SEEDS:
        if not all(_is_int(v) and 0 <= v <= MAX_SEED for v in value):
            raise ValueError(
                f"BenchConfig: seeds must be ints in [0, 2**32 - 1], got {value!r:.80}"
            )
        if len(set(value)) != len(value):
            raise ValueError(f"BenchConfig: seeds must be distinct, got {value!r:.80}")
        return tuple(value)
    raise ValueError(
        f"BenchConfig: seeds={value!r:.80} must be a count in [1, {MAX_SEEDS}] or a list of "
        f"1 to {MAX_SEEDS} seeds"
    )


def _auto_seeds(cfg: BenchConfig) -> None:
    """``seeds="auto"`` (or ``auto_seeds=True``): race seeds 0..max_seeds-1 (``--seeds auto``)."""
    seeds: object = cfg.seeds
    if isinstance(seeds, str):
        if seeds.strip().lower() != "auto":
            raise ValueError(
                f"BenchConfig: seeds={seeds!r} must be 'auto', a count >= 1 or a list of ints"
            )
        object.__setattr__(cfg, "auto_seeds", True)
    if not isinstance(cfg.auto_seeds, bool):
        raise ValueError(f"BenchConfig: auto_seeds={cfg.auto_seeds!r} must be true or false")
    from lrkit.bench.planning.sequential import RaceRule

    try:
        RaceRule(min_seeds=cfg.min_seeds, max_seeds=cfg.max_seeds, margin=cfg.margin)
    except ValueError as exc:
        raise ValueError(f"BenchConfig: {str(exc).removeprefix('RaceRule: ')}") from None
    if cfg.auto_seeds:
        object.__setattr__(cfg, "seeds", tuple(range(cfg.max_seeds)))


def _check_name(name: object) -> None:
    """A run name is one plain path component: results go to ``<out>/<name>`` and nowhere else."""
    if (
        not isinstance(name, str)
        or not name
        or name in (".", "..")
        or name != name.strip()
        or any(c in name for c in "/\\\0")
        or Path(name).name != name
    ):
        raise ValueError(
            f"BenchConfig: name={name!r} must be a single folder name (no '/', '\\', '.' or "
            f"'..'), e.g. 'quick'"
        )


def _tune_factors(value: object) -> tuple[float, ...]:
    if not isinstance(value, list | tuple) or not 0 < len(value) <= 100:
        raise ValueError(
            f"BenchConfig: tune_factors={value!r:.80} must be a list of 1 to 100 numbers"
        )
    out = []
    for f in value:
        if not isinstance(f, int | float) or isinstance(f, bool) or not 0 < f < math.inf:
            raise ValueError(
                f"BenchConfig: tune_factors={value!r} must be finite numbers > 0, got {f!r}"
            )
        out.append(float(f))
    return tuple(out)


@dataclass(frozen=True)
class BenchConfig:
    """Everything one ``lrkit bench`` run needs. Field docs in docs/bench.md."""

    name: str = "bench"
    tasks: tuple[str, ...] = ("digits-mlp",)
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int | None = None
    eval_every: int | None = None
    lr: float | None = None
    lr_mode: str = "fixed"
    tune_factors: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)
    tune_seed: int = 10_000
    tune_seeds: int = 2
    tune_extensions: int = 4
    tune_ratio: float = 2.0
    budgets: tuple[float, ...] = ()
    claims: bool = False
    optimizer: str | None = None
    batch_size: int | None = None
    default_suite: bool = True
    only: tuple[str, ...] = ()
    schedules: tuple[SuiteEntry, ...] = ()
    baseline: str = "constant"
    rank_metric: str = "val_loss"
    workers: int | None = None
    backend: str = "local"
    address: str | None = None
    out: str = "runs"
    quiet: bool = False
    bootstrap: int = 2000
    stats_seed: int = 0
    plots: bool = True
    run_timeout: float | None = None
    gpus_per_run: int = 0
    auto_seeds: bool = False
    min_seeds: int = 3
    max_seeds: int = 16
    margin: float = 0.01
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        self._check_tasks()
        self._check_sizes()
        self._check_tuning()
        self._check_run()
        self._check_schedules()

    def _check_tasks(self) -> None:
        """Normalize seeds (``"auto"`` too), tasks (at least one) and ``only``; check the run name."""
        _auto_seeds(self)
        object.__setattr__(self, "seeds", _seeds(self.seeds))
        object.__setattr__(self, "tasks", _names("tasks", self.tasks, empty=False))
        object.__setattr__(self, "only", _names("only", self.only, empty=True))
        _check_name(self.name)

    def _check_sizes(self) -> None:
        """Check the integer fields (each within its range), the text fields and lr."""
        for param in _INTS:
            _check_int(param, getattr(self, param))
        for param in _TEXTS:
            _check_text(param, getattr(self, param))
        if self.lr is not None and not (
            isinstance(self.lr, int | float)
            and not isinstance(self.lr, bool)
            and 0 < self.lr < math.inf
        ):
            raise ValueError(f"BenchConfig: lr={self.lr!r} must be None or a finite number > 0")

    def _check_tuning(self) -> None:
        """Normalize tune_factors and budgets; check the tuning ratio, seeds and lr overflow."""
        factors = _tune_factors(self.tune_factors)
        object.__setattr__(self, "tune_factors", factors)
        r = self.tune_ratio
        if not (isinstance(r, int | float) and not isinstance(r, bool) and 1 < r <= MAX_TUNE_RATIO):
            raise ValueError(
                f"BenchConfig: tune_ratio={r!r:.80} must be a number in (1, {MAX_TUNE_RATIO:g}]"
            )
        if self.tune_seed + self.tune_seeds - 1 > MAX_SEED:
            raise ValueError(
                f"BenchConfig: tune_seed={self.tune_seed} with tune_seeds={self.tune_seeds} "
                f"uses seeds above 2**32 - 1; give a tune_seed <= {MAX_SEED - self.tune_seeds + 1}"
            )
        from lrkit.bench.planning.budgets import parse_budgets

        object.__setattr__(self, "budgets", parse_budgets(self.budgets or None))
        if self.lr is not None and self.lr_mode == "finder":
            raise ValueError(
                f"BenchConfig: lr={self.lr!r} and lr_mode='finder' (--lr and --lr-from-finder) "
                f"exclude each other: the range test sets every peak LR, so lr would be ignored"
            )
        if (
            self.lr is not None
            and self.lr_mode == "tune"
            and not math.isfinite(self.lr * _largest_tune_factor(self))
        ):
            top = _largest_tune_factor(self)
            raise ValueError(
                f"BenchConfig: lr={self.lr!r} with --tune-lr may try lr * {top:g} (the grid "
                f"extended {self.tune_extensions} times), which overflows to inf; give an lr "
                f"below {sys.float_info.max / top:.3g}"
            )

    def _check_run(self) -> None:
        """Check run_timeout and the flags."""
        if self.run_timeout is not None and (
            not isinstance(self.run_timeout, int | float)
            or isinstance(self.run_timeout, bool)
            or not 0 < self.run_timeout < math.inf
        ):
            raise ValueError(
                f"BenchConfig: run_timeout={self.run_timeout!r} must be None or a finite "
                f"number of seconds > 0"
            )
        for param in _BOOLS:
            if not isinstance(getattr(self, param), bool):
                raise ValueError(
                    f"BenchConfig: {param}={getattr(self, param)!r:.80} must be true or false"
                )

    def _check_schedules(self) -> None:
        """Normalize ``only`` and the schedule entries; a bad plateau fails here, before any run."""
        if not isinstance(self.schedules, list | tuple):
            raise ValueError(
                f"BenchConfig: schedules={self.schedules!r:.80} must be a list of schedule entries"
            )
        entries = tuple(
            e if isinstance(e, SuiteEntry) else entry_from_mapping(e) for e in self.schedules
        )
        object.__setattr__(self, "schedules", entries)
        for entry in entries:
            try:
                entry.make_plateau()  # a bad plateau fails here, before any run
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"BenchConfig: schedule {entry.name!r} has a bad plateau "
                    f"{dict(entry.plateau or {})!r}: {exc}"
                ) from None

    @property
    def run_dir(self) -> Path:
        """``<out>/<name>``: where runs.jsonl, results.json, report.md and PNGs go."""
        return Path(self.out) / self.name

    def n_workers(self) -> int:
        """Workers for the local pool (default: CPU count)."""
        return self.workers or os.cpu_count() or 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, stored in results.json and bench.json."""
        out = asdict(self)
        out["schedules"] = [e.to_dict() for e in self.schedules]
        out.pop("extra", None)
        return out

    @classmethod
    def from_layers(
        cls,
        *,
        preset: str | None = None,
        file: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> BenchConfig:
        """Merge preset, config-file values and flag overrides (None values are ignored)."""
        data: dict[str, Any] = {}
        if preset is not None:
            if preset not in PRESETS:
                raise ValueError(
                    f"bench: unknown preset {preset!r}; allowed: {', '.join(sorted(PRESETS))}"
                )
            data.update(PRESETS[preset])
        known = {f.name for f in fields(cls)} - {"extra"}
        for layer in (file or {}, overrides or {}):
            for k, v in layer.items():
                if v is None:
                    continue
                if k not in known:
                    raise ValueError(
                        f"bench config: unknown option {k!r}; allowed: {', '.join(sorted(known))}"
                    )
                if k == "schedules":
                    data[k] = tuple(data.get(k, ())) + tuple(v)
                else:
                    data[k] = v
        return cls(**data)

    @classmethod
    def from_stored(cls, stored: object, *, where: str = "bench.json") -> BenchConfig:
        """The config a run folder's bench.json holds, checked by the same rules as the
        command line and the TOML file (keys a newer or older lrkit wrote are ignored).

        ValueError naming ``where``, the key and the allowed range when a value is out of it.

        >>> BenchConfig.from_stored({"bootstrap": 500, "seeds": [0, 1]}).bootstrap
        500
        >>> BenchConfig.from_stored({"bootstrap": 0})
        Traceback (most recent call last):
        ...
        ValueError: bench.json: config: bootstrap=0 must be an int in [100, 100000]
        """
        if not isinstance(stored, Mapping):
            raise ValueError(f"{where}: config must be an object, got {type(stored).__name__}")
        known = {f.name for f in fields(cls)} - {"extra"}
        data = {k: v for k, v in stored.items() if k in known}
        if data.get("lr_mode") == "finder":  # older lrkit stored an lr it then ignored
            data.pop("lr", None)
        try:
            return cls(**data)
        except (TypeError, ValueError) as exc:
            msg = str(exc).removeprefix("BenchConfig: ")
            raise ValueError(f"{where}: config: {msg}") from None

    def with_(self, **changes: Any) -> BenchConfig:
        """A copy with some fields changed."""
        return replace(self, **changes)


def load_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a bench TOML file into :class:`BenchConfig` field values.

    Top-level keys are field names (``tasks``, ``seeds``, ``steps``, ``lr``, ``tune_lr``,
    ``lr_from_finder``, ``workers``, ...); ``[[schedule]]`` tables (name, lr, momentum, plateau,
    optimizer) add schedules; a ``preset`` key names a preset applied below the file.
    """
    p = Path(path)
    raw = _read_toml(p)
    data: dict[str, Any] = {}
    for k, v in raw.items():
        key = k.replace("-", "_")
        if key in ("schedule", "schedules"):
            data["schedules"] = _toml_entries(v)
        elif key in ("tune_lr", "lr_from_finder"):
            if not isinstance(v, bool):
                raise ValueError(f"bench --config: {key}={v!r:.80} must be true or false")
            if v:
                mode = "tune" if key == "tune_lr" else "finder"
                if data.get("lr_mode", mode) != mode:
                    raise ValueError(
                        "bench --config: tune_lr and lr_from_finder exclude each other"
                    )
                data["lr_mode"] = mode
        elif key == "suite":
            if v not in ("default", "none"):
                raise ValueError(
                    f"bench --config: suite must be 'default' or 'none', got {v!r:.80}"
                )
            data["default_suite"] = v == "default"
        elif key == "preset" and not isinstance(v, str):
            raise ValueError(f"bench --config: preset={v!r:.80} must be a preset name (str)")
        elif isinstance(v, list):
            data[key] = tuple(v)
        else:
            data[key] = v
    return data


def _read_toml(p: Path) -> dict[str, Any]:
    """The parsed TOML file; ValueError for a missing, unreadable, huge or invalid file."""
    try:
        with p.open("rb") as fh:
            blob = fh.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ValueError(f"bench --config: file {str(p)!r} does not exist") from None
    except IsADirectoryError:
        raise ValueError(f"bench --config: {str(p)!r} is a folder, not a TOML file") from None
    except OSError as exc:
        raise ValueError(f"bench --config: cannot read {str(p)!r}: {exc.strerror or exc}") from None
    if len(blob) > MAX_CONFIG_BYTES:
        raise ValueError(
            f"bench --config: {str(p)!r} is larger than {MAX_CONFIG_BYTES / 2**20:g} MiB; a "
            f"bench config is a short TOML file"
        )
    try:
        return tomllib.loads(blob.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"bench --config: {str(p)!r} is not UTF-8 text: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"bench --config: {str(p)!r} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ValueError(
            f"bench --config: {str(p)!r} nests arrays or tables too deeply to read"
        ) from None


def _toml_entries(value: object) -> tuple[SuiteEntry, ...]:
    """``[[schedule]]`` tables (or ``NAME=TEXT`` strings) as suite entries."""
    tables = value if isinstance(value, list) else [value]
    entries = []
    for t in tables:
        if isinstance(t, str):
            entries.append(parse_schedule_arg(t))
        elif isinstance(t, dict):
            entries.append(entry_from_mapping(t))
        else:
            raise ValueError(f"bench --config: bad [[schedule]] entry {t!r:.80}")
    return tuple(entries)


def _largest_tune_factor(config: BenchConfig) -> float:
    """The largest LR factor ``--tune-lr`` can try: the grid's top, extended upwards."""
    return max(config.tune_factors) * float(config.tune_ratio) ** config.tune_extensions
