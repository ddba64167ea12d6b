"""Every rule, table-driven: SQL where it fires and near misses where it must stay quiet.

Each case is (rule id, dialect, server version, SQL, where it fires): the index of the one
statement the rule reports, or ``None`` for "nowhere in the file". Multi-statement SQL is
written one statement per line (finishers such as SS307 report by line). A case whose
expectation is right but the code is not is marked ``bug=...``: it runs as a strict xfail,
so fixing the bug turns it into a failure that asks for the marker to go.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, NamedTuple

import pytest

from schemashift.analysis.engine import lint_text
from schemashift.config import Config
from schemashift.model import LintReport, Severity
from schemashift.rules.base import Rule
from schemashift.rules.registry import all_rules

PG, MY, LITE = "postgres", "mysql", "sqlite"


class Case(NamedTuple):
    rule: str
    dialect: str
    version: str
    sql: str
    fires_at: int | None  # index of the statement the rule fires on; None: nowhere
    bug: str | None = None  # expectation is right, the code is not (strict xfail)


def _sql(sql: str | tuple[str, ...]) -> str:
    return sql if isinstance(sql, str) else "\n".join(sql)


def fires(rule: str, sql: str | tuple[str, ...], at: int = 0, *, dialect: str = PG,
          version: str = "15", bug: str | None = None) -> Case:  # fmt: skip
    return Case(rule, dialect, version, _sql(sql), at, bug)


def quiet(rule: str, sql: str | tuple[str, ...], *, dialect: str = PG, version: str = "15",
          bug: str | None = None) -> Case:  # fmt: skip
    return Case(rule, dialect, version, _sql(sql), None, bug)


BEGIN, COMMIT = "BEGIN;", "COMMIT;"
NEW_T = "CREATE TABLE t (id int, a int, x int);"
TIMEOUT = "SET lock_timeout = '1s';"
FK = "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES u (id)"
CHECK_X = "ALTER TABLE t ADD CONSTRAINT c CHECK (x IS NOT NULL)"
VALIDATE = "ALTER TABLE t VALIDATE CONSTRAINT {};"
ENUM_AB = "ALTER TABLE t ADD COLUMN s ENUM('a','b');"
TRIGGER = "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();"

# fmt: off
# Bugs outside schemashift/rules (analysis, dialects, sql): reported, not fixed here.

CASES: list[Case] = [
    # --- SS0xx: SQL the linter cannot see into -------------------------------------------
    fires("SS001", "SELECTT 1;"),
    fires("SS001", "SELECTT 1;", dialect=MY, version="8.0.30"),
    fires("SS001", "SELECTT 1;", dialect=LITE, version="3.45"),
    quiet("SS001", "SELECT 1;"),
    quiet("SS001", "DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$;"),  # SS002's
    fires("SS002", "DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$;"),
    fires("SS002", "EXECUTE 'DROP TABLE t';"),
    fires("SS002", "CALL do_things();", dialect=MY, version="8.0.30"),
    fires("SS002", "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS "
                   "$$ BEGIN ALTER TABLE t DROP COLUMN a; END $$;"),
    quiet("SS002", "SELECTT 1;"),
    quiet("SS002", "ALTER TABLE t ADD COLUMN a text;"),
    # --- SS1xx: breaks the old app version ----------------------------------------------
    fires("SS101", "ALTER TABLE t RENAME COLUMN a TO b;"),
    fires("SS101", "ALTER TABLE t CHANGE a b INT;", dialect=MY, version="8.0.30"),
    fires("SS101", "ALTER TABLE t RENAME COLUMN a TO b;", dialect=LITE, version="3.45"),
    quiet("SS101", (NEW_T, "ALTER TABLE t RENAME COLUMN a TO b;")),
    quiet("SS101", "ALTER TABLE t RENAME TO u;"),
    fires("SS102", "ALTER TABLE t RENAME TO u;"),
    fires("SS102", "RENAME TABLE t TO u;", dialect=MY, version="8.0.30"),
    quiet("SS102", (NEW_T, "ALTER TABLE t RENAME TO u;")),
    quiet("SS102", "ALTER TABLE t RENAME COLUMN a TO b;"),
    fires("SS103", "ALTER TABLE t DROP COLUMN a;"),
    fires("SS103", "ALTER TABLE t DROP COLUMN a;", dialect=MY, version="10.11"),
    quiet("SS103", (NEW_T, "ALTER TABLE t DROP COLUMN a;")),
    quiet("SS103", "ALTER TABLE t ADD COLUMN a text;"),
    fires("SS104", "DROP TABLE t;"),
    quiet("SS104", (NEW_T, "DROP TABLE t;")),
    quiet("SS104", "DROP VIEW v;"),
    fires("SS105", "ALTER TABLE t ADD COLUMN b int NOT NULL;"),
    fires("SS105", "ALTER TABLE t ADD COLUMN c INT NOT NULL;", dialect=MY, version="8.0.30"),
    fires("SS105", "ALTER TABLE t ADD COLUMN c INT NOT NULL;", dialect=LITE, version="3.45"),
    quiet("SS105", "ALTER TABLE t ADD COLUMN b int NOT NULL DEFAULT 0;"),
    quiet("SS105", "ALTER TABLE t ADD COLUMN b int;"),
    quiet("SS105", "ALTER TABLE t ADD COLUMN id bigint NOT NULL GENERATED ALWAYS AS IDENTITY;"),
    quiet("SS105", (NEW_T, "ALTER TABLE t ADD COLUMN b int NOT NULL;")),
    fires("SS106", "ALTER TABLE t ALTER COLUMN a TYPE integer;"),  # old type unknown
    fires("SS106", ("ALTER TABLE t ADD COLUMN a varchar(20);",
                    "ALTER TABLE t ALTER COLUMN a TYPE varchar(10);"), at=1),
    fires("SS106", ("ALTER TABLE t ADD COLUMN a bigint;",
                    "ALTER TABLE t ALTER COLUMN a TYPE integer;"), at=1),
    quiet("SS106", ("ALTER TABLE t ADD COLUMN a varchar(10);",
                    "ALTER TABLE t ALTER COLUMN a TYPE varchar(20);")),
    quiet("SS106", "ALTER TABLE t ALTER COLUMN a TYPE text;"),
    quiet("SS106", ("CREATE TABLE t (a varchar(20));",
                    "ALTER TABLE t ALTER COLUMN a TYPE varchar(10);")),
    fires("SS107", "ALTER TABLE t ALTER COLUMN a DROP NOT NULL;"),
    quiet("SS107", (NEW_T, "ALTER TABLE t ALTER COLUMN a DROP NOT NULL;")),
    quiet("SS107", "ALTER TABLE t ALTER COLUMN a DROP DEFAULT;"),
    fires("SS108", "ALTER TABLE t ALTER COLUMN a DROP DEFAULT;"),
    fires("SS108", "ALTER TABLE t ALTER COLUMN a DROP DEFAULT;", dialect=LITE, version="3.45"),
    quiet("SS108", "ALTER TABLE t ALTER COLUMN a SET DEFAULT 1;"),
    quiet("SS108", (NEW_T, "ALTER TABLE t ALTER COLUMN a DROP DEFAULT;")),
    fires("SS109", "ALTER SCHEMA s RENAME TO s2;"),
    fires("SS109", "DROP SCHEMA s;"),
    fires("SS109", "DROP DATABASE s;", dialect=MY, version="8.0.30"),
    quiet("SS109", "CREATE SCHEMA s;"),
    fires("SS110", "ALTER TYPE e RENAME VALUE 'a' TO 'b';"),
    fires("SS110", "DROP TYPE e;"),
    quiet("SS110", "ALTER TYPE e ADD VALUE 'c';"),
    fires("SS111", "DROP VIEW v;"),
    quiet("SS111", "CREATE VIEW v AS SELECT 1;"),
    quiet("SS111", "CREATE OR REPLACE VIEW v AS SELECT 1;"),
    fires("SS112", "TRUNCATE t;"),
    fires("SS112", "TRUNCATE TABLE t;", dialect=MY, version="10.11"),
    quiet("SS112", (NEW_T, "TRUNCATE t;")),
    quiet("SS112", "DELETE FROM t WHERE id < 100;"),
    fires("SS113", "ALTER TABLE t DROP CONSTRAINT c;"),
    fires("SS113", "ALTER TABLE t DROP PRIMARY KEY;", dialect=MY, version="8.0.30"),
    quiet("SS113", (NEW_T, "ALTER TABLE t DROP CONSTRAINT c;")),
    quiet("SS113", "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;"),
    # --- SS2xx: long locks, rewrites and scans ------------------------------------------
    fires("SS201", "ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid();"),
    fires("SS201", "ALTER TABLE t ADD COLUMN a timestamptz DEFAULT clock_timestamp();"),
    fires("SS201", "ALTER TABLE t ADD COLUMN a int DEFAULT nextval('s');"),
    fires("SS201", "ALTER TABLE t ADD COLUMN u bigserial;"),
    fires("SS201", "ALTER TABLE t ADD COLUMN u bigint GENERATED ALWAYS AS IDENTITY;"),
    fires("SS201", "ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid();", version="10"),
    quiet("SS201", "ALTER TABLE t ADD COLUMN u timestamptz DEFAULT now();"),
    quiet("SS201", "ALTER TABLE t ADD COLUMN u timestamptz DEFAULT CURRENT_TIMESTAMP;"),
    quiet("SS201", "ALTER TABLE t ADD COLUMN u int DEFAULT 0;"),
    quiet("SS201", "ALTER TABLE t ADD COLUMN u int DEFAULT 0;", version="10"),  # SS202's
    quiet("SS201", "ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (a * 2) STORED;"),
    quiet("SS201", (NEW_T, "ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid();")),
    fires("SS202", "ALTER TABLE t ADD COLUMN u int DEFAULT 0;", version="10"),
    fires("SS202", "ALTER TABLE t ADD COLUMN u timestamptz DEFAULT now();", version="10"),
    quiet("SS202", "ALTER TABLE t ADD COLUMN u int DEFAULT 0;", version="11"),
    quiet("SS202", "ALTER TABLE t ADD COLUMN u int;", version="10"),
    quiet("SS202", "ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid();", version="10"),
    quiet("SS202", (NEW_T, "ALTER TABLE t ADD COLUMN u int DEFAULT 0;"), version="10"),
    fires("SS203", "ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (a * 2) STORED;"),
    fires("SS203", "ALTER TABLE t ADD COLUMN g INT AS (a * 2) STORED;", dialect=MY,
          version="8.0.30"),
    quiet("SS203", "ALTER TABLE t ADD COLUMN g INT AS (a * 2) VIRTUAL;", dialect=MY,
          version="8.0.30"),
    quiet("SS203", (NEW_T, "ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (a * 2) STORED;")),
    fires("SS204", "ALTER TABLE t ADD COLUMN e text UNIQUE;"),
    fires("SS204", "ALTER TABLE t ADD COLUMN e int REFERENCES u (id);"),
    fires("SS204", "ALTER TABLE t ADD COLUMN e bigint PRIMARY KEY;"),
    quiet("SS204", "ALTER TABLE t ADD COLUMN e int CHECK (e > 0);"),
    quiet("SS204", (NEW_T, "ALTER TABLE t ADD COLUMN e text UNIQUE;")),
    fires("SS205", "ALTER TABLE t ALTER COLUMN a TYPE text;"),  # old type unknown: fail safe
    fires("SS205", ("ALTER TABLE t ADD COLUMN a integer;",
                    "ALTER TABLE t ALTER COLUMN a TYPE bigint;"), at=1),
    fires("SS205", "ALTER TABLE t MODIFY amount DECIMAL(12,2) NOT NULL;", dialect=MY,
          version="8.0.28"),
    quiet("SS205", ("ALTER TABLE t ADD COLUMN a varchar(10);",
                    "ALTER TABLE t ALTER COLUMN a TYPE varchar(20);")),
    quiet("SS205", ("ALTER TABLE t ADD COLUMN a varchar(10);",
                    "ALTER TABLE t ALTER COLUMN a TYPE text;")),
    quiet("SS205", ("ALTER TABLE t ADD COLUMN a numeric(10,2);",
                    "ALTER TABLE t ALTER COLUMN a TYPE numeric(12,2);")),
    quiet("SS205", ("ALTER TABLE t ADD COLUMN a cidr;",
                    "ALTER TABLE t ALTER COLUMN a TYPE inet;")),
    quiet("SS205", (NEW_T, "ALTER TABLE t ALTER COLUMN a TYPE bigint;")),
    fires("SS206", "ALTER TABLE t ALTER COLUMN id TYPE bigint;"),
    fires("SS206", ("ALTER TABLE t ADD COLUMN user_id integer;",
                    "ALTER TABLE t ALTER COLUMN user_id TYPE bigint;"), at=1),
    quiet("SS206", "ALTER TABLE t ALTER COLUMN amount TYPE bigint;"),
    quiet("SS206", ("ALTER TABLE t ADD COLUMN user_id bigint;",
                    "ALTER TABLE t ALTER COLUMN user_id TYPE bigint;")),
    quiet("SS206", (NEW_T, "ALTER TABLE t ALTER COLUMN id TYPE bigint;")),
    fires("SS207", "ALTER TABLE t ALTER COLUMN x SET NOT NULL;"),
    fires("SS207", (f"{CHECK_X} NOT VALID;", VALIDATE.format("c"),
                    "ALTER TABLE t ALTER COLUMN x SET NOT NULL;"), at=2, version="11"),
    fires("SS207", (f"{CHECK_X} NOT VALID;",  # never validated: no proof
                    "ALTER TABLE t ALTER COLUMN x SET NOT NULL;"), at=1),
    fires("SS207", ("ALTER TABLE t ADD CONSTRAINT c CHECK (y IS NOT NULL) NOT VALID;",
                    VALIDATE.format("c"), "ALTER TABLE t ALTER COLUMN x SET NOT NULL;"), at=2),
    quiet("SS207", (f"{CHECK_X} NOT VALID;", VALIDATE.format("c"),
                    "ALTER TABLE t ALTER COLUMN x SET NOT NULL;"), version="12"),
    quiet("SS207", (f"{CHECK_X} NOT VALID;", VALIDATE.format("c"),
                    "ALTER TABLE t ALTER COLUMN x SET NOT NULL;")),
    quiet("SS207", (f"{CHECK_X};", "ALTER TABLE t ALTER COLUMN x SET NOT NULL;")),
    quiet("SS207", (NEW_T, "ALTER TABLE t ALTER COLUMN x SET NOT NULL;")),
    fires("SS208", "VACUUM FULL t;"),
    fires("SS208", "CLUSTER t USING i;"),
    fires("SS208", "ALTER TABLE t SET TABLESPACE ts;"),
    fires("SS208", "ALTER TABLE t SET LOGGED;"),
    quiet("SS208", "VACUUM t;"),
    quiet("SS208", "ALTER TABLE t SET (fillfactor = 70);"),
    quiet("SS208", (NEW_T, "VACUUM FULL t;")),
    fires("SS209", "ALTER TABLE p DETACH PARTITION c;", version="14"),
    quiet("SS209", "ALTER TABLE p DETACH PARTITION c;", version="13"),  # no CONCURRENTLY yet
    quiet("SS209", "ALTER TABLE p DETACH PARTITION c CONCURRENTLY;"),
    fires("SS210", TRIGGER),
    quiet("SS210", (TIMEOUT, TRIGGER)),
    quiet("SS210", (NEW_T, TRIGGER)),
    fires("SS211", (BEGIN, "ALTER TYPE e ADD VALUE 'c';", COMMIT), at=1, version="11"),
    quiet("SS211", (BEGIN, "ALTER TYPE e ADD VALUE 'c';", COMMIT), version="12"),
    quiet("SS211", "ALTER TYPE e ADD VALUE 'c';", version="11"),
    fires("SS212", "UPDATE t SET a = 1;"),
    fires("SS212", "DELETE FROM t;"),
    fires("SS212", "UPDATE t SET a = 1;", dialect=MY, version="8.0.30"),
    fires("SS212", "DELETE FROM t;", dialect=LITE, version="3.45"),
    quiet("SS212", "UPDATE t SET a = 1 WHERE id < 100;"),
    quiet("SS212", "DELETE FROM t WHERE id < 100;"),
    quiet("SS212", (NEW_T, "UPDATE t SET a = 1;")),
    fires("SS213", "REINDEX INDEX i;"),
    fires("SS213", "REINDEX TABLE t;"),
    quiet("SS213", "REINDEX INDEX CONCURRENTLY i;"),
    # --- SS3xx: constraints -------------------------------------------------------------
    fires("SS301", f"{FK};"),
    fires("SS301", "ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES u (id);"),
    quiet("SS301", f"{FK} NOT VALID;"),
    quiet("SS301", (NEW_T, f"{FK};")),
    fires("SS302", "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);"),
    quiet("SS302", "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;"),
    quiet("SS302", (NEW_T, "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);")),
    fires("SS303", (BEGIN, f"{FK} NOT VALID;", VALIDATE.format("fk"), COMMIT), at=2),
    quiet("SS303", (BEGIN, f"{FK} NOT VALID;", COMMIT, VALIDATE.format("fk"))),
    quiet("SS303", (f"{FK} NOT VALID;", VALIDATE.format("fk"))),
    quiet("SS303", (f"{FK} NOT VALID;", BEGIN, VALIDATE.format("fk"), COMMIT)),
    quiet("SS303", (BEGIN, f"{FK} NOT VALID;", COMMIT, "SELECT 1;",
                    BEGIN, VALIDATE.format("fk"), COMMIT)),
    quiet("SS303", (BEGIN, f"{FK} NOT VALID;", COMMIT, BEGIN, VALIDATE.format("fk"), COMMIT)),
    fires("SS304", "ALTER TABLE t ADD CONSTRAINT u UNIQUE (a);"),
    quiet("SS304", "ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX i;"),
    quiet("SS304", (NEW_T, "ALTER TABLE t ADD CONSTRAINT u UNIQUE (a);")),
    fires("SS305", "ALTER TABLE t ADD PRIMARY KEY (id);"),
    fires("SS305", "ALTER TABLE t ADD CONSTRAINT pk PRIMARY KEY (id);"),
    quiet("SS305", "ALTER TABLE t ADD CONSTRAINT pk PRIMARY KEY USING INDEX i;"),
    quiet("SS305", (NEW_T, "ALTER TABLE t ADD PRIMARY KEY (id);")),
    fires("SS306", "ALTER TABLE t ADD CONSTRAINT ex EXCLUDE USING gist (r WITH &&);"),
    quiet("SS306", (NEW_T, "ALTER TABLE t ADD CONSTRAINT ex EXCLUDE USING gist (a WITH &&);")),
    quiet("SS306", "ALTER TABLE t ADD CONSTRAINT u UNIQUE (a);"),
    fires("SS307", "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;"),
    fires("SS307", (f"{FK} NOT VALID;", "ALTER TABLE t ADD COLUMN b text;")),
    fires("SS307", f"{FK} NOT VALID; ALTER TABLE t ADD COLUMN b text;"),
    quiet("SS307", (f"{FK} NOT VALID;", VALIDATE.format("fk"))),
    quiet("SS307", f"{FK};"),
    # --- SS4xx: indexes -----------------------------------------------------------------
    fires("SS401", "CREATE INDEX i ON t (a);"),
    fires("SS401", (TIMEOUT, "CREATE UNIQUE INDEX i ON t (a);"), at=1),
    quiet("SS401", "CREATE INDEX CONCURRENTLY i ON t (a);"),
    quiet("SS401", (NEW_T, "CREATE INDEX i ON t (a);")),
    fires("SS402", "DROP INDEX i;"),
    quiet("SS402", "DROP INDEX CONCURRENTLY i;"),
    fires("SS403", (BEGIN, "CREATE INDEX CONCURRENTLY i ON t (a);", COMMIT), at=1),
    fires("SS403", (BEGIN, "DROP INDEX CONCURRENTLY i;", COMMIT), at=1),
    fires("SS403", (BEGIN, "REINDEX INDEX CONCURRENTLY i;", COMMIT), at=1),
    fires("SS403", (BEGIN, "ALTER TABLE p DETACH PARTITION c CONCURRENTLY;", COMMIT), at=1),
    quiet("SS403", "CREATE INDEX CONCURRENTLY i ON t (a);"),
    quiet("SS403", (BEGIN, "CREATE INDEX i ON t (a);", COMMIT)),
    quiet("SS403", (BEGIN, "CREATE INDEX i ON t (a);", COMMIT,
                    "CREATE INDEX CONCURRENTLY j ON t (b);")),
    fires("SS404", "CREATE INDEX CONCURRENTLY i ON t (a);"),
    quiet("SS404", "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);"),
    quiet("SS404", "CREATE INDEX i ON t (a);"),
    # --- SS5xx: lock waits and transactions ---------------------------------------------
    fires("SS501", "CREATE INDEX i ON t (a);"),
    fires("SS501", "ALTER TABLE t ADD COLUMN a text;"),
    fires("SS501", ("SET lock_timeout = 0;", "ALTER TABLE t ADD COLUMN a text;"), at=1),
    fires("SS501", "ALTER TABLE t ADD COLUMN a INT;", dialect=MY, version="8.0.30"),
    quiet("SS501", (TIMEOUT, "CREATE INDEX i ON t (a);")),
    quiet("SS501", ("SET LOCAL lock_timeout = '1s';", "ALTER TABLE t ADD COLUMN a text;")),
    quiet("SS501", ("SET SESSION lock_wait_timeout = 5;", "ALTER TABLE t ADD COLUMN a INT;"),
          dialect=MY, version="10.11"),
    quiet("SS501", (NEW_T, "ALTER TABLE t ADD COLUMN b text;")),
    quiet("SS501", "UPDATE t SET a = 1 WHERE id = 1;"),
    fires("SS502", (BEGIN, "ALTER TABLE a ADD COLUMN x text;",
                    "ALTER TABLE b ADD COLUMN y text;", COMMIT), at=2),
    quiet("SS502", ("ALTER TABLE a ADD COLUMN x text;", "ALTER TABLE b ADD COLUMN y text;")),
    quiet("SS502", (BEGIN, "ALTER TABLE a ADD COLUMN x text;", COMMIT)),
    quiet("SS502", (BEGIN, "CREATE TABLE a (x int);", "ALTER TABLE a ADD COLUMN y text;",
                    COMMIT)),
    quiet("SS502", (BEGIN, "ALTER TABLE a ADD COLUMN x text;", COMMIT,
                    "ALTER TABLE b ADD COLUMN y text;")),
    quiet("SS502", (BEGIN, "ALTER TABLE a ADD COLUMN x text;", COMMIT,
                    BEGIN, "ALTER TABLE b ADD COLUMN y text;", COMMIT)),
    # --- SS6xx: style -------------------------------------------------------------------
    fires("SS601", "CREATE TABLE t (a varchar(50), b text);"),
    fires("SS601", "ALTER TABLE t ADD COLUMN a character varying(20);"),
    quiet("SS601", "CREATE TABLE t (a varchar, b text);"),
    quiet("SS601", "CREATE TABLE t (a varchar(50));", dialect=MY, version="8.0.30"),
    fires("SS602", "CREATE TABLE t (a char(2));"),
    fires("SS602", "ALTER TABLE t ADD COLUMN a character(3);"),
    quiet("SS602", "CREATE TABLE t (a text, b varchar(3));"),
    fires("SS603", "CREATE TABLE t (a timestamp);"),
    fires("SS603", "CREATE TABLE t (a timestamp without time zone);"),
    fires("SS603", "ALTER TABLE t ALTER COLUMN a TYPE timestamp;"),
    quiet("SS603", "CREATE TABLE t (b timestamptz, c timestamp with time zone);"),
    quiet("SS603", "ALTER TABLE t ADD COLUMN a timestamp;", dialect=MY, version="8.0.30"),
    fires("SS604", "CREATE TABLE t (id integer PRIMARY KEY);"),
    fires("SS604", "CREATE TABLE t (id serial PRIMARY KEY);"),
    fires("SS604", "CREATE TABLE t (id int, PRIMARY KEY (id));"),
    fires("SS604", "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY);", dialect=MY,
          version="8.0.30"),
    quiet("SS604", "CREATE TABLE t (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY);"),
    quiet("SS604", "CREATE TABLE t (id bigint PRIMARY KEY, n integer);"),
    quiet("SS604", "CREATE TABLE t (id BIGINT AUTO_INCREMENT PRIMARY KEY);", dialect=MY,
          version="8.0.30"),
    fires("SS605", "CREATE TABLE t (id bigserial);"),
    fires("SS605", "ALTER TABLE t ADD COLUMN n serial;"),
    quiet("SS605", "CREATE TABLE t (id bigint GENERATED BY DEFAULT AS IDENTITY);"),
    fires("SS606", f"CREATE TABLE {'a' * 64} (x int);"),
    fires("SS606", f"ALTER TABLE t ADD COLUMN {'a' * 64} int;"),
    fires("SS606", f"CREATE INDEX {'i' * 64} ON t (a);"),
    fires("SS606", f"CREATE TABLE t ({'é' * 32} int);"),  # 64 bytes, 32 characters
    fires("SS606", f"CREATE TABLE {'a' * 65} (x int);", dialect=MY, version="8.0.30"),
    quiet("SS606", f"CREATE TABLE {'a' * 63} (x int);"),
    quiet("SS606", f"CREATE TABLE t ({'é' * 31} int);"),
    quiet("SS606", f"CREATE TABLE {'a' * 64} (x int);", dialect=MY, version="8.0.30"),
    quiet("SS606", f"CREATE TABLE t ({'é' * 32} int);", dialect=MY, version="8.0.30"),
    fires("SS607", "CREATE TABLE t (d json);"),
    fires("SS607", "ALTER TABLE t ADD COLUMN d json;"),
    quiet("SS607", "CREATE TABLE t (d jsonb);"),
    # --- SS7xx: MySQL / MariaDB online DDL ----------------------------------------------
    fires("SS701", "ALTER TABLE t MODIFY amount DECIMAL(12,2) NOT NULL;", dialect=MY,
          version="8.0.28"),
    fires("SS701", "ALTER TABLE t MODIFY amount DECIMAL(12,2) NOT NULL;", dialect=MY,
          version="10.11"),
    fires("SS701", "ALTER TABLE t ADD COLUMN g INT AS (a * 2) STORED;", dialect=MY,
          version="8.0.30"),
    fires("SS701", "ALTER TABLE t DROP PRIMARY KEY;", dialect=MY, version="10.11"),
    fires("SS701", "ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4;", dialect=MY,
          version="8.0.30"),
    fires("SS701", "ALTER TABLE t ENGINE = MyISAM;", dialect=MY, version="8.0.30"),
    fires("SS701", f"{FK};", dialect=MY, version="8.0.30"),
    quiet("SS701", ("SET foreign_key_checks = 0;", f"{FK};"), dialect=MY, version="8.0.30"),
    quiet("SS701", "ALTER TABLE t ADD COLUMN c INT;", dialect=MY, version="8.0.28"),
    quiet("SS701", ("CREATE TABLE t (a INT);", "ALTER TABLE t MODIFY a BIGINT;"), dialect=MY,
          version="8.0.30"),
    quiet("SS701", ("ALTER TABLE t ADD COLUMN a VARCHAR(10);", "ALTER TABLE t MODIFY a VARCHAR(20);"),
          dialect=MY, version="8.0.30"),
    quiet("SS701", "ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (id, b);", dialect=MY,
          version="8.0.30"),  # INPLACE: only dropping the primary key alone copies
    quiet("SS701", (ENUM_AB, "ALTER TABLE t MODIFY s ENUM('a','b','c');"), dialect=MY,
          version="8.0.30"),  # appending members is INSTANT
    quiet("SS701", "ALTER TABLE t ENGINE = InnoDB;", dialect=MY, version="8.0.30"),  # SS702's
    fires("SS702", "ALTER TABLE t ADD COLUMN c INT AFTER a;", dialect=MY, version="8.0.28"),
    fires("SS702", "ALTER TABLE t DROP COLUMN c;", dialect=MY, version="8.0.28"),
    fires("SS702", "ALTER TABLE t ENGINE = InnoDB;", dialect=MY, version="10.11"),
    fires("SS702", ("ALTER TABLE t ADD COLUMN a INT NULL;", "ALTER TABLE t MODIFY a INT NOT NULL;"),
          at=1, dialect=MY, version="10.11"),
    quiet("SS702", "ALTER TABLE t ADD COLUMN c INT AFTER a;", dialect=MY, version="8.0.30"),
    quiet("SS702", "ALTER TABLE t ADD COLUMN c INT AFTER a;", dialect=MY, version="10.11"),
    quiet("SS702", "ALTER TABLE t DROP COLUMN c;", dialect=MY, version="8.0.30"),
    quiet("SS702", "ALTER TABLE t MODIFY amount DECIMAL(12,2);", dialect=MY, version="8.0.30"),
    fires("SS703", "ALTER TABLE t ADD COLUMN a INT NULL, LOCK=SHARED;", dialect=MY,
          version="8.0.30"),
    fires("SS703", "ALTER TABLE t ADD COLUMN a INT NULL, LOCK=EXCLUSIVE;", dialect=MY,
          version="10.11"),
    fires("SS703", "ALTER TABLE t ADD COLUMN a INT NULL, ALGORITHM=COPY;", dialect=MY,
          version="8.0.28"),
    fires("SS703", "ALTER TABLE t ADD INDEX i (a), LOCK=SHARED;", dialect=MY, version="8.0.30"),
    fires("SS703", "CREATE INDEX i ON t (a) LOCK=SHARED;", dialect=MY, version="8.0.30"),
    quiet("SS703", "ALTER TABLE t ADD COLUMN a INT NULL, ALGORITHM=INPLACE, LOCK=NONE;",
          dialect=MY, version="8.0.30"),
    quiet("SS703", "ALTER TABLE t ADD COLUMN a INT NULL, ALGORITHM=INSTANT;", dialect=MY,
          version="8.0.30"),
    quiet("SS703", "ALTER TABLE t MODIFY amount DECIMAL(12,2);", dialect=MY, version="8.0.30"),
    fires("SS704", (ENUM_AB, "ALTER TABLE t MODIFY s ENUM('b','a');"), at=1, dialect=MY,
          version="8.0.30"),
    fires("SS704", (ENUM_AB, "ALTER TABLE t MODIFY s ENUM('a','c','b');"), at=1, dialect=MY,
          version="10.11"),
    fires("SS704", (ENUM_AB, "ALTER TABLE t CHANGE s s ENUM('a');"), at=1, dialect=MY,
          version="8.0.28"),
    fires("SS704", ("ALTER TABLE t ADD COLUMN s SET('a','b');",
                    "ALTER TABLE t MODIFY s SET('b','a');"), at=1, dialect=MY, version="8.0.30"),
    quiet("SS704", (ENUM_AB, "ALTER TABLE t MODIFY s ENUM('a','b','c');"), dialect=MY,
          version="8.0.30"),
    quiet("SS704", "ALTER TABLE t MODIFY s ENUM('b','a');", dialect=MY, version="8.0.30"),
    fires("SS705", ("ALTER TABLE t ADD COLUMN a INT;", "CREATE INDEX i ON t (a);"), at=1,
          dialect=MY, version="8.0.30"),
    fires("SS705", ("CREATE TABLE a (x int);", "ALTER TABLE b ADD COLUMN y int;",
                    "CREATE INDEX i ON b (y);"), at=1, dialect=MY, version="10.11"),
    quiet("SS705", ("SET SESSION lock_wait_timeout = 5;", "ALTER TABLE t ADD COLUMN a INT;",
                    "UPDATE t SET a = 1 WHERE id < 10;"), dialect=MY, version="8.0.28"),
    # --- SS8xx: SQLite ------------------------------------------------------------------
    fires("SS801", "ALTER TABLE t ALTER COLUMN a TYPE text;", dialect=LITE, version="3.45"),
    fires("SS801", "ALTER TABLE t ALTER COLUMN a SET NOT NULL;", dialect=LITE, version="3.24"),
    fires("SS801", "ALTER TABLE t ALTER COLUMN a DROP DEFAULT;", dialect=LITE, version="3.45"),
    fires("SS801", "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);", dialect=LITE, version="3.45"),
    quiet("SS801", "ALTER TABLE t ADD COLUMN a INTEGER;", dialect=LITE, version="3.45"),
    quiet("SS801", "ALTER TABLE t RENAME COLUMN a TO b;", dialect=LITE, version="3.45"),
    quiet("SS801", "CREATE INDEX i ON t (a);", dialect=LITE, version="3.24"),
    fires("SS802", "ALTER TABLE t DROP COLUMN a;", dialect=LITE, version="3.24"),
    fires("SS802", "ALTER TABLE t RENAME COLUMN a TO b;", dialect=LITE, version="3.24"),
    fires("SS802", "ALTER TABLE t ADD COLUMN a INTEGER UNIQUE;", dialect=LITE, version="3.45"),
    fires("SS802", "ALTER TABLE t ADD COLUMN a INTEGER PRIMARY KEY;", dialect=LITE,
          version="3.45"),
    fires("SS802", (NEW_T, "ALTER TABLE t DROP COLUMN a;"), at=1, dialect=LITE, version="3.24"),
    quiet("SS802", "ALTER TABLE t DROP COLUMN a;", dialect=LITE, version="3.45"),
    quiet("SS802", "ALTER TABLE t RENAME COLUMN a TO b;", dialect=LITE, version="3.45"),
    quiet("SS802", "ALTER TABLE t ADD COLUMN a INTEGER;", dialect=LITE, version="3.24"),
]
# fmt: on


def _params() -> list[Any]:
    seen: Counter[str] = Counter()
    out = []
    for case in CASES:
        verb = "fires" if case.fires_at is not None else "quiet"
        seen[f"{case.rule}-{verb}"] += 1
        marks = [pytest.mark.xfail(strict=True, reason=case.bug)] if case.bug else []
        out.append(pytest.param(case, id=f"{case.rule}-{verb}{seen[f'{case.rule}-{verb}']}",
                                marks=marks))  # fmt: skip
    return out


def _lint(case: Case) -> LintReport:
    return lint_text(case.sql, file="t.sql", dialect=case.dialect, server_version=case.version)


def _describe(report: LintReport) -> str:
    return "\n".join(
        f"  [{i}] {s.statement.sql!r}: {[f.rule for f in s.findings]}"
        for i, s in enumerate(report.statements)
    )


@pytest.mark.parametrize("case", _params())
def test_rule_case(case: Case) -> None:
    report = _lint(case)
    hits = [
        i for i, s in enumerate(report.statements) if any(f.rule == case.rule for f in s.findings)
    ]
    expected = [] if case.fires_at is None else [case.fires_at]
    assert hits == expected, f"{case.rule} on {case.dialect} {case.version}:\n{_describe(report)}"
    for statement in report.statements:
        for finding in statement.findings:
            if finding.rule == case.rule:
                assert finding.message.strip(), finding
                assert finding.fix.strip(), finding


def test_every_rule_has_a_firing_case_and_a_near_miss() -> None:
    rules = {r.id: r for r in all_rules()}
    assert len(rules) == 55
    assert {c.rule for c in CASES} <= set(rules), "a case names an unknown rule"
    missing = []
    for rule_id, rule in sorted(rules.items()):
        working = [c for c in CASES if c.rule == rule_id and c.bug is None]
        if not any(c.fires_at is not None and c.dialect in rule.dialects for c in working):
            missing.append(f"{rule_id}: no case where it fires")
        if not any(c.fires_at is None and c.dialect in rule.dialects for c in working):
            missing.append(f"{rule_id}: no near miss in a dialect it checks")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.id)
def test_rule_has_docs_page(rule: Rule) -> None:
    path = rule.docs_path
    assert path.name == f"{rule.id}.md" and path.is_file(), path
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.split()[:2] == ["#", rule.id], first


# --- suppression and configuration ---------------------------------------------------------

RENAMES = "\n".join([
    TIMEOUT,
    "-- schemashift: ignore SS101 the app reads both names already",
    "ALTER TABLE t RENAME COLUMN a TO b;",
    "ALTER TABLE t RENAME COLUMN c TO d;",
])  # fmt: skip


def _rules_at(report: LintReport, i: int) -> list[str]:
    return [f.rule for f in report.statements[i].findings]


def test_ignore_comment_suppresses_only_the_next_statement() -> None:
    report = lint_text(RENAMES, file="t.sql", dialect=PG, server_version="15")
    assert "SS101" not in _rules_at(report, 1)
    assert report.statements[1].suppressed == ("SS101",)
    assert _rules_at(report, 2) == ["SS101"]
    assert report.statements[2].suppressed == ()


def test_ignore_comment_names_several_rules_and_leaves_the_others() -> None:
    sql = "-- schemashift: ignore SS101, SS501 reviewed\nALTER TABLE t RENAME COLUMN a TO b;"
    report = lint_text(sql, file="t.sql", dialect=PG, server_version="15")
    assert _rules_at(report, 0) == []
    assert set(report.statements[0].suppressed) == {"SS101", "SS501"}
    report = lint_text("-- schemashift: ignore SS501 ok\nALTER TABLE t RENAME COLUMN a TO b;")
    assert _rules_at(report, 0) == ["SS101"]


def test_ignore_comment_suppresses_a_finisher() -> None:
    sql = "-- schemashift: ignore SS307 validated next release\n" + f"{FK} NOT VALID;"
    report = lint_text(sql, file="t.sql", dialect=PG, server_version="15")
    assert "SS307" not in _rules_at(report, 0)
    assert report.statements[0].suppressed == ("SS307",)


def test_disabled_rule_does_not_run() -> None:
    config = Config(disable=frozenset({"SS101"}))
    report = lint_text("ALTER TABLE t RENAME COLUMN a TO b;", file="t.sql", config=config,
                       dialect=PG, server_version="15")  # fmt: skip
    assert _rules_at(report, 0) == ["SS501"]
    assert report.statements[0].suppressed == ()


def test_severity_override() -> None:
    rule = next(r for r in all_rules() if r.id == "SS402")
    assert rule.severity is Severity.WARNING
    default = lint_text("DROP INDEX i;", file="t.sql", dialect=PG, server_version="15")
    assert [f.severity for f in default.statements[0].findings] == [Severity.WARNING]
    config = Config(severity={"SS402": Severity.ERROR})
    report = lint_text("DROP INDEX i;", file="t.sql", config=config, dialect=PG,
                       server_version="15")  # fmt: skip
    assert [(f.rule, f.severity) for f in report.statements[0].findings] == [
        ("SS402", Severity.ERROR)
    ]
    assert report.summary.errors == 1 and report.summary.warnings == 0


def test_unknown_warn_turns_unparsable_sql_into_a_warning() -> None:
    default = lint_text("SELECTT 1;", file="t.sql", dialect=PG, server_version="15")
    assert [(f.rule, f.severity) for f in default.statements[0].findings] == [
        ("SS001", Severity.ERROR)
    ]
    report = lint_text("SELECTT 1;", file="t.sql", config=Config(unknown="warn"), dialect=PG,
                       server_version="15")  # fmt: skip
    assert [(f.rule, f.severity) for f in report.statements[0].findings] == [
        ("SS001", Severity.WARNING)
    ]
    # Only SS001: the dynamic-SQL rule keeps its own severity.
    dynamic = lint_text("EXECUTE 'DROP TABLE t';", config=Config(unknown="warn"))
    assert [(f.rule, f.severity) for f in dynamic.statements[0].findings] == [
        ("SS002", Severity.ERROR)
    ]
