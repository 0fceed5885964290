"""mkdocs hooks: the pages of the docs site that are generated at build time.

* ``index.md`` from README.md, ``changelog.md`` from CHANGELOG.md, ``contributing.md`` from
  CONTRIBUTING.md (when it exists);
* the API reference, one page per module in :data:`API` (the one place to extend it);
* the schedule gallery, one plot per registered schedule (docs/gallery.py);
* ``findings.md``, a placeholder until docs/findings.md exists.

Links to repository files outside docs/ (and to folders) become links to the repository on GitHub;
links between docs pages stay relative, so ``mkdocs build --strict`` checks them.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import posixpath
import re
import sys
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
SRC = ROOT / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))  # document this checkout's lrkit
# The docs build imports lrkit.keras to read its names; an application chooses Keras' backend.
os.environ.setdefault("KERAS_BACKEND", "torch")

# The API reference: (module, title). A module whose file does not exist yet is skipped, so
# modules that other branches add appear once they land.
API: list[tuple[str, str]] = [
    ("lrkit", "lrkit"),
    ("lrkit.plateau", "lrkit.Plateau"),
    ("lrkit.registry", "lrkit.registry"),
    ("lrkit.errors", "lrkit.errors"),
    ("lrkit.torch", "lrkit.torch"),
    ("lrkit.optax", "lrkit.optax"),
    ("lrkit.keras", "lrkit.keras"),
    ("lrkit.transformers", "lrkit.transformers"),
    ("lrkit.lightning", "lrkit.lightning"),
    ("lrkit.compat.torch", "lrkit.compat.torch"),
    ("lrkit.compat.transformers", "lrkit.compat.transformers"),
    ("lrkit.compat.optax", "lrkit.compat.optax"),
    ("lrkit.compat.keras", "lrkit.compat.keras"),
    ("lrkit.finder", "lrkit.finder"),
    ("lrkit.bench", "lrkit.bench"),
    ("lrkit.bench.api", "lrkit.bench.api"),
]

# Repository files that are pages of the site.
ROOT_PAGES = {"README.md": "index.md", "CHANGELOG.md": "changelog.md"}
OPTIONAL_ROOT_PAGES = {"CONTRIBUTING.md": "contributing.md"}

FINDINGS_PLACEHOLDER = """# Findings

What the bench's data says about schedules, with seeds and confidence intervals. This page is
written from the bench results; until they land, see [lrkit bench](bench.md).
"""

_LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_CODE_SPAN = re.compile(r"`+[^`\n]*`+")


def _module_exists(module: str) -> bool:
    path = SRC / Path(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def api_modules() -> list[tuple[str, str]]:
    """The modules of :data:`API` present in this checkout."""
    return [(module, title) for module, title in API if _module_exists(module)]


def _public_names(module: str) -> list[str]:
    """``module.__all__``, read from this checkout's source."""
    return list(getattr(importlib.import_module(module), "__all__", []))


def api_page(module: str) -> str:
    options = ["    options:", "      show_root_heading: true", "      heading_level: 1"]
    if module == "lrkit":
        options.append("      show_root_full_path: true")
    # Name every public name: re-exports and aliases (``cosine = Cosine``) then get their own
    # entry (and anchor ``<module>.<name>``); docs/check_site.py checks the built site for each.
    names = _public_names(module)
    static = [name for name in names if home_path(module, name) is None]
    options.append("      members:")
    options.extend(f"        - {name}" for name in static)
    blocks = ["\n".join([f"::: {module}", *options, ""])]
    pages = {m for m, _ in api_modules()}
    for name in names:
        path = home_path(module, name)
        page = path if path is not None and _is_submodule(path) else (path or "").rpartition(".")[0]
        if path is not None and page not in pages:
            blocks.append(f"::: {path}\n    options:\n      heading_level: 2\n")
    return "\n".join(blocks)


def _is_submodule(dotted: str) -> bool:
    try:
        return importlib.util.find_spec(dotted) is not None
    except ModuleNotFoundError:  # the parent is a module, not a package
        return False


def home_path(module: str, name: str) -> str | None:
    """Where ``module.name`` is documented when the module's own page cannot list it, else None.

    Static analysis (griffe) cannot follow a name that a module hands out lazily (a module
    ``__getattr__``) or one that shares its name with a submodule (``lrkit.finder.plot`` the
    function and the module): those get an entry of their own at the object's home,
    ``<defining module>.<name>`` (a module: itself). Anchors: docs/check_site.py.
    """
    mod = importlib.import_module(module)
    lazy = name not in vars(mod)
    obj = getattr(mod, name)
    if inspect.ismodule(obj):
        return obj.__name__
    if not (lazy or _is_submodule(f"{module}.{name}")):
        return None
    return f"{obj.__module__}.{obj.__qualname__}"


def _load_gallery() -> Any:
    spec = importlib.util.spec_from_file_location("lrkit_docs_gallery", DOCS / "gallery.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nav_files(nav: Any) -> set[str]:
    if isinstance(nav, str):
        return {nav}
    if isinstance(nav, dict):
        return set().union(*(_nav_files(v) for v in nav.values()))
    if isinstance(nav, list):
        return set().union(*(_nav_files(v) for v in nav))
    return set()


def _title(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip().strip("`")
    return path.stem


def on_config(config: Any) -> Any:
    """Fill the "API reference" section of the nav from :data:`API`; pages that the nav of
    mkdocs.yml does not list yet (new docs/*.md, CONTRIBUTING.md) go under "More"."""
    nav = config.nav or []
    entries = [{title: f"api/{module}.md"} for module, title in api_modules()]
    for item in nav:
        if isinstance(item, dict) and "API reference" in item:
            item["API reference"] = entries
    listed = _nav_files(nav)
    more = [
        {_title(page): page.name}
        for page in sorted(DOCS.glob("*.md"))
        if page.name not in listed and page.name != "index.md"
    ]
    if (ROOT / "CONTRIBUTING.md").is_file() and "contributing.md" not in listed:
        more.append({"Contributing": "contributing.md"})
    if more:
        nav.append({"More": more})
    return config


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    def add(uri: str, content: str | bytes) -> None:
        existing = files.get_file_from_path(uri)
        if existing is not None:
            files.remove(existing)
        files.append(File.generated(config, uri, content=content))

    for name, uri in {**ROOT_PAGES, **OPTIONAL_ROOT_PAGES}.items():
        if (ROOT / name).is_file():
            add(uri, (ROOT / name).read_text(encoding="utf-8"))
    if not (DOCS / "findings.md").is_file():
        add("findings.md", FINDINGS_PLACEHOLDER)
    for module, _ in api_modules():
        add(f"api/{module}.md", api_page(module))
    gallery = _load_gallery()
    add("gallery.md", gallery.gallery_page("gallery/schedules"))
    for name in gallery.gallery_names():
        add(f"gallery/schedules/{name}.png", gallery.schedule_png(name))
    return files


def _source_of(page: Any) -> str:
    """The page's path in the repository (README.md for index.md, docs/x.md for x.md)."""
    uri = page.file.src_uri
    for name, page_uri in {**ROOT_PAGES, **OPTIONAL_ROOT_PAGES}.items():
        if uri == page_uri:
            return name
    return f"docs/{uri}"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Point links to repository files outside docs/ at the repository, keep docs links relative."""
    source = _source_of(page)
    page_dir = posixpath.dirname(page.file.src_uri)
    pages = {v: k for k, v in {**ROOT_PAGES, **OPTIONAL_ROOT_PAGES}.items()}
    repo_url = (config.repo_url or "").rstrip("/")

    def rewrite(match: re.Match[str]) -> str:
        target = match.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:|^#|^/", target):
            return match.group(0)
        path, _, anchor = target.partition("#")
        repo_path = posixpath.normpath(posixpath.join(posixpath.dirname(source), path))
        if repo_path.startswith("docs/") and not (ROOT / repo_path).is_dir():
            site_path = repo_path[len("docs/") :]
        elif repo_path in pages.values():
            site_path = next(uri for uri, name in pages.items() if name == repo_path)
        else:
            kind = "tree" if (ROOT / repo_path).is_dir() else "blob"
            url = f"{repo_url}/{kind}/main/{repo_path}" + (f"#{anchor}" if anchor else "")
            return f"{match.group(1)}{url}{match.group(3)}"
        new = posixpath.relpath(site_path, page_dir or ".") + (f"#{anchor}" if anchor else "")
        return f"{match.group(1)}{new}{match.group(3)}"

    out, fenced = [], False
    for line in markdown.splitlines(keepends=True):
        if _FENCE.match(line):
            fenced = not fenced
        if fenced or _FENCE.match(line):
            out.append(line)
            continue
        spans = [m.span() for m in _CODE_SPAN.finditer(line)]

        def outside_code(match: re.Match[str], spans: list[tuple[int, int]] = spans) -> str:
            inside = any(a <= match.start() < b for a, b in spans)
            return match.group(0) if inside else rewrite(match)

        out.append(_LINK.sub(outside_code, line))
    return "".join(out)
