"""N simulated hosts for a multi-instance job: one process per host, as SageMaker runs one
container per instance.

A job with ``InstanceCount`` N gets hosts ``algo-1 … algo-N``. Each host has its own
``/opt/ml`` (``<job>/algo-i/`` locally; a one-host job keeps ``<job>/`` itself, unchanged), its
own ``resourceconfig.json`` naming it ``current_host`` among all ``hosts``, and its own part of
every ``ShardedByS3Key`` input. The hosts run at the same time; the first to fail stops the
others, and the job fails with that host's reason, as SageMaker fails the whole job.

Host names: in SageMaker ``algo-1 … algo-N`` resolve through the cluster's DNS. Locally every
host is this machine, so the runtime sets one variable, ``MLOPS_LOCAL_HOSTS``
(``algo-1=127.0.0.1:41234,algo-2=127.0.0.1:41236``), in each host's environment — only in
multi-host jobs, and only the local runtime sets it: the address of each host and the port a
service listening on that host uses instead of its standard one (all hosts share 127.0.0.1, so
two services cannot share a port). Scripts resolve a host through it when it is set and through
DNS otherwise (``training/train.py``, ``training/preprocess.py``). Both ``port`` and
``port + 1`` are free for each host (the XGBoost image's collective uses two consecutive ports).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlops.local_runtime.jobs.process import ProcessOutcome
from mlops.local_runtime.jobs.staging import Shard

LOCAL_HOSTS_ENV = "MLOPS_LOCAL_HOSTS"
LOCAL_ADDRESS = "127.0.0.1"
SHARDED = "ShardedByS3Key"
HOST_LOG_HEADER = "==> {host} <=="


class HostOutputClash(ValueError):  # noqa: N818 - reads as the failure it reports
    """Two hosts wrote the same file of one output: one would silently replace the other."""


@dataclass(frozen=True)
class Cluster:
    """The hosts of one job and, for several, the local address of each."""

    hosts: tuple[str, ...]
    ports: tuple[int, ...] = ()

    @classmethod
    def of(cls, count: int) -> Cluster:
        if count < 1:
            raise ValueError(f"InstanceCount must be at least 1, got {count}")
        hosts = tuple(f"algo-{index}" for index in range(1, count + 1))
        return cls(hosts, free_port_pairs(count) if count > 1 else ())

    @property
    def multi(self) -> bool:
        return len(self.hosts) > 1

    def root(self, job_root: Path, host: str) -> Path:
        """The host's ``/opt/ml``: the job's directory itself when there is one host."""
        return job_root / host if self.multi else job_root

    def shard(self, host: str, distribution: str | None) -> Shard | None:
        """The host's part of an input distributed ``distribution`` (None: every object)."""
        if distribution != SHARDED or not self.multi:
            return None
        return Shard(self.hosts.index(host), len(self.hosts))

    def environment(self) -> dict[str, str]:
        """The local-only host map (module doc); empty for one host."""
        if not self.multi:
            return {}
        pairs = (
            f"{host}={LOCAL_ADDRESS}:{port}"
            for host, port in zip(self.hosts, self.ports, strict=True)
        )
        return {LOCAL_HOSTS_ENV: ",".join(pairs)}


def free_port_pairs(count: int) -> tuple[int, ...]:
    """``count`` ports on 127.0.0.1, each free together with the next one."""
    found: list[int] = []
    held: list[socket.socket] = []
    try:
        while len(found) < count:
            first = socket.socket()
            first.bind((LOCAL_ADDRESS, 0))
            port = int(first.getsockname()[1])
            second = socket.socket()
            try:
                second.bind((LOCAL_ADDRESS, port + 1))
            except OSError:
                first.close()
                second.close()
                continue
            held += [first, second]
            found.append(port)
    finally:
        for sock in held:
            sock.close()
    return tuple(found)


def run_hosts(
    hosts: Sequence[str],
    launch: Callable[[str, threading.Event], ProcessOutcome],
    cancel: threading.Event | None,
) -> dict[str, ProcessOutcome]:
    """Each host's process at the same time; when one fails, the others are stopped.

    ``launch(host, stop)`` runs one host's process and returns how it ended; ``stop`` is set
    when another host failed or the caller's ``cancel`` is set.
    """
    if len(hosts) == 1:
        stop = cancel or threading.Event()
        return {hosts[0]: launch(hosts[0], stop)}
    stop = threading.Event()
    outcomes: dict[str, ProcessOutcome] = {}
    errors: dict[str, BaseException] = {}
    lock = threading.Lock()

    def one(host: str) -> None:
        try:
            outcome = launch(host, stop)
        except BaseException as error:  # reported on the calling thread
            with lock:
                errors[host] = error
            stop.set()
            return
        with lock:
            outcomes[host] = outcome
        if not outcome.succeeded:
            stop.set()

    threads = [threading.Thread(target=one, args=(host,), daemon=True) for host in hosts]
    for thread in threads:
        thread.start()
    try:
        while any(thread.is_alive() for thread in threads):
            if cancel is not None and cancel.is_set():
                stop.set()
            for thread in threads:
                thread.join(timeout=0.2)
    except BaseException:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
        raise
    if errors:
        raise next(iter(errors.values()))
    return outcomes


def first_failure(
    outcomes: dict[str, ProcessOutcome], finished_order: Sequence[str] | None = None
) -> str | None:
    """The host whose failure fails the job: the first failed one that was not stopped
    because another host had failed (a host killed by SIGKILL is a victim, not a cause)."""
    failed = [host for host, outcome in outcomes.items() if not outcome.succeeded]
    if not failed:
        return None
    causes = [host for host in failed if outcomes[host].returncode > 0 or outcomes[host].timed_out]
    ordered = list(finished_order or sorted(outcomes))
    for host in ordered:
        if host in (causes or failed):
            return host
    return (causes or failed)[0]


def merge_host_dirs(sources: Sequence[tuple[str, Path]], target: Path, what: str) -> None:
    """The union of the hosts' directories (``/opt/ml/model``, an output's ``LocalPath``) in
    ``target``; two hosts writing the same relative file is `HostOutputClash`."""
    owner: dict[Path, str] = {}
    for host, source in sources:
        if not source.is_dir():
            continue
        for path in sorted(source.rglob("*")):
            if not path.is_file():
                continue
            relative = path.relative_to(source)
            if relative in owner:
                raise HostOutputClash(
                    f"{owner[relative]} and {host} both wrote {relative} to {what}: each host "
                    "must write its own file names (or only algo-1 writes it)"
                )
            owner[relative] = host
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                if destination.resolve() != path.resolve():
                    shutil.copy2(path, destination)


def combine_logs(logs: Sequence[tuple[str, Path]], target: Path) -> None:
    """One job log holding each host's log in host order, each under ``==> algo-i <==``
    (CloudWatch keeps one stream per host)."""
    with target.open("w", encoding="utf-8") as combined:
        for host, log in logs:
            combined.write(HOST_LOG_HEADER.format(host=host) + "\n")
            if log.is_file():
                combined.write(log.read_text(encoding="utf-8", errors="replace"))
