"""The one-time source URL a build job downloads the commit's tree from (real git, real HTTP)."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from imagebuild import commit_all

from paastech.forge.archive import ArchiveServer

pytestmark = pytest.mark.integration


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def server(clock: Clock) -> AsyncIterator[ArchiveServer]:
    """An archive server on 127.0.0.1:0 with a 1 MiB cap and a 60 s token lifetime."""
    git = shutil.which("git")
    assert git is not None
    archive = ArchiveServer(
        git=git, host="127.0.0.1", port=0, max_bytes=1024 * 1024, ttl_seconds=60, clock=clock
    )
    await archive.start()
    yield archive
    await archive.close()


def repo(tmp_path: Path, files: dict[str, bytes]) -> tuple[Path, str]:
    work = tmp_path / "work"
    work.mkdir()
    for name, data in files.items():
        (work / name).write_bytes(data)
    return commit_all(work)


def members(body: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:") as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


async def test_the_url_serves_the_tree_with_the_generated_dockerfile_once(
    server: ArchiveServer, tmp_path: Path
) -> None:
    """The first GET gets the commit's files plus the generated Dockerfile; the second a 404."""
    git_dir, sha = repo(tmp_path, {"index.html": b"hello", "app.py": b"print(1)"})
    url = server.issue(git_dir, sha, "FROM paastech/python\nCOPY . /app\n")
    async with httpx.AsyncClient() as client:
        first = await client.get(url)
        second = await client.get(url)

    assert first.status_code == 200
    assert members(first.content) == {
        "index.html": b"hello",
        "app.py": b"print(1)",
        "Dockerfile": b"FROM paastech/python\nCOPY . /app\n",
    }
    assert second.status_code == 404


async def test_an_expired_url_is_refused(
    server: ArchiveServer, clock: Clock, tmp_path: Path
) -> None:
    """A token past its lifetime gets the same 404 as an unknown one."""
    git_dir, sha = repo(tmp_path, {"index.html": b"x"})
    url = server.issue(git_dir, sha, None)
    clock.now += 61
    async with httpx.AsyncClient() as client:
        expired = await client.get(url)
        unknown = await client.get(url.rpartition("/")[0] + "/not-a-token")
        posted = await client.post(server.issue(git_dir, sha, None))

    assert (expired.status_code, unknown.status_code, posted.status_code) == (404, 404, 405)


async def test_a_tree_over_the_cap_is_cut_off_and_the_reason_kept(
    server: ArchiveServer, tmp_path: Path
) -> None:
    """Past build.source_max_bytes the transfer fails (not a short tree) and says why."""
    git_dir, sha = repo(tmp_path, {"big.bin": os.urandom(3 * 1024 * 1024)})
    url = server.issue(git_dir, sha, None)
    received = 0

    async def download() -> None:
        nonlocal received
        async with httpx.AsyncClient() as client, client.stream("GET", url) as response:
            assert response.status_code == 200
            async for chunk in response.aiter_bytes():
                received += len(chunk)

    with pytest.raises(httpx.RemoteProtocolError):
        await download()

    assert received <= server.max_bytes
    assert server.refusal(url) == f"the source tree is larger than {server.max_bytes} bytes"


async def test_the_tree_streams_before_git_has_finished(
    server: ArchiveServer, tmp_path: Path
) -> None:
    """A 24 MiB tree arrives as a stream of small chunks, not one buffered body."""
    server.max_bytes = 64 * 1024 * 1024
    git_dir, sha = repo(tmp_path, {"big.bin": os.urandom(24 * 1024 * 1024)})
    url = server.issue(git_dir, sha, None)
    chunks = 0
    async with httpx.AsyncClient() as client, client.stream("GET", url) as response:
        async for chunk in response.aiter_raw():
            chunks += 1
            if chunks == 1:
                # One chunk in: the server holds at most a chunk and the socket's buffers.
                first = len(chunk)
        total = response.num_bytes_downloaded

    assert first < 1024 * 1024
    assert total > 24 * 1024 * 1024
    assert chunks > 10


async def test_a_revoked_url_is_refused(server: ArchiveServer, tmp_path: Path) -> None:
    """A build that ends before fetching takes its URL with it."""
    git_dir, sha = repo(tmp_path, {"index.html": b"x"})
    url = server.issue(git_dir, sha, None)
    server.revoke(url)
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).status_code == 404


async def test_the_download_starting_is_reported(server: ArchiveServer, tmp_path: Path) -> None:
    """The forge learns that the build job runs when it fetches its source."""
    path, sha = repo(tmp_path, {"app.py": b"print(1)\n"})
    fetched: list[bool] = []
    url = server.issue(path, sha, None, on_fetch=lambda: fetched.append(True))
    assert fetched == []
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).status_code == 200
    assert fetched == [True]


async def test_a_done_url_reports_once_until_revoked(server: ArchiveServer) -> None:
    """The job's last request tells the forge it ended; a replay or a GET changes nothing."""
    calls: list[bool] = []
    url = server.issue_done(lambda: calls.append(True))
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).status_code == 404
        assert calls == []
        assert (await client.post(url, content=b"")).status_code == 200
        assert calls == [True]
        assert (await client.post(url, content=b"")).status_code == 404
        again = server.issue_done(lambda: calls.append(True))
        server.revoke(again)
        assert (await client.post(again, content=b"")).status_code == 404
    assert calls == [True]
