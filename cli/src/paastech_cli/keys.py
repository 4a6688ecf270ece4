"""``paastech keys add | list | remove``: the SSH public keys `git push` authenticates with."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from cyclopts import App, Parameter

from paastech_cli.exits import UsageError
from paastech_cli.output import print_json, say, spinner, table
from paastech_cli.runtime import Gateway, JsonFlag, current

app = App(name="keys", help="Manage the SSH public keys used by `git push`.")

DEFAULT_KEYS = ("id_ed25519.pub", "id_rsa.pub")


def _default_key() -> Path:
    rt = current()
    ssh_dir = Path(rt.environ.get("HOME") or Path.home()) / ".ssh"
    for candidate in DEFAULT_KEYS:
        if (ssh_dir / candidate).is_file():
            return ssh_dir / candidate
    raise UsageError(
        f"no public key found at {ssh_dir / DEFAULT_KEYS[0]} or {ssh_dir / DEFAULT_KEYS[1]};"
        " give its path, or create one with: ssh-keygen -t ed25519"
    )


def read_public_key(path: Path | None, name: str | None) -> tuple[str, str]:
    """(label, key text) of the public key at ``path`` (or the default one); never a private key."""
    key_path = path.expanduser() if path else _default_key()
    if key_path.suffix != ".pub" and key_path.with_suffix(key_path.suffix + ".pub").is_file():
        raise UsageError(f"{key_path} looks like a private key; give {key_path}.pub")
    try:
        public_key = key_path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {key_path}: {exc}") from exc
    if "PRIVATE KEY" in public_key:
        raise UsageError(f"{key_path} is a private key; never upload it, give the .pub file")
    parts = public_key.split()
    return name or (parts[2] if len(parts) > 2 else key_path.name), public_key


@app.command
async def add(
    path: Path | None = None,
    /,
    *,
    name: Annotated[str | None, Parameter(show_default=False)] = None,
    json: JsonFlag = False,
    gateway: Gateway = Gateway(),
) -> None:
    """Upload an SSH public key (ed25519, ecdsa, or rsa of 2048 bits and more).

    For example:

        $ paastech keys add
        $ paastech keys add ~/.ssh/work.pub --name laptop

    Parameters
    ----------
    path
        The public key file [default: ~/.ssh/id_ed25519.pub, then ~/.ssh/id_rsa.pub].
    name
        A label for the key [default: the key's comment, else the file name].
    """
    label, public_key = read_public_key(path, name)
    async with gateway.client() as gw:
        with spinner("Uploading key…"):
            key = await gw.add_key(label, public_key)
    if json:
        print_json(key)
    else:
        say(f"Added key [bold]{key.name}[/] {key.fingerprint} (id {key.id})")


@app.command(name="list")
async def list_(*, json: JsonFlag = False, gateway: Gateway = Gateway()) -> None:
    """List your SSH keys.

    For example:

        $ paastech keys list
    """
    async with gateway.client() as gw:
        keys = await gw.list_keys()
    if json:
        print_json(keys)
        return
    rows = ((k.id, k.name, k.key_type, k.fingerprint, k.created_at) for k in keys)
    table(
        ("ID", "NAME", "TYPE", "FINGERPRINT", "ADDED"),
        rows,
        empty="No keys yet: add one with `paastech keys add`.",
    )


@app.command
async def remove(key_id: str, /, *, gateway: Gateway = Gateway()) -> None:
    """Remove an SSH key (pushes signed with it stop working).

    For example:

        $ paastech keys remove 0b6f1c4e-…

    Parameters
    ----------
    key_id
        The key's ID, as `paastech keys list` shows it.
    """
    async with gateway.client() as gw:
        await gw.remove_key(key_id)
    say(f"Removed key {key_id}")
