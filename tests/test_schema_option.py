"""`lint --schema FILE` and `[tool.schemashift] schema`: the existing schema as the dump
tools write it, so type changes are priced on the real old types (no "old type unknown")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PG_DUMP = """\
--
-- PostgreSQL database dump
--
SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SELECT pg_catalog.set_config('search_path', '', false);

CREATE TABLE public.orders (
    id bigint NOT NULL,
    note character varying(50),
    amount integer NOT NULL
);
ALTER TABLE public.orders OWNER TO app;
ALTER TABLE ONLY public.orders
    ADD CONSTRAINT orders_pkey PRIMARY KEY (id);
"""

MYSQLDUMP = """\
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
DROP TABLE IF EXISTS `orders`;
CREATE TABLE `orders` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `note` varchar(50) DEFAULT NULL,
  `amount` int(11) NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
"""

def lint(tmp_path: Path, migration: str, *args: str) -> dict:  # type: ignore[type-arg]
    path = tmp_path / "m.sql"
    path.write_text(migration)
    proc = subprocess.run([sys.executable, "-m", "schemashift", "lint", "--format", "json",
                           *args, str(path)], capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def rules(doc: dict) -> set[str]:  # type: ignore[type-arg]
    return {f["rule"] for s in doc["statements"] for f in s["findings"]}


@pytest.mark.parametrize(("dialect", "dump", "migration", "without", "absent_with"), [
    ("postgres", PG_DUMP, "ALTER TABLE orders ALTER COLUMN note TYPE varchar(200);",
     {"SS106", "SS205"}, {"SS106", "SS205"}),
    ("mysql", MYSQLDUMP, "ALTER TABLE orders MODIFY note varchar(60) DEFAULT NULL;",
     {"SS106"}, {"SS106", "SS701"}),
])  # fmt: skip
def test_schema_dumps_price_type_changes(tmp_path: Path, dialect: str, dump: str,
                                         migration: str, without: set[str],
                                         absent_with: set[str]) -> None:  # fmt: skip
    (tmp_path / "schema.sql").write_text(dump)
    args = ["--dialect", dialect] + (["--server-version", "10.11"] if dialect == "mysql" else [])
    before = lint(tmp_path, migration, *args)
    after = lint(tmp_path, migration, *args, "--schema", "schema.sql")
    assert without <= rules(before)
    assert not (absent_with & rules(after)), rules(after)
    # the tables of the schema are existing ones: their changes still count
    assert after["statements"][0]["changes"][0]["table"] == "orders"


def test_schema_from_pyproject(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "schema.sql").write_text(PG_DUMP)
    (tmp_path / "pyproject.toml").write_text('[tool.schemashift]\nschema = "db/schema.sql"\n')
    doc = lint(tmp_path, "ALTER TABLE orders ALTER COLUMN note TYPE text;")
    assert doc["statements"][0]["changes"][0]["compatibility"] == "compatible"
    assert not rules(doc) & {"SS106", "SS205"}


def test_missing_schema_file_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "m.sql").write_text("SELECT 1;")
    proc = subprocess.run([sys.executable, "-m", "schemashift", "lint", "--schema", "nope.sql",
                           "m.sql"], capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == "schemashift: error: --schema nope.sql: no such file"
