"""A real single-node Slurm cluster on this machine, and the tiny configuration run through it.

:func:`slurm_cluster` installs Debian's Slurm and munge when they are missing, starts munged,
slurmctld and slurmd (as root, without systemd) and stops the daemons it started, by PID, also
when something fails. :func:`run_through_slurm` runs a checkout with ``--profile profiles/slurm``
and, layered on top, the settings a one-node cluster without an accounting database needs.
``tests/conftest.py`` turns both into session fixtures; ``tests/test_slurm.py`` checks the run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from snakemake_run import ROOT, planned_jobs, snakemake

PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
PROGRAMS = ("slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scancel", "munged", "munge")
# Slurm's tools read this path; a path in SLURM_CONF would not reach the job steps, whose
# launcher clears SLURM_* variables.
SLURM_CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# single-node test cluster of ntk-evolution's tests/test_slurm.py\n"
LOCK = Path("/run/lock/ntk-evolution-slurm-test.lock")
PARTITION = "ci"
RUN_TIMEOUT = 1200  # seconds: a guard against a hung run (it takes minutes)


@dataclass
class Cluster:
    """A running single-node cluster: its scratch folder and the daemons this test started."""

    scratch: Path
    daemons: dict[str, subprocess.Popen] = field(default_factory=dict)

    def logs(self) -> str:
        """The ends of the daemons' logs, for a failure message."""
        parts = []
        for name in ("slurmctld", "slurmd", "munged"):
            log = self.scratch / f"{name}.log"
            if log.exists():
                parts.append(f"--- {log} ---\n{log.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)


def run(*command: str, timeout: float = 30) -> str:
    """Run a command; its standard output, or an error with its output."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed with exit code {result.returncode}:\n"
            f"{result.stdout}{result.stderr}"
        )
    return result.stdout


def unavailable() -> str | None:
    """Why this machine cannot start a test cluster, or None when it can."""
    if os.geteuid() != 0:
        return "starting Slurm's daemons needs root"
    if not all(shutil.which(program) for program in PROGRAMS) and not shutil.which("apt-get"):
        return "Slurm is not installed and there is no apt-get to install it with"
    return None


def install_missing() -> None:
    """Install Slurm and munge with apt-get when one of their programs is missing."""
    if all(shutil.which(program) for program in PROGRAMS):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES],
    ):
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        assert result.returncode == 0, (
            f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}"
        )


def write_slurm_conf(scratch: Path) -> None:
    """A one-node, one-partition configuration without accounting, cgroups or systemd."""
    if SLURM_CONF.exists() and not SLURM_CONF.read_text().startswith(MARKER):
        pytest.skip(f"{SLURM_CONF} belongs to this machine's own Slurm; the test leaves it alone")
    node = run("slurmd", "-C").splitlines()[0]  # NodeName=... CPUs=... RealMemory=...
    SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
    SLURM_CONF.write_text(
        MARKER
        + f"""ClusterName=ntktest
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# Finished jobs stay in squeue's records for an hour: the status queries and the test read them.
MinJobAge=3600
StateSaveLocation={scratch}/state
SlurmdSpoolDir={scratch}/spool
SlurmctldPidFile={scratch}/slurmctld.pid
SlurmdPidFile={scratch}/slurmd.pid
SlurmctldLogFile={scratch}/slurmctld.log
SlurmdLogFile={scratch}/slurmd.log
{node} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
    )


def wait_for(check, what: str, cluster: Cluster, timeout: float = 60) -> None:
    """Poll ``check()`` until it is true; fail naming ``what`` (with the logs) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        for name, process in cluster.daemons.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited ({process.returncode})\n{cluster.logs()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {what} after {timeout} s\n{cluster.logs()}")
        time.sleep(0.5)


def succeeds(*command: str) -> bool:
    return subprocess.run(command, capture_output=True, timeout=30).returncode == 0


def munge_works() -> bool:
    return subprocess.run("munge -n | unmunge", shell=True, capture_output=True).returncode == 0


def node_is_idle() -> bool:
    state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    return state.returncode == 0 and state.stdout.strip() == "idle"


def start(cluster: Cluster, name: str, command: list[str], **options) -> None:
    """Start a daemon in the foreground of a child process and record it."""
    with open(cluster.scratch / f"{name}.log", "ab") as log:  # the daemon keeps its own copy
        cluster.daemons[name] = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **options
        )


def stop(cluster: Cluster) -> None:
    """Cancel the cluster's jobs, stop the daemons this test started, by PID, and remove the
    configuration it wrote. Left behind, that file would name a controller that no longer runs,
    and every later Snakemake process on the machine would wait about 9 s at start-up: the Slurm
    executor plugin asks ``scontrol show config`` when it is imported."""
    if "slurmctld" in cluster.daemons and cluster.daemons["slurmctld"].poll() is None:
        subprocess.run(["scancel", "--user", "root"], capture_output=True, timeout=30)
    for name in ("slurmd", "slurmctld", "munged"):
        process = cluster.daemons.get(name)
        if process is None or process.poll() is not None:
            continue
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
    if SLURM_CONF.exists() and SLURM_CONF.read_text().startswith(MARKER):
        SLURM_CONF.unlink()


@contextlib.contextmanager
def slurm_cluster(scratch: Path) -> Iterator[Cluster]:
    """A single-node Slurm cluster on this machine while the context lasts."""
    install_missing()
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one test cluster on the machine at a time
        if succeeds("sinfo"):
            pytest.skip("a Slurm controller is already running on this machine")
        cluster = Cluster(scratch)
        for folder in ("state", "spool"):
            (cluster.scratch / folder).mkdir()
        try:
            write_slurm_conf(cluster.scratch)
            if not munge_works():
                run_dir = Path("/run/munge")
                run_dir.mkdir(exist_ok=True)
                shutil.chown(run_dir, "munge", "munge")
                start(cluster, "munged", ["munged", "--foreground"], user="munge", group="munge")
                wait_for(munge_works, "munge credentials", cluster)
            start(cluster, "slurmctld", ["slurmctld", "-D"])
            start(cluster, "slurmd", ["slurmd", "-D"])
            wait_for(node_is_idle, "idle node", cluster)
            yield cluster
        finally:
            stop(cluster)


def single_node_profile(checkout: Path) -> Path:
    """Settings layered over profiles/slurm for this cluster: its partition, squeue for job
    states (there is no accounting database for sacct), quick status checks, and the Slurm logs
    of successful jobs kept so that the test can read their job ids."""
    site = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    profile = checkout / "single-node"
    profile.mkdir()
    settings = {
        "default-resources": {**site["default-resources"], "slurm_partition": PARTITION},
        "slurm-status-command": "squeue",
        "slurm-init-seconds-before-status-checks": 1,
        "slurm-keep-successful-logs": True,
    }
    (profile / "config.yaml").write_text(yaml.safe_dump(settings))
    return profile


def slurm_jobs() -> dict[str, tuple[str, str, str]]:
    """Every job slurmctld knows: job id -> (state, partition, comment)."""
    out = run("squeue", "-h", "-t", "all", "-o", "%i|%T|%P|%k")
    return {
        job_id: (state, partition, comment)
        for job_id, state, partition, comment in (line.split("|", 3) for line in out.splitlines())
    }


@dataclass
class SlurmRun:
    """A finished run through Slurm: the checkout, the jobs planned, and what happened."""

    checkout: Path
    planned: list[tuple[str, str]]
    returncode: int
    seconds: float
    context: str  # Snakemake's output, the daemons' logs and the jobs' Slurm logs, for failures

    @property
    def slurm_logs(self) -> list[Path]:
        return sorted((self.checkout / ".snakemake/slurm_logs").rglob("*.log"))


def run_through_slurm(cluster: Cluster, checkout: Path) -> SlurmRun:
    """Run ``checkout``'s workflow to the end with ``profiles/slurm`` on ``cluster``."""
    planned = planned_jobs(checkout)
    profile = single_node_profile(checkout)
    started = time.monotonic()
    slurm = ("--profile", "profiles/slurm", "--profile", str(profile))
    result = snakemake(checkout, *slurm, check=False, timeout=RUN_TIMEOUT)
    seconds = time.monotonic() - started
    slurm_logs = sorted((checkout / ".snakemake/slurm_logs").rglob("*.log"))
    context = f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}\n{cluster.logs()}\n" + "\n".join(
        f"--- {log} ---\n{log.read_text(errors='replace')[-2000:]}" for log in slurm_logs
    )
    return SlurmRun(checkout, planned, result.returncode, seconds, context)
