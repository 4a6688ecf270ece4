"""Configuration: frozen sections, loaded once per entry point and passed down.

Precedence, lowest first: the defaults below < a TOML file < ``PAASTECH_<SECTION>__<KEY>``
environment variables < explicit overrides (CLI flags). :func:`load_settings` takes the
environment as data and reads nothing but the files it is pointed at, so it is trivially
testable; no other module reads ``os.environ``.

Secrets accept a ``*_file`` twin (``db.password_file``, ``secrets.env_key_file``): the file's
content, stripped, wins over the inline value.
"""

from __future__ import annotations

import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import msgspec
from msgspec import Meta

from paastech.errors import InvalidSettings

ENV_PREFIX = "PAASTECH_"


class _SecretFileMark:
    """Annotated metadata marking a setting as the ``*_file`` twin of a secret."""


SecretFile = Annotated[str, _SecretFileMark()]
"""A file holding the secret named without ``_file``; its content, stripped, wins over it."""


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base for every settings section: immutable, unknown keys are an error."""


class DbSettings(_Section, frozen=True):
    host: Annotated[str, Meta(description="PostgreSQL host.")] = "127.0.0.1"
    port: Annotated[int, Meta(ge=1, le=65535, description="PostgreSQL port.")] = 5433
    user: Annotated[str, Meta(description="Database role.")] = "paastech"
    password: Annotated[str, Meta(description="Database password (prefer password_file).")] = ""
    password_file: Annotated[SecretFile, Meta(description="File holding the password.")] = ""
    database: Annotated[str, Meta(description="Database name.")] = "paastech"
    migrate_user: Annotated[
        str, Meta(description="Role owning the schema, used by migrate only; empty: user.")
    ] = ""
    migrate_password: Annotated[str, Meta(description="Its password (prefer the file).")] = ""
    migrate_password_file: Annotated[
        SecretFile, Meta(description="File holding that password.")
    ] = ""
    pool_min: Annotated[int, Meta(ge=1, description="Minimum pooled connections.")] = 2
    pool_max: Annotated[int, Meta(ge=1, description="Maximum pooled connections.")] = 10
    connect_timeout_seconds: Annotated[
        float, Meta(gt=0, description="Give up opening a connection after this long.")
    ] = 5.0
    command_timeout_seconds: Annotated[
        float, Meta(gt=0, description="Give up on one statement after this long.")
    ] = 30.0
    pool_acquire_timeout_seconds: Annotated[
        float, Meta(gt=0, description="Give up waiting for a free pooled connection.")
    ] = 5.0

    def dsn(self, database: str | None = None) -> str:
        """The asyncpg DSN for this database (or another one on the same server)."""
        auth = self.user if not self.password else f"{self.user}:{quote(self.password, safe='')}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{database or self.database}"

    def owner(self) -> DbSettings:
        """These settings as the schema owner (``migrate_user``), or unchanged without one."""
        if not self.migrate_user:
            return self
        return msgspec.structs.replace(self, user=self.migrate_user, password=self.migrate_password)


class GatewaySettings(_Section, frozen=True):
    host: Annotated[str, Meta(description="Bind address of the REST API.")] = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535, description="Port of the REST API.")] = 8000
    public_url: Annotated[str, Meta(description="URL clients use; empty: from host/port.")] = ""
    body_limit: Annotated[int, Meta(ge=1024, description="Largest request body, bytes.")] = (
        1024 * 1024
    )
    session_ttl_hours: Annotated[int, Meta(ge=1, description="Lifetime of login tokens.")] = 24 * 7
    login_max_failures: Annotated[
        int, Meta(ge=1, description="Failed logins per email or IP before 429.")
    ] = 10
    login_window_seconds: Annotated[
        int, Meta(ge=1, description="Window over which failed logins are counted.")
    ] = 900
    trusted_proxies: Annotated[
        list[str],
        Meta(
            description="Addresses or networks of proxies (and the dashboard) whose"
            " X-Forwarded-For hops are believed; the client is the right-most other hop."
        ),
    ] = msgspec.field(default_factory=list)
    signup_max_per_ip: Annotated[
        int, Meta(ge=1, description="Signups per client IP in signup_window_seconds.")
    ] = 10
    signup_window_seconds: Annotated[
        int, Meta(ge=1, description="Window over which signups are counted.")
    ] = 3600
    max_token_days: Annotated[
        int, Meta(ge=1, le=3650, description="Longest lifetime of an API token (days).")
    ] = 365
    max_header_bytes: Annotated[
        int, Meta(ge=1024, description="Largest request header section, bytes (431 above).")
    ] = 32 * 1024


class ForgeSettings(_Section, frozen=True):
    host: Annotated[str, Meta(description="Bind address of the git SSH server.")] = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535, description="SSH port of the forge.")] = 2222
    public_host: Annotated[str, Meta(description="Host name put in git remotes.")] = "127.0.0.1"
    max_pack_bytes: Annotated[int, Meta(ge=1, description="Largest accepted push.")] = (
        256 * 1024 * 1024
    )
    max_repo_bytes: Annotated[int, Meta(ge=1, description="Largest repository on disk.")] = (
        1024 * 1024 * 1024
    )
    idle_timeout_seconds: Annotated[int, Meta(ge=1, description="Idle SSH session limit.")] = 600
    deploy_wait_seconds: Annotated[
        float, Meta(gt=0, description="How long a push waits for its release to go live.")
    ] = 300.0
    deploy: Annotated[
        bool,
        Meta(description="Release a built main and follow its deploy (off: build only)."),
    ] = True
    archive_host: Annotated[
        str, Meta(description="Bind address of the one-time source URLs build jobs fetch.")
    ] = "127.0.0.1"
    archive_port: Annotated[
        int, Meta(ge=0, le=65535, description="Port of the source URLs (0 picks a free one).")
    ] = 2223
    archive_public_url: Annotated[
        str, Meta(description="Base URL build jobs use for it; empty: from host/port.")
    ] = ""


class NomadSettings(_Section, frozen=True):
    address: Annotated[str, Meta(description="Nomad HTTP API address.")] = "http://127.0.0.1:4646"
    namespace: Annotated[str, Meta(description="Namespace for every job.")] = "default"
    region: Annotated[str, Meta(description="Nomad region.")] = "global"
    datacenter: Annotated[str, Meta(description="Datacenter jobs are placed in.")] = "dc1"
    token: Annotated[str, Meta(description="ACL token (prefer token_file).")] = ""
    token_file: Annotated[SecretFile, Meta(description="File holding the ACL token.")] = ""
    version: Annotated[str, Meta(description="Nomad version provisioned in dev.")] = "1.6.5"
    source_tarball: Annotated[
        str,
        Meta(
            description="Nomad's source tarball (SHA256SUMS beside it), relative to the "
            "repository root; empty: ../shared/nomad/nomad-1.6.5-src.tar.xz."
        ),
    ] = ""


class FabioSettings(_Section, frozen=True):
    proxy_addr: Annotated[str, Meta(description="Fabio proxy listen address.")] = "127.0.0.1:9999"
    ui_addr: Annotated[str, Meta(description="Fabio UI/API listen address.")] = "127.0.0.1:9998"
    version: Annotated[str, Meta(description="Fabio version provisioned in dev.")] = "1.7.2"
    route_feed_host: Annotated[str, Meta(description="Bind address of the route feed.")] = (
        "127.0.0.1"
    )
    route_feed_port: Annotated[int, Meta(ge=0, le=65535, description="Route feed port.")] = 8001
    route_feed_secret: Annotated[
        str, Meta(description="Query secret Fabio sends to the route feed (required).")
    ] = ""
    route_feed_secret_file: Annotated[
        SecretFile, Meta(description="File holding that secret; generated in dev when missing.")
    ] = ""
    poll_interval: Annotated[
        str, Meta(description="How often Fabio polls the feed (a new instance waits for it).")
    ] = "100ms"
    feed_timeout: Annotated[str, Meta(description="Fabio's timeout for one poll.")] = "1s"
    gomaxprocs: Annotated[
        int,
        Meta(
            ge=0,
            description="Fabio's runtime.gomaxprocs; 0: one per CPU. 1 by default: on a small"
            " host Fabio shares with the apps (the dev profile) a second thread costs more in"
            " wake-ups between the two than it gains (deploy bench, router overhead).",
        ),
    ] = 1
    gogc: Annotated[
        int,
        Meta(
            ge=0,
            description="GOGC of the Fabio process (0: Go's default, 100). 400: a collection"
            " every fourth as many requests, for a few tens of MB more (deploy bench).",
        ),
    ] = 400
    route_refresh_seconds: Annotated[
        float,
        Meta(
            gt=0,
            le=60,
            description="How often the scheduler re-reads instance health for the route table"
            " (a registration change is seen at once, through a blocking query).",
        ),
    ] = 1.0


class RegistrySettings(_Section, frozen=True):
    address: Annotated[str, Meta(description="host:port of the image registry.")] = "127.0.0.1:5000"
    username: Annotated[str, Meta(description="Registry user (htpasswd auth).")] = "paastech"
    password: Annotated[str, Meta(description="Registry password (prefer password_file).")] = ""
    password_file: Annotated[
        SecretFile, Meta(description="File holding it; generated in dev when missing.")
    ] = ""


class BuildSettings(_Section, frozen=True):
    cpu_mhz: Annotated[int, Meta(ge=100, description="CPU given to a build job.")] = 1000
    memory_mb: Annotated[int, Meta(ge=128, description="Memory given to a build job.")] = 2048
    timeout_seconds: Annotated[int, Meta(ge=10, description="A build is killed after this.")] = 900
    max_parallel: Annotated[int, Meta(ge=1, description="Builds running at once.")] = 4
    enabled: Annotated[bool, Meta(description="Build on push (off for transport benches).")] = True
    driver: Annotated[
        str, Meta(description="Nomad task driver of build jobs: 'raw_exec' (dev) or 'docker'.")
    ] = "raw_exec"
    docker_cli_image: Annotated[
        str, Meta(description="Image with the docker CLI, curl and tar (driver 'docker').")
    ] = "paastech/base"
    log_max_bytes: Annotated[
        int, Meta(ge=1024, description="Largest kept build log; the rest is cut, marked.")
    ] = 1024 * 1024
    source_max_bytes: Annotated[
        int, Meta(ge=1024, description="Largest source tree a build job may download.")
    ] = 512 * 1024 * 1024
    source_url_ttl_seconds: Annotated[
        int, Meta(ge=1, description="Lifetime of a build's one-time source URL.")
    ] = 600


class AppsSettings(_Section, frozen=True):
    domain: Annotated[str, Meta(description="Apps are served at <project>.<domain>.")] = (
        "apps.localhost"
    )
    profile: Annotated[str, Meta(description="'dev' (host network) or 'production'.")] = "dev"
    max_instances: Annotated[int, Meta(ge=1, description="Upper bound of instances.")] = 10
    min_cpu: Annotated[int, Meta(ge=10, description="Lowest CPU (MHz) a project may ask.")] = 50
    max_cpu: Annotated[int, Meta(ge=10, description="Highest CPU (MHz) a project may ask.")] = 2000
    min_memory: Annotated[int, Meta(ge=16, description="Lowest memory (MB).")] = 32
    max_memory: Annotated[int, Meta(ge=16, description="Highest memory (MB).")] = 2048
    default_cpu: Annotated[int, Meta(ge=10, description="CPU of a new project (MHz).")] = 200
    default_memory: Annotated[int, Meta(ge=16, description="Memory of a new project (MB).")] = 256
    default_idle_timeout: Annotated[int, Meta(ge=10, description="Idle seconds to sleep.")] = 300
    min_idle_timeout: Annotated[int, Meta(ge=1, description="Shortest idle timeout.")] = 10
    max_projects_per_client: Annotated[int, Meta(ge=1, description="Project quota.")] = 50


class SchedulerSettings(_Section, frozen=True):
    sweep_seconds: Annotated[
        float, Meta(gt=0, description="How often every project is reconciled without a NOTIFY.")
    ] = 10.0
    activator_host: Annotated[
        str, Meta(description="Bind address of the activator (Fabio routes sleeping apps there).")
    ] = "127.0.0.1"
    activator_port: Annotated[int, Meta(ge=0, le=65535, description="Activator port.")] = 8002
    hold_seconds: Annotated[
        float,
        Meta(gt=0, description="Longest a request waits for a wake before 503 + Retry-After."),
    ] = 30.0
    idle_check_seconds: Annotated[
        float, Meta(gt=0, description="How often the idler reads awake projects' activity.")
    ] = 1.0


class UiSettings(_Section, frozen=True):
    host: Annotated[str, Meta(description="Bind address of the dashboard.")] = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535, description="Dashboard port.")] = 8080


class DomainsSettings(_Section, frozen=True):
    resolvers: Annotated[
        list[str],
        Meta(
            description="DNS servers (ip or ip:port) asked for domain challenges;"
            " empty: the system's resolvers."
        ),
    ] = msgspec.field(default_factory=list)
    timeout_seconds: Annotated[
        float, Meta(gt=0, description="Give up on a challenge lookup after this long.")
    ] = 5.0
    reserved: Annotated[
        list[str],
        Meta(
            description="More hostnames nobody may claim (e.g. the dashboard's public name);"
            " the gateway's, the forge's and the apps domain are always reserved."
        ),
    ] = msgspec.field(default_factory=list)
    pending_hours: Annotated[
        int, Meta(ge=1, description="An unproved claim may be taken over after this long.")
    ] = 48


class SecretsSettings(_Section, frozen=True):
    env_key: Annotated[str, Meta(description="Fernet key encrypting env values at rest.")] = ""
    env_key_file: Annotated[
        SecretFile, Meta(description="File holding that key; generated in dev when missing.")
    ] = ""


class Settings(_Section, frozen=True):
    """All of PaaSTech's configuration."""

    state_dir: Annotated[str, Meta(description="Where data, logs and repos live.")] = ".paastech"
    db: DbSettings = msgspec.field(default_factory=DbSettings)
    gateway: GatewaySettings = msgspec.field(default_factory=GatewaySettings)
    forge: ForgeSettings = msgspec.field(default_factory=ForgeSettings)
    nomad: NomadSettings = msgspec.field(default_factory=NomadSettings)
    fabio: FabioSettings = msgspec.field(default_factory=FabioSettings)
    registry: RegistrySettings = msgspec.field(default_factory=RegistrySettings)
    build: BuildSettings = msgspec.field(default_factory=BuildSettings)
    apps: AppsSettings = msgspec.field(default_factory=AppsSettings)
    scheduler: SchedulerSettings = msgspec.field(default_factory=SchedulerSettings)
    ui: UiSettings = msgspec.field(default_factory=UiSettings)
    domains: DomainsSettings = msgspec.field(default_factory=DomainsSettings)
    secrets: SecretsSettings = msgspec.field(default_factory=SecretsSettings)

    @property
    def state_path(self) -> Path:
        """The state directory as an absolute path."""
        return Path(self.state_dir).expanduser().resolve()

    @property
    def gateway_url(self) -> str:
        """The URL at which clients reach the gateway."""
        return self.gateway.public_url or f"http://{self.gateway.host}:{self.gateway.port}"


_SECTIONS = {f.name for f in msgspec.structs.fields(Settings) if f.name != "state_dir"}


def _secret_files() -> tuple[tuple[str, str], ...]:
    """Every ``(section, secret)`` whose ``<secret>_file`` twin is declared a :data:`SecretFile`."""
    pairs = []
    for section, struct in typing.get_type_hints(Settings).items():
        if section not in _SECTIONS:
            continue
        for name, hint in typing.get_type_hints(struct, include_extras=True).items():
            marks = getattr(hint, "__metadata__", ())
            if any(isinstance(mark, _SecretFileMark) for mark in marks):
                pairs.append((section, name.removesuffix("_file")))
    return tuple(pairs)


_FILE_SECRETS = _secret_files()


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == "PAASTECH_CONFIG":
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if "__" in key:
            section, _, field = key.partition("__")
            if section not in _SECTIONS:
                raise InvalidSettings(f"{name}: unknown settings section {section!r}")
            data.setdefault(section, {})[field] = _env_value(value)
        elif key in {"state_dir"}:
            data[key] = value
        # Other PAASTECH_* names (PAASTECH_TOKEN, PAASTECH_API_URL) belong to the CLI.
    return data


def _env_value(raw: str) -> Any:
    """Env values are strings; lists are written as TOML arrays (``["a", "b"]``)."""
    if raw.startswith("["):
        try:
            return tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            return raw
    return raw


def _resolve_secret_files(data: dict[str, Any]) -> dict[str, Any]:
    for section, field in _FILE_SECRETS:
        values = data.get(section)
        if not isinstance(values, dict):
            continue
        path = values.get(f"{field}_file")
        if path:
            try:
                values[field] = Path(path).read_text().strip()
            except OSError as exc:
                raise InvalidSettings(f"{section}.{field}_file: cannot read {path}: {exc}") from exc
    return data


def load_settings(
    environ: Mapping[str, str],
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings from defaults, a TOML file, the environment and overrides.

    Args:
        environ: The process environment (or any mapping standing for it).
        path: A TOML file; ``None`` uses ``$PAASTECH_CONFIG`` when set, else nothing.
        overrides: Nested values that win over everything (CLI flags).

    Raises:
        InvalidSettings: A file cannot be read or parsed, or a key is unknown or of the wrong
            type; the message names the key.
    """
    data: dict[str, Any] = {}
    config_path = path if path is not None else environ.get("PAASTECH_CONFIG")
    if config_path:
        try:
            data = tomllib.loads(Path(config_path).read_text())
        except OSError as exc:
            raise InvalidSettings(f"cannot read settings file {config_path}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise InvalidSettings(f"{config_path}: invalid TOML: {exc}") from exc
    data = _deep_merge(data, _from_environ(environ))
    if overrides:
        data = _deep_merge(data, overrides)
    data = _resolve_secret_files(data)
    try:
        return msgspec.convert(data, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidSettings(f"invalid settings: {_humanize(str(exc))}") from exc


def _humanize(message: str) -> str:
    """Turn msgspec's ``- at `$.gateway.port``` into ``gateway.port``."""
    text, sep, where = message.partition(" - at `$.")
    if not sep:
        return message
    return f"{where.rstrip('`')}: {text}"
