"""Connections from the SQLAlchemy URLs users give us, and safe ways to show those URLs.

The database-facing commands take SQLAlchemy URLs (``postgresql://``,
``postgresql+psycopg://``, ``mysql+pymysql://``, ``sqlite:///path``); the executor talks
to PostgreSQL with psycopg 3 directly (fine control over transactions, ``lock_timeout``
and notices) and to MySQL/MariaDB with PyMySQL.

A password is never printed, in any form: ``mask_password`` masks URL userinfo (which ends
at the *last* ``@`` before the host, so an unencoded ``@``, ``:``, ``/``, ``?`` or ``#`` in
the password is hidden too), ``password=`` / ``pass=`` / ``pwd=`` query parameters and
libpq ``key=value`` settings; ``mask_secret`` also replaces a known password wherever it
shows up (raw, percent-encoded or quoted, e.g. in a driver's error message); ``mask_error``
is the command line's last line of defence.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, unquote_plus


class DatabaseError(RuntimeError):
    """Cannot connect or the database refused us: one line, exit 4. The message is masked
    (``mask_password``; given the ``target``, its password in any form too)."""

    def __init__(self, message: str, target: Target | None = None) -> None:
        super().__init__(mask_secret(message, target))


@dataclass(frozen=True)
class Target:
    dialect: str  # postgres | mysql | sqlite
    url: str = field(repr=False)  # as given (never printed: see `safe`)
    host: str | None
    port: int | None
    user: str | None
    password: str | None = field(repr=False)  # from the userinfo, else the query
    database: str | None
    query: dict[str, str] = field(repr=False)  # may hold the password too

    @property
    def safe(self) -> str:
        """The URL with its password masked: what messages show."""
        return mask_password(self.url)


_SCHEMES = {
    "postgresql": "postgres", "postgres": "postgres", "mysql": "mysql", "mariadb": "mysql",
    "sqlite": "sqlite",
}  # fmt: skip

# -- masking ------------------------------------------------------------------------------

MASK = "***"
# Query parameters and libpq settings that carry a password (libpq, PyMySQL, ODBC).
_PASSWORD_KEYS = frozenset({"password", "passwd", "pass", "pwd"})
_SCHEME_RE = re.compile(r"(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]*)://")
_URL_START_RE = re.compile(r"\s*([A-Za-z][A-Za-z0-9+.-]*)://")
# host[:port]; the port is checked apart (a broken URL may hold no number there).
_HOSTPORT_RE = re.compile(r"(\[[0-9A-Za-z:.%]*\]|[^\s@/?#:\[\]'\"<>]*)(?::([^\s@/?#'\"<>]*))?")
# libpq key=value: a value is 'quoted' (backslash escapes) or runs to the next space.
_DSN_PASSWORD_RE = re.compile(
    r"(?<![\w.-])((?:password|passwd|pass|pwd)\s*=\s*)('(?:[^'\\]|\\.)*'?|\S+)", re.IGNORECASE
)
# In free text a URL ends at a space or a quote; a whole URL only at its end.
_TOKEN_RE = re.compile(r"[^\s'\"<>]*")
# A query is cut at each '&' that starts another key=: a password may hold '&' otherwise.
_QUERY_SPLIT_RE = re.compile(r"&(?=[^&=]*=)")


def mask_password(text: str) -> str:
    """``text`` with every password replaced by ***: the userinfo password of each URL in it
    (the userinfo ends at the last ``@`` before the host, so ``u:p@ss:w/rd#1@host`` is
    masked whole), ``password=``/``pass=``/``pwd=`` query parameters (any case,
    percent-encoded or not) and libpq ``password=...`` settings (quoted or not).

    A text that is one URL (like ``Target.url``) is read whole, so spaces and quotes in
    its password are masked too; in other text a URL ends at a space or a quote."""
    out, pos = [], 0
    for start, netloc, at, end, whole in _urls(text):
        out.append(_mask_dsn(text[pos:start]))
        out.append(_mask_url(text[start:end], netloc - start, at - start if at >= 0 else -1,
                             whole=whole))  # fmt: skip
        pos = end
    out.append(_mask_dsn(text[pos:]))
    return "".join(out)


def mask_secret(text: str, secret: Target | str | None) -> str:
    """``mask_password(text)``, and the password of ``secret`` (a Target, or the password
    itself) replaced wherever it still appears: raw, percent-encoded (any characters, any
    hex case, ``+`` for a space) or quoted (libpq, SQL, Python, JSON) - e.g. echoed in a
    driver's error message."""
    password = secret.password if isinstance(secret, Target) else secret
    masked = mask_password(text)
    if not password:
        return masked
    # Inside a URL the secret may also be (part of) its scheme, user, host or database name
    # (postgres:postgres@…/postgres): those stay readable; any other match is masked.
    keep = [(start + a, start + b) for start, _netloc, _at, end, _whole in _urls(masked)
            for a, b in _plain_spans(masked[start:end])]  # fmt: skip

    def replace(m: re.Match[str]) -> str:
        inside = any(a <= m.start() and m.end() <= b for a, b in keep)
        return m.group() if inside else MASK

    return _secret_pattern(password).sub(replace, masked)


def mask_error(text: str) -> str:
    """An error line as the command line prints it: ``text`` masked, and the password of
    every database URL this process was given (``--database-url``,
    ``SCHEMASHIFT_DATABASE_URL``) masked wherever it appears."""
    for url in _given_urls():
        parts = _split(url)
        if parts is not None and parts.secret:
            text = mask_secret(text, parts.secret)
    return mask_password(text)


def _given_urls() -> list[str]:
    urls = [os.environ.get("SCHEMASHIFT_DATABASE_URL", "")]
    args = sys.argv[1:]
    for i, arg in enumerate(args):
        if arg == "--database-url" and i + 1 < len(args):
            urls.append(args[i + 1])
        elif arg.startswith("--database-url="):
            urls.append(arg.split("=", 1)[1])
        elif "://" in arg:
            urls.append(arg)
    return [u for u in urls if u]


def _secret_pattern(secret: str) -> re.Pattern[str]:
    """Every way ``secret`` may be written: each character raw or %XX-encoded, or one of
    its quoted forms."""

    def char(c: str) -> str:
        encoded = "".join(
            "%" + "".join(f"[{d}{d.lower()}]" if d.isalpha() else d for d in f"{b:02X}")
            for b in c.encode("utf-8", "surrogatepass")
        )
        return f"(?:{re.escape(c)}|{encoded}{'|[+]' if c == ' ' else ''})"

    quoted = (
        {
            secret.replace("\\", "\\\\").replace("'", "\\'"),  # libpq conninfo
            secret.replace("'", "''"),  # SQL literal
            repr(secret)[1:-1],
            json.dumps(secret)[1:-1],
        }
        - {secret}
    )
    forms = [re.escape(q) for q in sorted(quoted, key=len, reverse=True)]
    return re.compile("|".join([*forms, "".join(char(c) for c in secret)]))


def _urls(text: str) -> list[tuple[int, int, int, int, bool]]:
    """Each URL of ``text``: (start, where its netloc starts, the index of its userinfo's
    '@' or -1, end, read whole)."""
    first = _URL_START_RE.match(text)
    if first is not None and "\n" not in text.strip():  # the text is one URL
        netloc = first.end()
        return [(first.start(1), netloc, _userinfo_at(text, netloc, whole=True), len(text),
                 True)]  # fmt: skip
    found: list[tuple[int, int, int, int, bool]] = []
    for m in _SCHEME_RE.finditer(text):
        if found and m.start() < found[-1][3]:
            continue  # inside the previous URL
        netloc = m.end()
        at = _userinfo_at(text, netloc, whole=False)
        host = netloc if at < 0 else at + 1
        end = _TOKEN_RE.match(text, host).end()  # type: ignore[union-attr]
        found.append((m.start(), netloc, at, end, False))
    return found


def _userinfo_at(text: str, netloc: int, *, whole: bool) -> int:
    """The index in ``text`` of the '@' that ends the userinfo of the URL whose netloc
    starts at ``netloc``; -1 without userinfo.

    The usual reading (the authority runs to the first ``/`` or ``?``, its userinfo to the
    last ``@`` in it) holds unless it leaves an ``@`` that can only end a userinfo: one in
    the path (``u:p/w@host/db``), in a fragment, in a query that is no ``key=value`` list
    (``u:p?w@host``), or in a query value followed by a host with a database or port,
    after a password or in a URL without database (``u:1?a=b@host/db``); unless its port
    is no number or empty (``u:p#w@host``, ``u:/p?a=b@host/db``); unless its password is
    empty while an ``@`` follows (``u:@p/d?a=b@host/db``). Then the userinfo ends at the
    first ``@`` followed by a host (then the end, or a path and query without such an
    ``@``): an unencoded ``@ : / ? #`` in a password stays in it. Left ambiguous: a raw
    password of digits then ``/`` or ``?`` reads as a port and a path (encode it).

    In free text (not ``whole``) a URL ends at a space or a quote, and never crosses a
    line."""
    line_end = len(text) if whole else _line_end(text, netloc)
    rest = text[netloc:line_end]
    authority = re.match(r"[^/?]*" if whole else r"[^/?#\s'\"<>]*", rest).group()  # type: ignore[union-attr]
    at = authority.rfind("@")
    hostport = _HOSTPORT_RE.fullmatch(authority[at + 1 :])
    # Nobody writes "host:" without a port, nor "user:@" and then another '@' in the query;
    # "user:" + a password starting with '/', '?' or '@' reads so.
    empty_password = at >= 0 and _no_password(authority[:at]) and "@" in rest[len(authority) :]
    if (hostport is not None and _port_ok(hostport.group(2)) and hostport.group(2) != ""
            and not empty_password
            and not _stray_at(rest[len(authority) :], whole, _has_password(authority[:at]))):  # fmt: skip
        return netloc + at if at >= 0 else -1
    for m in re.finditer("@", rest):
        user = rest[: m.start()].split(":", 1)[0]
        if re.search(r"[/?#\s]", user):
            break  # no username before it: no userinfo further on either
        if _no_password(rest[: m.start()]) and "@" in rest[m.end() :]:
            continue  # an empty password, and another '@' to come: that one, rather
        if _host_follows(rest, m.start() + 1, whole, _has_password(rest[: m.start()])):
            return netloc + m.start()
    return netloc + at if at >= 0 else -1


def _has_password(userinfo: str) -> bool:
    return ":" in userinfo


def _no_password(userinfo: str) -> bool:
    """``user:`` - a colon, and nothing after it."""
    _, colon, password = userinfo.partition(":")
    return bool(colon) and not password


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _port_ok(port: str | None) -> bool:
    return not port or port.isdigit()


def _host_follows(text: str, i: int, whole: bool, has_password: bool) -> bool:
    """A host[:port] starts at ``text[i]``, then the end, or a path and query holding no
    '@' that must end a userinfo (see _stray_at)."""
    m = _HOSTPORT_RE.match(text, i)
    assert m is not None  # both groups may be empty
    if not _port_ok(m.group(2)):
        return False
    nxt = text[m.end() : m.end() + 1]
    if nxt == "":
        return True
    if nxt in "/?":
        return not _stray_at(text[m.end() :], whole, has_password)
    # In free text a URL may end at a space, a quote or a punctuation mark.
    return not whole and m.end() > i and (nxt.isspace() or nxt in "'\"<>),;]#")


def _stray_at(after: str, whole: bool, has_password: bool) -> bool:
    """``after`` (what follows the usual authority) holds an '@' that must end the
    userinfo instead (see _userinfo_at)."""
    token = after if whole else _TOKEN_RE.match(after).group()  # type: ignore[union-attr]
    path, sep, query = token.partition("?")
    if not whole:  # free text may have a #fragment; a whole database URL has none
        path, _, fragment = path.partition("#")
        query, _, query_fragment = query.partition("#")
        if "@" in fragment + query_fragment:
            return True
    if "@" in path:
        return True
    if not sep or "@" not in query:
        return False
    for piece in _QUERY_SPLIT_RE.split(query):
        key, eq, _ = piece.partition("=")
        if "@" in piece and (not eq or not key or "@" in key):
            return True
    if path.strip("/") and not has_password:
        return False  # host and database, then a query value with an '@' in it
    # After a password (or in a URL without database), an '@' in the query followed by a
    # host with a port or a database ends that password: u:p@h/d?k=v@host/db.
    # (Not in a password parameter's value: that one is masked whole anyway.)
    for piece in _QUERY_SPLIT_RE.split(query):
        key, _, value = piece.partition("=")
        for m in re.finditer("@", "" if _is_password_key(key) else value):
            hp = _HOSTPORT_RE.match(value, m.start() + 1)
            assert hp is not None
            if (hp.group(2) or "").isdigit() or value[hp.end() : hp.end() + 1] == "/":
                return True
    return False


def _mask_url(url: str, netloc: int, at: int, *, whole: bool) -> str:
    """``url`` with the password of its userinfo (ending at ``at``) and query masked."""
    head = url[:netloc]
    if at >= 0:
        user, colon, _ = url[netloc:at].partition(":")
        head += f"{user}:{MASK}@" if colon else f"{user}@"
    tail = url[at + 1 if at >= 0 else netloc :]
    hostport = re.match(r"[^/?]*" if whole else r"[^/?#]*", tail).group()  # type: ignore[union-attr]
    after = tail[len(hostport) :]
    m = _HOSTPORT_RE.fullmatch(hostport)
    if at < 0 and m is not None and not _port_ok(m.group(2)):
        # No number: most likely a password with its '@host' forgotten (u:secret/db).
        hostport = f"{m.group(1)}:{MASK}"
    path, sep, query = after.partition("?")
    return head + hostport + path + (sep + _mask_query(query) if sep else "")


def _mask_query(query: str) -> str:
    """``a=1&password=x&b=2`` → ``a=1&password=***&b=2``. A password value runs to the
    next ``&key=`` (so it may hold ``&``, ``=``, ``#``, ``?`` and ``@``)."""
    out = []
    for piece in _QUERY_SPLIT_RE.split(query):
        key, eq, _ = piece.partition("=")
        out.append(f"{key}={MASK}" if eq and _is_password_key(key) else piece)
    return "&".join(out)


def _is_password_key(key: str) -> bool:
    return unquote_plus(key).strip().lower() in _PASSWORD_KEYS


def _mask_dsn(text: str) -> str:
    """libpq ``key=value`` settings: ``password=secret``, ``password = 'a b'``."""
    return _DSN_PASSWORD_RE.sub(lambda m: m.group(1) + MASK, text)


@dataclass(frozen=True)
class _Parts:
    """A whole URL cut into its pieces, as offsets; nothing decoded nor checked."""

    url: str
    scheme: tuple[int, int]
    userinfo: tuple[int, int] | None
    hostport: tuple[int, int]
    path: tuple[int, int]  # "" or "/database"
    query: tuple[int, int] | None

    def text(self, span: tuple[int, int] | None) -> str:
        return "" if span is None else self.url[span[0] : span[1]]

    @property
    def password(self) -> str | None:
        _, colon, password = self.text(self.userinfo).partition(":")
        return unquote(password) if colon and password else None

    @property
    def params(self) -> dict[str, str]:
        """The query, decoded (blank values left out, like ``parse_qsl``)."""
        out: dict[str, str] = {}
        for piece in _QUERY_SPLIT_RE.split(self.text(self.query)):
            key, _, value = piece.partition("=")
            if key and value:
                out[unquote_plus(key)] = unquote_plus(value)
        return out

    @property
    def secret(self) -> str | None:
        """The password: the userinfo's, else a password query parameter's."""
        return self.password or next(
            (v for k, v in self.params.items() if k.strip().lower() in _PASSWORD_KEYS), None)  # fmt: skip


def _split(url: str) -> _Parts | None:
    """``url`` cut at the end of its userinfo (see _userinfo_at), host part, path and
    query; None when it has no ``scheme://``."""
    m = _URL_START_RE.match(url)
    if m is None:
        return None
    netloc = m.end()
    at = _userinfo_at(url, netloc, whole=True)
    host = at + 1 if at >= 0 else netloc
    host_end = host + len(re.match(r"[^/?]*", url[host:]).group())  # type: ignore[union-attr]
    query = url.find("?", host_end)
    path_end = len(url) if query < 0 else query
    return _Parts(url, m.span(1), (netloc, at) if at >= 0 else None, (host, host_end),
                  (host_end, path_end), None if query < 0 else (query + 1, len(url)))  # fmt: skip


def _plain_spans(url: str) -> list[tuple[int, int]]:
    """Where ``url`` shows its scheme, user, host and database name (never a password)."""
    parts = _split(url)
    if parts is None:
        return []
    # The database name only: in free text read whole, the "path" may run on into words.
    name = re.match(r"/[\w.$-]*", parts.text(parts.path))
    spans = [parts.scheme, (parts.path[0], parts.path[0] + (name.end() if name else 0))]
    if parts.userinfo is not None:
        start = parts.userinfo[0]
        spans.append((start, start + len(parts.text(parts.userinfo).split(":", 1)[0])))
    m = _HOSTPORT_RE.fullmatch(parts.text(parts.hostport))
    if m is not None:
        spans.append((parts.hostport[0], parts.hostport[0] + len(m.group(1))))
    return spans


# -- URLs ---------------------------------------------------------------------------------


def parse_url(url: str) -> Target:
    """A Target from a SQLAlchemy URL. The userinfo ends at the last '@' before the host
    (see _userinfo_at): ``postgresql://u:p@ss:w/rd#1@host/db`` has the password
    ``p@ss:w/rd#1``; percent-encoding is decoded; a ``password=`` query parameter counts
    as the password when the userinfo has none."""
    usage = "(use postgresql://, postgresql+psycopg://, mysql+pymysql:// or sqlite:///path)"
    parts = _split(url)
    if parts is None:
        raise DatabaseError(f"not a database URL: {mask_password(url)} {usage}")
    scheme = parts.text(parts.scheme)
    dialect = _SCHEMES.get(scheme.split("+")[0].lower())
    if dialect is None:
        raise DatabaseError(f"unsupported database URL scheme {scheme!r} in "
                            f"{mask_password(url)} {usage}")  # fmt: skip
    if dialect == "sqlite":
        path = url.split(":///", 1)[1] if ":///" in url else ""
        return Target(dialect, url, None, None, None, None, path or ":memory:", {})
    hostport = _HOSTPORT_RE.fullmatch(parts.text(parts.hostport))
    if hostport is None:
        raise DatabaseError(f"bad host in database URL {mask_password(url)}")
    host, port = hostport.group(1).strip("[]").lower() or None, hostport.group(2)
    if not _port_ok(port) or int(port or 0) > 65535:
        raise DatabaseError(f"bad port in database URL {mask_password(url)}")
    user = parts.text(parts.userinfo).split(":", 1)[0]
    return Target(
        dialect=dialect,
        url=url,
        host=host,
        port=int(port) if port else None,
        user=unquote(user) or None,
        password=parts.secret,
        database=parts.text(parts.path).lstrip("/") or None,
        query=parts.params,
    )


def resolve_url(option: str | None, alembic_url: str | None = None) -> str:
    """--database-url, else SCHEMASHIFT_DATABASE_URL, else the Alembic config's URL."""
    url = option or os.environ.get("SCHEMASHIFT_DATABASE_URL") or alembic_url
    if not url:
        raise DatabaseError(
            "no database: pass --database-url, set SCHEMASHIFT_DATABASE_URL, "
            "or set sqlalchemy.url in the Alembic config"
        )
    return url


def connect(target: Target, *, autocommit: bool = False) -> Any:
    """A DB-API connection: psycopg 3 for PostgreSQL, PyMySQL for MySQL/MariaDB, sqlite3."""
    try:
        if target.dialect == "postgres":
            import psycopg

            kwargs: dict[str, Any] = {
                "host": target.host, "port": target.port, "user": target.user,
                "password": target.password, "dbname": target.database,
                "autocommit": autocommit, "connect_timeout": 10,
            }  # fmt: skip
            kwargs.update({k: v for k, v in target.query.items() if k != "driver"})
            return psycopg.connect(**{k: v for k, v in kwargs.items() if v is not None})
        if target.dialect == "mysql":
            import pymysql

            return pymysql.connect(
                host=target.host or "localhost", port=target.port or 3306,
                user=target.user or "root", password=target.password or "",
                database=target.database, autocommit=autocommit, connect_timeout=10,
            )  # fmt: skip
        if target.dialect == "sqlite":
            return connect_sqlite(target)
    except Exception as exc:
        raise DatabaseError(
            f"cannot connect to {target.safe}: {_first_line(exc, target)}", target
        ) from None
    raise DatabaseError(f"the phase engine does not run on {target.dialect} yet ({target.safe})")


SQLITE_BUSY_TIMEOUT_MS = 5_000


def connect_sqlite(target: Target, *, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> Any:
    """A sqlite3 connection usable from any thread, in autocommit mode (transactions are
    explicit ``BEGIN IMMEDIATE``), waiting up to ``busy_timeout_ms`` for the database's
    write lock, in WAL mode (readers go on while one writer writes)."""
    import sqlite3

    path = target.database or ":memory:"
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                           timeout=busy_timeout_ms / 1000)  # fmt: skip
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
    except BaseException:
        conn.close()
        raise
    return conn


def _first_line(exc: BaseException, target: Target | None = None) -> str:
    """The first line of a driver's message, masked (with ``target``: its password in any
    form too, e.g. echoed from a connection string)."""
    text = str(exc).strip().splitlines()
    return mask_secret(text[0] if text else type(exc).__name__, target)
