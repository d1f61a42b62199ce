"""House rules a reviewer would otherwise check by eye (README "Tests", "House rules").

- A Python module over 300 lines says at its top why it is one module: the sentence
  "Over 300 lines on purpose: ..." in its docstring.
- Code and its comments cite the repository's docs/, never the design documents the
  project grew from (they are not in the repository).
"""

from __future__ import annotations

import ast
import re
import subprocess

from tests.conftest import REPO

LIMIT = 300
REASON = "Over 300 lines on purpose:"


def _tracked(*patterns: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", *patterns], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    return [path for path in out.splitlines() if (REPO / path).is_file()]


def test_a_module_over_300_lines_says_why_at_its_top():
    unexplained = []
    for path in _tracked("*.py"):
        text = (REPO / path).read_text(encoding="utf-8")
        if text.count("\n") <= LIMIT:
            continue
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if REASON not in docstring:
            unexplained.append(f"{path} ({text.count(chr(10))} lines)")
    assert unexplained == [], (
        f"split these, or say why each is one module ({REASON!r} in its docstring)")


def test_nothing_cites_the_design_documents_outside_the_repository():
    cites = re.compile(r"\bseeds?\s+0\d\d\b|shared/seed[s]", re.IGNORECASE)
    found = [f"{path}:{n}" for path in _tracked("*.py", "*.sql", "*.yml", "*.md", "Makefile")
             for n, line in enumerate((REPO / path).read_text(encoding="utf-8").splitlines(), 1)
             if cites.search(line)]
    assert found == [], "cite docs/ instead (the seeds are not in the repository)"
