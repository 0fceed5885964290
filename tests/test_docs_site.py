"""The docs site's build-time pieces: links rewritten for the site, doctests fenced for Markdown."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"lrkit_docs_{name}", DOCS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _page(src_uri: str) -> Any:
    return SimpleNamespace(file=SimpleNamespace(src_uri=src_uri))


CONFIG = SimpleNamespace(repo_url="https://github.com/lrkit/lrkit")


def test_readme_links_point_into_the_site_or_the_repository() -> None:
    hooks = _load("hooks")
    text = (
        "See [schedules](docs/schedules.md#text), ![x](docs/gallery/families.png), "
        "[changes](CHANGELOG.md), [code](src/lrkit/core.py), `s[0](t)` and\n"
        "```python\nvalues[1](2)\n```\n"
    )
    out = hooks.on_page_markdown(text, _page("index.md"), CONFIG, None)
    assert "[schedules](schedules.md#text)" in out
    assert "![x](gallery/families.png)" in out
    assert "[changes](changelog.md)" in out
    assert "[code](https://github.com/lrkit/lrkit/blob/main/src/lrkit/core.py)" in out
    assert "`s[0](t)`" in out and "values[1](2)" in out


def test_docs_page_links_outside_docs_go_to_the_repository() -> None:
    hooks = _load("hooks")
    text = "[`lrkit.Plateau`](../src/lrkit/plateau.py) and [jax](jax.md) and [runs](gallery/)"
    out = hooks.on_page_markdown(text, _page("keras.md"), CONFIG, None)
    assert "(https://github.com/lrkit/lrkit/blob/main/src/lrkit/plateau.py)" in out
    assert "[jax](jax.md)" in out
    assert "[runs](https://github.com/lrkit/lrkit/tree/main/docs/gallery)" in out


def test_api_reference_lists_existing_modules_only() -> None:
    hooks = _load("hooks")
    modules = [module for module, _ in hooks.api_modules()]
    assert modules[0] == "lrkit" and "lrkit.torch" in modules and "lrkit.compat.torch" in modules
    assert all(hooks._module_exists(m) for m in modules)
    assert not hooks._module_exists("lrkit.no_such_module")


def test_doctests_are_fenced_and_roles_become_code() -> None:
    pytest.importorskip("griffe")
    griffe_doctest = _load("griffe_doctest")
    text = "The :class:`Schedule` base.\n\n    >>> s(1)\n    0.5\n\nAfter."
    assert griffe_doctest.markdown_docstring(text).splitlines() == [
        "The `Schedule` base.",
        "",
        "    ```pycon",
        "    >>> s(1)",
        "    0.5",
        "    ```",
        "",
        "After.",
    ]


def test_gallery_page_shows_every_registered_schedule() -> None:
    import lrkit

    gallery = _load("gallery")
    page = gallery.gallery_page("gallery/schedules")
    for name in lrkit.registry.names():
        if lrkit.registry.get(name).kind != "alias":
            assert f"![{name}](gallery/schedules/{name}.png)" in page


def test_nav_gets_the_api_modules_and_every_unlisted_page() -> None:
    hooks = _load("hooks")
    nav: list[Any] = [{"Home": "index.md"}, {"Guide": ["schedules.md"]}, {"API reference": []}]
    hooks.on_config(SimpleNamespace(nav=nav))
    assert nav[2]["API reference"][0] == {"lrkit": "api/lrkit.md"}
    more = {file for entry in nav[-1]["More"] for file in entry.values()}
    pages = {p.name for p in DOCS.glob("*.md")} - {"schedules.md", "index.md"}
    assert pages <= more and "schedules.md" not in more


def test_site_check_names_each_public_name_without_an_api_entry(tmp_path: Path) -> None:
    check = _load("check_site")
    page = tmp_path / "api" / "lrkit.registry" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text('<h2 id="lrkit.registry.get">get</h2>', encoding="utf-8")
    import lrkit.registry

    missing = check.missing_entries(tmp_path, ["lrkit.registry"])
    expected = {f"lrkit.registry.{n}" for n in lrkit.registry.__all__} - {"lrkit.registry.get"}
    assert set(missing) == expected and expected


def test_api_pages_list_every_public_name_or_give_it_an_entry_at_its_home() -> None:
    hooks = _load("hooks")
    page = hooks.api_page("lrkit")
    import lrkit

    assert all(f"        - {name}\n" in page for name in lrkit.__all__)  # cosine = Cosine too
    finder = hooks.api_page("lrkit.finder")
    # ``plot`` is both a function and a submodule: the function gets an entry at its home
    assert "::: lrkit.finder.plot.plot" in finder and "        - plot\n" not in finder


def test_site_check_finds_gallery_links_to_missing_api_anchors(tmp_path: Path) -> None:
    check = _load("check_site")
    (tmp_path / "gallery").mkdir()
    (tmp_path / "gallery" / "index.html").write_text(
        '<a href="../api/lrkit/#lrkit.cosine">x</a><a href="../api/lrkit/#lrkit.nosuch">y</a>',
        encoding="utf-8",
    )
    (tmp_path / "api" / "lrkit").mkdir(parents=True)
    (tmp_path / "api" / "lrkit" / "index.html").write_text('<h2 id="lrkit.cosine">', "utf-8")
    assert check.broken_api_links(tmp_path) == ["api/lrkit#lrkit.nosuch"]


def test_every_gallery_card_links_its_api_entry() -> None:
    gallery = _load("gallery")
    page = gallery.gallery_page()
    for name in gallery.gallery_names():
        assert f"(api/lrkit.md#{gallery.api_anchor(name)})" in page
    assert gallery.api_anchor("cosine") == "lrkit.cosine"
    assert gallery.api_anchor("repeat") == "lrkit.Schedule.repeat"


def _documented(obj: Any) -> list[str]:
    import inspect

    doc = inspect.getdoc(obj) or ""
    try:
        takes_arguments = bool(inspect.signature(obj).parameters)
    except (TypeError, ValueError):  # an exception class: it takes its message
        takes_arguments = True
    if getattr(obj, "_is_protocol", False):  # a typing.Protocol is implemented, not constructed
        takes_arguments = False
    missing = [] if ">>>" in doc else ["an example"]
    return missing + ([] if "Args:" in doc or not takes_arguments else ["Args:"])


#: Public modules whose every ``__all__`` name must have ``Args:`` and an example, with the
#: frameworks each needs to import (a module missing its framework is skipped).
DOCUMENTED_MODULES: dict[str, tuple[str, ...]] = {
    "lrkit": (),
    "lrkit.registry": (),
    "lrkit.plateau": (),
    "lrkit.transformers": ("transformers",),
    "lrkit.lightning": ("lightning",),
    "lrkit.optax": ("optax",),
    "lrkit.keras": ("keras",),
    "lrkit.compat.transformers": ("torch",),  # GreedyLR is a torch scheduler
    "lrkit.compat.optax": (),
    "lrkit.compat.keras": ("keras",),
    "lrkit.finder": (),
    "lrkit.torch": ("torch",),
    "lrkit.compat.torch": ("torch",),
    "lrkit.errors": (),
    "lrkit.bench": (),  # names handed out lazily; the ones from lrkit.bench.api need no framework
    "lrkit.bench.api": (),
}


def _public_names(module: str) -> list[str]:
    """``module.__all__`` read from its source, so collection imports no framework.

    A module that computes its ``__all__`` (``lrkit.bench``: ``sorted(_LAZY)``) imports nothing
    heavy by design, so it is imported to read it.
    """
    import ast

    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            try:
                names: list[str] = ast.literal_eval(node.value)
            except ValueError:  # computed
                names = list(importlib.import_module(module).__all__)
            return names
    raise AssertionError(f"{module} has no __all__")


def _attribute_docstring(module: str, name: str) -> tuple[str, str]:
    """The module defining ``name`` and the string right after ``name = ...`` there.

    That string is the attribute docstring that griffe shows in the API reference; a type alias
    (``StopReason = Literal[...]``) has no ``__doc__`` of its own. ``from m import name`` is
    followed to ``m``.
    """
    import ast

    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    body = ast.parse(Path(spec.origin).read_text(encoding="utf-8")).body
    for node, after in zip(body, [*body[1:], None], strict=True):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            if any(a.name == name and a.asname in (None, name) for a in node.names):
                return _attribute_docstring(node.module, name)
            continue
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            doc = after.value if isinstance(after, ast.Expr) else None
            if isinstance(doc, ast.Constant) and isinstance(doc.value, str):
                return module, doc.value
            return module, ""
    raise AssertionError(f"{module} neither defines nor imports {name}")


def _run_examples(text: str, module: str, name: str) -> None:
    """Run the doctest examples of ``text`` in ``module``'s namespace (doctest does not collect
    attribute docstrings)."""
    import doctest

    namespace = dict(vars(importlib.import_module(module)))
    test = doctest.DocTestParser().get_doctest(text, namespace, f"{module}.{name}", None, 0)
    out: list[str] = []
    runner = doctest.DocTestRunner()
    runner.run(test, out=out.append)
    assert runner.failures == 0, "".join(out)


@pytest.mark.parametrize(
    ("module", "name"),
    [(module, name) for module in DOCUMENTED_MODULES for name in _public_names(module)],
)
def test_every_public_name_has_args_and_an_example(
    module: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib
    import os
    import typing

    for framework in DOCUMENTED_MODULES[module]:
        pytest.importorskip(framework)
    if "keras" in DOCUMENTED_MODULES[module] and "KERAS_BACKEND" not in os.environ:
        monkeypatch.setenv("KERAS_BACKEND", "torch")  # as the docs build and the docs tell users
    obj = getattr(importlib.import_module(module), name)
    if typing.get_origin(obj) is not None:  # a type alias: documented by the string after it
        home, doc = _attribute_docstring(module, name)
        assert ">>>" in doc, f"{module}.{name}: no example in the docstring after its assignment"
        _run_examples(doc, home, name)
        return
    if not callable(obj):  # a constant (e.g. NAMES): documented by its ``#:`` comment
        return
    assert _documented(obj) == [], f"{module}.{name}"


def test_every_api_reference_module_is_checked_for_args_and_examples() -> None:
    hooks = _load("hooks")
    assert {module for module, _ in hooks.API} <= set(DOCUMENTED_MODULES)
