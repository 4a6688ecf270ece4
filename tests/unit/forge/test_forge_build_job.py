"""The build job spec: a pure function from a build to the Nomad job that runs it."""

from __future__ import annotations

import json
import uuid

import pytest

from paastech.forge.build_job import (
    BuildJob,
    build_id_of,
    build_job,
    build_script,
    job_id_for,
    variable_path,
)

BUILD = uuid.UUID("12345678-1234-5678-1234-567812345678")
JOB = BuildJob(
    build_id=BUILD,
    project="hello",
    commit_sha="0123456789abcdef0123456789abcdef01234567",
    source_url="http://127.0.0.1:2223/source/tok",
    nonce="n0nce",
    image=f"127.0.0.1:5000/hello:{BUILD}",
    registry="127.0.0.1:5000",
    cpu_mhz=700,
    memory_mb=900,
)

GOLDEN_SCRIPT = f"""\
set -eu
exec 2>&1
trap 'echo "paastech-n0nce exit: $?"' EXIT
cd "$TASK_DIR"
echo 'paastech-n0nce step: fetch'
echo 'Fetching the source of 0123456789ab'
curl -sSf --max-time 300 -o source.tar http://127.0.0.1:2223/source/tok
mkdir -p src && tar -xf source.tar -C src && rm -f source.tar
echo 'paastech-n0nce step: build'
docker build --network host --force-rm -t 127.0.0.1:5000/hello:{BUILD} src 2>&1
echo 'paastech-n0nce step: push'
echo 'Pushing 127.0.0.1:5000/hello:{BUILD}'
docker push 127.0.0.1:5000/hello:{BUILD} > push.out 2>&1 || {{ cat push.out; exit 1; }}
tail -n 1 push.out
digest=$(sed -n 's/.*digest: \\(sha256:[0-9a-f]*\\).*/\\1/p' push.out | tail -n 1)
echo "paastech-n0nce digest: $digest\""""


def test_the_script_fetches_builds_pushes_and_reports_the_digest() -> None:
    """The task's script, byte for byte (a change to it is a reviewed change)."""
    assert build_script(JOB) == GOLDEN_SCRIPT


def test_the_marker_nonce_is_in_the_jobs_meta_for_a_reattaching_forge() -> None:
    """A restarted forge reads the nonce back from the job to recognise the marker lines."""
    assert build_job(JOB)["Meta"]["paastech_marker"] == "n0nce"


def test_the_job_id_is_derived_from_the_build_id_and_back() -> None:
    """A restarted forge finds a build's job from the row alone."""
    assert job_id_for(BUILD) == f"paastech-build-{BUILD}"
    assert build_id_of(job_id_for(BUILD)) == BUILD
    assert build_id_of("paastech-build-nope") is None
    assert build_id_of("hello-web") is None


def test_the_job_is_one_batch_task_with_the_build_limits_and_no_retries() -> None:
    """CPU and memory come from the settings; a failed build is never restarted."""
    job = build_job(JOB)
    group = job["TaskGroups"][0]
    task = group["Tasks"][0]
    assert (job["ID"], job["Type"], job["Datacenters"]) == (job_id_for(BUILD), "batch", ["dc1"])
    assert task["Resources"] == {"CPU": 700, "MemoryMB": 900}
    assert group["RestartPolicy"]["Attempts"] == 0
    assert group["ReschedulePolicy"] == {"Attempts": 0, "Unlimited": False}


def test_the_task_gets_an_empty_environment_and_its_own_docker_config() -> None:
    """raw_exec would pass the agent's environment on: the command starts from env -i."""
    task = build_job(JOB)["TaskGroups"][0]["Tasks"][0]
    assert task["Driver"] == "raw_exec"
    assert task["Config"]["command"] == "/usr/bin/env"
    args = task["Config"]["args"]
    assert args[0] == "-i"
    env = args[1 : args.index("/bin/sh")]
    assert {e.partition("=")[0] for e in env} == {
        "PATH",
        "HOME",
        "TASK_DIR",
        "DOCKER_CONFIG",
        "DOCKER_BUILDKIT",
    }
    assert "DOCKER_CONFIG=${NOMAD_SECRETS_DIR}/docker" in env


def test_registry_credentials_come_from_the_jobs_own_variable() -> None:
    """The job names where the credentials are, never the credentials themselves."""
    task = build_job(JOB)["TaskGroups"][0]["Tasks"][0]
    (template,) = task["Templates"]
    assert template["DestPath"] == "secrets/docker/config.json"
    assert template["Perms"] == "0600"
    assert f'nomadVar "{variable_path(job_id_for(BUILD))}"' in template["EmbeddedTmpl"]
    assert '"127.0.0.1:5000"' in template["EmbeddedTmpl"]
    dumped = json.dumps(build_job(JOB))
    for secret in ("NOMAD_TOKEN", "X-Nomad-Token", "PASSWORD", "PAASTECH_"):
        assert secret not in dumped


@pytest.mark.parametrize(
    ("host_network", "driver", "network_flag", "config_keys"),
    [
        (True, "raw_exec", True, {"command", "args"}),
        (False, "raw_exec", False, {"command", "args"}),
        (True, "docker", True, {"image", "command", "args", "volumes", "network_mode"}),
        (False, "docker", False, {"image", "command", "args", "volumes"}),
    ],
)
def test_profiles_and_drivers(
    host_network: bool, driver: str, network_flag: bool, config_keys: set[str]
) -> None:
    """Dev builds on the host network; production (bridge) and the docker driver differ."""
    job = BuildJob(**{**JOB.__dict__, "host_network": host_network, "driver": driver})
    task = build_job(job)["TaskGroups"][0]["Tasks"][0]
    assert set(task["Config"]) == config_keys
    assert ("--network host" in build_script(job)) is network_flag


def test_outside_values_are_shell_quoted() -> None:
    """A URL with shell metacharacters stays one argument of curl."""
    job = BuildJob(**{**JOB.__dict__, "source_url": "http://h/source/a;rm -rf /"})
    assert "'http://h/source/a;rm -rf /'" in build_script(job)


def test_the_script_ends_by_calling_its_done_url_keeping_its_exit_status() -> None:
    """The forge hears of the end at once; the build's own exit status still decides.

    The 64 KiB of blanks after the exit line overflow Nomad's log collector buffer, so the
    exit line is in the log file when the forge reads it.
    """
    job = BuildJob(**{**JOB.__dict__, "done_url": "http://h/done/t;rm -rf /"})
    lines = build_script(job).splitlines()
    assert lines[2] == "done_url='http://h/done/t;rm -rf /'"
    assert lines[3] == (
        'trap \'status=$?; echo "paastech-n0nce exit: $status"; printf "%65536s\\n" "";'
        ' curl -s --max-time 5 -d "" -o /dev/null "$done_url" >/dev/null 2>&1 || true;'
        " exit $status' EXIT"
    )
    assert lines[4:] == GOLDEN_SCRIPT.splitlines()[3:]
