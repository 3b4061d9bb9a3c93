"""Prometheus itself as the oracle of PromQL answers: the same samples hostpulse stored, written
into a Prometheus TSDB with promtool, served by a Prometheus server on a free port, and the
two answers compared label by label, timestamp by timestamp, value by value."""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from hostpulse.core.contract import Batch, HostFacts, Sample, metric_values
from hostpulse.core.prometheus_names import HOST_LABEL, prometheus_series
from tests.support import free_port

SeriesKey = tuple[tuple[str, str], ...]
REL_TOLERANCE = 1e-9  # float sums in another order; every other difference is a failure


@dataclass
class Fleet:
    """Samples per host, as batches for hostpulse and as series for Prometheus."""

    facts: dict[str, HostFacts] = field(default_factory=dict)
    samples: dict[str, list[Sample]] = field(default_factory=lambda: defaultdict(list))

    def add(self, facts: HostFacts, sample: Sample) -> None:
        self.facts[facts.hostname] = facts
        self.samples[facts.hostname].append(sample)

    def batches(self, per_batch: int = 500) -> Iterator[Batch]:
        for host, samples in self.samples.items():
            ordered = sorted(samples, key=lambda s: s.ts_ms)
            for seq, first in enumerate(range(0, len(ordered), per_batch)):
                yield Batch(
                    agent_id=host,
                    seq=seq,
                    host=self.facts[host],
                    samples=ordered[first : first + per_batch],
                )

    def series(self) -> dict[SeriesKey, list[tuple[int, float]]]:
        """Every series as Prometheus names it (the names table), with its samples."""
        found: dict[SeriesKey, list[tuple[int, float]]] = defaultdict(list)
        for host, samples in self.samples.items():
            host_labels = dict(self.facts[host].labels)
            for sample in samples:
                for metric, value in metric_values(sample):
                    named = prometheus_series(metric)
                    assert named is not None, f"{metric} has no Prometheus name"
                    labels = {
                        **host_labels,
                        **named.labels,
                        HOST_LABEL: host,
                        "__name__": named.name,
                    }
                    key = tuple(sorted((k, v) for k, v in labels.items() if v != ""))
                    found[key].append((sample.ts_ms, value))
        return found


def openmetrics(series: Mapping[SeriesKey, list[tuple[int, float]]]) -> str:
    """The OpenMetrics text promtool backfills from: a family's lines together, each series'
    samples in time order, times in seconds."""
    lines = []
    for key in sorted(series, key=lambda k: (dict(k)["__name__"], k)):
        labels = dict(key)
        name = labels.pop("__name__")
        inner = ",".join(f'{k}="{escape(v)}"' for k, v in sorted(labels.items()))
        for ts_ms, value in sorted(series[key]):
            lines.append(f"{name}{{{inner}}} {value!r} {ts_ms / 1000:.3f}")
    return "\n".join(lines) + "\n# EOF\n"


def by_span(
    series: Mapping[SeriesKey, list[tuple[int, float]]],
) -> list[dict[SeriesKey, list[tuple[int, float]]]]:
    """The series in files promtool backfills quickly: it reads its whole input again for every
    two-hour block, so the few series of a long span go apart from the many of a short one."""
    short: dict[SeriesKey, list[tuple[int, float]]] = {}
    long: list[dict[SeriesKey, list[tuple[int, float]]]] = []
    for key, points in series.items():
        times = [t for t, _ in points]
        if times and max(times) - min(times) > 6 * 3_600_000:
            long.append({key: points})
        else:
            short[key] = points
    return ([short] if short else []) + long


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class PrometheusServer:
    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        answer = requests.get(f"{self.url}{path}", params=params, timeout=60)
        body: dict[str, Any] = answer.json()
        body["http_status"] = answer.status_code
        return body

    def instant(self, query: str, at_s: float) -> dict[str, Any]:
        return self.get("/api/v1/query", query=query, time=at_s)

    def range(self, query: str, start_s: float, end_s: float, step_s: float) -> dict[str, Any]:
        return self.get("/api/v1/query_range", query=query, start=start_s, end=end_s, step=step_s)


@contextmanager
def prometheus_serving(
    series: Mapping[SeriesKey, list[tuple[int, float]]], workdir: Path
) -> Iterator[PrometheusServer]:
    """A Prometheus 2.42 server over exactly these samples, stopped on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "tsdb"
    shutil.rmtree(data, ignore_errors=True)
    for i, part in enumerate(by_span(series)):
        source = workdir / f"samples-{i}.om"
        source.write_text(openmetrics(part))
        created = subprocess.run(
            ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
            capture_output=True, text=True, timeout=1200, check=False,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr[-2000:]
    with prometheus_running(workdir, "global:\n  scrape_interval: 1h\n", data) as server:
        yield server


@contextmanager
def prometheus_running(
    workdir: Path, config_text: str, data: Path, *flags: str, agent: bool = False
) -> Iterator[PrometheusServer]:
    """Debian's Prometheus on a free port of 127.0.0.1 with this configuration (in agent mode
    with ``agent``), ready, and stopped on exit; its log in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(config_text)
    port = free_port()
    storage = (
        ["--enable-feature=agent", f"--storage.agent.path={data}"]
        if agent
        else [f"--storage.tsdb.path={data}", "--storage.tsdb.retention.time=100y",
              "--query.lookback-delta=5m"]
    )  # fmt: skip
    server = PrometheusServer(f"http://127.0.0.1:{port}")
    command = ["prometheus", f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
               *storage, *flags]  # fmt: skip
    with serving(command, workdir / "prometheus.log", f"{server.url}/-/ready"):
        yield server


@contextmanager
def node_exporter_running(workdir: Path) -> Iterator[str]:
    """Debian's node_exporter on a free port of 127.0.0.1: its address (host:port)."""
    workdir.mkdir(parents=True, exist_ok=True)
    address = f"127.0.0.1:{free_port()}"
    command = ["prometheus-node-exporter", f"--web.listen-address={address}"]
    with serving(command, workdir / "node_exporter.log", f"http://{address}/metrics"):
        yield address


@contextmanager
def serving(command: list[str], log: Path, ready_url: str) -> Iterator[None]:
    """A server process, its output in ``log``, once ``ready_url`` answers; stopped on exit."""
    with log.open("a") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            wait_ready(ready_url, process, log)
            yield
        finally:
            stop(process)


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        assert process.poll() is None, log.read_text()[-2000:]
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {limit_s:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def close(a: str, b: str, tolerance: float = REL_TOLERANCE) -> bool:
    if a == b:
        return True
    x, y = float(a), float(b)
    if x == y:
        return False  # the same number written another way: Prometheus' format is the answer
    if math.isnan(x) and math.isnan(y):
        return True
    return math.isclose(x, y, rel_tol=tolerance, abs_tol=1e-12)


def differences(
    expected: dict[str, Any],
    actual: dict[str, Any],
    ordered: bool = False,
    tolerance: float = REL_TOLERANCE,
) -> list[str]:
    """What differs between two answers' data (Prometheus' first): result type, the series
    and their labels, each point's time and value."""
    if expected["resultType"] != actual["resultType"]:
        return [
            f"result type {actual['resultType']} where Prometheus answers {expected['resultType']}"
        ]
    kind = expected["resultType"]
    if kind in ("scalar", "string"):
        same = (
            expected["result"][0] == actual["result"][0]
            and close(expected["result"][1], actual["result"][1], tolerance)
            if kind == "scalar"
            else expected["result"] == actual["result"]
        )
        return [] if same else [f"{actual['result']} where Prometheus answers {expected['result']}"]
    problems = []

    def keyed(result: list[dict[str, Any]]) -> dict[SeriesKey, Any]:
        return {
            tuple(sorted(r["metric"].items())): r.get("values", [r.get("value")]) for r in result
        }

    want, got = keyed(expected["result"]), keyed(actual["result"])
    for key in want.keys() - got.keys():
        problems.append(f"missing series {dict(key)}")
    for key in got.keys() - want.keys():
        problems.append(f"extra series {dict(key)}")
    for key in want.keys() & got.keys():
        points_want, points_got = want[key], got[key]
        times_want, times_got = [p[0] for p in points_want], [p[0] for p in points_got]
        if times_want != times_got:
            problems.append(
                f"{dict(key)}: times {times_got[:8]}... where Prometheus has {times_want[:8]}..."
                f" ({len(times_got)} points, not {len(times_want)})"
            )
            continue
        for (t, a), (_, b) in zip(points_want, points_got, strict=True):
            if not close(a, b, tolerance):
                problems.append(f"{dict(key)} at {t}: {b} where Prometheus has {a}")
                break
    if ordered and not problems:
        order_want = [tuple(sorted(r["metric"].items())) for r in expected["result"]]
        order_got = [tuple(sorted(r["metric"].items())) for r in actual["result"]]
        if order_want != order_got:
            problems.append("the series come in another order than Prometheus'")
    return problems


def compare(
    theirs: dict[str, Any], ours: dict[str, Any], query: str, tolerance: float = 1e-9
) -> list[str]:
    if theirs["status"] != ours["status"]:
        return [f"{query}: {ours.get('status')} ({ours.get('error')}) where Prometheus answers "
                f"{theirs['status']} ({theirs.get('error')})"]  # fmt: skip
    if theirs["status"] == "error":
        if theirs["errorType"] == ours["errorType"]:
            return []
        return [f"{query}: {ours['errorType']} where Prometheus answers {theirs['errorType']}"]
    ordered = query.startswith(("sort(", "sort_desc("))
    return [f"{query}: {p}" for p in differences(theirs["data"], ours["data"], ordered, tolerance)]


def worst_scaled_error(theirs: dict[str, Any], ours: dict[str, Any]) -> float:
    """The largest |ours - theirs| of any point, over its series' mean |theirs|."""

    def series(body: dict[str, Any]) -> dict[tuple[Any, ...], dict[Any, float]]:
        return {
            tuple(sorted(r["metric"].items())): {t: float(v) for t, v in r["values"]}
            for r in body["data"]["result"]
        }

    want, got = series(theirs), series(ours)
    worst = 0.0
    for key, points in want.items():
        scale = sum(abs(v) for v in points.values()) / len(points)
        mine = got.get(key, {})
        for t, value in points.items():
            if t in mine and scale > 0:
                worst = max(worst, abs(mine[t] - value) / scale)
    return worst
