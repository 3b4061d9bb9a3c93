"""`hostpulse replay dlq|archive`: send batches through aggregation again.

Against the running local cloud by default; on AWS with ``--region``, ``--bucket`` and the queue
URLs. Progress goes to stderr (a bar on a terminal, a line every few seconds otherwise), the
summary to stdout. Exit status: 0 when everything selected went, 1 when something could not be
sent, 130 when interrupted (run the same command again: an archive replay resumes).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import TextIO

from hostpulse.localcloud.errors import LocalCloudError
from hostpulse.localcloud.paths import StatePaths
from hostpulse.localcloud.settings import LocalCloudSettings
from hostpulse.localcloud.supervisor import read_endpoints
from hostpulse.services.replay.service import (
    Pacer,
    ReplayReport,
    Selection,
    replay_archive,
    replay_dead_letters,
)
from hostpulse.wiring.by_url import (
    ReplayCheckpointMismatch,
    ReplayPlace,
    dead_letters,
    replay_archive_reader,
    replay_checkpoint,
    replay_destination,
)

RELATIVE = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
INTERRUPTED = 130


def moment(text: str) -> int:
    """ISO 8601 (`2026-11-20T14:00Z`, a date) or an age (`90m`, `6h`, `7d`) or `now`: ms."""
    now = datetime.now(tz=UTC)
    if text == "now":
        return int(now.timestamp() * 1000)
    relative = RELATIVE.match(text)
    if relative:
        ago = timedelta(**{UNITS[relative.group(2)]: int(relative.group(1))})
        return int((now - ago).timestamp() * 1000)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a time as 2026-11-20T14:00Z, an age as 90m, 6h or 7d, or now"
        ) from None
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp() * 1000)


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    replay = commands.add_parser("replay", help="send batches through aggregation again")
    sources = replay.add_subparsers(dest="source", required=True)
    dlq = sources.add_parser("dlq", help="move dead-lettered messages back to their queue")
    dlq.add_argument("queue", choices=["aggregate", "alerts"])
    archive = sources.add_parser("archive", help="re-enqueue archived batches of a time range")
    for source in (dlq, archive):
        required = source is archive
        source.add_argument("--since", type=moment, required=required, help="from (ISO or 6h)")
        source.add_argument("--until", type=moment, required=required, help="to (ISO or now)")
        source.add_argument("--agent", help="only this agent's batches")
        source.add_argument("--host", help="only this host's batches")
        source.add_argument("--dry-run", action="store_true", help="count, send nothing")
        source.add_argument("--rate", type=float, help="at most this many batches a second")
        source.add_argument("--region", help="on AWS: the stack's region")
        source.add_argument("--endpoint", help="an AWS-compatible endpoint (the local cloud's)")
        source.add_argument("--bucket", help="on AWS: the archive bucket")
        source.add_argument("--queue-url", help="on AWS: the queue to send to")
    dlq.add_argument("--dead-letter-url", help="on AWS: the dead-letter queue")
    archive.add_argument("--restart", action="store_true", help="ignore an earlier checkpoint")


def _where(
    args: argparse.Namespace, settings: LocalCloudSettings, queue: str
) -> tuple[ReplayPlace, str, str]:
    """The place, the queue to send to and its dead-letter queue."""
    if args.bucket and args.queue_url:
        if not args.region:
            raise LocalCloudError("--region is needed with --bucket", "add --region")
        place = ReplayPlace(args.region, args.endpoint, args.bucket)
        return place, args.queue_url, getattr(args, "dead_letter_url", None) or ""
    endpoints = read_endpoints(StatePaths(settings.state_dir))
    if endpoints is None:
        raise LocalCloudError(
            "hostpulse is not running",
            "start it with `make up`, or name an AWS stack with --region, --bucket, --queue-url",
        )
    place = ReplayPlace(
        endpoints["region"], endpoints["aws_endpoint_url"], endpoints["buckets"]["archive"]
    )
    return place, endpoints["queues"][queue], endpoints["dead_letter_queues"].get(queue, "")


class BarProgress:
    """A progress bar on a terminal; plain lines every few seconds anywhere else."""

    def __init__(self, stream: TextIO, what: str) -> None:
        self.stream, self.what = stream, what
        self.terminal = stream.isatty()
        self.items = self.size = 0
        self.total: int | None = None
        self.started = self.shown = time.monotonic()

    def start(self, items: int | None, size: int | None) -> None:
        self.total, self.started = items, time.monotonic()

    def advance(self, items: int, size: int) -> None:
        self.items += items
        self.size += size
        now = time.monotonic()
        if now - self.shown >= (0.1 if self.terminal else 5.0):
            self.shown = now
            self._show(now)

    def _show(self, now: float) -> None:
        elapsed = max(now - self.started, 1e-6)
        rate = self.items / elapsed
        total = f"/{self.total}" if self.total is not None else ""
        eta = ""
        if self.total and rate > 0:
            eta = f"  ETA {timedelta(seconds=int(max(self.total - self.items, 0) / rate))}"
        line = f"{self.items}{total} {self.what}  {self.size / 1e6:.1f} MB  {rate:.1f}/s{eta}"
        if self.terminal:
            done = min(self.items / self.total, 1.0) if self.total else 0.0
            bar = "#" * int(done * 30)
            self.stream.write(f"\r[{bar:<30}] {line}  ")
        else:
            self.stream.write(f"hostpulse: replay: {line}\n")
        self.stream.flush()

    def finish(self) -> None:
        self._show(time.monotonic())
        if self.terminal:
            self.stream.write("\n")


def _summary(report: ReplayReport, dry_run: bool) -> int:
    verb = "would send" if dry_run else "sent"
    print(
        f"hostpulse: replay: examined {report.examined}, {verb} {report.sent} "
        f"({report.bytes / 1e6:.2f} MB), skipped {report.skipped}, unreadable {report.unreadable}, "
        f"failed {report.failed}"
    )
    for problem in report.problems[:10]:
        print(f"hostpulse: replay: {problem}")
    if report.interrupted:
        print("hostpulse: replay: interrupted; run the same command again to go on")
        return INTERRUPTED
    return 0 if report.complete else 1


def run(args: argparse.Namespace, settings: LocalCloudSettings) -> int:
    selection = Selection(args.agent, args.host, args.since, args.until)
    pacer = Pacer(args.rate)
    if args.source == "dlq":
        place, queue_url, dead_letter_url = _where(args, settings, args.queue)
        if not dead_letter_url:
            raise LocalCloudError(f"queue {args.queue} has no dead-letter queue", "")
        report = replay_dead_letters(
            dead_letters(place, dead_letter_url),
            replay_destination(place, queue_url),
            replay_archive_reader(place),
            selection,
            dry_run=args.dry_run,
            pacer=pacer,
            progress=BarProgress(sys.stderr, "messages"),
        )
        return _summary(report, args.dry_run)
    place, queue_url, _ = _where(args, settings, "aggregate")
    identity = f"archive {place.bucket} -> {queue_url}: {selection.describe()}"
    name = hashlib.sha256(identity.encode()).hexdigest()[:16]
    checkpoint = replay_checkpoint(settings.state_dir / "replay" / f"{name}.json", identity)
    if args.restart:
        checkpoint.clear()
    try:
        report = replay_archive(
            replay_archive_reader(place),
            replay_destination(place, queue_url),
            selection,
            checkpoint,
            dry_run=args.dry_run,
            pacer=pacer,
            progress=BarProgress(sys.stderr, "archive objects"),
        )
    except ReplayCheckpointMismatch as error:
        raise LocalCloudError(str(error), "run it again with --restart") from None
    return _summary(report, args.dry_run)
