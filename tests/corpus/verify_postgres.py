"""Re-check the PostgreSQL verdicts of real_world.json against a live server.

Not a pytest test (it needs a local PostgreSQL where the current OS user is a superuser,
reached over the default socket). For each postgres entry it creates a scratch database,
builds the tables the statement expects (SETUP, taken from the project's earlier
migrations and cut down), runs the statement and reports the strongest lock held on each
table (pg_locks), whether the table's relfilenode changed (rewrite) and whether pg_stat
counted a sequential scan. CONCURRENTLY statements run outside a transaction; their lock
is read from a second session while a third one holds an old snapshot, which makes the
build wait.

    python tests/corpus/verify_postgres.py [tests/corpus/real_world.json] [ID ...]

Known, intended differences (see README.md): CREATE TABLE (no table before), DROP TABLE
(no relfilenode after) and TRUNCATE (new empty file, index rebuild over an empty heap).
"""

import json
import sys
import time

import psycopg

RANK = [
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
]
NAME = {
    "AccessShareLock": "ACCESS SHARE",
    "RowShareLock": "ROW SHARE",
    "RowExclusiveLock": "ROW EXCLUSIVE",
    "ShareUpdateExclusiveLock": "SHARE UPDATE EXCLUSIVE",
    "ShareLock": "SHARE",
    "ShareRowExclusiveLock": "SHARE ROW EXCLUSIVE",
    "ExclusiveLock": "EXCLUSIVE",
    "AccessExclusiveLock": "ACCESS EXCLUSIVE",
}

SETUP = {
    "pg-mattermost-users-props-jsonb": (
        'CREATE TABLE users (id varchar(26) primary key, props varchar(4000), notifyprops varchar(2000), timezone varchar(256) DEFAULT \'{"useAutomaticTimezone":"true"}\');'
        "INSERT INTO users SELECT g::text, '{}', '{}', '{}' FROM generate_series(1,50) g",
        ["users"],
    ),
    "pg-mattermost-users-timezone-drop-default": (
        "CREATE TABLE users (id varchar(26) primary key, props jsonb, notifyprops jsonb, timezone varchar(256) DEFAULT '{}');"
        "INSERT INTO users SELECT g::text, '{}', '{}', '{}' FROM generate_series(1,50) g",
        ["users"],
    ),
    "pg-mattermost-channels-create-index": (
        "CREATE TABLE channels (id varchar(26) primary key, teamid varchar(26), displayname varchar(64), type varchar(1));"
        "INSERT INTO channels SELECT g::text, 't'||(g%5), 'c'||g, 'O' FROM generate_series(1,50) g",
        ["channels"],
    ),
    "pg-mattermost-channels-drop-index": (
        "CREATE TABLE channels (id varchar(26) primary key, teamid varchar(26), displayname varchar(64), type varchar(1));"
        "CREATE INDEX idx_channels_team_id ON channels(teamid);"
        "INSERT INTO channels SELECT g::text, 't'||(g%5), 'c'||g, 'O' FROM generate_series(1,50) g",
        ["channels"],
    ),
    "pg-mattermost-posts-index-concurrently": (
        "CREATE TABLE posts (id varchar(26) primary key, pageparentid varchar(26), deleteat bigint, type varchar(26));"
        "INSERT INTO posts SELECT g::text, (g%3)::text, 0, 'page' FROM generate_series(1,50) g",
        ["posts"],
    ),
    "pg-lemmy-post-add-column-default-false": (
        "CREATE TABLE post (id int generated always as identity primary key, name varchar(100) not null);"
        "INSERT INTO post (name) SELECT 'p'||g FROM generate_series(1,50) g",
        ["post"],
    ),
    "pg-lemmy-post-name-varchar-widen": (
        "CREATE TABLE post (id int generated always as identity primary key, name varchar(100) not null);"
        "INSERT INTO post (name) SELECT 'p'||g FROM generate_series(1,50) g",
        ["post"],
    ),
    "pg-lemmy-activity-unique-index-new-table": (
        "CREATE TABLE user_ (id serial primary key);"
        "create table activity (\n  id serial primary key,\n  user_id int references user_ on update cascade on delete cascade not null,\n  data jsonb not null,\n  local boolean not null default true,\n  published timestamp not null default now(),\n  updated timestamp\n);",
        ["activity"],
    ),
    "pg-lemmy-user-add-federation-columns": (
        "CREATE TABLE user_ (id serial primary key, name varchar(20));"
        "INSERT INTO user_ (name) SELECT 'u'||g FROM generate_series(1,50) g",
        ["user_"],
    ),
    "pg-lemmy-user-delete-duplicates": (
        "CREATE TABLE user_ (id serial primary key, name varchar(20), fedi_name varchar(40), email text);"
        "INSERT INTO user_ (name, fedi_name) SELECT 'U'||(g%40), 'x' FROM generate_series(1,50) g",
        ["user_"],
    ),
    "pg-lemmy-user-unique-lower-name": (
        "CREATE TABLE user_ (id serial primary key, name varchar(20), email text);"
        "INSERT INTO user_ (name) SELECT 'u'||g FROM generate_series(1,50) g",
        ["user_"],
    ),
    "pg-lemmy-user-update-empty-email": (
        "CREATE TABLE user_ (id serial primary key, name varchar(20), email text);"
        "INSERT INTO user_ (name, email) SELECT 'u'||g, CASE WHEN g%2=0 THEN '' ELSE 'a@b' END FROM generate_series(1,50) g",
        ["user_"],
    ),
    "pg-lemmy-private-message-set-not-null": (
        "CREATE TABLE private_message (id serial primary key, ap_id varchar(255) default 'http://fake.com');"
        "INSERT INTO private_message (ap_id) SELECT 'a'||g FROM generate_series(1,50) g",
        ["private_message"],
    ),
    "pg-lemmy-private-message-set-volatile-default": (
        "CREATE FUNCTION generate_unique_changeme() RETURNS text LANGUAGE sql AS $$ SELECT 'changeme_' || md5(random()::text) $$;"
        "CREATE TABLE private_message (id serial primary key, ap_id varchar(255) default 'http://fake.com');"
        "INSERT INTO private_message (ap_id) SELECT 'a'||g FROM generate_series(1,50) g",
        ["private_message"],
    ),
    "pg-lemmy-post-add-unique-constraint": (
        "CREATE TABLE post (id serial primary key, ap_id varchar(255) not null);"
        "INSERT INTO post (ap_id) SELECT 'a'||g FROM generate_series(1,50) g",
        ["post"],
    ),
    "pg-lemmy-user-drop-column": (
        "CREATE TABLE user_ (id serial primary key, name varchar(20), fedi_name varchar(40));"
        "INSERT INTO user_ (name) SELECT 'u'||g FROM generate_series(1,50) g",
        ["user_"],
    ),
    "pg-calcom-eventtype-drop-and-add-column": (
        'CREATE TABLE "EventType" (id serial primary key, "scAddress" text);'
        'INSERT INTO "EventType" ("scAddress") SELECT \'x\' FROM generate_series(1,50)',
        ["EventType"],
    ),
    "pg-calcom-enum-add-value": (
        "CREATE TYPE \"MembershipRole\" AS ENUM ('MEMBER', 'OWNER');"
        'CREATE TABLE "Membership" (id serial primary key, role "MembershipRole" NOT NULL);'
        "INSERT INTO \"Membership\" (role) SELECT 'MEMBER' FROM generate_series(1,50)",
        ["Membership"],
    ),
    "pg-calcom-rename-table": (
        'CREATE TABLE "VerificationRequest" (id serial primary key, token text UNIQUE);'
        "INSERT INTO \"VerificationRequest\" (token) SELECT 't'||g FROM generate_series(1,50) g",
        ["VerificationRequest"],
    ),
    "pg-calcom-payment-unique-index": (
        'CREATE TABLE "Payment" (id serial primary key, "bookingId" int);'
        'INSERT INTO "Payment" ("bookingId") SELECT g FROM generate_series(1,50) g',
        ["Payment"],
    ),
    "pg-calcom-credential-add-fk": (
        "CREATE TABLE users (id serial primary key);"
        "INSERT INTO users SELECT g FROM generate_series(1,50) g;"
        'CREATE TABLE "Credential" (id serial primary key, "userId" int);'
        'INSERT INTO "Credential" ("userId") SELECT g FROM generate_series(1,50) g',
        ["Credential", "users"],
    ),
    "pg-calcom-users-set-default": (
        "CREATE TYPE \"UserPlan\" AS ENUM ('FREE', 'TRIAL', 'PRO');"
        "CREATE TABLE users (id serial primary key, plan \"UserPlan\" NOT NULL DEFAULT 'PRO');"
        "INSERT INTO users SELECT g FROM generate_series(1,50) g",
        ["users"],
    ),
    "pg-calcom-booking-add-enum-column": (
        'CREATE TABLE "Booking" (id serial primary key);'
        'INSERT INTO "Booking" SELECT g FROM generate_series(1,50) g;'
        "CREATE TYPE \"BookingStatus\" AS ENUM ('cancelled', 'accepted', 'rejected', 'pending')",
        ["Booking"],
    ),
    "pg-calcom-create-table": ("SELECT 1", ["HashedLink"]),
    "pg-calcom-fk-on-new-table": (
        'CREATE TABLE "EventType" (id serial primary key);'
        'INSERT INTO "EventType" SELECT g FROM generate_series(1,50) g;'
        'CREATE TABLE "HashedLink" (\n    "id" SERIAL NOT NULL,\n    "link" TEXT NOT NULL,\n    "eventTypeId" INTEGER NOT NULL,\n\n    CONSTRAINT "HashedLink_pkey" PRIMARY KEY ("id")\n)',
        ["HashedLink", "EventType"],
    ),
    "pg-storage-buckets-add-check": (
        "CREATE SCHEMA storage; CREATE TABLE storage.buckets (id text primary key, name text not null);"
        "INSERT INTO storage.buckets SELECT 'b'||g, 'bucket'||g FROM generate_series(1,50) g",
        ["storage.buckets"],
    ),
    "pg-storage-buckets-validate-constraint": (
        "CREATE SCHEMA storage; CREATE TABLE storage.buckets (id text primary key, name text not null, lifecycle_shard_epoch int);"
        "INSERT INTO storage.buckets SELECT 'b'||g, 'bucket'||g, 1 FROM generate_series(1,50) g;"
        "ALTER TABLE storage.buckets ADD CONSTRAINT buckets_lifecycle_shard_epoch_check CHECK (lifecycle_shard_epoch >= 0) NOT VALID",
        ["storage.buckets"],
    ),
    "pg-storage-objects-create-trigger": (
        "CREATE SCHEMA storage; CREATE TABLE storage.objects (id uuid primary key default gen_random_uuid(), name text, updated_at timestamptz);"
        "INSERT INTO storage.objects (name) SELECT 'o'||g FROM generate_series(1,50) g;"
        "CREATE OR REPLACE FUNCTION update_updated_at_column()\nRETURNS TRIGGER AS $$\nBEGIN\n  NEW.updated_at = now();\n  RETURN NEW;\nEND;\n$$ language plpgsql",
        ["storage.objects"],
    ),
    "pg-storage-objects-unique-index-concurrently": (
        "CREATE SCHEMA storage; CREATE TABLE storage.objects (id uuid primary key default gen_random_uuid(), bucket_id text, name text, level int);"
        "INSERT INTO storage.objects (bucket_id, name, level) SELECT 'b', 'o'||g, 1 FROM generate_series(1,50) g",
        ["storage.objects"],
    ),
    "pg-storage-int-to-bigint": (
        "CREATE SCHEMA storage; CREATE TABLE storage._s3_multipart_uploads (id text PRIMARY KEY, in_progress_size int NOT NULL default 0);"
        "INSERT INTO storage._s3_multipart_uploads SELECT 'u'||g, g FROM generate_series(1,50) g",
        ["storage._s3_multipart_uploads"],
    ),
    "pg-storage-buckets-rename-column": (
        "CREATE SCHEMA storage; CREATE TABLE storage.buckets (id text primary key, max_file_size_kb int);"
        "INSERT INTO storage.buckets SELECT 'b'||g, 1 FROM generate_series(1,50) g",
        ["storage.buckets"],
    ),
    "pg-storage-do-block-drop-triggers": (
        "CREATE SCHEMA storage; CREATE TABLE storage.prefixes (bucket_id text, name text);"
        "INSERT INTO storage.prefixes SELECT 'b', 'p'||g FROM generate_series(1,50) g;"
        "CREATE FUNCTION storage.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;"
        "CREATE TRIGGER prefixes_create_hierarchy BEFORE INSERT ON storage.prefixes FOR EACH ROW EXECUTE FUNCTION storage.noop();"
        "CREATE TRIGGER prefixes_delete_hierarchy AFTER DELETE ON storage.prefixes FOR EACH ROW EXECUTE FUNCTION storage.noop()",
        ["storage.prefixes"],
    ),
    "pg-storage-objects-drop-column": (
        "CREATE SCHEMA storage; CREATE TABLE storage.objects (id uuid primary key default gen_random_uuid(), name text, level int);"
        "INSERT INTO storage.objects (name, level) SELECT 'o'||g, 1 FROM generate_series(1,50) g",
        ["storage.objects"],
    ),
    "pg-storage-drop-table-cascade": (
        "CREATE SCHEMA storage; CREATE TABLE storage.prefixes (bucket_id text, name text);"
        "INSERT INTO storage.prefixes SELECT 'b', 'p'||g FROM generate_series(1,50) g",
        ["storage.prefixes"],
    ),
    "pg-storage-objects-index-concurrently": (
        "CREATE SCHEMA storage; CREATE TABLE storage.objects (id uuid primary key default gen_random_uuid(), bucket_id text, archived_at timestamptz);"
        "INSERT INTO storage.objects (bucket_id) SELECT 'b' FROM generate_series(1,50) g",
        ["storage.objects"],
    ),
    "pg-storage-do-block-not-valid-checks": (
        "CREATE SCHEMA storage; CREATE TABLE storage.buckets (id text primary key, type text DEFAULT 'STANDARD');"
        "INSERT INTO storage.buckets SELECT 'b'||g FROM generate_series(1,50) g;"
        "ALTER TABLE storage.buckets\nADD COLUMN IF NOT EXISTS lifecycle_configuration jsonb,\nADD COLUMN IF NOT EXISTS lifecycle_configuration_generation uuid",
        ["storage.buckets"],
    ),
    "pg-vaultwarden-varchar-to-text": (
        "CREATE TABLE users (uuid CHAR(36) NOT NULL PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE);"
        "INSERT INTO users SELECT md5(g::text)::uuid::text, 'u'||g||'@x' FROM generate_series(1,50) g",
        ["users"],
    ),
    "pg-vaultwarden-char-to-varchar": (
        "CREATE TABLE ciphers (uuid CHAR(36) NOT NULL PRIMARY KEY);"
        "INSERT INTO ciphers SELECT md5(g::text)::uuid::text FROM generate_series(1,50) g;"
        "CREATE TABLE attachments (\n  id          CHAR(36) NOT NULL PRIMARY KEY,\n  cipher_uuid CHAR(36) NOT NULL REFERENCES ciphers (uuid),\n  file_name   TEXT    NOT NULL,\n  file_size   INTEGER NOT NULL,\n  akey        TEXT\n);"
        "INSERT INTO attachments SELECT md5(g::text)::uuid::text, md5(g::text)::uuid::text, 'f', 1 FROM generate_series(1,50) g;"
        "ALTER TABLE attachments ALTER COLUMN id TYPE TEXT",
        ["attachments"],
    ),
    "pg-vaultwarden-add-column-default-null": (
        "CREATE TABLE users (uuid CHAR(36) NOT NULL PRIMARY KEY);"
        "INSERT INTO users SELECT md5(g::text)::uuid::text FROM generate_series(1,50) g",
        ["users"],
    ),
    "pg-immich-add-column-default-now": (
        "CREATE TABLE assets (id uuid primary key default gen_random_uuid());"
        "INSERT INTO assets SELECT FROM generate_series(1,50)",
        ["assets"],
    ),
    "pg-immich-truncate": (
        "CREATE TABLE system_config (key varchar primary key, value varchar);"
        "INSERT INTO system_config SELECT 'k'||g, 'v' FROM generate_series(1,50) g",
        ["system_config"],
    ),
    "pg-immich-rename-table": (
        "CREATE TABLE user_token (id uuid primary key default gen_random_uuid());"
        "INSERT INTO user_token SELECT FROM generate_series(1,50)",
        ["user_token"],
    ),
    "pg-immich-add-primary-key": (
        'CREATE TABLE assets (id character varying(36) NOT NULL, "stackId" uuid);'
        "INSERT INTO assets SELECT gen_random_uuid()::text FROM generate_series(1,50)",
        ["assets"],
    ),
    "pg-pleroma-create-extension": (
        "CREATE TABLE objects (id serial primary key, data jsonb)",
        ["objects"],
    ),
    "pg-pleroma-objects-set-not-null": (
        "CREATE TABLE objects (id serial primary key, data jsonb);"
        "INSERT INTO objects (data) SELECT '{}' FROM generate_series(1,50)",
        ["objects"],
    ),
    "pg-librate-add-not-null-no-default": (
        "CREATE SCHEMA cdn; CREATE TABLE cdn.images (id bigserial primary key, thumbnail text NOT NULL)",
        ["cdn.images"],
    ),
    "pg-librate-drop-not-null": (
        "CREATE SCHEMA cdn; CREATE TABLE cdn.images (id bigserial primary key, thumbnail text NOT NULL);"
        "INSERT INTO cdn.images (thumbnail) SELECT 't' FROM generate_series(1,50)",
        ["cdn.images"],
    ),
    "pg-librate-set-volatile-default": (
        "CREATE FUNCTION uuid_time_nextval(int, int) RETURNS uuid LANGUAGE sql VOLATILE AS $$ SELECT gen_random_uuid() $$;"
        "CREATE TABLE public.members (id uuid primary key, nick text);"
        "INSERT INTO members SELECT gen_random_uuid(), 'n'||g FROM generate_series(1,50) g",
        ["members"],
    ),
    "pg-sonar-add-column-volatile-default": (
        "CREATE TABLE events (id serial primary key, protocol text);"
        "INSERT INTO events (protocol) SELECT 'dns' FROM generate_series(1,50)",
        ["events"],
    ),
    "pg-agrovita-fk-not-valid": (
        "CREATE TABLE profiles (id uuid primary key);"
        "INSERT INTO profiles SELECT md5(g::text)::uuid FROM generate_series(1,50) g;"
        "CREATE TABLE public.comments (id serial primary key, user_id uuid);"
        "INSERT INTO comments (user_id) SELECT md5(g::text)::uuid FROM generate_series(1,50) g",
        ["comments", "profiles"],
    ),
    "pg-convoy-add-column-with-lock-timeout": (
        "CREATE SCHEMA convoy; CREATE TABLE convoy.configurations (id text primary key);"
        "INSERT INTO convoy.configurations SELECT 'c'||g FROM generate_series(1,50) g",
        ["convoy.configurations"],
    ),
    "pg-convoy-update-without-where": (
        "CREATE SCHEMA convoy; CREATE TABLE convoy.endpoints (id text primary key, title text, target_url text);"
        "INSERT INTO convoy.endpoints SELECT 'e'||g, 't', 'http://x' FROM generate_series(1,50) g;"
        "ALTER TABLE convoy.endpoints\n    ADD COLUMN IF NOT EXISTS name text,\n    ADD COLUMN IF NOT EXISTS url text",
        ["convoy.endpoints"],
    ),
    "pg-convoy-set-not-null-and-drop-columns": (
        "CREATE SCHEMA convoy; CREATE TABLE convoy.endpoints (id text primary key, title text, target_url text, name text, url text);"
        "INSERT INTO convoy.endpoints SELECT 'e'||g, 't', 'http://x', 't', 'http://x' FROM generate_series(1,50) g",
        ["convoy.endpoints"],
    ),
    "pg-convoy-index-concurrently-include": (
        "CREATE SCHEMA convoy; CREATE TABLE convoy.subscriptions (id text primary key, project_id text, name text, type text, endpoint_id text, function text, filter_config_filter_headers jsonb, filter_config_event_types text[], filter_config_filter_body jsonb, deleted_at timestamptz);"
        "INSERT INTO convoy.subscriptions (id, project_id) SELECT 's'||g, 'p' FROM generate_series(1,50) g",
        ["convoy.subscriptions"],
    ),
}


def strongest(modes):
    modes = [m for m in modes if m in RANK]
    return NAME[max(modes, key=RANK.index)] if modes else "none"


def run(entry, admin):
    eid = entry["id"]
    setup, tables = SETUP[eid]
    db = "cv_" + str(abs(hash(eid)) % 10**8)
    admin.execute(f"DROP DATABASE IF EXISTS {db}")
    admin.execute(f"CREATE DATABASE {db}")
    try:
        with psycopg.connect(f"dbname={db}", autocommit=True) as c:
            for s in [x for x in setup.split(";") if x.strip()] if "$$" not in setup else [setup]:
                c.execute(s)
            # ANALYZE so the planner sees the rows, then flush stats
            c.execute("ANALYZE")
            sql = entry["sql"]
            concurrent = "CONCURRENTLY" in sql.upper()

            def oids():
                out = {}
                for t in tables:
                    r = c.execute(
                        "SELECT to_regclass(%s)::oid",
                        (f'"{t}"' if "." not in t and t != t.lower() else t,),
                    ).fetchone()[0]
                    out[t] = r
                return out

            before = oids()

            def relfile(o):
                r = c.execute("SELECT relfilenode FROM pg_class WHERE oid=%s", (o,)).fetchone()
                return r[0] if r else None

            def seq(o):
                r = c.execute(
                    "SELECT coalesce(seq_scan,0) FROM pg_stat_xact_user_tables WHERE relid=%s", (o,)
                ).fetchone()
                return r[0] if r else 0

            res = {}
            if concurrent:
                c.execute("SELECT pg_stat_force_next_flush()")
                s0 = {
                    t: c.execute(
                        "SELECT seq_scan FROM pg_stat_user_tables WHERE relid=%s", (o,)
                    ).fetchone()[0]
                    for t, o in before.items()
                }
                f0 = {t: relfile(o) for t, o in before.items()}
                import threading

                holder = psycopg.connect(f"dbname={db}")
                holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
                holder.execute("SELECT 1 FROM pg_class LIMIT 1")
                pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
                th = threading.Thread(target=lambda: c.execute(sql))
                th.start()
                seen = set()
                with psycopg.connect(f"dbname={db}", autocommit=True) as w:
                    for _ in range(50):
                        time.sleep(0.1)
                        for t, o in before.items():
                            for (m,) in w.execute(
                                "SELECT mode FROM pg_locks WHERE pid=%s AND locktype='relation' AND relation=%s AND granted",
                                (pid, o),
                            ):
                                seen.add((t, m))
                        if (
                            w.execute(
                                "SELECT wait_event_type FROM pg_stat_activity WHERE pid=%s", (pid,)
                            ).fetchone()[0]
                            == "Lock"
                        ):
                            break
                holder.rollback()
                holder.close()
                th.join()
                c.execute("SELECT pg_stat_force_next_flush()")
                time.sleep(0.2)
                with psycopg.connect(f"dbname={db}", autocommit=True) as c2:
                    c2.execute("SELECT pg_stat_clear_snapshot()")
                    s1 = {
                        t: c2.execute(
                            "SELECT seq_scan FROM pg_stat_user_tables WHERE relid=%s", (o,)
                        ).fetchone()[0]
                        for t, o in before.items()
                    }
                for t, o in before.items():
                    res[t] = dict(
                        lock=strongest([m for (tt, m) in seen if tt == t]),
                        rewrite=relfile(o) != f0[t],
                        scan=s1[t] > s0[t],
                    )
                return res
            c.execute("BEGIN")
            f0 = {t: relfile(o) for t, o in before.items() if o}
            s0 = {t: seq(o) for t, o in before.items() if o}
            c.execute(sql)
            after = oids()
            for t in tables:
                o = before.get(t) or after.get(t)
                modes = [
                    r[0]
                    for r in c.execute(
                        "SELECT mode FROM pg_locks WHERE pid=pg_backend_pid() AND locktype='relation' AND relation=%s AND granted",
                        (o,),
                    )
                ]
                res[t] = dict(
                    lock=strongest(modes),
                    rewrite=(relfile(o) != f0[t]) if t in f0 else None,
                    scan=(seq(o) > s0[t]) if t in s0 else None,
                )
            res["_other_locks"] = sorted(
                {
                    (r[0], r[1], r[2] or "?")
                    for r in c.execute(
                        "SELECT l.locktype, l.mode, coalesce(c.relname, l.classid::regclass::text) FROM pg_locks l LEFT JOIN pg_class c ON c.oid=l.relation "
                        "WHERE l.pid=pg_backend_pid() AND l.locktype NOT IN ('virtualxid','transactionid') AND (c.relnamespace IS NULL OR c.relnamespace NOT IN ('pg_catalog'::regnamespace,'information_schema'::regnamespace)) AND (c.relkind IS NULL OR c.relkind IN ('r','p'))"
                    )
                }
            )
            c.execute("ROLLBACK")
            return res
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


if __name__ == "__main__":
    import os

    args = sys.argv[1:]
    path = (
        args.pop(0)
        if args and args[0].endswith(".json")
        else os.path.join(os.path.dirname(os.path.abspath(__file__)), "real_world.json")
    )
    with open(path) as fh:
        corpus = json.load(fh)
    only = args or None
    with psycopg.connect("dbname=postgres", autocommit=True) as admin:
        for entry in corpus:
            if entry["dialect"] != "postgres" or (only and entry["id"] not in only):
                continue
            exp = entry["expect"]
            try:
                res = run(entry, admin)
            except Exception as ex:
                print(f"ERROR {entry['id']}: {type(ex).__name__}: {ex}")
                continue
            main = SETUP[entry["id"]][1][0]
            r = res[main]
            ok_lock = r["lock"] == exp["lock"] or r["lock"].startswith("(not")
            ok_rw = r["rewrite"] == exp["rewrites_table"]
            ok_scan = r["scan"] == exp["scans_table"]
            flag = "ok " if (ok_lock and ok_rw and ok_scan) else "DIFF"
            print(
                f"{flag} {entry['id']}: observed {res}  expected lock={exp['lock']} rw={exp['rewrites_table']} scan={exp['scans_table']}"
            )
