"""Agent cost: CPU time and peak RSS at 1 s and 5 s intervals, with at least 300 processes.

Three contenders run one after another on the same host for the same time: the hostpulse
agent (``hostpulse-agent run`` sending to a local HTTP sink that answers 202), a bare psutil
loop collecting the same fields (no batching, no spool, no sending), and Glances in quiet mode
exporting to a JSON file. CPU time is user + system of the process in the steady state (from
the end of a warm-up that covers start-up and the first send, for every contender alike); peak
RSS is its VmHWM over the whole run.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil

from bench.common import sized, write_result
from hostpulse.localcloud.settings import PROJECT_ROOT

RUN_S = sized(40, 2)
WARM_UP_S = sized(12, 2)
MIN_PROCESSES = sized(300, 0)
GLANCES_ENV = PROJECT_ROOT / ".hostpulse" / "bench" / "glances-venv"

BARE_LOOP = """
import sys, time, psutil
interval, top_n = float(sys.argv[1]), 10
fields = ["pid", "name", "create_time", "cpu_times", "memory_info"]
tick = time.monotonic()
while True:
    tick += interval
    time.sleep(max(0, tick - time.monotonic()))
    psutil.cpu_times(); psutil.cpu_times(percpu=True); psutil.getloadavg()
    psutil.virtual_memory(); psutil.swap_memory()
    for p in psutil.disk_partitions(all=False):
        psutil.disk_usage(p.mountpoint)
    psutil.disk_io_counters(perdisk=True); psutil.net_io_counters(pernic=True); psutil.boot_time()
    procs = [p for p in psutil.process_iter(fields) if p.info["cpu_times"] is not None]
    cpu = sorted(procs, key=lambda p: sum(p.info["cpu_times"][:2]), reverse=True)[:top_n]
    mem = sorted(procs, key=lambda p: p.info["memory_info"].rss, reverse=True)[:top_n]
    for p in {p.pid: p for p in cpu + mem}.values():
        try:
            with p.oneshot():
                p.cmdline(); p.username(); p.num_threads(); p.status(); p.io_counters(); p.num_fds()
        except psutil.Error:
            pass
"""


class Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(202)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def ensure_glances() -> Path:
    glances = GLANCES_ENV / "bin" / "glances"
    if not glances.exists():
        uv = [sys.executable, "-m", "uv"]
        subprocess.run(
            [*uv, "venv", "-q", "--python", sys.executable, str(GLANCES_ENV)], check=True
        )
        subprocess.run(
            [*uv, "pip", "install", "-q", "--python", str(GLANCES_ENV / "bin/python"), "glances"],
            check=True,
        )
    return glances


def measure(argv: list[str]) -> dict[str, float]:
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    handle = psutil.Process(process.pid)
    time.sleep(WARM_UP_S)
    warm = handle.cpu_times()
    time.sleep(RUN_S)
    with handle.oneshot():
        times = handle.cpu_times()
        status = Path(f"/proc/{process.pid}/status").read_text()
    peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
    process.terminate()
    process.wait(timeout=30)
    busy = times.user + times.system - warm.user - warm.system
    return {"cpu_s": round(busy, 3), "peak_rss_mb": round(peak_kb / 1024, 1)}


def main() -> None:
    glances = ensure_glances()
    filler = [
        subprocess.Popen(["sleep", "3600"])
        for _ in range(max(0, MIN_PROCESSES - len(psutil.pids())))
    ]
    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    results: dict[str, Any] = {"processes": len(psutil.pids()), "seconds_each": RUN_S}
    try:
        for interval in (1, 5):
            with tempfile.TemporaryDirectory() as state:
                agent = measure(
                    [
                        sys.executable,
                        "-m",
                        "hostpulse_agent",
                        "--ingest-url",
                        f"http://127.0.0.1:{sink.server_port}/v1/ingest",
                        "--token",
                        "hp_bench",
                        "--agent-id",
                        "bench",
                        "--state-dir",
                        state,
                        "--interval",
                        str(interval),
                        "--send-every",
                        str(max(10, interval)),
                        "run",
                    ]
                )
            bare = measure([sys.executable, "-c", BARE_LOOP, str(interval)])
            with tempfile.TemporaryDirectory() as out:
                glances_run = measure(
                    [
                        str(glances),
                        "-q",
                        "-t",
                        str(interval),
                        "--export",
                        "json",
                        "--export-json-file",
                        f"{out}/glances.json",
                    ]
                )
            results[f"interval_{interval}s"] = {
                "agent": agent,
                "bare_psutil_loop": bare,
                "glances": glances_run,
                "agent_cpu_vs_bare": round(agent["cpu_s"] / max(bare["cpu_s"], 1e-3), 2),
                "agent_cpu_vs_glances": round(agent["cpu_s"] / max(glances_run["cpu_s"], 1e-3), 2),
            }
    finally:
        for process in filler:
            process.kill()
        sink.shutdown()
    results["aim"] = "CPU within 1.2x the bare loop and below Glances; peak RSS under 30 MB"
    write_result("agent_overhead", results)


if __name__ == "__main__":
    main()
