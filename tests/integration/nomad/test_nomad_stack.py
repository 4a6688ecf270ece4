"""The Nomad v1.6.5 dev agent under the platform: ACLs, raw_exec, docker from the registry."""

from __future__ import annotations

import subprocess
import urllib.request
import uuid
from collections.abc import Iterator

import httpx
import pytest
from components import NomadAgent, RegistryAuth
from nomad_harness import job_spec, purge, submit, task_log, wait_alloc

pytestmark = pytest.mark.integration


@pytest.fixture
def nomad(nomad_agent: NomadAgent) -> Iterator[httpx.Client]:
    """An HTTP client holding the management token."""
    with httpx.Client(base_url=nomad_agent.address, headers=nomad_agent.headers, timeout=30) as c:
        yield c


def test_agent_is_nomad_1_6_5_and_refuses_anonymous_callers(nomad: httpx.Client) -> None:
    """The agent reports v1.6.5 to the token holder and answers 403 to anyone else."""
    agent = nomad.get("/v1/agent/self")
    assert agent.status_code == 200
    assert agent.json()["config"]["Version"]["Version"] == "1.6.5"
    for path in ("/v1/agent/self", "/v1/jobs", "/v1/nodes"):
        anonymous = httpx.get(f"{nomad.base_url}{path}", timeout=10)
        assert anonymous.status_code == 403, (path, anonymous.text)


def test_raw_exec_batch_job_runs_and_its_output_comes_back_through_the_log_api(
    nomad: httpx.Client,
) -> None:
    """A raw_exec batch job completes and its stdout is read back through Nomad."""
    marker = uuid.uuid4().hex
    job_id = f"test-rawexec-{marker[:8]}"
    group = {
        "Name": "run",
        "Count": 1,
        "RestartPolicy": {"Attempts": 0, "Mode": "fail"},
        "ReschedulePolicy": {"Attempts": 0, "Unlimited": False},
        "Tasks": [
            {
                "Name": "echo",
                "Driver": "raw_exec",
                "Config": {"command": "/bin/sh", "args": ["-c", f"echo out-{marker}"]},
                "Resources": {"CPU": 100, "MemoryMB": 64},
            }
        ],
    }
    submit(nomad, job_spec(job_id, "batch", group))
    try:
        alloc = wait_alloc(nomad, job_id, {"complete"})
        assert task_log(nomad, alloc["ID"], "echo") == f"out-{marker}\n"
    finally:
        purge(nomad, job_id)


def _docker(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=300, check=False, env=env
    )


@pytest.fixture
def pushed_image(base_images: dict[str, str], registry_auth: RegistryAuth) -> Iterator[str]:
    """``paastech/python`` pushed (with credentials) to the registry under a fresh name."""
    ref = f"{registry_auth.address}/paastech-test/nomad-{uuid.uuid4().hex[:8]}:v1"
    assert _docker("tag", base_images["python"], ref).returncode == 0
    pushed = _docker("push", ref, env=registry_auth.docker_env())
    assert pushed.returncode == 0, pushed.stderr
    # Gone locally: Nomad's docker driver has to pull it from the registry, with credentials.
    assert _docker("rmi", ref).returncode == 0
    yield ref
    _docker("rmi", "-f", ref)


def test_docker_service_job_from_the_registry_answers_at_its_registered_address(
    nomad: httpx.Client, pushed_image: str
) -> None:
    """A docker-driver service job pulls its image from the authenticated registry, answers
    HTTP on its dynamic port on 127.0.0.1, and Nomad's service registry lists that address."""
    name = f"test-svc-{uuid.uuid4().hex[:8]}"
    group = {
        "Name": "web",
        "Count": 1,
        "Networks": [{"Mode": "host", "DynamicPorts": [{"Label": "http"}]}],
        "Services": [{"Name": name, "PortLabel": "http", "Provider": "nomad"}],
        "Tasks": [
            {
                "Name": "server",
                "Driver": "docker",
                "Config": {
                    "image": pushed_image,
                    "network_mode": "host",
                    "command": "python3",
                    "args": ["-m", "http.server", "${NOMAD_PORT_http}", "--bind", "127.0.0.1"],
                },
                "Resources": {"CPU": 100, "MemoryMB": 128},
            }
        ],
    }
    submit(nomad, job_spec(name, "service", group))
    try:
        alloc = wait_alloc(nomad, name, {"running"})
        detail = nomad.get(f"/v1/allocation/{alloc['ID']}").json()
        port = next(
            p["Value"]
            for p in detail["AllocatedResources"]["Shared"]["Ports"]
            if p["Label"] == "http"
        )
        answered = None
        for _ in range(100):
            try:
                answered = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                wait_alloc(nomad, name, {"running"})
        assert answered is not None
        assert answered.status_code == 200
        assert "Directory listing" in answered.text
        registrations = nomad.get(f"/v1/service/{name}").json()
        assert [(r["Address"], r["Port"], r["AllocID"]) for r in registrations] == [
            ("127.0.0.1", port, alloc["ID"])
        ]
    finally:
        purge(nomad, name)


def test_a_host_network_container_gets_403_from_the_nomad_api(
    nomad_agent: NomadAgent, base_images: dict[str, str]
) -> None:
    """An app sharing the host's loopback cannot list, let alone submit, jobs."""
    probe = (
        "import urllib.request, urllib.error\n"
        "try:\n"
        f"    urllib.request.urlopen('{nomad_agent.address}/v1/jobs', timeout=5)\n"
        "    print('status 200')\n"
        "except urllib.error.HTTPError as e:\n"
        "    print('status', e.code)\n"
    )
    ran = _docker("run", "--rm", "--network", "host", base_images["python"], "python3", "-c", probe)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "status 403"


def test_anonymous_push_and_pull_are_refused_by_the_registry(
    base_images: dict[str, str], registry_auth: RegistryAuth, tmp_path: object
) -> None:
    """Without credentials the registry refuses a push and a catalogue listing (401)."""
    ref = f"{registry_auth.address}/paastech-test/anonymous-{uuid.uuid4().hex[:8]}:v1"
    assert _docker("tag", base_images["base"], ref).returncode == 0
    try:
        pushed = _docker("push", ref, env={"PATH": "/usr/bin:/bin", "DOCKER_CONFIG": str(tmp_path)})
        assert pushed.returncode != 0
        assert "no basic auth credentials" in pushed.stderr + pushed.stdout
    finally:
        _docker("rmi", "-f", ref)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://{registry_auth.address}/v2/_catalog", timeout=5)
    assert refused.value.code == 401
