"""Design rules of the core: warm-up is a prefix, imports point one way, shares bind exactly."""

from __future__ import annotations

import ast
import json
import pathlib
import sys
import types
from collections.abc import Callable

import numpy as np
import pytest

import lrkit
from lrkit.compose import Warmup, WarmupPrefix
from lrkit.core import COMBINATORS, METHODS, Schedule

SRC = pathlib.Path(lrkit.__file__).parent
COS = lrkit.cosine(start=0.1, steps=90)


# -- 1. a warm-up is a prefix, and misuse fails at construction ---------------------------------
@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: (lrkit.warmup(10) * 2) >> COS, r"it cannot be scaled.*\(warmup\(10\) >> cosine"),
        (lambda: 2 * lrkit.warmup(10), r"it cannot be scaled"),
        (lambda: lrkit.warmup(10) + lrkit.constant(1.0), r"it cannot be added"),
        (lambda: lrkit.constant(1.0) + lrkit.warmup(10), r"it cannot be added"),
        (lambda: lrkit.warmup(10).repeat(), r"\.repeat needs a schedule"),
        (lambda: lrkit.warmup(10).clip(low=0.1), r"\.clip needs a schedule"),
        (lambda: lrkit.warmup(10).bind(100), r"\.bind needs a schedule"),
        (
            lambda: lrkit.constant(1.0, steps=5) >> lrkit.warmup(10),
            r"it cannot end a sequence; put it in front of the schedule it leads into: "
            r"constant\(1.0, steps=5\) >> \(warmup\(10\) >> cosine",
        ),
        (lambda: lrkit.warmup(10)(3), r"it cannot be evaluated"),
        (lambda: lrkit.warmup(5) >> lrkit.warmup(10), r"two warm-ups in a row"),
        (lambda: lrkit.sequence(COS, lrkit.warmup(10)), r"must be followed by the schedule"),
    ],
)
def test_every_misuse_of_a_bare_warmup_is_a_type_error_at_construction(
    build: Callable[[], object], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        build()


def test_a_bare_warmup_is_not_a_schedule_but_warmup_then_schedule_is() -> None:
    prefix = lrkit.warmup(10)
    assert isinstance(prefix, WarmupPrefix) and not isinstance(prefix, Schedule)
    assert str(prefix) == "warmup(10)"
    s = prefix >> COS
    assert isinstance(s, Warmup) and s.then == COS
    assert s.duration == 100


@pytest.mark.parametrize(
    "text",
    [
        "warmup(10) >> cosine(start=0.1, steps=90)",
        'warmup("5%", start=0.01, shape="exp") >> cosine(start=0.1, steps="95%")',
        "constant(0.1, steps=5) >> warmup(10) >> cosine(start=0.1, steps=90) >> constant(0.01)",
        "warmup(5) >> warmup(10, start=0.5) >> constant(1.0)",
        "(warmup(10) >> cosine(start=0.1, steps=90)) * 0.5",
        "(warmup(10) >> cosine(start=0.1, steps=90)).repeat(cycles=2)",
    ],
)
def test_warmup_text_and_dict_round_trips_are_unchanged(text: str) -> None:
    s = lrkit.parse(text)
    assert str(s) == text
    assert lrkit.parse(str(s)) == s
    assert lrkit.from_dict(json.loads(json.dumps(s.to_dict()))) == s


def test_python_operators_build_what_the_text_form_reads() -> None:
    a, b = lrkit.constant(0.1, steps=5), lrkit.constant(0.01)
    built = a >> (lrkit.warmup(10) >> COS >> b)
    assert built == lrkit.parse(str(built))
    assert built == lrkit.sequence(a, lrkit.warmup(10), COS, b)
    assert (lrkit.warmup(10) >> COS) >> b == lrkit.warmup(10) >> (COS >> b)


def test_warmup_class_without_then_is_an_error_naming_warmup_then_schedule() -> None:
    with pytest.raises(lrkit.ScheduleTypeError, match=r"write lrkit\.warmup\(n\) >> schedule"):
        Warmup(10)  # type: ignore[call-arg]
    assert Warmup(10, then=COS) == lrkit.warmup(10) >> COS


def test_sequence_dicts_saved_with_a_bare_warmup_part_still_load() -> None:
    old = {
        "type": "sequence",
        "parts": [
            {"type": "warmup", "steps": 10, "start": 0.0, "shape": "linear"},
            {"type": "cosine", "start": 0.1, "end": 0.0, "steps": 90, "power": 1.0},
        ],
    }
    assert lrkit.from_dict(old) == lrkit.warmup(10) >> COS


def test_warmup_values_ramp_to_the_next_phase_and_array_equals_scalar() -> None:
    s = lrkit.constant(0.2, steps=2) >> (lrkit.warmup(4, start=0.1) >> lrkit.constant(0.5))
    assert [round(s(t), 3) for t in range(8)] == [0.2, 0.2, 0.1, 0.2, 0.3, 0.4, 0.5, 0.5]
    steps = np.arange(0.0, 10.0, 0.25)
    np.testing.assert_array_equal(s(steps), [s(float(t)) for t in steps])
    assert s.bounds() == (0.1, 0.5)


# -- shares of training bind with cumulative rounding -------------------------------------------
def test_shares_bind_to_exactly_the_total_for_every_total() -> None:
    s = lrkit.warmup("5%") >> lrkit.cosine(start=1.0, steps="95%")
    assert s.bind(110).duration == 110
    for total in range(100, 5000):
        bound = s.bind(total)
        assert bound.duration == total, total
        assert bound(total) == 0.0 and bound(total - 1) > 0.0, total


def test_shares_round_at_phase_boundaries_in_longer_chains() -> None:
    s = lrkit.sequence(
        lrkit.warmup("3%"),
        lrkit.constant(1.0, steps="33.3%"),
        lrkit.linear(1.0, 0.5, steps=7),
        lrkit.cosine(start=0.5, steps="63.7%"),
    )
    for total in (97, 100, 101, 333, 1234):
        assert s.bind(total).duration == total + 7


def test_shares_bind_exactly_through_scaling_clipping_and_mirroring() -> None:
    s = (lrkit.warmup("5%") >> lrkit.cosine(start=1.0, steps="95%") * 0.5).clip(low=0.01)
    momentum = (lrkit.warmup("5%") >> lrkit.cosine(start=1.0, steps="95%")).mirror(0.85, 0.95)
    for total in (110, 333, 4999):
        assert s.bind(total).duration == total
        assert momentum.bind(total).duration == total


def test_shares_adding_up_to_more_than_100_percent_fail_at_bind() -> None:
    s = lrkit.warmup("50%") >> lrkit.cosine(start=1.0, steps="80%")
    with pytest.raises(lrkit.ScheduleError, match=r"add up to more than 100% \(50% \+ 80%\)"):
        s.bind(1000)


# -- text form guard rails ----------------------------------------------------------------------
def test_greater_than_in_the_text_form_hints_at_the_sequence_operator() -> None:
    with pytest.raises(lrkit.TextFormError) as info:
        lrkit.parse("warmup(10) > cosine(start=0.1, steps=90)")
    assert str(info.value) == (
        "'>' is not an operator of the text form in "
        "'warmup(10) > cosine(start=0.1, steps=90)'; did you mean '>>' (sequence: a >> b)?\n"
        "  warmup(10) > cosine(start=0.1, steps=90)\n"
        "  ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^"
    )


def test_a_bare_warmup_in_the_text_form_shows_the_right_form() -> None:
    with pytest.raises(lrkit.TextFormError, match=r"warmup\(10\) must be followed by the schedule"):
        lrkit.parse("warmup(10)")
    with pytest.raises(lrkit.TextFormError, match=r"it cannot be scaled"):
        lrkit.parse("warmup(10) * 2")


def test_old_shape_spelling_cos_reads_as_cosine_with_a_deprecation_warning() -> None:
    deprecated = r"shape='cos' is deprecated, write shape='cosine'"
    with pytest.warns(DeprecationWarning, match=rf"piecewise\(\): {deprecated}"):
        old = lrkit.parse('piecewise(points=[[0, 1.0], [10, 0.0]], shape="cos")')
    assert old.shape == "cosine"  # type: ignore[attr-defined]
    assert str(old) == 'piecewise(points=[[0.0, 1.0], [10.0, 0.0]], shape="cosine")'
    with pytest.warns(DeprecationWarning, match=deprecated):
        loaded = lrkit.from_dict({**old.to_dict(), "shape": "cos"})
    assert loaded == old
    with pytest.warns(DeprecationWarning, match=rf"one_cycle\(\): {deprecated}"):
        assert lrkit.one_cycle(1.0, steps=100, shape="cos") == lrkit.one_cycle(1.0, steps=100)
    with pytest.warns(DeprecationWarning, match=deprecated):
        assert lrkit.parse('warmup(5, shape="cos") >> constant(1.0)') == lrkit.parse(
            'warmup(5, shape="cosine") >> constant(1.0)'
        )


# -- 5. one place per concern, imports one way --------------------------------------------------
def test_method_combinators_are_one_table_shared_by_schedules_text_and_registry() -> None:
    for name in METHODS:
        assert lrkit.registry.get(name).kind == "combinator", name
        example = lrkit.registry.get(name).example
        call = ast.parse(example, mode="eval").body  # receiver.name(args): the method's example
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute), example
        assert call.func.attr == name, example
        receiver = lrkit.parse(ast.unparse(call.func.value))
        args = [ast.literal_eval(a) for a in call.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
        built = getattr(receiver, name)(*args, **kwargs)  # the Python method
        parsed = lrkit.parse(example)  # the text form
        assert isinstance(built, COMBINATORS[name]) and built == parsed, name
        assert parsed.to_dict()["type"] == name


def _imports(path: pathlib.Path, *, annotations: bool = False) -> set[str]:
    """lrkit modules imported by ``path`` (at any depth: in functions too; TYPE_CHECKING imports
    only with ``annotations``)."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
    found: set[str] = set()
    for node in ast.walk(tree):
        if (
            not annotations
            and isinstance(node, ast.If)
            and "TYPE_CHECKING" in ast.unparse(node.test)
        ):
            node.body = []  # annotations only
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("lrkit"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: -node.level]
                base = ".".join([*parent, base] if base else parent)
            if base.startswith("lrkit"):
                found.add(base)
                found.update(
                    f"{base}.{alias.name}"
                    for alias in node.names
                    if (SRC.parent / f"{base}.{alias.name}".replace(".", "/"))
                    .with_suffix(".py")
                    .exists()
                    or (SRC.parent / f"{base}.{alias.name}".replace(".", "/")).is_dir()
                )
    return found


def _module_graph(*, annotations: bool = False) -> dict[str, set[str]]:
    modules = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imports(path, annotations=annotations):
            while imported not in modules and "." in imported:
                imported = imported.rsplit(".", 1)[0]
            # importing a package runs its __init__; a module is not a cycle with its own package
            if imported in modules and imported != name and not name.startswith(imported + "."):
                targets.add(imported)
        graph[name] = targets
    return graph


def test_the_import_graph_of_lrkit_has_no_cycles() -> None:
    graph = _module_graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_core_never_imports_the_combinators() -> None:
    assert "lrkit.compose" not in _module_graph()["lrkit.core"]


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_library_never_imports_the_bench_only_the_bench_and_the_cli_do() -> None:
    """Every module outside ``lrkit.bench`` and ``lrkit.cli`` (finder, torch, core, ...) is the
    library: it never imports the bench, not even for annotations."""
    graph = _module_graph(annotations=True)
    assert "lrkit.finder.runner" in graph and "lrkit.torch.finder" in graph
    offenders = {
        name: sorted(t for t in targets if _in(t, "lrkit.bench"))
        for name, targets in graph.items()
        if not (_in(name, "lrkit.bench") or _in(name, "lrkit.cli"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


#: The bench's stages, earliest first: a module may import its own stage and earlier ones only.
#: The task protocol (``lrkit.bench.api``, ``lrkit.bench.tasks``) is what users write against;
#: the driver orchestrates the four stages; ``lrkit.cli.bench`` sits on top, outside the bench.
BENCH_STAGES = (
    ("protocol", ("lrkit.bench", "lrkit.bench.api", "lrkit.bench.tasks")),
    ("planning", ("lrkit.bench.planning",)),
    ("execution", ("lrkit.bench.execution",)),
    ("analysis", ("lrkit.bench.analysis",)),
    ("presentation", ("lrkit.bench.presentation",)),
    ("orchestration", ("lrkit.bench.driver",)),
)


def _stage(module: str) -> int:
    """Index of ``module``'s stage in :data:`BENCH_STAGES` (the longest matching package wins)."""
    best, depth = -1, -1
    for i, (_, packages) in enumerate(BENCH_STAGES):
        for p in packages:
            matches = _in(module, p) if p != "lrkit.bench" else module == p
            if matches and p.count(".") > depth:
                best, depth = i, p.count(".")
    return best


def test_every_bench_module_belongs_to_a_stage() -> None:
    """A new bench module goes into one of the stage packages (see docs/bench.md, "Layout")."""
    graph = _module_graph()
    loose = sorted(n for n in graph if _in(n, "lrkit.bench") and _stage(n) < 0)
    assert loose == [], f"put these in a stage package of lrkit.bench: {loose}"


def test_bench_stages_import_only_themselves_and_earlier_stages() -> None:
    """planning -> execution -> analysis -> presentation, imports pointing back only; annotation
    imports (TYPE_CHECKING) count too: a shared type lives in the earliest stage that uses it."""
    graph = _module_graph(annotations=True)
    back = [
        f"{name} ({BENCH_STAGES[_stage(name)][0]}) imports {t} ({BENCH_STAGES[_stage(t)][0]})"
        for name, targets in sorted(graph.items())
        if _in(name, "lrkit.bench") and _stage(name) >= 0  # no stage: the test above fails
        for t in sorted(targets)
        if _in(t, "lrkit.bench") and _stage(t) > _stage(name)
    ]
    assert back == [], "a stage imports a later one:\n" + "\n".join(back)


# -- 3. a public API a person can hold in their head --------------------------------------------
def test_the_public_api_is_about_30_names_each_the_object_its_module_defines() -> None:
    assert 25 <= len(lrkit.__all__) <= 32 and len(set(lrkit.__all__)) == len(lrkit.__all__)
    public = {
        name
        for name, value in vars(lrkit).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    } - {"annotations"}  # the __future__ feature of ``from __future__ import annotations``
    assert public == set(lrkit.__all__)  # nothing public is left out of __all__, nothing missing
    for name in lrkit.__all__:
        value = getattr(lrkit, name)
        home = sys.modules[value.__module__]
        assert home is not lrkit and getattr(home, value.__qualname__) is value, name  # no copy
        if name[:1].isupper():
            assert isinstance(value, type), name
        if name.endswith("Error"):
            assert issubclass(value, lrkit.ScheduleError), name
    assert lrkit.Plateau.__module__ == "lrkit.plateau"
    for name in lrkit.__all__:
        if name.islower() and name in lrkit.registry.names():
            assert lrkit.registry.get(name).factory is getattr(lrkit, name), name
    from lrkit.families import Cosine

    assert Cosine is lrkit.cosine


@pytest.mark.parametrize(
    ("name", "pointer"),
    [
        ("Cosine", r"from lrkit\.families import Cosine`, or build it with lrkit\.cosine\("),
        ("Sequence", r"from lrkit\.compose import Sequence`, or build it with lrkit\.sequence\("),
        ("OneCycle", r"from lrkit\.presets import OneCycle`, or build it with lrkit\.one_cycle\("),
        ("Mirror", r"from lrkit\.compose import Mirror`$"),
    ],
)
def test_class_names_on_lrkit_raise_an_attribute_error_naming_the_module(
    name: str, pointer: str
) -> None:
    with pytest.raises(AttributeError, match=rf"lrkit\.{name} was removed in 0\.2.*{pointer}"):
        getattr(lrkit, name)
    assert not hasattr(lrkit, "Nonexistent")


def test_every_leaf_and_preset_takes_steps_by_keyword_and_anneals_default_end_to_zero() -> None:
    import inspect

    for name in lrkit.registry.names():
        entry = lrkit.registry.get(name)
        if entry.kind not in ("leaf", "preset") or entry.cls is None:
            continue
        params = inspect.signature(entry.cls).parameters
        if "steps" in params:
            assert params["steps"].kind is inspect.Parameter.KEYWORD_ONLY, name
    for anneal in (lrkit.linear, lrkit.cosine, lrkit.polynomial, lrkit.one_minus_sqrt, lrkit.rex):
        params = inspect.signature(anneal).parameters
        assert list(params)[:2] == ["start", "end"] and params["end"].default == 0.0
        assert anneal(1.0, steps=4)(4) == 0.0


# -- 2. one error policy ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "kind"),
    [
        (lambda: lrkit.Plateau(factor=2.0), lrkit.ScheduleError),
        (lambda: lrkit.Plateau(patience="3"), lrkit.ScheduleTypeError),
        (lambda: lrkit.Plateau().report("x"), lrkit.ScheduleTypeError),
        (lambda: lrkit.cosine(start=0.1, steps=0), lrkit.ScheduleError),
        (lambda: lrkit.parse(3), lrkit.ScheduleTypeError),
    ],
)
def test_bad_arguments_raise_the_schedule_error_family(
    build: Callable[[], object], kind: type[Exception]
) -> None:
    with pytest.raises(kind):
        build()


def _torch_drop_in(name: str, **kwargs: object) -> object:
    torch = pytest.importorskip(
        "torch"
    )  # the core needs numpy only (make test-floors has no torch)
    from lrkit.compat import torch as compat_torch

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    return getattr(compat_torch, name)(optimizer, **kwargs)


def _optax_drop_in(name: str, *args: object, **kwargs: object) -> object:
    from lrkit.compat import optax as compat_optax  # numpy only: optax itself is not imported

    return getattr(compat_optax, name)(*args, **kwargs)


@pytest.mark.parametrize(
    ("build", "kind", "message"),
    [
        (
            lambda: _torch_drop_in("StepLR", step_size="a"),
            lrkit.ScheduleTypeError,
            "StepLR: step_size='a' is invalid; step_size must be a number of steps",
        ),
        (
            lambda: _torch_drop_in("ConstantLR", factor=2.0),
            lrkit.ScheduleError,
            "ConstantLR: factor=2.0 is invalid; factor must be in [0, 1]",
        ),
        (
            lambda: _torch_drop_in("CyclicLR", base_lr=0.01, max_lr=0.1, mode="sine"),
            lrkit.ScheduleError,
            "CyclicLR: mode='sine' is invalid; mode must be one of 'triangular', 'triangular2', "
            "'exp_range'",
        ),
        (
            lambda: _optax_drop_in("cosine_decay_schedule", 0.1, decay_steps=-1),
            lrkit.ScheduleError,
            "lrkit.compat.optax.cosine_decay_schedule: decay_steps=-1 is invalid; decay_steps "
            "must be > 0 (as optax requires)",
        ),
    ],
    ids=["StepLR", "ConstantLR", "CyclicLR", "optax.cosine_decay_schedule"],
)
def test_compat_argument_errors_are_schedule_errors_with_one_message_shape(
    build: Callable[[], object], kind: type[Exception], message: str
) -> None:
    with pytest.raises(kind) as info:
        build()
    assert isinstance(info.value, lrkit.ScheduleError) and str(info.value) == message


def test_a_schedule_class_written_the_supported_way_registers_parses_and_is_frozen() -> None:
    from dataclasses import FrozenInstanceError

    from lrkit.core import Array

    try:

        class NewStyle(Schedule, name="test_new_style", example="test_new_style(0.5)"):
            value: float
            _positional = ("value",)

            def _eval(self, t: Array, xp: object) -> Array:
                return t * 0.0 + self.value

        s = lrkit.parse("test_new_style(0.5)")
        assert isinstance(s, NewStyle) and s == NewStyle(0.5) and str(s) == "test_new_style(0.5)"
        assert s(3) == 0.5 and not s.bounded
        with pytest.raises(FrozenInstanceError, match="schedules are values"):
            s.value = 1.0  # type: ignore[misc]
        with pytest.raises(FrozenInstanceError, match="schedules are values"):
            COS.start = 1.0  # type: ignore[misc]
    finally:
        lrkit.registry._ENTRIES.pop("test_new_style", None)


def test_registering_a_class_through_registry_register_is_an_error_naming_the_new_spelling() -> (
    None
):
    from lrkit.core import Array

    class OldStyle(Schedule):
        value: float

        def _eval(self, t: Array, xp: object) -> Array:
            return t * 0.0 + self.value

    decorate = lrkit.registry.register("test_old_style", example="test_old_style(0.5)")
    with pytest.raises(
        lrkit.ScheduleTypeError,
        match=r"class OldStyle\(Schedule, name='test_old_style', example='test_old_style\(0\.5\)'\)",
    ):
        decorate(OldStyle)
    assert "test_old_style" not in lrkit.registry.names()


def test_a_schedule_class_decorated_with_dataclass_again_is_an_error_naming_the_fix() -> None:
    from dataclasses import dataclass

    from lrkit.core import Array

    @dataclass(frozen=True, repr=False)
    class Redecorated(Schedule):
        value: float

        def _eval(self, t: Array, xp: object) -> Array:
            return t * 0.0 + self.value

    with pytest.raises(lrkit.ScheduleTypeError, match=r"class Redecorated: remove its @dataclass"):
        Redecorated(0.5)


def test_power_is_one_field_of_the_anneals_whose_curve_has_an_exponent() -> None:
    from lrkit.families import Cosine, Polynomial, _Anneal, _PowerAnneal

    for leaf, func in ((Cosine, lrkit.cosine), (Polynomial, lrkit.polynomial)):
        assert issubclass(leaf, _PowerAnneal) and "power" not in leaf.__annotations__
        with pytest.raises(lrkit.ScheduleError, match=rf"{leaf.name}\(\): power must be > 0"):
            func(1.0, steps=10, power=0.0)
    assert not any(
        issubclass(c, _PowerAnneal)
        for c in _Anneal.__subclasses__()
        if c.name in ("linear", "one_minus_sqrt", "rex")
    )
