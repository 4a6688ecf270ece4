"""A private PostgreSQL cluster under the state dir, run as the ``postgres`` user on loopback."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from paastech.errors import ProvisionError
from paastech.infra.process import Running, port_open, run, wait_until, which
from paastech.settings import DbSettings

_PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin")
_OWNER = "postgres"


def _pg(tool: str) -> str:
    found = which(tool, *_PG_BIN_DIRS)
    if found is None:
        raise ProvisionError(f"{tool} not found; install the postgresql package")
    return found


APP_ROLE = "paastech_app"
"""The least-privilege role the platform's processes connect as (no superuser at run time)."""


def password_file(state_dir: Path) -> Path:
    """Where the generated superuser password of the dev cluster is kept."""
    return state_dir / "postgres.password"


def app_password_file(state_dir: Path) -> Path:
    """Where the generated password of :data:`APP_ROLE` is kept (0600)."""
    return state_dir / "postgres.app.password"


def _generated(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(24))
    return path.read_text().strip()


def _chown_tree(path: Path) -> None:
    if os.geteuid() != 0:
        return
    shutil.chown(path, _OWNER, _OWNER)
    for child in path.rglob("*"):
        shutil.chown(child, _OWNER, _OWNER)


def ensure_postgres(state_dir: Path, db: DbSettings, timeout: float = 60.0) -> Running:
    """Init (once) and start the cluster, and make sure the role and database exist.

    The superuser is ``db.user`` with a generated password in ``postgres.password`` (0600);
    the cluster listens on ``db.host:db.port`` only and keeps its data in
    ``<state_dir>/postgres``.
    """
    data_dir = state_dir / "postgres" / "data"
    run_dir = state_dir / "postgres" / "run"
    log_path = state_dir / "logs" / "postgres.log"
    pw_file = password_file(state_dir)
    if port_open(db.host, db.port):
        if (run_dir / f".s.PGSQL.{db.port}").exists():
            _ensure_app_role(state_dir, run_dir, db)
        return Running("postgres", db.dsn(), started_here=False)

    state_dir.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    _generated(pw_file)
    if not (data_dir / "PG_VERSION").exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        run_dir.mkdir(parents=True, exist_ok=True)
        init_pw = state_dir / "postgres" / "initpw"
        init_pw.write_text(pw_file.read_text())
        _chown_tree(state_dir / "postgres")
        init_pw.chmod(0o600)
        run(
            [
                _pg("initdb"),
                "-D",
                str(data_dir),
                "-U",
                db.user,
                f"--pwfile={init_pw}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            user=_OWNER,
            timeout=120,
        )
        init_pw.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)
    _chown_tree(state_dir / "postgres")
    if os.geteuid() == 0:
        log_path.touch()
        shutil.chown(log_path, _OWNER, _OWNER)
    options = f"-h {db.host} -p {db.port} -k {run_dir} -c max_connections=200"
    run(
        [
            _pg("pg_ctl"),
            "-D",
            str(data_dir),
            "-l",
            str(log_path),
            "-o",
            options,
            "-w",
            "-t",
            str(int(timeout)),
            "start",
        ],
        user=_OWNER,
        timeout=timeout + 10,
    )
    wait_until(
        lambda: port_open(db.host, db.port), what="postgres", timeout=timeout, log_path=log_path
    )
    _ensure_database(run_dir, db)
    _ensure_app_role(state_dir, run_dir, db)

    return Running("postgres", db.dsn(), started_here=True, _stop=lambda: stop_cluster(state_dir))


def stop_cluster(state_dir: Path) -> None:
    """Stop the cluster in ``<state_dir>/postgres`` (fast shutdown); its data stays."""
    data_dir = state_dir / "postgres" / "data"
    run(
        [_pg("pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"],
        user=_OWNER,
        check=False,
        timeout=60,
    )


def _psql(run_dir: Path, db: DbSettings) -> list[str]:
    return [
        _pg("psql"),
        "-h",
        str(run_dir),
        "-p",
        str(db.port),
        "-U",
        db.user,
        "-d",
        "postgres",
        "-tAc",
    ]


def _ensure_app_role(state_dir: Path, run_dir: Path, db: DbSettings) -> None:
    """Create (once) :data:`APP_ROLE` with login, no superuser, no role or database creation;
    its password (generated into the state dir) is set at every start."""
    password = _generated(app_password_file(state_dir)).replace("'", "''")
    psql = _psql(run_dir, db)
    exists = run(
        [*psql, f"SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}'"],  # noqa: S608
        user=_OWNER,
    ).stdout.strip()
    verb = "ALTER" if exists == "1" else "CREATE"
    # The password is generated here (URL-safe characters), never taken from a request.
    sql = (
        f"{verb} ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
        f"NOBYPASSRLS PASSWORD '{password}';\n"
    )
    # Through stdin: a command line shows in ps and in error messages.
    run([*psql[:-1], "-q", "-v", "ON_ERROR_STOP=1"], user=_OWNER, stdin=sql)


def _ensure_database(run_dir: Path, db: DbSettings) -> None:
    psql = _psql(run_dir, db)
    exists = run(
        # The name comes from settings (an operator), never from a request.
        [*psql, f"SELECT 1 FROM pg_database WHERE datname = '{db.database}'"],  # noqa: S608
        user=_OWNER,
    ).stdout.strip()
    if exists != "1":
        run([*psql, f'CREATE DATABASE "{db.database}"'], user=_OWNER)
