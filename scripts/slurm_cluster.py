"""A one-node Slurm cluster on loopback, from Debian's packages (slurmctld, slurmd, munge).

``make slurm-cluster`` (``python scripts/slurm_cluster.py [--cpus N]``, as root) starts one
on this machine to try ``deploy/slurm/`` on before a real cluster (docs/schedulers.md),
prints the ``SLURM_CONF`` to export in another shell, and stops it on Ctrl-C; the same
code serves tests/test_slurm.py and benchmarks/slurm_class.py. :func:`one_node` writes a minimal
configuration into a folder of its own, starts ``munged``, ``slurmctld`` and ``slurmd``
(no systemd needed), yields the environment Slurm's commands need (``SLURM_CONF``) and
stops exactly the daemons it started. The node declares 64 GiB
(``SlurmdParameters=config_overrides``) so that a job asking the course's memory caps is
schedulable on a small machine; this cluster enforces no memory limit (no cgroup plugin):
the grader's own caps still apply inside each job.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

TOOLS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol", "sinfo")

CONF = """\
ClusterName=course
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld}
SlurmdPort={slurmd}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={run}/munge.sock
CredType=cred/munge
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={run}/slurmctld.pid
SlurmdPidFile={run}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
MpiDefault=none
MinJobAge=3600
SlurmdParameters=config_overrides
NodeName=course1 NodeAddr=127.0.0.1 NodeHostname={host} CPUs={cpus} RealMemory=65536 State=UNKNOWN
PartitionName=grading Nodes=course1 Default=YES MaxTime=INFINITE State=UP
"""


def which(name: str) -> str | None:
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def missing() -> list[str]:
    """The tools of :data:`TOOLS` not installed here (and root, which slurmd needs)."""
    return [t for t in TOOLS if not which(t)] + (["root"] if os.geteuid() else [])


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run(cmd: list[str], env: dict, cwd: Path | None = None) -> str:
    """``cmd``'s standard output; its output in the error if it fails."""
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode:
        raise RuntimeError(f"{cmd}: exit {done.returncode}\n{done.stdout}{done.stderr}")
    return done.stdout


def wait(ready, seconds: float, why=lambda: "") -> None:
    """Poll ``ready()`` each second for up to ``seconds``; TimeoutError with ``why()``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if ready():
            return
        time.sleep(1)
    raise TimeoutError(f"timed out after {seconds} s\n{why()}")


def logs(folder: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}"
                     for p in sorted(Path(folder).glob("*.log")))


def idle(env: dict) -> bool:
    """Whether no job is queued or running."""
    return not subprocess.run(["squeue", "-h"], env=env, capture_output=True,
                              text=True).stdout.strip()


def finished(job: str, env: dict) -> bool:
    """Whether no task of ``job`` is pending or running."""
    return not run(["squeue", "-h", "-j", job], env).strip()


@contextlib.contextmanager
def one_node(cpus: int = 2) -> Iterator[dict]:
    """A running one-node cluster of ``cpus`` CPUs: the environment for its commands."""
    # munged wants every parent folder of its socket open to all (pytest's are not)
    d = Path(tempfile.mkdtemp(prefix="course-slurm-", dir="/tmp"))
    d.chmod(0o755)
    sock, key = d / "run", d / "munge"
    for folder, mode in ((sock, 0o755), (key, 0o700), (d / "state", 0o755),
                         (d / "spool", 0o755)):
        folder.mkdir()
        folder.chmod(mode)
    (key / "munge.key").write_bytes(secrets.token_bytes(1024))
    (key / "munge.key").chmod(0o400)
    ctld, slurmd = _free_ports(2)
    conf = d / "slurm.conf"
    conf.write_text(CONF.format(d=d, run=sock, ctld=ctld, slurmd=slurmd, cpus=cpus,
                                host=socket.gethostname()))
    env = dict(os.environ, SLURM_CONF=str(conf))
    started = []
    try:
        for cmd in ([which("munged"), f"--key-file={key}/munge.key",
                     f"--socket={sock}/munge.sock", f"--pid-file={sock}/munged.pid",
                     f"--log-file={key}/munged.log", f"--seed-file={key}/seed"],
                    [which("slurmctld"), "-f", str(conf), "-i"],
                    [which("slurmd"), "-f", str(conf), "-N", "course1"]):
            run(cmd, env)
            started.append(sock / f"{Path(cmd[0]).name}.pid")
            time.sleep(0.5)
        wait(lambda: "idle" in run(["sinfo", "-h", "-o", "%T"], env), 60, lambda: logs(d))
        yield env
    finally:
        if len(started) == 3:
            subprocess.run(["scancel", "--full", "--user=root"], env=env, capture_output=True)
            with contextlib.suppress(TimeoutError):
                wait(lambda: idle(env), 60)
        for pid_file in reversed(started):  # only the daemons started here
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pid_file.read_text()), 15)
        time.sleep(1)
        shutil.rmtree(d, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    """Start a one-node cluster, say how to use it, and keep it until Ctrl-C (or TERM)."""
    parser = argparse.ArgumentParser(prog="make slurm-cluster [CPUS=n]")
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args(argv)
    lacking = missing()
    if lacking:
        raise SystemExit(f"slurm-cluster needs {', '.join(lacking)}: run it as root, after "
                         "apt-get install slurmctld slurmd slurm-client munge")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stopped as on Ctrl-C
    with one_node(args.cpus) as env:
        print(f"A one-node Slurm cluster ({args.cpus} CPUs) is running. In another shell, "
              "in the course folder:\n"
              f"  export SLURM_CONF={env['SLURM_CONF']}\n"
              "  export COURSE_DATA_DIR=<the staged datasets>  # the jobs get it from here\n"
              "  deploy/slurm/submit.sh 05_denoising_autoencoders 2 1\n"
              "  squeue; make merge-shards    # when squeue lists no job\n"
              "Ctrl-C here cancels its jobs and stops it.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
