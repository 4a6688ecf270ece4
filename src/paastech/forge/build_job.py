"""The Nomad batch job that builds one commit: a pure function from a build to a job dict.

**One batch job per build, not a dispatch of a parameterized job**: the job id is derived
from the build id (:func:`job_id_for`), so a restarted forge finds the job of every build
it left running without any state but the Build row; each job carries its own resources
and time limit from the settings of the forge that submitted it; and the registry
credentials live in the job's own Nomad Variable (``nomad/jobs/<job id>``), which Nomad
lets that job's tasks read and nothing else. A dispatch would get an id Nomad makes up
and share one variable among all builds. Nor would it be faster: on the dev agent both
calls answer in a few ms and the task starts 100-160 ms later either way (Nomad's client
launches its log and executor plugins for each task); measured side by side.

What the task does, in order, printing as it goes: download the tree from the one-time
source URL, ``docker build`` it (``--network host`` in the dev profile, the daemon's layer
cache makes a code-only change cheap), ``docker push`` it, and print the digest and, last,
its exit status on marker lines (:func:`markers`). The forge reads the end of the build
from the log itself: Nomad's client reports a finished task to the servers only about a
second later, which would double a warm rebuild. And the script's last act is a POST to
the build's one-time done URL, so the forge reads the rest of the log at once instead of
when Nomad's followed log stream gets to it (see :mod:`paastech.forge.archive`); just
before it, a blank filler line makes Nomad's log collector write its buffer to the log
file then rather than at its next 100 ms tick.

What the task gets: nothing of the forge's environment. ``raw_exec`` would hand the task
the Nomad agent's whole environment, so the command is ``env -i`` with an explicit list
(``PATH``, ``HOME``, the task's directories, ``DOCKER_CONFIG``). Registry credentials
arrive as ``secrets/docker/config.json`` rendered by a ``template`` from the job's
variable; the Nomad token and the database password are never part of the job.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any
from uuid import UUID

JOB_PREFIX = "paastech-build-"
TASK = "build"
MARKER_META = "paastech_marker"
SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
FLUSH_FILLER = 64 * 1024
"""Bytes of Nomad's log collector buffer (v1.6.5 ``logmon``: 64 KiB, else written every
100 ms): a write that does not fit in what is left makes it write the buffer out."""


def job_id_for(build_id: UUID) -> str:
    """The Nomad job id of a build: ``paastech-build-<build id>``."""
    return f"{JOB_PREFIX}{build_id}"


def build_id_of(job_id: str) -> UUID | None:
    """The build a job id belongs to, or None for any other job."""
    if not job_id.startswith(JOB_PREFIX):
        return None
    try:
        return UUID(job_id.removeprefix(JOB_PREFIX))
    except ValueError:
        return None


def markers(nonce: str) -> tuple[str, str, str]:
    """The (step, digest, exit) line prefixes the script prints for the forge.

    They carry a per-build nonce that build code cannot know (it is in the job, which only
    the platform's token can read), so a ``RUN echo`` cannot fake them; the digest is
    checked against the registry all the same.
    """
    return (f"paastech-{nonce} step: ", f"paastech-{nonce} digest: ", f"paastech-{nonce} exit: ")


def variable_path(job_id: str) -> str:
    """Where the job's registry credentials are kept (readable by that job's tasks only)."""
    return f"nomad/jobs/{job_id}"


@dataclass(frozen=True)
class BuildJob:
    """What varies between build jobs."""

    build_id: UUID
    project: str
    commit_sha: str
    source_url: str
    nonce: str
    image: str
    registry: str
    cpu_mhz: int
    memory_mb: int
    datacenter: str = "dc1"
    namespace: str = "default"
    region: str = "global"
    driver: str = "raw_exec"
    docker_cli_image: str = "paastech/base"
    host_network: bool = True
    done_url: str = ""


def build_script(job: BuildJob) -> str:
    """The task's shell script (``sh -c``); every value from outside is shell-quoted."""
    q = shlex.quote
    network = " --network host" if job.host_network else ""
    step, digest, done = markers(job.nonce)
    # The last line, whatever happens: the forge need not wait for Nomad to notice. Then
    # FLUSH_FILLER blank bytes, which make Nomad's log collector write what it holds to the
    # log file at once (the forge drops whatever follows the exit line), and the nudge,
    # silent and never failing the build (a restarted forge no longer knows the URL).
    trap = f"trap 'echo \"{done}$?\"' EXIT"
    if job.done_url:
        trap = (
            f"done_url={q(job.done_url)}\n"
            f'trap \'status=$?; echo "{done}$status"; printf "%{FLUSH_FILLER}s\\n" "";'
            ' curl -s --max-time 5 -d "" -o /dev/null "$done_url" >/dev/null 2>&1 || true;'
            " exit $status' EXIT"
        )
    return "\n".join(
        [
            "set -eu",
            "exec 2>&1",  # one stream: the pusher reads errors where they happened
            trap,
            'cd "$TASK_DIR"',
            f"echo {q(step + 'fetch')}",
            f"echo {q('Fetching the source of ' + job.commit_sha[:12])}",
            f"curl -sSf --max-time 300 -o source.tar {q(job.source_url)}",
            "mkdir -p src && tar -xf source.tar -C src && rm -f source.tar",
            f"echo {q(step + 'build')}",
            f"docker build{network} --force-rm -t {q(job.image)} src 2>&1",
            f"echo {q(step + 'push')}",
            f"echo {q('Pushing ' + job.image)}",
            f"docker push {q(job.image)} > push.out 2>&1 || {{ cat push.out; exit 1; }}",
            "tail -n 1 push.out",
            "digest=$(sed -n 's/.*digest: \\(sha256:[0-9a-f]*\\).*/\\1/p' push.out | tail -n 1)",
            f'echo "{digest}$digest"',
        ]
    )


def _credentials_template(job: BuildJob, job_id: str) -> str:
    # consul-template renders the variable's items into a docker config of the task's own.
    auth = '{{ printf "%s:%s" .username.Value .password.Value | base64Encode }}'
    return (
        f'{{{{ with nomadVar "{variable_path(job_id)}" }}}}'
        f'{{"auths": {{"{job.registry}": {{"auth": "{auth}"}}}}}}'
        "{{ end }}\n"
    )


def build_job(job: BuildJob) -> dict[str, Any]:
    """The Nomad job (API JSON) that builds and pushes ``job.image``."""
    job_id = job_id_for(job.build_id)
    env = [
        f"PATH={SAFE_PATH}",
        "HOME=${NOMAD_TASK_DIR}",
        "TASK_DIR=${NOMAD_TASK_DIR}",
        "DOCKER_CONFIG=${NOMAD_SECRETS_DIR}/docker",
        # The classic builder: buildx is not packaged on every host; its cache is the daemon's.
        "DOCKER_BUILDKIT=0",
    ]
    argv = ["-i", *env, "/bin/sh", "-c", build_script(job)]
    if job.driver == "docker":
        config: dict[str, Any] = {
            "image": job.docker_cli_image,
            "command": "/usr/bin/env",
            "args": argv,
            "volumes": ["/var/run/docker.sock:/var/run/docker.sock"],
        }
        if job.host_network:
            config["network_mode"] = "host"
    else:
        config = {"command": "/usr/bin/env", "args": argv}
    task = {
        "Name": TASK,
        "Driver": job.driver,
        "Config": config,
        "Resources": {"CPU": job.cpu_mhz, "MemoryMB": job.memory_mb},
        "Templates": [
            {
                "EmbeddedTmpl": _credentials_template(job, job_id),
                "DestPath": "secrets/docker/config.json",
                "Perms": "0600",
                "ChangeMode": "noop",
            }
        ],
        "KillTimeout": 10_000_000_000,  # ns: docker build gets 10 s to stop on SIGINT
        "LogConfig": {"MaxFiles": 2, "MaxFileSizeMB": 10},
        "Meta": {"paastech_build": str(job.build_id)},
    }
    return {
        "ID": job_id,
        "Name": job_id,
        "Type": "batch",
        "Namespace": job.namespace,
        "Region": job.region,
        "Datacenters": [job.datacenter],
        "Meta": {
            "paastech_build": str(job.build_id),
            "paastech_project": job.project,
            "paastech_commit": job.commit_sha,
            MARKER_META: job.nonce,
        },
        "TaskGroups": [
            {
                "Name": TASK,
                "Count": 1,
                # A failed build is an answer, not something to retry behind the pusher's back.
                "RestartPolicy": {"Attempts": 0, "Mode": "fail"},
                "ReschedulePolicy": {"Attempts": 0, "Unlimited": False},
                "EphemeralDisk": {"SizeMB": 300},
                "Tasks": [task],
            }
        ],
    }
