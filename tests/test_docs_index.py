"""docs/index.md lists every page of docs/ (the rendered notebooks included), and every page it lists exists."""

from __future__ import annotations

import re

from tests.conftest import REPO

DOCS = REPO / "docs"


def test_index_lists_every_page_once():
    links = re.findall(r"\]\(([^)#]+\.md)\)", (DOCS / "index.md").read_text())
    pages = [link for link in links if not link.startswith("../")]
    assert len(pages) == len(set(pages))
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")} - {"index.md"}
    assert set(pages) == on_disk
    assert all((DOCS / link).is_file() for link in links)
