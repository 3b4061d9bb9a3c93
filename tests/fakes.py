"""In-memory stand-ins for the adapters, for unit tests of the business logic."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from hostpulse.core.contract import Batch
from hostpulse.core.envelope import Envelope
from hostpulse.services.accounts.service import Role, Session, User
from hostpulse.services.agents.config import ConfigChange, Scope
from hostpulse.services.agents.control import Command, CommandKind
from hostpulse.services.agents.tokens import AgentGrant
from hostpulse.services.ingest.otlp.counters import MemoryCounterStore
from hostpulse.services.ingest.service import IngestLimits, IngestService
from hostpulse.services.self_monitoring.history import PipelineMinute


class Unavailable(ConnectionError):
    pass


@dataclass
class MemoryAgents:
    tokens: dict[str, str] = field(default_factory=dict)  # token -> agent
    hosts: dict[str, tuple[str, ...]] = field(default_factory=dict)  # agent -> patterns
    fleets: set[str] = field(default_factory=set)  # agents whose token is a fleet's
    host_labels: dict[str, str] = field(default_factory=dict)  # agent -> remote write's host label

    lookups: int = 0
    cached: dict[str, AgentGrant] = field(default_factory=dict)  # as a warm cache holds them

    def grant_for_token(self, token: str) -> AgentGrant | None:
        self.lookups += 1
        name = self.tokens.get(token)
        grant = (
            None
            if name is None
            else AgentGrant(
                name,
                self.hosts.get(name, (name,)),
                name in self.fleets,
                host_label=self.host_labels.get(name),
            )
        )
        if grant is not None:
            self.cached[token] = grant
        return grant

    def cached_grant(self, token: str) -> AgentGrant | None:
        return self.cached.get(token)


@dataclass
class MemoryAuthThrottle:
    limit: int = 3
    failures: Counter[str] = field(default_factory=Counter)
    asked: int = 0

    def blocked_for(self, source: str) -> float:
        self.asked += 1
        return 60.0 if self.failures[source] >= self.limit else 0.0

    def failed(self, source: str) -> None:
        self.failures[source] += 1

    def attempt(self, source: str) -> float:
        self.failures[source] += 1
        return 60.0 if self.failures[source] > self.limit else 0.0

    def forgive(self, source: str) -> None:
        self.failures[source] -= 1
        if self.failures[source] <= 0:
            del self.failures[source]


@dataclass
class MemoryLimiter:
    wait_s: float = 0.0
    calls: list[str] = field(default_factory=list)
    costs: list[int] = field(default_factory=list)

    def acquire(self, agent_id: str, batches: int = 1) -> float:
        self.calls.append(agent_id)
        self.costs.append(batches)
        return self.wait_s


@dataclass
class MemoryQueue:
    messages: list[tuple[str, str]] = field(default_factory=list)
    down: bool = False

    def send(self, body: str, dedup_key: str) -> None:
        if self.down:
            raise Unavailable("queue down")
        self.messages.append((body, dedup_key))


@dataclass
class MemoryHot:
    batches: list[Batch] = field(default_factory=list)
    down: bool = False

    def write(self, batch: Batch, now_ms: int) -> None:
        if self.down:
            raise Unavailable("redis down")
        self.batches.append(batch)


@dataclass
class MemoryArchive:
    objects: dict[str, bytes] = field(default_factory=dict)
    down: bool = False
    journal: list[str] = field(default_factory=list)

    def put(self, key: str, data: bytes) -> None:
        self.journal.append(f"put {key}")
        if self.down:
            raise Unavailable("s3 down")
        self.objects[key] = data

    def get(self, key: str) -> bytes:
        return self.objects[key]

    def keys(self, prefix: str) -> Iterator[tuple[str, int]]:
        for key in sorted(self.objects):
            if key.startswith(prefix):
                yield key, len(self.objects[key])


@dataclass
class MemoryCounters:
    counts: Counter[str] = field(default_factory=Counter)

    def count(self, name: str, value: float = 1) -> None:
        self.counts[name] += int(value)


class MemoryTally:
    """The pipeline's per-minute tally; ``down`` makes every call fail, as Redis away does."""

    def __init__(self) -> None:
        self.minutes: dict[int, dict[str, float]] = {}
        self.down = False
        self.calls = 0

    def add(self, minute_ms: int, counts: Mapping[str, float]) -> None:
        self.calls += 1
        if self.down:
            raise Unavailable("tally")
        minute = self.minutes.setdefault(minute_ms, {})
        for name, value in counts.items():
            minute[name] = minute.get(name, 0.0) + value

    def read(self, minute_ms: int) -> dict[str, float]:
        return dict(self.minutes.get(minute_ms, {}))


class MemoryPipelineHistory:
    def __init__(self) -> None:
        self.rows: dict[int, PipelineMinute] = {}

    def put(self, minute: PipelineMinute, keep_ms: int) -> None:
        self.rows[minute.minute_ms] = minute
        for old in [m for m in self.rows if m < minute.minute_ms - keep_ms]:
            del self.rows[old]

    def read(self, since_ms: int, until_ms: int) -> list[PipelineMinute]:
        return [self.rows[m] for m in sorted(self.rows) if since_ms <= m <= until_ms]


@dataclass
class MemoryPartitions:
    """Day partitions by table, and where each rolled tier's rollups stand."""

    tables: dict[str, list[str]]
    marks: dict[str, datetime] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)

    def partitions(self) -> dict[str, list[str]]:
        return self.tables

    def drop_partition(self, partition: str) -> None:
        self.dropped.append(partition)

    def watermarks(self) -> dict[str, datetime]:
        return dict(self.marks)


@dataclass
class MemoryAccountStore:
    """The accounts service's AccountStore in memory, with the SQL store's rules: a user's
    sessions end with it, expired sessions are not found."""

    users_by_name: dict[str, User] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    settings_by_name: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_user(self, user: User) -> bool:
        return self.users_by_name.setdefault(user.name, user) is user

    def user(self, name: str) -> User | None:
        return self.users_by_name.get(name)

    def users(self) -> list[User]:
        return sorted(self.users_by_name.values(), key=lambda u: u.name)

    def update_user(self, name: str, password_hash: str | None, role: Role | None) -> bool:
        user = self.users_by_name.get(name)
        if user is None:
            return False
        self.users_by_name[name] = replace(
            user, password_hash=password_hash or user.password_hash, role=role or user.role
        )
        return True

    def remove_user(self, name: str) -> bool:
        self.end_sessions_of(name)
        self.settings_by_name.pop(name, None)
        return self.users_by_name.pop(name, None) is not None

    def add_session(self, token_hash: str, session: Session) -> None:
        self.sessions[token_hash] = session

    def session(self, token_hash: str, now: datetime) -> Session | None:
        session = self.sessions.get(token_hash)
        if session is None or session.expires <= now:
            return None
        user = self.users_by_name[session.user]
        return replace(session, role=user.role)

    def end_session(self, token_hash: str) -> None:
        self.sessions.pop(token_hash, None)

    def end_sessions_of(self, name: str) -> int:
        ended = [h for h, s in self.sessions.items() if s.user == name]
        for token_hash in ended:
            del self.sessions[token_hash]
        return len(ended)

    def dashboard_settings(self, name: str) -> dict[str, Any] | None:
        return self.settings_by_name.get(name)

    def save_dashboard_settings(self, name: str, settings: dict[str, Any]) -> bool:
        if name not in self.users_by_name:
            return False
        self.settings_by_name[name] = settings
        return True


@dataclass
class MemoryAgentConfigStore:
    """hostpulse.services.agents.config.AgentConfigStore in memory: the history as a list."""

    changes: list[ConfigChange] = field(default_factory=list)
    reads: int = 0
    failing: bool = False

    def append(
        self, scope: Scope, settings: Mapping[str, Any] | None, changed_by: str
    ) -> ConfigChange:
        change = ConfigChange(
            len(self.changes) + 1, scope, settings, changed_by, datetime(2026, 11, 23, tzinfo=UTC)
        )
        self.changes.append(change)
        return change

    def current(self) -> list[ConfigChange]:
        self.reads += 1
        if self.failing:
            raise Unavailable("the database is away")
        newest: dict[Scope, ConfigChange] = {}
        for change in self.changes:
            newest[change.scope] = change
        return list(newest.values())

    def history(self, scope: Scope | None, limit: int) -> list[ConfigChange]:
        found = [c for c in reversed(self.changes) if scope is None or c.scope == scope]
        return found[:limit]


@dataclass
class MemoryCommandStore:
    """hostpulse.services.agents.control.CommandStore in memory."""

    commands: list[Command] = field(default_factory=list)

    def issue(self, host: str, kind: CommandKind, issued_by: str) -> Command:
        issued = Command(
            len(self.commands) + 1, host, kind, issued_by, datetime(2026, 11, 23, tzinfo=UTC)
        )
        self.commands.append(issued)
        return issued

    def newest_pending(self) -> dict[str, int]:
        return {c.host: c.id for c in self.commands if c.acked_at is None}

    def pending(self, host: str) -> list[Command]:
        return [c for c in self.commands if c.host == host and c.acked_at is None]

    def ack(self, host: str, command_id: int, result: Mapping[str, Any]) -> bool:
        for i, c in enumerate(self.commands):
            if c.id == command_id and c.host == host and c.acked_at is None:
                self.commands[i] = replace(c, acked_at=c.issued_at, result=dict(result))
                return True
        return False

    def recent(self, host: str | None, limit: int) -> list[Command]:
        return [c for c in reversed(self.commands) if host is None or c.host == host][:limit]


class MemoryMetadataStore:
    def __init__(self) -> None:
        self.entries: dict[str, tuple[str, str, str]] = {}

    def save(self, entries: Mapping[str, tuple[str, str, str]]) -> None:
        self.entries.update(entries)

    def read(self) -> dict[str, tuple[str, str, str]]:
        return dict(self.entries)


class MemoryIngest:
    """The ingest service on memory adapters, each kept for a test to look at."""

    def __init__(self, agents: MemoryAgents, limits: IngestLimits) -> None:
        self.agents = agents
        self.limiter = MemoryLimiter()
        self.queue = MemoryQueue()
        self.hot = MemoryHot()
        self.counters = MemoryCounters()
        self.counter_store = MemoryCounterStore()
        self.metadata = MemoryMetadataStore()
        self.service = IngestService(
            self.agents,
            self.limiter,
            self.queue,
            self.hot,
            MemoryArchive(),
            self.counters,
            limits,
            counter_store=self.counter_store,
            metadata=self.metadata,
        )

    def batches(self) -> list[Batch]:
        """What aggregation would read: each batch once (the queue holds two copies)."""
        found = {}
        for body, key in self.queue.messages:
            found[key] = Batch.model_validate_json(Envelope.decode(body).inline or b"")
        return list(found.values())
