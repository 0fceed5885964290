"""Check the built docs site: every public name has its own API reference entry.

For each module of the API reference (docs/hooks.py ``API``), every name in the module's
``__all__`` must have an anchor ``id="<module>.<name>"`` in the built site's API reference, and
every link of the gallery into the API reference must land on an existing anchor.
``make docs`` runs this after ``mkdocs build``; it prints each missing entry and exits 1.

.venv/bin/python docs/check_site.py site
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

DOCS = Path(__file__).resolve().parent


def _hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lrkit_docs_hooks", DOCS / "hooks.py")
    assert spec is not None and spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    return hooks


def missing_entries(site: Path, modules: list[str] | None = None) -> list[str]:
    """The ``module.name`` of every public name without an anchor in the API reference.

    The anchor is ``<module>.<name>``, or the object's home (``hooks.home_path``) for a name the
    page documents in an entry of its own.

    Args:
        site: the built site's folder (``mkdocs build --site-dir``).
        modules: the modules to check; by default those of the API reference.
    """
    hooks = _hooks()
    missing: list[str] = []
    pages = sorted((site / "api").glob("*/index.html"))
    html = "\n".join(page.read_text(encoding="utf-8") for page in pages)
    for module in [m for m, _ in hooks.api_modules()] if modules is None else modules:
        for name in getattr(importlib.import_module(module), "__all__", []):
            anchor = hooks.home_path(module, name) or f"{module}.{name}"
            if f'id="{anchor}"' not in html:
                missing.append(f"{module}.{name}")
    return missing


_API_LINK = re.compile(r'href="\.\./api/([^/"#]+)/#([^"]+)"')


def broken_api_links(site: Path, page: str = "gallery") -> list[str]:
    """The links of a built page into the API reference whose anchor does not exist.

    Args:
        site: the built site's folder.
        page: the page whose links are checked (``gallery``: every card links its entry).
    """
    html = (site / page / "index.html").read_text(encoding="utf-8")
    broken = []
    for module, anchor in sorted(set(_API_LINK.findall(html))):
        target = site / "api" / module / "index.html"
        if not target.is_file() or f'id="{anchor}"' not in target.read_text(encoding="utf-8"):
            broken.append(f"api/{module}#{anchor}")
    return broken


def main(argv: list[str]) -> int:
    site = Path(argv[1] if len(argv) > 1 else "site")
    missing = missing_entries(site)
    for entry in missing:
        print(f"docs: no API reference entry for {entry}", file=sys.stderr)
    broken = broken_api_links(site)
    for link in broken:
        print(f"docs: the gallery links {link}, which does not exist", file=sys.stderr)
    return 1 if missing or broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
