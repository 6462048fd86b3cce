"""``make pg-roles``: the read-only role analysts use on the PostgreSQL warehouse.

Analysts read the published KPIs (schema ``kpi``: views that show the certified dates only) and
the quality history (schema ``qa``: the run history and the certification), and write nothing.
The pipeline's own role (RR_PG_USER, the role dbt, the loader and the exports connect as) owns
the schemas and is the only writer. The reader is a NOLOGIN group role (RR_PG_READER_ROLE,
default ``rr_reader``); analysts' own LOGIN roles are made members of it.

What the reader holds in the warehouse database, exactly; every run converges to it, revoking
whatever else was granted to the reader there (a run that cannot says what to run instead):

- CONNECT on the database (the compose stack revokes it from PUBLIC);
- USAGE on the schemas kpi and qa, SELECT on each of their tables and views;
- the pipeline role's default privileges in kpi and qa: SELECT on the tables and views it
  creates there later, so what dbt re-creates on its next run stays readable.

The views of kpi read kpi_build, and those of qa read raw, with their owner's rights (how
PostgreSQL views work), so the reader needs no USAGE on kpi_build, raw, staging or mart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from seeds_loader.settings import Settings, check_role_name

READ_SCHEMAS = ("kpi", "qa")
# what GRANT ... ON ALL TABLES covers: tables, partitioned tables, views, materialized views and
# foreign tables
READABLE_RELKINDS = ["r", "p", "v", "m", "f"]
# one pg-roles at a time per database: concurrent GRANTs on the same object fail with "tuple
# concurrently updated" (an arbitrary constant: "rr_roles")
ROLES_LOCK = 0x72725F726F6C6573
# role attributes that let a role write or give itself more than the reader may hold
_POWERS = {
    "rolcanlogin": "LOGIN",
    "rolsuper": "SUPERUSER",
    "rolcreaterole": "CREATEROLE",
    "rolcreatedb": "CREATEDB",
    "rolreplication": "REPLICATION",
    "rolbypassrls": "BYPASSRLS",
}
# pg_default_acl.defaclobjtype -> the words of ALTER DEFAULT PRIVILEGES
_DEFAULT_OBJECTS = {"r": "tables", "S": "sequences", "f": "functions", "T": "types", "n": "schemas"}


class RoleError(RuntimeError):
    """The reader role cannot be set up as asked; the message says why and what to run."""


@dataclass(frozen=True)
class Privilege:
    """One explicit ACL entry of the reader in the warehouse database. ``detail`` is the column
    of a column privilege, or the object type letter of a default privilege (whose ``name`` is
    the role whose new objects it applies to)."""

    kind: str
    schema: str | None
    name: str
    detail: str | None
    privilege: str
    grantable: bool
    grantor: str

    @property
    def key(self) -> tuple[str, str | None, str, str | None, str]:
        return (self.kind, self.schema, self.name, self.detail, self.privilege)

    def describe(self) -> str:
        option = " with grant option" if self.grantable else ""
        if self.kind == "default":
            where = f" in schema {self.schema}" if self.schema else ""
            objects = _DEFAULT_OBJECTS.get(self.detail or "", self.detail)
            return f"default {self.privilege}{option} on the {objects} {self.name} creates{where}"
        name = f"{self.schema}.{self.name}" if self.schema else self.name
        column = f" ({self.detail})" if self.detail else ""
        kind = "table" if self.kind == "column" else self.kind
        return f"{self.privilege}{column}{option} on {kind} {name}"

    def revoke(self, reader: str, *, grant_option_only: bool = False) -> Any:
        """The statement that takes this privilege (or only its grant option) from ``reader``."""
        from psycopg import sql

        if not re.fullmatch(r"[A-Z]+", self.privilege):
            raise RoleError(f"unexpected privilege {self.privilege!r} on {self.kind} {self.name}")
        what = sql.SQL("grant option for {}" if grant_option_only else "{}").format(sql.SQL(self.privilege))
        if self.kind == "default":
            in_schema = (
                sql.SQL(" in schema {}").format(sql.Identifier(self.schema)) if self.schema else sql.SQL("")
            )
            return sql.SQL("alter default privileges for role {}{} revoke {} on {} from {} cascade").format(
                sql.Identifier(self.name),
                in_schema,
                what,
                sql.SQL(_DEFAULT_OBJECTS[self.detail or ""]),
                sql.Identifier(reader),
            )
        return sql.SQL("revoke {} on {} from {} cascade").format(what, self._target(), sql.Identifier(reader))

    def _target(self) -> Any:
        from psycopg import sql

        if self.kind in ("table", "sequence"):
            return sql.SQL(f"{self.kind} {{}}").format(sql.Identifier(self.schema or "", self.name))
        if self.kind == "column":
            return sql.SQL("table {}").format(sql.Identifier(self.schema or "", self.name))
        if self.kind in ("routine", "type"):  # regprocedure / regtype text: quoted by PostgreSQL
            return sql.SQL(f"{self.kind} {self.name}")
        if self.kind == "large object" and self.name.isdigit():
            return sql.SQL(f"large object {self.name}")
        if self.kind in ("database", "schema", "language", "foreign data wrapper", "foreign server"):
            return sql.SQL(f"{self.kind} {{}}").format(sql.Identifier(self.name))
        raise RoleError(f"unexpected object kind {self.kind!r} ({self.name})")


# Every explicit privilege of one role (%(oid)s) on the objects of the current database that carry
# an ACL. Column privileges come apart from their table's, as REVOKE needs them.
_PRIVILEGES_SQL = """
select 'database', null::text, d.datname::text, null::text, a.privilege_type, a.is_grantable,
       pg_get_userbyid(a.grantor)::text
  from pg_database d, aclexplode(d.datacl) a
 where d.datname = current_database() and a.grantee = %(oid)s
union all
select 'schema', null, n.nspname, null, a.privilege_type, a.is_grantable, pg_get_userbyid(a.grantor)
  from pg_namespace n, aclexplode(n.nspacl) a
 where a.grantee = %(oid)s
union all
select case c.relkind when 'S' then 'sequence' else 'table' end, n.nspname, c.relname, null,
       a.privilege_type, a.is_grantable, pg_get_userbyid(a.grantor)
  from pg_class c join pg_namespace n on n.oid = c.relnamespace, aclexplode(c.relacl) a
 where a.grantee = %(oid)s
union all
select 'column', n.nspname, c.relname, t.attname, a.privilege_type, a.is_grantable,
       pg_get_userbyid(a.grantor)
  from pg_attribute t join pg_class c on c.oid = t.attrelid join pg_namespace n on n.oid = c.relnamespace,
       aclexplode(t.attacl) a
 where a.grantee = %(oid)s and not t.attisdropped
union all
select 'routine', null, p.oid::regprocedure::text, null, a.privilege_type, a.is_grantable,
       pg_get_userbyid(a.grantor)
  from pg_proc p, aclexplode(p.proacl) a
 where a.grantee = %(oid)s
union all
select 'type', null, t.oid::regtype::text, null, a.privilege_type, a.is_grantable,
       pg_get_userbyid(a.grantor)
  from pg_type t, aclexplode(t.typacl) a
 where a.grantee = %(oid)s
union all
select 'default', n.nspname, pg_get_userbyid(d.defaclrole), d.defaclobjtype::text, a.privilege_type,
       a.is_grantable, pg_get_userbyid(a.grantor)
  from pg_default_acl d left join pg_namespace n on n.oid = d.defaclnamespace,
       aclexplode(d.defaclacl) a
 where a.grantee = %(oid)s
union all
select 'large object', null, l.oid::text, null, a.privilege_type, a.is_grantable,
       pg_get_userbyid(a.grantor)
  from pg_largeobject_metadata l, aclexplode(l.lomacl) a
 where a.grantee = %(oid)s
union all
select 'language', null, g.lanname, null, a.privilege_type, a.is_grantable, pg_get_userbyid(a.grantor)
  from pg_language g, aclexplode(g.lanacl) a
 where a.grantee = %(oid)s
union all
select 'foreign data wrapper', null, w.fdwname, null, a.privilege_type, a.is_grantable,
       pg_get_userbyid(a.grantor)
  from pg_foreign_data_wrapper w, aclexplode(w.fdwacl) a
 where a.grantee = %(oid)s
union all
select 'foreign server', null, s.srvname, null, a.privilege_type, a.is_grantable,
       pg_get_userbyid(a.grantor)
  from pg_foreign_server s, aclexplode(s.srvacl) a
 where a.grantee = %(oid)s
order by 1, 2, 3, 4, 5
"""


def reader_privileges(conn: Any, role: str) -> list[Privilege]:
    """The explicit privileges ``role`` holds in the connected database (none when it does not
    exist). Privileges through PUBLIC or through membership in other roles are not listed."""
    row = conn.execute("select oid from pg_roles where rolname = %s", (role,)).fetchone()
    if row is None:
        return []
    return [Privilege(*r) for r in conn.execute(_PRIVILEGES_SQL, {"oid": row[0]}).fetchall()]


def _execute(conn: Any, statement: Any, refused: str) -> None:
    """Run ``statement``; a permission error becomes a RoleError that starts with ``refused``
    (the transaction is rolled back: a run that cannot finish changes nothing)."""
    import psycopg

    try:
        conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise RoleError(f"{refused} ({_first_line(exc)})") from exc


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _ensure_role(conn: Any, reader: str, say: Callable[[str], None]) -> None:
    """Create the reader as a NOLOGIN group role; an existing role must be one already, for a
    name that points at an analyst's or an application's role must not be stripped of grants."""
    from psycopg import sql

    columns = ", ".join(_POWERS)
    row = conn.execute(f"select {columns} from pg_roles where rolname = %s", (reader,)).fetchone()
    if row is None:
        _execute(
            conn,
            sql.SQL("create role {} nologin").format(sql.Identifier(reader)),
            f"cannot create role {reader}: the pipeline role lacks CREATEROLE; as a superuser run "
            f"`create role {reader} nologin;`, then make pg-roles again",
        )
        say(f"created role {reader} (NOLOGIN)")
        return
    powers = [name for name, held in zip(_POWERS.values(), row, strict=True) if held]
    if powers:
        raise RoleError(
            f"role {reader} exists with {', '.join(powers)}, but the reader must be a NOLOGIN group "
            f"role without powers: set RR_PG_READER_ROLE to another name, or as a superuser run "
            f"`alter role {reader} {' '.join('no' + p.lower() for p in powers)};`"
        )


def _own_schema(conn: Any, schema: str, pipeline: str, say: Callable[[str], None]) -> None:
    """Create ``schema`` or take it over: the pipeline role must own it, since only the owner's
    default privileges and grants reach what dbt creates there."""
    from psycopg import sql

    row = conn.execute(
        "select pg_get_userbyid(nspowner) from pg_namespace where nspname = %s", (schema,)
    ).fetchone()
    if row is None:
        _execute(
            conn,
            sql.SQL("create schema {}").format(sql.Identifier(schema)),
            f"cannot create schema {schema}: {pipeline} lacks CREATE on the database",
        )
        say(f"created schema {schema}")
    elif row[0] != pipeline:
        _execute(
            conn,
            sql.SQL("alter schema {} owner to {}").format(sql.Identifier(schema), sql.Identifier(pipeline)),
            f"schema {schema} is owned by {row[0]}, not by the pipeline role {pipeline}, who cannot "
            f"take it over: as {row[0]} or a superuser run `alter schema {schema} owner to {pipeline};`",
        )
        say(f"schema {schema}: owner {row[0]} -> {pipeline} (the pipeline role, RR_PG_USER)")


def _memberships(conn: Any, reader: str) -> list[tuple[str, str]]:
    """(role, grantor) of each role the reader is a member of: it would inherit their rights."""
    return conn.execute(
        "select r.rolname::text, pg_get_userbyid(m.grantor)::text from pg_auth_members m "
        "join pg_roles r on r.oid = m.roleid join pg_roles me on me.oid = m.member "
        "where me.rolname = %s order by 1, 2",
        (reader,),
    ).fetchall()


def _leave_other_roles(conn: Any, reader: str, say: Callable[[str], None]) -> None:
    from psycopg import sql

    for role, _grantor in _memberships(conn, reader):
        _execute(
            conn,
            sql.SQL("revoke {} from {} cascade").format(sql.Identifier(role), sql.Identifier(reader)),
            f"{reader} is a member of role {role}, which the pipeline role may not revoke: as a "
            f"superuser run `revoke {role} from {reader};`",
        )
        say(f"revoked membership of {reader} in role {role}")
    for role, grantor in _memberships(conn, reader):
        raise RoleError(
            f"{reader} is still a member of role {role} (granted by {grantor}): as a superuser run "
            f"`revoke {role} from {reader} granted by {grantor};`"
        )


def _readable_relations(conn: Any) -> list[tuple[str, str, str]]:
    """(schema, name, owner) of each table and view of kpi and qa."""
    return conn.execute(
        "select n.nspname::text, c.relname::text, pg_get_userbyid(c.relowner)::text from pg_class c "
        "join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = any(%s) and c.relkind::text = any(%s) order by 1, 2",
        (list(READ_SCHEMAS), READABLE_RELKINDS),
    ).fetchall()


def _expected(conn: Any, pipeline: str) -> set[tuple[str, str | None, str, str | None, str]]:
    """The keys (:attr:`Privilege.key`) of exactly what the reader holds once converged."""
    database = conn.execute("select current_database()::text").fetchone()[0]
    keys: set[tuple[str, str | None, str, str | None, str]] = {("database", None, database, None, "CONNECT")}
    for schema in READ_SCHEMAS:
        keys.add(("schema", None, schema, None, "USAGE"))
        keys.add(("default", schema, pipeline, "r", "SELECT"))
    for schema, name, _owner in _readable_relations(conn):
        keys.add(("table", schema, name, None, "SELECT"))
    return keys


def _revoke_extras(conn: Any, reader: str, pipeline: str, say: Callable[[str], None]) -> None:
    """Take from the reader every explicit privilege beyond the expected ones, and every grant
    option (with CASCADE: what the reader passed on goes too)."""
    expected = _expected(conn, pipeline)
    done: set[tuple[tuple[str, str | None, str, str | None, str], bool]] = set()
    for p in reader_privileges(conn, reader):
        option_only = p.key in expected
        if (option_only and not p.grantable) or (p.key, option_only) in done:
            continue
        done.add((p.key, option_only))
        statement = p.revoke(reader, grant_option_only=option_only)
        _execute(
            conn,
            statement,
            f"{reader} holds {p.describe()} (granted by {p.grantor}), which {pipeline} may not "
            f"revoke: as {p.grantor} or a superuser run `{statement.as_string(conn)};`",
        )
        what = (
            f"the grant option of {replace(p, grantable=False).describe()}" if option_only else p.describe()
        )
        say(f"revoked {what} from {reader}")


def _grant(conn: Any, reader: str, pipeline: str) -> None:
    """Grant what the reader may hold (each GRANT is a no-op when already held)."""
    from psycopg import sql

    who = sql.Identifier(reader)
    schemas = sql.SQL(", ").join(sql.Identifier(s) for s in READ_SCHEMAS)
    owned_elsewhere = ", ".join(
        f"{s}.{n} (owner {o})" for s, n, o in _readable_relations(conn) if o != pipeline
    )
    for statement, refused in (
        (
            sql.SQL("grant connect on database {} to {}").format(
                sql.Identifier(conn.execute("select current_database()::text").fetchone()[0]), who
            ),
            f"{pipeline} may not grant CONNECT on the database to {reader} (only its owner or a superuser can)",
        ),
        (
            sql.SQL("grant usage on schema {} to {}").format(schemas, who),
            f"{pipeline} may not grant USAGE on schemas kpi, qa to {reader}",
        ),
        (
            sql.SQL("grant select on all tables in schema {} to {}").format(schemas, who),
            f"{pipeline} may not grant SELECT on the tables of kpi, qa to {reader}"
            + (f"; owned by other roles: {owned_elsewhere}" if owned_elsewhere else ""),
        ),
        (
            sql.SQL("alter default privileges for role {} in schema {} grant select on tables to {}").format(
                sql.Identifier(pipeline), schemas, who
            ),
            f"{pipeline} may not set its own default privileges in kpi, qa",
        ),
    ):
        _execute(conn, statement, refused)


def _verify(conn: Any, reader: str, pipeline: str) -> list[Privilege]:
    """The reader's privileges, once they are exactly the expected ones; else a RoleError that
    names the first difference (a REVOKE or GRANT PostgreSQL skipped with a mere warning: a
    privilege granted by another role, a table the pipeline role does not own)."""
    expected = _expected(conn, pipeline)
    held = reader_privileges(conn, reader)
    for p in held:
        if p.key not in expected or p.grantable:
            statement = p.revoke(reader, grant_option_only=p.key in expected).as_string(conn)
            raise RoleError(
                f"{reader} still holds {p.describe()} (granted by {p.grantor}): as {p.grantor} or a "
                f"superuser run `{statement};`"
            )
    owners = {(s, n): o for s, n, o in _readable_relations(conn)}
    for kind, schema, name, _detail, privilege in sorted(expected - {p.key for p in held}, key=str):
        if kind == "table":
            owner = owners.get((schema or "", name), "?")
            raise RoleError(
                f"{pipeline} could not grant {reader} SELECT on {schema}.{name}, which {owner} owns: "
                f"as {owner} or a superuser run `grant select on {schema}.{name} to {reader};`"
            )
        raise RoleError(f"{reader} lacks {privilege} on {kind} {name} after the grants")
    return held


def create_reader_role(
    settings: Settings, role: str | None = None, say: Callable[[str], None] = print
) -> str:
    """Make the reader role (``role``, default RR_PG_READER_ROLE) hold exactly the read-only
    privileges of the module docstring on the PostgreSQL warehouse of ``settings``, creating the
    role and the schemas kpi and qa when missing; return its name. Idempotent, and all or
    nothing: one transaction. ``say`` hears each change made (once committed), then a summary."""
    if settings.target != "postgres":
        raise RoleError(
            f"make pg-roles is for PostgreSQL (RR_TARGET=postgres), not {settings.target}: DuckDB "
            "files are read-only for anyone opening them with read_only=True, and on Spark access "
            "is the cluster's (its metastore and file permissions)"
        )
    reader = (
        check_role_name(settings.pg_reader_role) if role is None else check_role_name(role, "the reader role")
    )
    import psycopg

    from seeds_loader.warehouse import connect

    try:
        with connect(settings) as wh:
            conn = wh.conn
            pipeline = conn.execute("select current_user::text").fetchone()[0]
            if reader == pipeline:
                raise RoleError(
                    f"RR_PG_READER_ROLE is {reader}, the pipeline role itself (RR_PG_USER): "
                    "the reader needs a role of its own"
                )
            changes: list[str] = []  # said once committed: a failed run changed nothing
            with conn.transaction():
                conn.execute("select pg_advisory_xact_lock(%s)", (ROLES_LOCK,))
                _ensure_role(conn, reader, changes.append)
                for schema in READ_SCHEMAS:
                    _own_schema(conn, schema, pipeline, changes.append)
                _leave_other_roles(conn, reader, changes.append)
                _revoke_extras(conn, reader, pipeline, changes.append)
                _grant(conn, reader, pipeline)
                held = _verify(conn, reader, pipeline)
    except psycopg.Error as exc:
        raise RoleError(f"PostgreSQL refused make pg-roles: {_first_line(exc)}") from exc
    for line in changes:
        say(line)
    tables = sum(1 for p in held if p.kind == "table")
    say(
        f"{reader}: CONNECT; USAGE on kpi, qa; SELECT on their {tables} tables and views, and on "
        f"those {pipeline} creates there later"
    )
    return reader


def connect_hint(settings: Settings, role: str) -> str:
    """How an analyst gets in, for the command line to print after the role's name."""
    return (
        f"analysts: an admin runs  create role alice login password '...' in role {role};\n"
        f'then alice connects with  psql "host={settings.pg_host} port={settings.pg_port} '
        f'dbname={settings.pg_database} user=alice"\n'
        "(schema kpi: the KPIs of the certified dates; qa: the run history and the certification)"
    )
