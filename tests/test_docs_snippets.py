"""Every ```python block of README.md and docs/*.md runs, so examples never drift from the API.

Blocks of one page run in order in one namespace, in a fresh interpreter whose working directory is
an empty temporary folder (PYTHONPATH: this checkout's src). A block that cannot run (a user's own
model, pseudo-code) has ``<!-- no-test -->`` on the line right before its opening fence.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SKIP = "<!-- no-test -->"
_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")

RUNNER = """
import json, sys
blocks = json.loads(sys.stdin.read())
namespace = {"__name__": "__main__"}
for page, line, code in blocks:
    # pad so tracebacks point at the page's own line numbers
    exec(compile("\\n" * line + code, page, "exec"), namespace)
"""


def python_blocks(text: str) -> list[tuple[int, str]]:
    """``(line of the first code line - 1, code)`` of each runnable python fence of ``text``.

    >>> python_blocks("a\\n```python\\nx = 1\\n```\\n<!-- no-test -->\\n```python\\ny\\n```\\n")
    [(2, 'x = 1\\n')]
    """
    lines = text.splitlines(keepends=True)
    blocks: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        match = _OPEN.match(lines[i])
        if not match:
            i += 1
            continue
        fence, indent = match["fence"], len(match["indent"])
        skip = i > 0 and lines[i - 1].strip() == SKIP
        start = i + 1
        end = start
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        if match["lang"] in {"python", "py"} and not skip:
            code = "".join(
                line[indent:] if line[:indent].isspace() else line for line in lines[start:end]
            )
            blocks.append((start, code))
        i = end + 1
    return blocks


def _pages_with_code() -> list[Path]:
    return [p for p in PAGES if python_blocks(p.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("page", _pages_with_code(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_python_blocks_of_the_page_run(page: Path, tmp_path: Path) -> None:
    name = page.relative_to(ROOT).as_posix()
    blocks = [[name, line, code] for line, code in python_blocks(page.read_text(encoding="utf-8"))]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "MPLBACKEND": "Agg"}
    env.setdefault("KERAS_BACKEND", "torch")  # as docs/keras.md tells users to set it
    out = subprocess.run(
        [sys.executable, "-c", RUNNER],
        input=json.dumps(blocks),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, f"{name}: a python block failed\n{out.stderr[-4000:]}"
