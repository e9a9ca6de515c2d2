#!/usr/bin/env python3
"""Unigate's benchmark suite: runs every measurement side by side and writes BENCHMARKS.md.

Run it through `bench/run.sh` (which installs the tools and builds the binaries); the smoke
test (`crates/unigate/tests/bench_smoke`) calls it directly with `--smoke` and debug builds.
Standard library only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
GITHUB_TOKEN_RE = re.compile(r"^\s*access_token:\s*(\S+)", re.M)
API_TOKEN_RE = re.compile(r"\bug_[A-Za-z0-9_\-]+")


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes and HTTP


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(cpu: int | None) -> list[str]:
    """`taskset -c CPU` when there are at least two CPUs and taskset exists."""
    if cpu is None or (os.cpu_count() or 1) < 2 or not shutil.which("taskset"):
        return []
    return ["taskset", "-c", str(cpu % (os.cpu_count() or 1))]


class Proc:
    """A child process we started; stopped by its own pid only."""

    def __init__(self, args: list[str], env: dict | None = None, stdout=None, stdin=None, cwd=ROOT):
        self.args = args
        self.p = subprocess.Popen(args, env=env, stdout=stdout, stderr=subprocess.DEVNULL if stdout is None else None,
                                  stdin=stdin, cwd=cwd, text=True)

    @property
    def pid(self) -> int:
        return self.p.pid

    def stop(self) -> None:
        if self.p.poll() is None:
            if self.p.stdin:
                try:
                    self.p.stdin.close()
                except OSError:
                    pass
            self.p.terminate()
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def request(port: int, method: str, path: str, headers: dict | None = None, body: bytes | None = None,
            timeout: float = 30.0) -> tuple[int, bytes, dict]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read(), dict(r.getheaders())
    finally:
        c.close()


def wait_ok(port: int, path: str, deadline: float, headers: dict | None = None) -> float:
    """Polls until a 200; returns the time it came."""
    while True:
        try:
            status, _, _ = request(port, "GET", path, headers, timeout=2)
            if status == 200:
                return time.perf_counter()
        except OSError:
            pass
        if time.perf_counter() > deadline:
            raise RuntimeError(f"no 200 from 127.0.0.1:{port}{path}")
        time.sleep(0.002)


def proc_status(pid: int) -> dict[str, int]:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                k, v = line.split(":", 1)
                out[k] = int(v.split()[0])  # kB
    except OSError:
        pass
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and of its direct children (nginx's workers), in seconds."""
    return sum(cpu_times(pid))


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU of a process and of its direct children, in seconds: the system part
    is the kernel's work for it (sockets, files, waking other processes)."""
    tick = os.sysconf("SC_CLK_TCK")

    def own(p: int) -> tuple[int, int]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return (0, 0)
        return (int(fields[11]), int(fields[12]))  # utime, stime (fields 14 and 15)

    user, system = own(pid)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                u, s = own(int(entry.name))
                user += u
                system += s
    return (user / tick, system / tick)


def splice(path: Path, start: str, end: str, text: str) -> None:
    """Puts `text` (which begins with `start` and ends with `end`) into the file at `path` in
    place of what stands between those markers, or before its "## Targets" if none yet."""
    if not path.exists():
        return
    body = path.read_text()
    if start in body and end in body:
        body = re.sub(re.escape(start) + r".*?" + re.escape(end) + r"\n?", lambda _: text, body, flags=re.S)
    else:
        marker = "## Targets"
        body = body.replace(marker, text + "\n" + marker, 1) if marker in body else body + "\n" + text
    path.write_text(body)


def mib(kb: int | None) -> str:
    return "n/a" if kb is None else f"{kb / 1024:.1f} MiB"


def sh(cmd: str, timeout: float = 20) -> str:
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=timeout).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


# ---------------------------------------------------------------- the gateway


class Gateway:
    """One gateway process on a data directory kept across restarts."""

    def __init__(self, binary: str, data_dir: Path, cpu: int | None):
        self.binary = binary
        self.data_dir = data_dir
        self.cpu = cpu
        self.port = free_port()
        self.proc: Proc | None = None
        self.token: str | None = None
        self.account: str | None = None
        # `worker_threads`; None leaves it to the gateway (one per CPU it may use).
        self.workers: int | None = None
        # More TOML appended to the configuration (the soak's request-log cap).
        self.extra_config = ""
        # Top-level TOML keys (`database_url`, `encryption_key`: bench/capacity.py).
        self.top_config = ""

    def start(self, github_url: str) -> float:
        """Starts (or restarts) the gateway; returns seconds from spawn to first 200 on /health."""
        self.stop()
        config = self.data_dir.parent / "unigate.toml"
        config.write_text(
            f'listen = "127.0.0.1:{self.port}"\n'
            f'data_dir = "{self.data_dir}"\n'
            + (f"worker_threads = {self.workers}\n" if self.workers else "")
            + self.top_config
            + "\n[upstream]\nmax_stream_pages = 100000\n\n"
            f'[upstream.base_url_overrides]\ngithub = "{github_url}"\n'
            + self.extra_config
        )
        env = dict(os.environ, UNIGATE_CONFIG=str(config), UNIGATE_LOG="warn")
        env.pop("UNIGATE_DATABASE_URL", None)
        out_path = self.data_dir.parent / "gateway.stdout"
        t0 = time.perf_counter()
        with open(out_path, "a") as out:
            self.proc = Proc(pinned(self.cpu) + [self.binary, "serve"], env=env, stdout=out)
        ready = wait_ok(self.port, "/health", t0 + 60)
        if self.token is None:
            for _ in range(100):
                m = API_TOKEN_RE.search(out_path.read_text())
                if m:
                    self.token = m.group(0)
                    break
                time.sleep(0.02)
            else:
                raise RuntimeError("the gateway printed no admin token")
        return ready - t0

    @property
    def pid(self) -> int:
        assert self.proc
        return self.proc.pid

    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def import_account(self, github_token: str) -> str:
        body = json.dumps({"tenant_id": "bench", "integration_name": "github", "context": {"access_token": github_token}})
        status, data, _ = request(self.port, "POST", "/integrated-account",
                                  dict(self.auth(), **{"Content-Type": "application/json"}), body.encode())
        if status not in (200, 201):
            raise RuntimeError(f"import failed: {status} {data[:300]!r}")
        self.account = json.loads(data)["id"]
        return self.account

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()
            self.proc = None


def start_upstream(driver: str, records: int, synthetic: bool, cpu: int | None) -> tuple[Proc, str]:
    args = pinned(cpu) + [driver, "upstream", "--records", str(records)] + (["--synthetic"] if synthetic else [])
    p = Proc(args, stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    assert p.p.stdout
    line = p.p.stdout.readline()
    if not line.startswith("READY "):
        p.stop()
        raise RuntimeError(f"bench upstream did not start: {line!r}")
    return p, line.split()[1]


def start_forwarder(driver: str, upstream: str, cpu: int | None, server: str = "axum") -> tuple[Proc, int]:
    """`bench forward --client hyper`: a bare axum server (or with `server="hyper"`, hyper's HTTP/1
    connection alone) + hyper-util client passing GETs to `upstream`."""
    p = Proc(pinned(cpu) + [driver, "forward", "--to", upstream, "--client", "hyper", "--server", server],
             stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    assert p.p.stdout
    line = p.p.stdout.readline()
    if not line.startswith("READY "):
        p.stop()
        raise RuntimeError(f"bench forward did not start: {line!r}")
    return p, urllib.parse.urlparse(line.split()[1]).port or 0


def start_emulator(args, cpu: int | None) -> tuple[Proc, str]:
    """GitHub's emulator: the release binary when given, else the driver's in-process one."""
    if not args.emulator_bin:
        return start_upstream(args.driver_bin, 0, False, cpu)
    port = free_port()
    p = Proc(pinned(cpu) + [args.emulator_bin, "--catalog", str(ROOT / "catalog/integrations"),
                            "--provider", "github", "--port", str(port)], stdout=subprocess.PIPE)
    assert p.p.stdout
    line = p.p.stdout.readline().split()
    if len(line) != 2:
        p.stop()
        raise RuntimeError("the emulator did not start")
    return p, line[1]


# ---------------------------------------------------------------- load generation


WRK_REPORT = """
done = function(summary, latency, requests)
  local p = {}
  for _, q in ipairs({50, 90, 99, 99.9}) do p[tostring(q)] = latency:percentile(q) end
  io.write(string.format('WRKJSON {"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, ' ..
    '"p50_us": %f, "p90_us": %f, "p99_us": %f, "p999_us": %f, "max_us": %f}\\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, p["50"], p["90"], p["99"], p["99.9"], latency.max))
end
"""


def wrk(url: str, headers: dict, seconds: float, conns: int, cpu: int | None, tmp: Path,
        delay_ms: int | None = None) -> dict:
    """One wrk run; with `delay_ms` each connection waits that long between requests."""
    script = tmp / f"wrk-{delay_ms}.lua"
    lua = WRK_REPORT
    if delay_ms is not None:
        lua += f"\ndelay = function() return {delay_ms} end\n"
    script.write_text(lua)
    args = pinned(cpu) + ["wrk", "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s", "--timeout", "5s",
                          "-s", str(script)]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    args.append(url)
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60).stdout
    m = re.search(r"WRKJSON (\{.*\})", out)
    if not m:
        raise RuntimeError(f"wrk printed no report:\n{out}")
    r = json.loads(m.group(1))
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["tool"] = "wrk"
    return r


def oha_fixed(url: str, headers: dict, seconds: float, rate: float, cpu: int | None) -> dict | None:
    """Open-loop fixed rate with coordinated-omission correction (oha -q --latency-correction)."""
    oha = cargo_tool("oha")
    if not oha:
        return None
    args = pinned(cpu) + [oha, "--no-tui", "--output-format", "json", "-z", f"{max(1, round(seconds))}s",
                          "-q", f"{rate:.0f}", "--latency-correction", "-c", "32"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    args.append(url)
    p = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60)
    try:
        j = json.loads(p.stdout)
    except json.JSONDecodeError:
        log(f"oha failed ({p.stderr.strip()[:200]}); falling back to wrk")
        return None
    pct = j.get("latencyPercentiles", {})
    s = j.get("summary", {})
    codes = j.get("statusCodeDistribution", {})
    ok = sum(v for k, v in codes.items() if str(k).startswith("2"))
    return {
        "tool": "oha",
        "rps": s.get("requestsPerSec", 0.0),
        "requests": sum(codes.values()) + sum(j.get("errorDistribution", {}).values()),
        "p50_us": pct.get("p50", 0) * 1e6, "p90_us": pct.get("p90", 0) * 1e6,
        "p99_us": pct.get("p99", 0) * 1e6, "p999_us": pct.get("p99.9", 0) * 1e6,
        "max_us": s.get("slowest", 0) * 1e6,
        "non2xx": sum(codes.values()) - ok, "errors": sum(j.get("errorDistribution", {}).values()),
    }


def fixed_rate(url: str, headers: dict, seconds: float, rate: float, cpu: int | None, tmp: Path) -> dict:
    r = oha_fixed(url, headers, seconds, rate, cpu)
    if r:
        return r
    # wrk's `delay()` closes the loop per connection: each connection sends one request per
    # (delay + latency), so a short calibration run scales the connection count to the rate.
    delay = 20
    conns = max(1, round(rate * delay / 1000))
    calib = wrk(url, headers, min(2, seconds), conns, cpu, tmp, delay_ms=delay)
    conns = max(1, round(conns * rate / max(calib["rps"], 1)))
    r = wrk(url, headers, seconds, conns, cpu, tmp, delay_ms=delay)
    r["tool"] = f"wrk+delay({conns}x{delay}ms)"
    return r


# ---------------------------------------------------------------- the measurements


def machine() -> dict:
    mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
    return {
        "nproc": sh("nproc"),
        "cpu": sh("lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n1") or platform.processor(),
        "memory": mem,
        "kernel": sh("uname -srm"),
        "os": sh(". /etc/os-release 2>/dev/null && echo $PRETTY_NAME"),
        "rustc": sh("rustc --version"),
        "node": sh("node --version"),
        "wrk": "yes" if shutil.which("wrk") else "missing",
        "nginx": sh("nginx -v 2>&1") or "missing",
    }


def load() -> str:
    return sh("uptime").split("load average:")[-1].strip()


def nginx_start(tmp: Path, upstream_port: int, cpu: int | None) -> tuple[Proc, int] | None:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not nginx:
        return None
    d = tmp / "nginx"
    d.mkdir(exist_ok=True)
    d.chmod(0o755)
    port = free_port()
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = d / "nginx.conf"
    conf.write_text(f"""{user}worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  upstream emulator {{ server 127.0.0.1:{upstream_port}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://emulator;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
""")
    p = Proc(pinned(cpu) + [nginx, "-c", str(conf), "-p", str(d)])
    deadline = time.perf_counter() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return p, port
        except OSError:
            if time.perf_counter() > deadline or p.p.poll() is not None:
                p.stop()
                log(f"nginx did not start: {(d / 'error.log').read_text() if (d / 'error.log').exists() else ''}")
                return None
            time.sleep(0.05)


def profile_cmd(pid: int, seconds: float, out: Path) -> Proc | None:
    if not shutil.which("perf"):
        return None
    # DWARF call graphs (release builds keep no frame pointers) for the flame graph.
    return Proc(["perf", "record", "-F", "499", "--call-graph", "dwarf,16384", "-o", str(out), "-p", str(pid),
                 "--", "sleep", str(max(1, round(seconds)))])


def cargo_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    home = Path.home() / ".cargo/bin" / name
    return str(home) if home.exists() else None


def flame_graph(data: Path, out: Path) -> bool:
    """perf samples folded by inferno into an SVG flame graph; False when inferno is missing."""
    collapse, render = cargo_tool("inferno-collapse-perf"), cargo_tool("inferno-flamegraph")
    if not (collapse and render):
        return False
    folded = data.with_suffix(".folded")
    with open(folded, "w") as f:
        script = subprocess.Popen(["perf", "script", "-i", str(data)], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
        subprocess.run([collapse], stdin=script.stdout, stdout=f, check=True, timeout=900)
        script.wait(timeout=60)
    with open(folded) as src, open(out, "w") as dst:
        subprocess.run([render, "--title", "Unigate: unified get at saturation (perf, CPU 0)",
                        "--minwidth", "0.5"], stdin=src, stdout=dst, check=True, timeout=300)
    return True


def perf_top(data: Path, n: int = 25) -> str:
    out = sh(f"perf report -i {data} --no-children -g none --sort symbol --stdio --percent-limit 1 2>/dev/null"
             f" | grep -E '^ +[0-9.]+%' | head -n {n}", timeout=180)
    # Drop perf's empty IPC columns and padding.
    return "\n".join(re.sub(r"(\s+-)*\s*$", "", line).strip() for line in out.splitlines())


def overhead(args, gw: Gateway, emu_url: str, emu_port: int, github_token: str, tmp: Path, res: dict,
             emu_pid: int | None = None) -> None:
    gw_path = f"/unified/user-directory/organizations/octo-org?integrated_account_id={gw.account}"
    direct_h = {"Authorization": f"Bearer {github_token}"}
    targets = {"direct": (emu_port, "/orgs/octo-org", direct_h)}
    # Whose CPU a call of each target costs: the process serving it (the emulator for the
    # direct call; nginx's master with its workers).
    pids: dict[str, int | None] = {"direct": emu_pid}
    ng = nginx_start(tmp, emu_port, args.proxy_cpu)
    if ng:
        targets["nginx"] = (ng[1], "/orgs/octo-org", direct_h)
        pids["nginx"] = ng[0].pid
    else:
        res["notes"].append("nginx is not installed: the reverse-proxy comparison was skipped.")
    # The floor of Unigate's HTTP stack: the same crates (axum, hyper-util, tokio, mimalloc) doing
    # nothing but forwarding, so what Unigate adds beyond its stack shows on its own.
    fwd = start_forwarder(args.driver_bin, emu_url, args.proxy_cpu)
    targets["axum+hyper"] = (fwd[1], "/orgs/octo-org", direct_h)
    pids["axum+hyper"] = fwd[0].pid
    targets["unigate"] = (gw.port, gw_path, gw.auth())
    pids["unigate"] = gw.pid
    try:
        for name, (port, path, h) in targets.items():
            status, body, _ = request(port, "GET", path, h)
            if status != 200:
                raise RuntimeError(f"{name}: {status} {body[:300]!r}")
        res["overhead"]["unigate_body_bytes"] = len(request(gw.port, "GET", gw_path, gw.auth())[1])
        res["overhead"]["direct_body_bytes"] = len(request(emu_port, "GET", "/orgs/octo-org", direct_h)[1])
        if not shutil.which("wrk"):
            res["notes"].append("wrk is not installed: throughput and latency were not measured "
                                "(each target answered one request correctly).")
            return
        sat: dict[str, list[float]] = {k: [] for k in targets}
        runs: dict[str, list[dict]] = {k: [] for k in targets}
        for rep in range(args.reps):
            for name, (port, path, h) in targets.items():
                prof = None
                if args.profile and name == "unigate" and rep == 0:
                    prof = profile_cmd(gw.pid, args.seconds, tmp / "perf.data")
                r = wrk(f"http://127.0.0.1:{port}{path}", h, args.seconds, args.conns, args.client_cpu, tmp)
                if prof:
                    prof.p.wait()
                sat[name].append(r["rps"])
                runs[name].append(r)
                log(f"saturation {name} run {rep + 1}: {r['rps']:.0f} req/s "
                    f"(errors {r['errors']}, non-2xx {r['non2xx']})")
        if args.profile and (tmp / "perf.data").exists():
            res["overhead"]["perf"] = perf_top(tmp / "perf.data")
            shutil.copy(tmp / "perf.data", tmp.parent / "unigate-bench-perf.data")
            log(f"perf: {len(res['overhead']['perf'].splitlines())} lines; data kept in "
                f"{tmp.parent / 'unigate-bench-perf.data'}")
            args.flame_graph.parent.mkdir(parents=True, exist_ok=True)
            if flame_graph(tmp / "perf.data", args.flame_graph):
                res["overhead"]["flame_graph"] = "bench/flamegraph.svg"
                log(f"flame graph: {args.flame_graph}")
            else:
                log("inferno is not installed (cargo install inferno): no flame graph")
        elif args.profile:
            log("perf recorded nothing")
        res["overhead"]["saturation"] = {k: statistics.median(v) for k, v in sat.items()}
        res["overhead"]["saturation_runs"] = sat
        res["overhead"]["saturation_errors"] = {k: sum(r["errors"] + r["non2xx"] for r in v) for k, v in runs.items()}
        rate = 0.5 * min(res["overhead"]["saturation"].values())
        res["overhead"]["fixed_rate"] = rate
        # Interleaved repetitions, each percentile the median over them: one run's tail moves
        # by several times with what else the VM does in that quarter-minute.
        lat_runs: dict[str, list[dict]] = {name: [] for name in targets}
        for rep in range(args.latency_reps):
            for name, (port, path, h) in targets.items():
                pid = pids.get(name)
                cpu0 = cpu_seconds(pid) if pid else 0.0
                r = fixed_rate(f"http://127.0.0.1:{port}{path}", h, args.latency_seconds, rate,
                               args.client_cpu, tmp)
                if pid:
                    # CPU per call at the same offered load: what sizing depends on.
                    served = max(r["rps"] * args.latency_seconds, 1)
                    r["cpu_us"] = (cpu_seconds(pid) - cpu0) / served * 1e6
                lat_runs[name].append(r)
                log(f"latency {name} run {rep + 1} at {rate:.0f}/s: p50 {r['p50_us']:.0f} us, "
                    f"p99 {r['p99_us']:.0f} us, p999 {r['p999_us']:.0f} us ({r['tool']})")
        lat = {}
        for name, rs in lat_runs.items():
            lat[name] = {k: statistics.median(r[k] for r in rs) for k in rs[0] if k not in ("tool", "cpu_us")}
            cpu = [r["cpu_us"] for r in rs if "cpu_us" in r]
            if cpu:
                lat[name]["cpu_us"] = statistics.median(cpu)
            lat[name]["tool"] = rs[0]["tool"]
        res["overhead"]["latency"] = lat
        res["overhead"]["latency_p99_runs"] = {name: [r["p99_us"] for r in rs] for name, rs in lat_runs.items()}
    finally:
        fwd[0].stop()
        if ng:
            ng[0].stop()


def mapping(args, tmp: Path, res: dict) -> None:
    cases = tmp / "mapping-cases.json"
    cpu = pinned(args.client_cpu)
    out = subprocess.run(cpu + [args.driver_bin, "mapping", "--seconds", str(args.mapping_seconds),
                                "--dump", str(cases)], capture_output=True, text=True, check=True).stdout
    rust = {j["provider"]: j for j in map(json.loads, out.splitlines())}
    js: dict[str, dict] = {}
    node = shutil.which("node")
    if not node:
        res["notes"].append("node is not installed: the JavaScript reference was skipped.")
    elif not (BENCH / "js/node_modules/jsonata").exists():
        res["notes"].append("bench/js/node_modules is missing (run `npm ci` in bench/js): "
                            "the JavaScript reference was skipped.")
    else:
        p = subprocess.run(cpu + [node, str(BENCH / "js/mapping.js"), str(cases), str(args.mapping_seconds)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            res["notes"].append(f"the JavaScript reference failed: {p.stderr.strip()[:300]}")
        js = {j["provider"]: j for j in map(json.loads, p.stdout.splitlines())}
    res["mapping"] = {"rust": rust, "js": js}
    log(f"mapping: {len(rust)} providers")


def read_stream(port: int, path: str, headers: dict) -> dict:
    """Reads an NDJSON stream; times the first line and the end."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t0 = time.perf_counter()
    c.request("GET", path, headers=headers)
    r = c.getresponse()
    first = None
    lines = 0
    tail = b""
    while True:
        chunk = r.read1(1 << 16)
        if not chunk:
            break
        n = chunk.count(b"\n")
        if n and first is None:
            first = time.perf_counter() - t0
        lines += n
        tail = (tail + chunk)[-4096:]
    total = time.perf_counter() - t0
    c.close()
    last = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    return {"status": r.status, "records": lines, "first_s": first, "total_s": total,
            "error": last.decode(errors="replace")[:300] if b'"error"' in last[:20] else None}


def read_pages(port: int, account: str, headers: dict) -> dict:
    """The buffered `unified` list of the same data, page by page (limit 100)."""
    base = f"/unified/user-directory/organizations?integrated_account_id={account}&limit=100"
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t0 = time.perf_counter()
    first = None
    records = 0
    pages = 0
    cursor = None
    while True:
        path = base + (f"&next_cursor={urllib.parse.quote(cursor)}" if cursor else "")
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f"list page {pages + 1}: {r.status} {data[:300]!r}")
        j = json.loads(data)
        pages += 1
        records += len(j.get("result", []))
        if first is None:
            first = time.perf_counter() - t0
        cursor = j.get("next_cursor")
        if not cursor:
            break
    c.close()
    return {"records": records, "pages": pages, "first_s": first, "total_s": time.perf_counter() - t0}


def streaming(args, gw: Gateway, res: dict) -> None:
    rows = []
    for n in args.records:
        for mode in ("stream", "pages"):
            if mode == "pages" and n > args.max_buffered:
                continue
            up, url = start_upstream(args.driver_bin, n, not args.emulator_upstream, args.client_cpu)
            try:
                gw.start(url)
                time.sleep(0.3)
                before = proc_status(gw.pid)
                if mode == "stream":
                    path = (f"/unified/user-directory/organizations?integrated_account_id={gw.account}"
                            "&truto_response_format=stream&limit=100")
                    r = read_stream(gw.port, path, gw.auth())
                else:
                    r = read_pages(gw.port, gw.account, gw.auth())
                after = proc_status(gw.pid)
            finally:
                gw.stop()
                up.stop()
            r.update(mode=mode, n=n, rss_before_kb=before.get("VmRSS"), hwm_kb=after.get("VmHWM"))
            rows.append(r)
            log(f"list {mode} {n}: {r['records']} records in {r['total_s']:.2f}s, first {r['first_s']}, "
                f"peak RSS {mib(r['hwm_kb'])}")
    res["streaming"] = rows


def footprint(args, gw: Gateway, cold_s: float, idle: dict, res: dict) -> None:
    sizes = {}
    for name, path in (("unigate", args.gateway_bin), ("unigate-emulator", args.emulator_bin)):
        if path and Path(path).exists():
            sizes[name] = Path(path).stat().st_size
    res["footprint"] = {"binary_bytes": sizes, "startup_cold_s": cold_s, "idle": idle}


# ---------------------------------------------------------------- the report


def fmt_us(us: float) -> str:
    return f"{us / 1000:.2f} ms"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


def report(args, res: dict) -> str:
    m = res["machine"]
    o = res["overhead"]
    L = ["# Benchmarks", ""]
    if args.smoke:
        L += ["> **Smoke run** (`--smoke`): tiny durations and data, debug builds possible; "
              "these numbers mean nothing.", ""]
    L += [f"Generated by `bench/run.sh` on {res['date']} in {res['elapsed_s']:.0f} s. "
          "Rerun with `bench/run.sh` (see `bench/README.md`); every number below comes from that one run.", "",
          "## Machine", "",
          "| | |", "|---|---|",
          f"| CPUs (`nproc`) | {m['nproc']} |", f"| CPU model | {m['cpu']} |", f"| Memory | {m['memory']} |",
          f"| Kernel | {m['kernel']} |", f"| OS | {m['os']} |", f"| Rust | {m['rustc']} |",
          f"| Node (JS reference) | {m['node']} |", f"| nginx | {m['nginx']} |",
          f"| Load average at start (1, 5, 15 min) | {res['load_start']} |",
          f"| Load average at end | {res['load_end']} |", "",
          "The machine is shared: other builds may run at the same time, so the load above says how "
          "quiet it was. Pinning: the proxy under test (Unigate or nginx) runs on CPU "
          f"{args.proxy_cpu}; the emulator and the load generator on CPU {args.client_cpu}.", ""]

    targets = []
    # 1. Overhead
    L += ["## 1. Gateway overhead: one unified `get`", "",
          "`GET /unified/user-directory/organizations/octo-org` through Unigate (release build, SQLite, "
          "`UNIGATE_LOG=warn`) to GitHub's emulator, against the emulator called directly "
          "(`GET /orgs/octo-org` with its token) and behind a bare nginx reverse proxy "
          "(`worker_processes 1`, keep-alive upstream) and behind `axum+hyper`, the floor of Unigate's own "
          "HTTP stack: `bench forward --client hyper`, an axum server and a hyper-util client (the same crates, runtime and "
          "allocator as the gateway) that pass the GET on and answer with the body, with no store, mapping "
          "or request log. Unigate's answer is the mapped record plus "
          f"`remote_data` ({o.get('unigate_body_bytes', '?')} bytes; the emulator's is "
          f"{o.get('direct_body_bytes', '?')}).", ""]
    if "saturation" in o:
        sat = o["saturation"]
        L += [f"**Throughput at saturation**: `wrk -t1 -c{args.conns}`, {args.seconds:.0f} s per run, "
              f"median of {args.reps} runs, targets interleaved.", "",
              "| Target | req/s (median) | runs | × direct | errors |", "|---|---:|---|---:|---:|"]
        for k, v in sat.items():
            runs = ", ".join(f"{x:.0f}" for x in o["saturation_runs"][k])
            L.append(f"| {k} | {v:.0f} | {runs} | {v / sat['direct']:.2f} | {o['saturation_errors'][k]} |")
        L.append("")
        lat = o["latency"]
        tool = lat["unigate"]["tool"]
        L += [f"**Latency at a fixed rate** of {o['fixed_rate']:.0f} req/s (half of the lowest saturation "
              f"throughput, the same offered load for every target), {args.latency_seconds:.0f} s per run, "
              f"{args.latency_reps} runs per target interleaved, each figure the median over the runs, with "
              + ("`oha -q RATE --latency-correction` (open loop, coordinated omission corrected)" if tool == "oha"
                 else f"`wrk` and a Lua `delay()` script ({tool}: closed loop per connection, latency from send)")
              + ".", "",
              "| Target | CPU per call | achieved req/s | p50 | p90 | p99 | p99.9 | max | p99 of each run |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        p99_runs = o.get("latency_p99_runs", {})
        for k, r in lat.items():
            runs = ", ".join(fmt_us(x) for x in p99_runs.get(k, []))
            cpu = f"{r['cpu_us']:.1f} µs" if "cpu_us" in r else "n/a"
            L.append(f"| {k} | **{cpu}** | {r['rps']:.0f} | {fmt_us(r['p50_us'])} | {fmt_us(r['p90_us'])} | "
                     f"{fmt_us(r['p99_us'])} | {fmt_us(r['p999_us'])} | {fmt_us(r['max_us'])} | {runs} |")
        L.append("")
        if "cpu_us" in lat["unigate"]:
            cpu_u = lat["unigate"]["cpu_us"]
            per_core = 1e6 / cpu_u if cpu_u else 0
            L += ["**CPU per call** is the serving process's user + system CPU time (with its child "
                  "processes: nginx's workers) over the calls it served in the fixed-rate runs, median over "
                  "the runs: the same offered load for every target, so it does not depend on who saturates "
                  "first. The direct row is the emulator's own cost. "
                  + (f"Unigate: {lat['unigate']['cpu_us'] / lat['nginx']['cpu_us']:.2f} × nginx's CPU per call"
                     if lat.get("nginx", {}).get("cpu_us") else "Unigate")
                  + (f", {lat['unigate']['cpu_us'] / lat['axum+hyper']['cpu_us']:.2f} × the axum+hyper floor's"
                     if lat.get("axum+hyper", {}).get("cpu_us") else "")
                  + f"; one core of it serves about {per_core:,.0f} unified `get`s per second at most.", ""]
            res["overhead"]["cpu_per_call"] = {k: r.get("cpu_us") for k, r in lat.items()}
        added = {q: lat["unigate"][f"{q}_us"] - lat["direct"][f"{q}_us"] for q in ("p50", "p99", "p999")}
        L += ["Added by Unigate over the direct call: "
              + ", ".join(f"{q} {fmt_us(v)}" for q, v in added.items())
              + (". Added by nginx: " + ", ".join(
                  f"{q} {fmt_us(lat['nginx'][f'{q}_us'] - lat['direct'][f'{q}_us'])}" for q in ("p50", "p99", "p999"))
                 if "nginx" in lat else "") + ".", "",
              "On a loaded machine the tails (p99, p99.9) of every target are dominated by CPU contention "
              "with other processes: compare Unigate's added tail with nginx's, measured in the same minute.", ""]
        if "nginx" in sat:
            ratio = sat["unigate"] / sat["nginx"]
            targets.append(("Unigate throughput ≥ 0.8 × nginx", f"{ratio:.2f} × nginx", ratio >= 0.8))
        else:
            targets.append(("Unigate throughput ≥ 0.8 × nginx", "nginx missing", None))
        targets.append(("Added p99 < 1 ms at half saturation", fmt_us(added["p99"]), added["p99"] < 1000))
        cpu_u, cpu_n = lat["unigate"].get("cpu_us"), lat.get("nginx", {}).get("cpu_us")
        if cpu_u and cpu_n:
            targets.append(("CPU per unified `get` ≤ 1.5 × nginx's, same offered load",
                            f"{cpu_u:.1f} µs, {cpu_u / cpu_n:.2f} × nginx ({cpu_n:.1f} µs)", cpu_u <= 1.5 * cpu_n))
        if o.get("perf"):
            L += ["Profile of the Unigate process during its first saturation run "
                  "(`perf record`, self time by symbol, ≥ 1 %):", "", "```", o["perf"], "```", ""]
        if o.get("flame_graph"):
            L += [f"Flame graph of the same samples (DWARF call graphs, folded and drawn by `inferno`): "
                  f"[`{o['flame_graph']}`]({o['flame_graph']}).", ""]
    else:
        targets.append(("Unigate throughput ≥ 0.8 × nginx", "not measured", None))
        targets.append(("Added p99 < 1 ms at half saturation", "not measured", None))

    # 2. Mapping
    mp = res.get("mapping", {})
    rust, js = mp.get("rust", {}), mp.get("js", {})
    L += ["## 2. Mapping engine", "",
          "Each provider's organizations `get` response mapping (compiled from "
          "`catalog/integrations/*/user-directory.yaml` by `unigate::startup::load_registry`) on the first "
          "record of its emulator's collection, evaluated in a loop on one core for "
          f"{args.mapping_seconds} s: Unigate's `Expr::eval` on the record as a `serde_json::Value`, "
          "as each request runs it (`direct`: the expression is in the subset `mapping::fast` evaluates "
          "on the `serde_json` value in place; otherwise jsonata-core, including the conversion of the "
          "fields the expression reads and of the result; the bench driver uses the gateway's allocator, "
          "mimalloc) against the reference `jsonata` npm package on Node (compiled once, "
          "`await expr.evaluate(input)`). `same` says whether both gave the same result.", "",
          "The last two columns are diagnostic, not the target: jsonata-core alone (the path every "
          "expression falls back to) through `Expr::eval_j`, on the whole input converted to its "
          "`JValue` once, i.e. with no conversion of the input in the loop.", "",
          "| Provider | direct | Unigate evals/s | JS evals/s | × JS | same | jsonata-core, pre-converted evals/s | × JS |",
          "|---|:--:|---:|---:|---:|:--:|---:|---:|"]
    ratios, ratios_j = [], []
    for prov, r in sorted(rust.items()):
        j = js.get(prov)
        pj = r.get("per_sec_preconverted", 0.0)
        direct = "yes" if r.get("direct") else "no"
        if j:
            ratio = r["per_sec"] / j["per_sec"]
            ratios.append(ratio)
            ratios_j.append(pj / j["per_sec"])
            L.append(f"| {prov} | {direct} | {r['per_sec']:,.0f} | {j['per_sec']:,.0f} | {ratio:.1f} | "
                     f"{'yes' if j.get('same_result') else 'no'} | {pj:,.0f} | {pj / j['per_sec']:.1f} |")
        else:
            L.append(f"| {prov} | {direct} | {r['per_sec']:,.0f} | — | — | — | {pj:,.0f} | — |")
    if ratios:
        gm = math.exp(sum(map(math.log, ratios)) / len(ratios))
        L += ["", f"Geometric mean: **{gm:.1f} ×** the JS reference (min {min(ratios):.1f} ×, "
              f"max {max(ratios):.1f} ×). jsonata-core alone on pre-converted input: "
              f"{math.exp(sum(map(math.log, ratios_j)) / len(ratios_j)):.1f} ×."]
        targets.append(("Mapping ≥ 10 × the JS reference", f"geo-mean {gm:.1f} ×, min {min(ratios):.1f} ×",
                         min(ratios) >= 10))
    else:
        targets.append(("Mapping ≥ 10 × the JS reference", "JS reference not run", None))
    L.append("")

    # 3. Streaming
    rows = res.get("streaming", [])
    upstream = "GitHub's emulator with the records inserted" if args.emulator_upstream else (
        "a synthetic GitHub `/user/orgs` pager (the bench driver, `organization-simple` records made on the fly, "
        "`Link` headers; GitHub's emulator projects its whole collection for every page, so at 1M records it "
        "and not the gateway would be measured)")
    L += ["## 3. List streaming", "",
          f"GitHub organizations list, 100 per page, from {upstream}. `stream`: one request with "
          "`truto_response_format=stream&limit=100`, NDJSON read as it comes. `pages`: the buffered `unified` "
          "list, `limit=100`, following `next_cursor` page by page on one keep-alive connection. The gateway is "
          "restarted for each row, so its peak RSS (`VmHWM`) is that row's.", "",
          "| Mode | Records | Received | Total | Records/s | First record | Gateway RSS before | Gateway peak RSS |",
          "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        first = "—" if r["first_s"] is None else f"{r['first_s'] * 1000:.1f} ms"
        L.append(f"| {r['mode']} | {r['n']:,} | {r['records']:,} | {r['total_s']:.2f} s | "
                 f"{r['records'] / r['total_s']:,.0f} | {first} | "
                 f"{mib(r['rss_before_kb'])} | {mib(r['hwm_kb'])} |")
        if r.get("error"):
            L.append(f"| | | error line: `{r['error']}` | | | | | |")
    L.append("")
    streams = [r for r in rows if r["mode"] == "stream" and r["hwm_kb"]]
    s100 = next((r for r in streams if r["n"] == 100_000), None)
    if s100:
        hwms = [r["hwm_kb"] for r in streams]
        flat = max(hwms) - min(hwms) < 16 * 1024
        complete = all(r["records"] == r["n"] for r in streams)
        targets.append(("Streaming 100k: gateway peak < 64 MB, flat across sizes",
                        f"{mib(s100['hwm_kb'])} at 100k; " + ", ".join(f"{r['n']:,}: {mib(r['hwm_kb'])}" for r in streams)
                        + ("" if complete else " (INCOMPLETE streams)"),
                        s100["hwm_kb"] < 64 * 1024 and flat and complete))
    else:
        targets.append(("Streaming 100k: gateway peak < 64 MB, flat across sizes", "100k not run", None))

    # 4. Footprint
    f = res.get("footprint", {})
    L += ["## 4. Footprint", "", "| | |", "|---|---|"]
    for name, size in f.get("binary_bytes", {}).items():
        L.append(f"| `{name}` release binary | {size / 1048576:.1f} MiB ({size:,} bytes) |")
    if f:
        L += [f"| Start-up to first 200 on `/health`, first start (creates the SQLite database, runs migrations, "
              f"generates the key) | {f['startup_cold_s'] * 1000:.0f} ms |",
              f"| Start-up to first 200 on `/health`, later starts (median of the restarts in section 3) | "
              f"{res.get('startup_warm_ms', 0):.0f} ms |",
              f"| Idle RSS 1 s after start | {mib(f['idle'].get('VmRSS'))} |"]
    L.append("")

    # Targets
    L += ["## Targets", "", "| Target | Measured | |", "|---|---|---|"]
    for name, measured, ok in targets:
        L.append(f"| {name} | {measured} | {verdict(ok)} |")
    L.append("")
    if res["notes"]:
        L += ["## Notes from this run", ""] + [f"- {n}" for n in res["notes"]] + [""]
    soak = BENCH / "SOAK.md"
    if soak.exists() and not args.smoke:
        # Written by `bench/run.sh --soak` (bench/soak.py), a run of its own.
        L += [soak.read_text().rstrip(), ""]
    capacity = BENCH / "CAPACITY.md"
    if capacity.exists() and not args.smoke:
        # Written by `bench/run.sh --capacity` (bench/capacity.py), a run of its own.
        L += [capacity.read_text().rstrip(), ""]
    analysis = BENCH / "ANALYSIS.md"
    if analysis.exists() and not args.smoke:
        L += [analysis.read_text().rstrip(), ""]
    return "\n".join(L)


# ---------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--smoke", action="store_true", help="tiny durations and data; skips missing tools")
    ap.add_argument("--gateway-bin", default=str(ROOT / "target/release/unigate"))
    ap.add_argument("--emulator-bin", default=None, help="unigate-emulator binary (default: the driver's)")
    ap.add_argument("--driver-bin", default=str(ROOT / "target/release/examples/bench"))
    ap.add_argument("--out", default=None, help="report path (default BENCHMARKS.md; smoke: target/bench-smoke)")
    ap.add_argument("--skip-1m", action="store_true", help="stream 10k and 100k records only")
    ap.add_argument("--profile", action="store_true", help="perf record the gateway during saturation")
    ap.add_argument("--emulator-upstream", action="store_true",
                    help="list benchmarks against GitHub's emulator instead of the synthetic pager")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--latency-seconds", type=float, default=10)
    ap.add_argument("--latency-reps", type=int, default=3, help="interleaved fixed-rate runs per target")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--mapping-seconds", type=float, default=2)
    ap.add_argument("--records", default=None, help="comma-separated list sizes (default 10000,100000,1000000)")
    args = ap.parse_args()
    args.proxy_cpu, args.client_cpu = 0, 1
    sizes = [10_000, 100_000] + ([] if args.skip_1m else [1_000_000])
    args.records = [int(x) for x in args.records.split(",")] if args.records else sizes
    if False:
        args.records = [int(x) for x in args.records.split(",")]
    args.max_buffered = 100_000
    if args.smoke:
        args.seconds, args.latency_seconds, args.reps, args.mapping_seconds = 1, 1, 1, 0.05
        args.latency_reps = 1
        args.records, args.max_buffered = [1_000], 1_000
    out = Path(args.out) if args.out else (ROOT / "target/bench-smoke/BENCHMARKS.md" if args.smoke
                                           else ROOT / "BENCHMARKS.md")
    # Beside the report, linked from it.
    args.flame_graph = out.parent / "bench" / "flamegraph.svg"
    for b in (args.gateway_bin, args.driver_bin):
        if not Path(b).exists():
            log(f"missing binary {b}: run bench/run.sh (it builds them)")
            return 2
    github_token = GITHUB_TOKEN_RE.search((ROOT / "catalog/integrations/github/emulator.yaml").read_text()).group(1)
    res: dict = {"machine": machine(), "load_start": load(), "date": time.strftime("%Y-%m-%d %H:%M %Z"),
                 "overhead": {}, "notes": []}
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="unigate-bench-") as t:
        tmp = Path(t)
        data_dir = tmp / "data"
        gw = Gateway(args.gateway_bin, data_dir, args.proxy_cpu)
        emu, emu_url = start_emulator(args, args.client_cpu)
        try:
            cold = gw.start(emu_url)
            time.sleep(1)
            idle = proc_status(gw.pid)
            gw.import_account(github_token)
            footprint(args, gw, cold, idle, res)
            log(f"gateway up in {cold * 1000:.0f} ms, idle RSS {mib(idle.get('VmRSS'))}")
            overhead(args, gw, emu_url, urllib.parse.urlparse(emu_url).port or 0, github_token, tmp, res,
                     emu_pid=emu.pid)
        finally:
            gw.stop()
            emu.stop()
        mapping(args, tmp, res)
        warm = []
        orig_start = gw.start

        def timed_start(url: str) -> float:
            s = orig_start(url)
            warm.append(s)
            return s

        gw.start = timed_start  # type: ignore[method-assign]
        try:
            streaming(args, gw, res)
        finally:
            gw.stop()
        res["startup_warm_ms"] = statistics.median(warm) * 1000 if warm else 0
    res["load_end"] = load()
    res["elapsed_s"] = time.perf_counter() - t_start
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report(args, res))
    if args.smoke:
        (out.parent / (out.stem + ".json")).write_text(json.dumps(res, indent=1, default=str))
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
