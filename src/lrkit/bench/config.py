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

from lrkit.bench.suite import SuiteEntry, entry_from_mapping, parse_schedule_arg

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


def _seeds(value: object) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(f"BenchConfig: seeds={value!r} must be >= 1 (a count) or a list")
        return tuple(range(value))
    if isinstance(value, list | tuple) and value:
        out = []
        for v in value:
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"BenchConfig: seeds must be ints >= 0, got {value!r}")
            out.append(v)
        if len(set(out)) != len(out):
            raise ValueError(f"BenchConfig: seeds must be distinct, got {value!r}")
        return tuple(out)
    raise ValueError(f"BenchConfig: seeds must be a count >= 1 or a list of ints, got {value!r}")


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
    from lrkit.bench.sequential import RaceRule

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
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"BenchConfig: tune_factors={value!r} must be a non-empty list of numbers")
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
        """Normalize seeds and tasks (at least one) and check the run name."""
        _auto_seeds(self)
        object.__setattr__(self, "seeds", _seeds(self.seeds))
        if isinstance(self.tasks, str):
            object.__setattr__(self, "tasks", (self.tasks,))
        object.__setattr__(self, "tasks", tuple(self.tasks))
        if not self.tasks:
            raise ValueError("BenchConfig: tasks must name at least one task")
        _check_name(self.name)

    def _check_sizes(self) -> None:
        """Check steps, eval_every, workers, batch_size, gpus_per_run, lr and lr_mode."""
        for param in ("steps", "eval_every", "workers", "batch_size"):
            v = getattr(self, param)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise ValueError(f"BenchConfig: {param}={v!r} must be None or an int >= 1")
        g = self.gpus_per_run
        if not isinstance(g, int) or isinstance(g, bool) or g < 0:
            raise ValueError(f"BenchConfig: gpus_per_run={g!r} must be an int >= 0")
        if self.lr is not None and not (
            isinstance(self.lr, int | float)
            and not isinstance(self.lr, bool)
            and 0 < self.lr < math.inf
        ):
            raise ValueError(f"BenchConfig: lr={self.lr!r} must be None or a finite number > 0")
        if self.lr_mode not in LR_MODES:
            raise ValueError(f"BenchConfig: lr_mode={self.lr_mode!r}; allowed: {LR_MODES}")

    def _check_tuning(self) -> None:
        """Normalize tune_factors and budgets; check the tuning counts, ratio and lr overflow."""
        factors = _tune_factors(self.tune_factors)
        object.__setattr__(self, "tune_factors", factors)
        for param in ("tune_seeds", "tune_extensions"):
            v = getattr(self, param)
            low = 1 if param == "tune_seeds" else 0
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise ValueError(f"BenchConfig: {param}={v!r} must be an int >= {low}")
        if not (isinstance(self.tune_ratio, int | float) and self.tune_ratio > 1):
            raise ValueError(f"BenchConfig: tune_ratio={self.tune_ratio!r} must be a number > 1")
        from lrkit.bench.budgets import parse_budgets

        object.__setattr__(self, "budgets", parse_budgets(self.budgets or None))
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
        """Check run_timeout, backend, rank_metric, bootstrap, stats_seed and the flags."""
        if self.run_timeout is not None and (
            not isinstance(self.run_timeout, int | float)
            or isinstance(self.run_timeout, bool)
            or not 0 < self.run_timeout < math.inf
        ):
            raise ValueError(
                f"BenchConfig: run_timeout={self.run_timeout!r} must be None or a finite "
                f"number of seconds > 0"
            )
        if self.backend not in _BACKENDS:
            raise ValueError(f"BenchConfig: backend={self.backend!r}; allowed: {_BACKENDS}")
        if self.rank_metric not in ("val_loss", "target"):
            raise ValueError(
                f"BenchConfig: rank_metric={self.rank_metric!r}; allowed: 'val_loss', 'target'"
            )
        if (
            not isinstance(self.bootstrap, int)
            or isinstance(self.bootstrap, bool)
            or self.bootstrap < 100
        ):
            raise ValueError(f"BenchConfig: bootstrap={self.bootstrap!r} must be an int >= 100")
        if (
            not isinstance(self.stats_seed, int)
            or isinstance(self.stats_seed, bool)
            or not 0 <= self.stats_seed < 2**63
        ):
            raise ValueError(
                f"BenchConfig: stats_seed={self.stats_seed!r} must be an int in [0, 2**63)"
            )
        for param in ("default_suite", "quiet", "plots"):
            if not isinstance(getattr(self, param), bool):
                raise ValueError(
                    f"BenchConfig: {param}={getattr(self, param)!r} must be true or false"
                )

    def _check_schedules(self) -> None:
        """Normalize ``only`` and the schedule entries; a bad plateau fails here, before any run."""
        object.__setattr__(self, "only", tuple(self.only))
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
        known = {f.name for f in fields(cls)}
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
    try:
        with p.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ValueError(f"bench --config: file {str(p)!r} does not exist") from None
    except IsADirectoryError:
        raise ValueError(f"bench --config: {str(p)!r} is a folder, not a TOML file") from None
    except OSError as exc:
        raise ValueError(f"bench --config: cannot read {str(p)!r}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"bench --config: {str(p)!r} is not valid TOML: {exc}") from exc
    data: dict[str, Any] = {}
    for k, v in raw.items():
        key = k.replace("-", "_")
        if key in ("schedule", "schedules"):
            tables = v if isinstance(v, list) else [v]
            entries = []
            for t in tables:
                if isinstance(t, str):
                    entries.append(parse_schedule_arg(t))
                elif isinstance(t, dict):
                    entries.append(entry_from_mapping(t))
                else:
                    raise ValueError(f"bench --config: bad [[schedule]] entry {t!r}")
            data["schedules"] = tuple(entries)
        elif key == "tune_lr":
            if v:
                data["lr_mode"] = "tune"
        elif key == "lr_from_finder":
            if v:
                data["lr_mode"] = "finder"
        elif key == "suite":
            if v not in ("default", "none"):
                raise ValueError(f"bench --config: suite must be 'default' or 'none', got {v!r}")
            data["default_suite"] = v == "default"
        elif isinstance(v, list):
            data[key] = tuple(v)
        else:
            data[key] = v
    return data


def _largest_tune_factor(config: BenchConfig) -> float:
    """The largest LR factor ``--tune-lr`` can try: the grid's top, extended upwards."""
    return max(config.tune_factors) * float(config.tune_ratio) ** config.tune_extensions
