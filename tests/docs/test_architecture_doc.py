"""docs/architecture.md cannot drift: its outline is the issue's, every mermaid block renders
in a real renderer, and its erDiagram is the live schema."""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg
import pytest
from components import require
from mermaid_render import RendererUnavailable, ensure_mmdc, render

from paastech.settings import DbSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"

# The outline of the architecture document the project was started from (issue 16): these
# headings, in this order, and no others below the title.
OUTLINE = [
    (2, "Contextualisation"),
    (3, "Description and intent"),
    (3, "Technologies"),
    (4, "Web application"),
    (4, "CLI"),
    (4, "Client API"),
    (4, "Git controller"),
    (4, "Client applications deployment"),
    (4, "Database"),
    (4, "CI/CD"),
    (2, "Architecture"),
    (3, "Definitions"),
    (3, "Component interaction"),
    (3, "Database architecture"),
    (2, "Detailed specification"),
    (3, "Key constraints"),
    (3, "Client sign-up and login process"),
    (3, "Projects storage"),
    (3, "Client Applications"),
    (2, "Post-mortem"),
    (3, "Organisational overview"),
]

_FENCE = re.compile(r"^```mermaid\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _text() -> str:
    return DOC.read_text()


def _headings(text: str) -> list[tuple[int, str]]:
    without_code = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    found = re.findall(r"^(#{1,6}) (.+?)\s*$", without_code, flags=re.MULTILINE)
    return [(len(hashes), title) for hashes, title in found]


def _blocks() -> list[str]:
    return _FENCE.findall(_text())


def test_the_headings_are_the_outline_of_the_original_document() -> None:
    """Below its one title, the document has exactly the outline's headings, in order."""
    headings = _headings(_text())
    assert headings[0][0] == 1
    assert headings[1:] == OUTLINE


def test_no_section_is_left_to_do() -> None:
    """No TODO is left anywhere in the document."""
    assert "TODO" not in _text()


def test_the_document_has_the_diagrams_the_issue_asks_for() -> None:
    """A component diagram, an erDiagram and the sign-up/login sequence diagrams exist."""
    kinds = [block.split(None, 1)[0] for block in _blocks()]
    assert "erDiagram" in kinds
    assert kinds.count("sequenceDiagram") >= 2
    assert any(kind in {"flowchart", "graph"} for kind in kinds)


@pytest.fixture(scope="module")
def mmdc() -> tuple[Path, Path]:
    """The mermaid CLI on the system Chromium; a missing piece fails the test, never skips."""
    try:
        return ensure_mmdc()
    except RendererUnavailable as exc:
        require("mermaid renderer", str(exc))


@pytest.mark.parametrize("index", range(len(_blocks())))
def test_every_mermaid_block_renders(index: int, mmdc: tuple[Path, Path], tmp_path: Path) -> None:
    """Each mermaid block renders to an SVG in mermaid-cli; a syntax error fails here."""
    source = _blocks()[index]
    done = render(*mmdc, source, tmp_path)
    assert done.returncode == 0, f"block {index} does not render:\n{source}\n{done.stderr}"
    svg = (tmp_path / "diagram.svg").read_text()
    assert "<svg" in svg
    assert "Syntax error" not in svg


def _er_diagram() -> tuple[dict[str, set[str]], set[tuple[str, str]]]:
    """Entities → columns, and (parent, child) pairs of the relationships, from the doc."""
    (block,) = [b for b in _blocks() if b.lstrip().startswith("erDiagram")]
    entities = {
        name: {line.split()[1] for line in body.strip().splitlines() if line.strip()}
        for name, body in re.findall(r"^\s*(\w+)\s*\{\n(.*?)^\s*\}", block, re.M | re.S)
    }
    relations = set(re.findall(r"^\s*(\w+)\s+\S*--\S*\s+(\w+)\s*:", block, re.MULTILINE))
    return entities, relations


async def test_the_er_diagram_is_the_live_schema(test_db: DbSettings) -> None:
    """Every table and column of the migrated schema is in the erDiagram and the other way
    round, and every foreign key is drawn as a relationship."""
    entities, relations = _er_diagram()
    conn = await asyncpg.connect(test_db.dsn())
    try:
        rows = await conn.fetch(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c"
            " JOIN information_schema.tables t USING (table_schema, table_name)"
            " WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'"
        )
        keys = await conn.fetch(
            "SELECT child.relname AS child, parent.relname AS parent FROM pg_constraint k"
            " JOIN pg_class child ON child.oid = k.conrelid"
            " JOIN pg_class parent ON parent.oid = k.confrelid"
            " JOIN pg_namespace n ON n.oid = child.relnamespace"
            " WHERE k.contype = 'f' AND n.nspname = 'public'"
        )
    finally:
        await conn.close()
    schema: dict[str, set[str]] = {}
    for row in rows:
        schema.setdefault(row["table_name"], set()).add(row["column_name"])
    assert sorted(entities) == sorted(schema)
    for table, columns in schema.items():
        assert entities[table] == columns, table
    assert {(k["parent"], k["child"]) for k in keys} <= relations
