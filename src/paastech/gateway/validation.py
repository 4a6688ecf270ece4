"""Pure checks of names the API accepts: project names, hostnames, env keys, emails.

Everything a Client sends is checked here (or by the schema patterns built from these
constants) before PostgreSQL sees it: control characters (NUL above all, which PostgreSQL
text cannot hold) and bidirectional overrides are refused in names, lengths are checked
after normalisation (lowercasing can lengthen a string: ``"İ".lower()`` is two characters),
and integers are bounded to their column types.
"""

from __future__ import annotations

import re

from paastech.errors import InvalidInput

#: Characters refused in any name: C0 and C1 controls, DEL, and the bidirectional marks and
#: overrides that make a name read differently from what it is.
_FORBIDDEN = r"\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
FORBIDDEN_CHARS = re.compile(f"[{_FORBIDDEN}]")
#: A free-text name (token and key names): printable, at least one character.
TEXT_PATTERN = f"^[^{_FORBIDDEN}]+$"
PROJECT_NAME_PATTERN = r"^[a-z](?:[a-z0-9-]{1,38}[a-z0-9])$"
ENV_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
EMAIL_PATTERN = f"^[^@\\s{_FORBIDDEN}]{{1,64}}@[^@\\s{_FORBIDDEN}]+\\.[^@\\s{_FORBIDDEN}]+$"
EMAIL_MAX = 254  # clients.email is varchar(254)
#: PostgreSQL's integer and bigint: bounds for anything stored in (or compared with) them.
INT4_MAX = 2**31 - 1
INT8_MAX = 2**63 - 1
PROJECT_NAME_HINT = "3-40 characters a-z, 0-9, '-'; starting with a letter, not ending in '-'"
#: What a person should read when a field fails its schema pattern (not the regex itself).
PATTERN_HINTS = {"name": PROJECT_NAME_HINT, "email": "a valid email address"}
TEXT_HINT = "printable characters only (no control characters or direction marks)"
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")

RESERVED_NAMES = frozenset(
    {
        "admin", "api", "app", "apps", "assets", "auth", "cdn", "dashboard", "default",
        "docs", "fabio", "forge", "gateway", "git", "help", "internal", "localhost", "mail",
        "nomad", "paastech", "registry", "root", "scheduler", "ssh", "static", "status",
        "support", "system", "www",
    }
)  # fmt: skip


def check_project_name(name: str) -> str:
    """Return ``name`` when it is a usable project name.

    Raises:
        InvalidInput: Not a DNS label of 3-40 chars starting with a letter, or reserved.
    """
    if not re.fullmatch(PROJECT_NAME_PATTERN, name):
        raise InvalidInput("invalid project name", {"name": PROJECT_NAME_HINT})
    if name in RESERVED_NAMES:
        raise InvalidInput("invalid project name", {"name": f"{name!r} is reserved"})
    return name


def check_hostname(hostname: str, apps_domain: str) -> str:
    """Return the normalised custom hostname (lowercase, no trailing dot).

    Raises:
        InvalidInput: Not a fully qualified DNS name, or inside the platform's apps domain
            (those names are the platform's to hand out).
    """
    host = hostname.strip().lower().removesuffix(".")
    labels = host.split(".")
    if (
        len(host) > 253
        or len(labels) < 2
        or not all(_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise InvalidInput("invalid hostname", {"hostname": "not a fully qualified DNS name"})
    domain = apps_domain.lower().strip(".")
    if host == domain or host.endswith("." + domain):
        raise InvalidInput(
            "invalid hostname", {"hostname": f"names under {domain} belong to the platform"}
        )
    return host


def check_env_key(key: str) -> str:
    """Return ``key`` when it is a valid environment variable name.

    Raises:
        InvalidInput: Not ``[A-Za-z_][A-Za-z0-9_]*`` or longer than 128 characters.
    """
    if len(key) > 128 or not re.fullmatch(ENV_KEY_PATTERN, key):
        raise InvalidInput("invalid env key", {key[:128]: "must match [A-Za-z_][A-Za-z0-9_]*"})
    return key


def normalize_email(raw: str) -> str:
    """The stored spelling of an email (stripped, lowercase), checked after normalising.

    Raises:
        InvalidInput: Over 254 characters once lowercased, or no longer an email address.
    """
    email = raw.strip().lower()
    if len(email) > EMAIL_MAX:
        raise InvalidInput("invalid email", {"email": f"at most {EMAIL_MAX} characters"})
    if not re.fullmatch(EMAIL_PATTERN, email):
        raise InvalidInput("invalid email", {"email": "a valid email address"})
    return email


def is_project_name(name: str) -> bool:
    """Whether ``name`` could name a project at all (a path segment that cannot is a 404)."""
    return re.fullmatch(PROJECT_NAME_PATTERN, name) is not None
