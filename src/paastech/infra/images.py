"""Base images built on this machine: no image can be pulled from a public registry here.

``paastech/base`` is a ``debootstrap --variant=minbase`` Debian root imported into Docker;
``paastech/python`` and ``paastech/node`` are built ``FROM`` it with ``docker build --network
host``. ``paastech/python`` also carries the platform's function shim (``src/paastech/shim``)
as the package ``paastech_shim`` in ``/opt/paastech``: function images built on it import it
from there. Each image is tagged with the hash of its recipe -- the Dockerfile plus every file
it copies, so a shim change rebuilds the image -- (and ``latest``) and rebuilt only when that
hash changes; the debootstrap tarball stays in ``~/.cache/paastech/images/`` so a fresh
Docker data root re-imports it in seconds instead of bootstrapping again.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from paastech.errors import ProvisionError
from paastech.infra.binaries import cache_root
from paastech.infra.docker import image_exists
from paastech.infra.process import run, which

DEBIAN_SUITE = "bookworm"
APT_DIR = Path("/etc/apt")
BASE_REPO = "paastech/base"
SHIM_SOURCE = Path(__file__).resolve().parent.parent / "shim"
SHIM_DIR = "/opt/paastech/paastech_shim"

_APT = (
    "RUN apt-get update -q && apt-get install -y -q --no-install-recommends {packages} "
    "&& rm -rf /var/lib/apt/lists/*"
)


@dataclass(frozen=True)
class DerivedImage:
    """An image built FROM ``paastech/base`` by installing Debian packages."""

    repo: str
    packages: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    copies: tuple[tuple[Path, str], ...] = ()
    """Directories copied into the image: (source on this machine, absolute destination)."""

    def dockerfile(self, base_ref: str, recipe: str) -> str:
        """The Dockerfile for this image on top of ``base_ref``."""
        lines = [
            f"FROM {base_ref}",
            "ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8",
            _APT.format(packages=" ".join(self.packages)),
            *(f"ENV {key}={value}" for key, value in self.env),
            # After the packages: a change to copied files rebuilds from here, not from apt.
            *(f"COPY {_context_name(dest)} {dest}" for _, dest in self.copies),
            f"LABEL org.paastech.recipe={recipe}",
        ]
        return "\n".join(lines) + "\n"

    def copied_files(self) -> list[tuple[str, Path]]:
        """Every file the image copies, as (path in the build context, source), sorted."""
        files = []
        for source, dest in self.copies:
            for path in source.rglob("*"):
                if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                    relative = path.relative_to(source).as_posix()
                    files.append((f"{_context_name(dest)}/{relative}", path))
        return sorted(files)


def _context_name(dest: str) -> str:
    return PurePosixPath(dest).name


DERIVED = {
    "python": DerivedImage(
        "paastech/python",
        ("python3", "python3-venv", "python3-pip", "ca-certificates"),
        (("PYTHONUNBUFFERED", "1"),),
        ((SHIM_SOURCE, SHIM_DIR),),
    ),
    "node": DerivedImage("paastech/node", ("nodejs", "npm", "ca-certificates")),
}
ALL_IMAGES = ("base", *DERIVED)


@dataclass(frozen=True)
class ImageResult:
    """What :func:`ensure_images` did for one image."""

    name: str
    reference: str
    built: bool


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def base_recipe(suite: str = DEBIAN_SUITE) -> str:
    """The command that produces the base root filesystem (its hash names the image).

    The mirror is not part of it: any Debian mirror serves the same suite.
    """
    return f"debootstrap --variant=minbase {suite} <rootfs> <apt mirror>"


def apt_mirror(environ: Mapping[str, str], apt_dir: Path = APT_DIR) -> str:
    """The Debian mirror to bootstrap from: ``PAASTECH_DEBIAN_MIRROR``, else this machine's apt's.

    Reads deb822 ``*.sources`` files and one-line ``sources.list`` entries for a ``deb`` source
    of the base suite, so debootstrap fetches from wherever apt already does.

    Raises:
        ProvisionError: No mirror is configured for the suite.
    """
    if environ.get("PAASTECH_DEBIAN_MIRROR"):
        return environ["PAASTECH_DEBIAN_MIRROR"]
    lists = apt_dir / "sources.list.d"
    for path in sorted(lists.glob("*.sources")) if lists.is_dir() else []:
        for stanza in path.read_text().split("\n\n"):
            fields = {
                key.strip().lower(): value.strip()
                for key, _, value in (
                    line.partition(":") for line in stanza.splitlines() if ":" in line
                )
                if not key.lstrip().startswith("#")
            }
            if (
                "deb" in fields.get("types", "").split()
                and DEBIAN_SUITE in fields.get("suites", "").split()
            ):
                return fields["uris"].split()[0]
    one_line = [apt_dir / "sources.list", *(sorted(lists.glob("*.list")) if lists.is_dir() else [])]
    for path in one_line:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            words = re.sub(r"\[[^\]]*\]", " ", line.split("#")[0]).split()  # drop [options]
            if len(words) >= 3 and words[0] == "deb" and words[2] == DEBIAN_SUITE:
                return words[1]
    raise ProvisionError(
        f"no Debian {DEBIAN_SUITE} mirror configured for apt in {apt_dir}; "
        "set PAASTECH_DEBIAN_MIRROR"
    )


def base_hash() -> str:
    """The recipe hash tagging ``paastech/base``."""
    return _digest(base_recipe())


def derived_hash(name: str) -> str:
    """The recipe hash of a derived image: its Dockerfile on top of the base's hash, and the
    name and content of every file it copies."""
    image = DERIVED[name]
    recipe = hashlib.sha256(image.dockerfile(f"{BASE_REPO}:{base_hash()}", recipe="").encode())
    for context_path, source in image.copied_files():
        recipe.update(b"\0" + context_path.encode() + b"\0" + source.read_bytes())
    return recipe.hexdigest()[:12]


def reference(name: str) -> str:
    """``repo:<recipe-hash>`` of image ``name`` (``base``, ``python`` or ``node``)."""
    if name == "base":
        return f"{BASE_REPO}:{base_hash()}"
    return f"{DERIVED[name].repo}:{derived_hash(name)}"


def images_dir() -> Path:
    """Where the debootstrap tarballs and build contexts are cached."""
    return cache_root() / "images"


def _base_tarball(environ: Mapping[str, str]) -> Path:
    """The cached rootfs tarball for the current base recipe, bootstrapped if missing."""
    tarball = images_dir() / f"base-{base_hash()}.tar"
    if tarball.exists():
        return tarball
    if os.geteuid() != 0:
        raise ProvisionError("building paastech/base needs root (debootstrap); run as root")
    debootstrap = which("debootstrap", "/usr/sbin")
    if debootstrap is None:
        raise ProvisionError("debootstrap not found; install the debootstrap package")
    rootfs = images_dir() / f"rootfs-{base_hash()}"
    shutil.rmtree(rootfs, ignore_errors=True)
    rootfs.parent.mkdir(parents=True, exist_ok=True)
    env = {**environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        run(
            [debootstrap, "--variant=minbase", DEBIAN_SUITE, str(rootfs), apt_mirror(environ)],
            env=env,
            timeout=1200,
        )
        # Downloaded .debs are dead weight in every image built on top.
        for deb in (rootfs / "var" / "cache" / "apt" / "archives").glob("*.deb"):
            deb.unlink()
        partial = tarball.with_suffix(".partial")
        run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."], timeout=600)
        partial.replace(tarball)
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    return tarball


def _tag_latest(ref: str) -> None:
    repo = ref.rsplit(":", 1)[0]
    run(["docker", "tag", ref, f"{repo}:latest"])


def _ensure_base(environ: Mapping[str, str]) -> ImageResult:
    ref = reference("base")
    if image_exists(ref):
        _tag_latest(ref)
        return ImageResult("base", ref, built=False)
    tarball = _base_tarball(environ)
    run(["docker", "import", "--change", "ENV LANG=C.UTF-8", str(tarball), ref], timeout=600)
    _tag_latest(ref)
    return ImageResult("base", ref, built=True)


def _ensure_derived(name: str, environ: Mapping[str, str]) -> ImageResult:
    ref = reference(name)
    if image_exists(ref):
        _tag_latest(ref)
        return ImageResult(name, ref, built=False)
    context = images_dir() / f"context-{name}"
    shutil.rmtree(context, ignore_errors=True)  # no stale copied file may reach the image
    context.mkdir(parents=True, exist_ok=True)
    for context_path, source in DERIVED[name].copied_files():
        (context / context_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, context / context_path)
    (context / "Dockerfile").write_text(
        DERIVED[name].dockerfile(reference("base"), recipe=derived_hash(name))
    )
    # The classic builder: buildx is not packaged on every machine of this kind.
    env = {**environ, "DOCKER_BUILDKIT": "0"}
    run(["docker", "build", "--network", "host", "-t", ref, str(context)], env=env, timeout=1800)
    _tag_latest(ref)
    return ImageResult(name, ref, built=True)


def ensure_images(
    environ: Mapping[str, str], names: Sequence[str] = ALL_IMAGES
) -> list[ImageResult]:
    """Make sure the named images exist at their current recipe hash (base first).

    Raises:
        ProvisionError: debootstrap, ``docker import`` or ``docker build`` failed (with its
            output), or an unknown image was named.
    """
    unknown = [name for name in names if name not in ALL_IMAGES]
    if unknown:
        raise ProvisionError(f"unknown base image(s): {', '.join(unknown)}")
    results = [_ensure_base(environ)]
    results += [_ensure_derived(name, environ) for name in DERIVED if name in names]
    return [r for r in results if r.name in names or r.name == "base"]
