#!/usr/bin/env python3
"""CPU per call, side by side: nginx, the axum+hyper floor and Unigate (SQLite and PostgreSQL).

The measure operators size by: the CPU time a proxy's process spends per call it serves.
Each proxy in turn is pinned to CPU 0 and driven at saturation by wrk for `--seconds` from
CPU 1, where the provider (GitHub's emulator, in the bench driver) runs too; the process's
user + system CPU over that run (its children's too: nginx's workers; for Unigate on
PostgreSQL, PostgreSQL's processes as well) is divided by the calls served. Rounds are
interleaved, medians reported. Then the open-loop tail: each target at half of the
slowest target's saturation rate with `oha -q --latency-correction` (coordinated omission
corrected), p99 minus the direct call's p99 ("added p99"), interleaved rounds.

Targets, all the benchmark's GitHub organization (`octo-org`, 1.8 KB):
- `direct`: the emulator itself (for the added latency);
- `nginx`: nginx proxying it; `axum+hyper`: `bench forward`, the floor of Unigate's stack;
  `hyper+hyper` (only when named in `--only`): the same floor served by hyper's HTTP/1
  connection alone (`--server hyper`: no axum router, HTTP/2 detection, upgrades or graceful
  shutdown), what those layers cost;
- `unigate`: a unified `get`, `unified` format with `remote_data` (SQLite, the default);
- `unigate-pg`: the same on PostgreSQL (a throwaway server of its own, Debian's package);
- `unigate-pg-nocache`: the same with `database.account_cache = false` (an account read per call);
- `unigate-list100`: a unified `list` of 100 users (mapped, `remote_data` on);
- `unigate-override`: the `get` in an environment with an override of its response mapping.

    bench/run.sh --capacity                  # builds, installs wrk/nginx/oha when missing
    python3 bench/capacity.py --seconds 10 --reps 3 --out bench/CAPACITY.md
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import suite  # noqa: E402  (process, gateway and load-generator helpers)

ROOT = suite.ROOT
START, END = "<!-- capacity:start -->", "<!-- capacity:end -->"
KEY = "dW5pZ2F0ZS1iZW5jaC1rZXktMzItYnl0ZXMtbG9uZyE="  # 32 bytes, base64; bench only


def log(msg: str) -> None:
    print(f"[capacity] {msg}", file=sys.stderr, flush=True)


def json_call(port: int, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    status, data, _ = suite.request(port, method, path, headers, json.dumps(body).encode() if body else None)
    try:
        return status, json.loads(data)
    except json.JSONDecodeError:
        return status, {"raw": data[:300].decode(errors="replace")}


class Postgres:
    """A throwaway PostgreSQL server (scripts/pg-test-server.sh) and its postmaster's pid."""

    def __init__(self) -> None:
        out = subprocess.run(["bash", str(ROOT / "scripts/pg-test-server.sh")], capture_output=True, text=True,
                             timeout=600)
        if out.returncode != 0:
            raise RuntimeError(f"cannot start PostgreSQL: {out.stderr[-500:]}")
        env = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
        self.admin_url = env["TEST_POSTGRES_URL"].strip("'\"")
        self.dir = env["TEST_POSTGRES_DIR"].strip("'\"")
        self.pid = int(Path(self.dir, "data/postmaster.pid").read_text().split()[0])
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
        self.bin = bins[-1]
        subprocess.run([str(self.bin / "psql"), self.admin_url, "-qc", "CREATE DATABASE unigate_bench"],
                       check=True, capture_output=True)
        u = urllib.parse.urlparse(self.admin_url)
        self.url = u._replace(path="/unigate_bench").geturl()

    def version(self) -> str:
        return subprocess.run([str(self.bin / "postgres"), "--version"], capture_output=True,
                              text=True).stdout.strip()

    def stop(self) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin / "pg_ctl"), "-D", f"{self.dir}/data",
                        "-m", "fast", "stop"], capture_output=True)
        subprocess.run(["rm", "-rf", self.dir])


def environment_with_override(gw: suite.Gateway) -> str:
    """A second environment (the CLI, on the running gateway's SQLite file); its admin token."""
    def cli(*args: str) -> str:
        out = subprocess.run([gw.binary, *args, "--data-dir", str(gw.data_dir)], capture_output=True, text=True,
                             env=dict(os.environ, UNIGATE_LOG="warn"))
        if out.returncode != 0:
            raise RuntimeError(f"unigate {' '.join(args)}: {out.stderr[-300:]}")
        return out.stdout
    cli("environment", "create", "bench-override")
    out = cli("token", "create", "--environment", "bench-override", "--scope", "admin")
    m = suite.API_TOKEN_RE.search(out)
    if not m:
        raise RuntimeError(f"no token printed: {out[:200]}")
    return m.group(0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gateway-bin", default=str(ROOT / "target/release/unigate"))
    ap.add_argument("--driver-bin", default=str(ROOT / "target/release/examples/bench"))
    ap.add_argument("--baseline-bin", default=None,
                    help="another unigate binary, measured as `unigate-baseline` beside `unigate`")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--latency-seconds", type=float, default=10)
    ap.add_argument("--latency-reps", type=int, default=3)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--only", default=None, help="comma-separated targets (default: all)")
    ap.add_argument("--out", default=str(ROOT / "bench/CAPACITY.md"),
                    help="the report (markdown), also spliced into --benchmarks as section 7")
    ap.add_argument("--benchmarks", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument("--json", default=str(ROOT / "target/capacity.json"))
    ap.add_argument("--from-json", default=None, help="write the report of an earlier run's JSON, run nothing")
    args = ap.parse_args()
    if args.from_json:
        publish(args, json.loads(Path(args.from_json).read_text()))
        return

    proxy_cpu, client_cpu = 0, 1
    tmp = Path(tempfile.mkdtemp(prefix="unigate-capacity-"))
    procs: list = []
    pg: Postgres | None = None
    try:
        # The provider: GitHub's emulator in the bench driver, with 94 more members of
        # octo-org (it has 6 active ones), so a unified users list of 100 is one page.
        up = suite.Proc(suite.pinned(client_cpu) + [args.driver_bin, "upstream", "--members", "94"],
                        stdout=subprocess.PIPE, stdin=subprocess.PIPE)
        procs.append(up)
        line = up.p.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"bench upstream did not start: {line!r}")
        emu_url = line.split()[1]
        emu_port = urllib.parse.urlparse(emu_url).port
        spec_token = suite.GITHUB_TOKEN_RE.search(
            (ROOT / "catalog/integrations/github/emulator.yaml").read_text()).group(1)
        direct_h = {"Authorization": f"Bearer {spec_token}"}

        targets: dict[str, tuple[int, str, dict, list[int]]] = {}
        targets["direct"] = (emu_port, "/orgs/octo-org", direct_h, [up.pid])
        ng = suite.nginx_start(tmp, emu_port, proxy_cpu)
        if ng:
            procs.append(ng[0])
            targets["nginx"] = (ng[1], "/orgs/octo-org", direct_h, [ng[0].pid])
        else:
            log("nginx is not installed: skipped")
        fwd = suite.start_forwarder(args.driver_bin, emu_url, proxy_cpu)
        procs.append(fwd[0])
        targets["axum+hyper"] = (fwd[1], "/orgs/octo-org", direct_h, [fwd[0].pid])
        # The same floor served by hyper's HTTP/1 connection alone: what axum's `serve` (its
        # router, HTTP/2 detection, upgrades, graceful shutdown) adds to it. Only when asked
        # for by `--only`: in the runs of 2026-12-07 23:33 and 23:50 the target measured next
        # after it cost more than in runs without it (ANALYSIS, twenty-eighth pass).
        if args.only and "hyper+hyper" in args.only.split(","):
            bare = suite.start_forwarder(args.driver_bin, emu_url, proxy_cpu, server="hyper")
            procs.append(bare[0])
            targets["hyper+hyper"] = (bare[1], "/orgs/octo-org", direct_h, [bare[0].pid])

        gw = suite.Gateway(args.gateway_bin, tmp / "sqlite" / "data", proxy_cpu)
        gw.data_dir.mkdir(parents=True)
        gw.start(emu_url)
        procs.append(gw)
        account = gw.import_account(spec_token)
        get = f"/unified/user-directory/organizations/octo-org?integrated_account_id={account}"
        targets["unigate"] = (gw.port, get, gw.auth(), [gw.pid])
        # The list and the override on a gateway of their own: each gateway's request log
        # then grows only with its own target's calls, as the baseline's does (past
        # `request_log.max_rows_per_environment`, a million rows, a gateway also deletes
        # its oldest entries every minute, which would count against the plain `get`).
        go = suite.Gateway(args.gateway_bin, tmp / "other" / "data", proxy_cpu)
        go.data_dir.mkdir(parents=True)
        go.start(emu_url)
        procs.append(go)
        override_token = environment_with_override(go)
        other_account = go.import_account(spec_token)
        users = (f"/unified/user-directory/users?integrated_account_id={other_account}"
                 "&organization_id=octo-org&limit=100")
        targets["unigate-list100"] = (go.port, users, go.auth(), [go.pid])

        # The same gateway with its request log off, as nginx runs here (`access_log off`):
        # the log's own share of the CPU per call.
        gn = suite.Gateway(args.gateway_bin, tmp / "nolog" / "data", proxy_cpu)
        gn.data_dir.mkdir(parents=True)
        gn.extra_config = "\n[request_log]\nenabled = false\n"
        gn.start(emu_url)
        procs.append(gn)
        nolog_account = gn.import_account(spec_token)
        nolog_get = f"/unified/user-directory/organizations/octo-org?integrated_account_id={nolog_account}"
        targets["unigate-nolog"] = (gn.port, nolog_get, gn.auth(), [gn.pid])

        # Another build of the gateway, for a before/after of a change in one run: the same
        # `get`, interleaved with the others (bench/README.md).
        if args.baseline_bin:
            gb = suite.Gateway(args.baseline_bin, tmp / "baseline" / "data", proxy_cpu)
            gb.data_dir.mkdir(parents=True)
            gb.start(emu_url)
            procs.append(gb)
            base_account = gb.import_account(spec_token)
            base_get = f"/unified/user-directory/organizations/octo-org?integrated_account_id={base_account}"
            targets["unigate-baseline"] = (gb.port, base_get, gb.auth(), [gb.pid])

        # The override's environment: an account and an override of the get's response
        # mapping (one more field, from the provider's answer).
        s, acct = json_call(go.port, "POST", "/integrated-account", override_token,
                            {"tenant_id": "bench", "integration_name": "github",
                             "context": {"access_token": spec_token}})
        if s not in (200, 201):
            raise RuntimeError(f"override account: {s} {acct}")
        s, body = json_call(go.port, "POST", "/environment-unified-model-resource-method", override_token,
                            {"resource_name": "organizations", "integration_name": "github", "method_name": "get",
                             "config": {"response_mapping": '{ "name": $uppercase(response.name), '
                                                           '"bench_login": response.login }'}})
        if s != 201:
            raise RuntimeError(f"override: {s} {body}")
        ov_path = f"/unified/user-directory/organizations/octo-org?integrated_account_id={acct['id']}"
        targets["unigate-override"] = (go.port, ov_path, {"Authorization": f"Bearer {override_token}"}, [go.pid])

        pg_version = None
        if not args.no_postgres:
            pg = Postgres()
            pg_version = pg.version()
            gpg = suite.Gateway(args.gateway_bin, tmp / "postgres" / "data", proxy_cpu)
            gpg.data_dir.mkdir(parents=True)
            gpg.top_config = f'database_url = "{pg.url}"\nencryption_key = "{KEY}"\n'
            gpg.start(emu_url)
            procs.append(gpg)
            pg_account = gpg.import_account(spec_token)
            pg_get = f"/unified/user-directory/organizations/octo-org?integrated_account_id={pg_account}"
            targets["unigate-pg"] = (gpg.port, pg_get, gpg.auth(), [gpg.pid, pg.pid])
            # The same without the account cache (`database.account_cache = false`): one account
            # read per call, as before the cache; on a database of its own.
            subprocess.run([str(pg.bin / "psql"), pg.admin_url, "-qc", "CREATE DATABASE unigate_bench_nocache"],
                           check=True, capture_output=True)
            nocache_url = urllib.parse.urlparse(pg.admin_url)._replace(path="/unigate_bench_nocache").geturl()
            gnc = suite.Gateway(args.gateway_bin, tmp / "postgres-nocache" / "data", proxy_cpu)
            gnc.data_dir.mkdir(parents=True)
            gnc.top_config = f'database_url = "{nocache_url}"\nencryption_key = "{KEY}"\n'
            gnc.extra_config = "\n[database]\naccount_cache = false\n"
            gnc.start(emu_url)
            procs.append(gnc)
            nc_account = gnc.import_account(spec_token)
            nc_get = f"/unified/user-directory/organizations/octo-org?integrated_account_id={nc_account}"
            targets["unigate-pg-nocache"] = (gnc.port, nc_get, gnc.auth(), [gnc.pid, pg.pid])

        if args.only:
            keep = set(args.only.split(",")) | {"direct"}
            targets = {k: v for k, v in targets.items() if k in keep}

        # Every target answers correctly before anything is measured.
        for name, (port, path, h, _) in targets.items():
            status, body, _ = suite.request(port, "GET", path, h)
            if status != 200:
                raise RuntimeError(f"{name}: {status} {body[:300]!r}")
            if name == "unigate-list100":
                n = json.loads(body)["result_count"]
                if n != 100:
                    raise RuntimeError(f"the users list has {n} records, not 100")
            if name == "unigate-override" and json.loads(body).get("bench_login") is None:
                raise RuntimeError(f"the override did not apply: {body[:300]!r}")

        # Warm-up: one short run each.
        for name, (port, path, h, _) in targets.items():
            suite.wrk(f"http://127.0.0.1:{port}{path}", h, 2, args.conns, client_cpu, tmp)

        cpu: dict[str, list[float]] = {k: [] for k in targets if k != "direct"}
        # PostgreSQL's processes' part, for the targets on PostgreSQL.
        db_part: dict[str, list[float]] = {k: [] for k, t in targets.items() if len(t[3]) > 1}
        rps: dict[str, list[float]] = {k: [] for k in targets if k != "direct"}
        kernel: dict[str, list[float]] = {k: [] for k in targets if k != "direct"}
        for rep in range(args.reps):
            for name, (port, path, h, pids) in targets.items():
                if name == "direct":
                    continue
                before = [suite.cpu_times(p) for p in pids]
                r = suite.wrk(f"http://127.0.0.1:{port}{path}", h, args.seconds, args.conns, client_cpu, tmp)
                after = [suite.cpu_times(p) for p in pids]
                used = cpu_used(before, after)
                served = max(r["requests"], 1)
                cpu[name].append(sum(used) / served * 1e6)
                # The proxy's own kernel time (its first process): sockets, files, wake-ups.
                kernel[name].append((after[0][1] - before[0][1]) / served * 1e6)
                if name in db_part:
                    db_part[name].append(used[1] / served * 1e6)
                rps[name].append(r["rps"])
                log(f"round {rep + 1} {name}: {r['rps']:.0f} req/s, {cpu[name][-1]:.1f} us CPU per call "
                    f"(errors {r['errors']}, non-2xx {r['non2xx']})")

        # The open-loop tail at half of the slowest proxy's saturation (the get targets).
        # The CPU per call at that rate too: what a proxy sized with headroom spends (at
        # saturation a process reads several requests per wake-up, which costs less per call).
        tail_targets = [k for k in ("direct", "nginx", "axum+hyper", "unigate", "unigate-nolog", "unigate-baseline",
                                    "unigate-pg") if k in targets]
        rate = 0.5 * min(statistics.median(rps[k]) for k in tail_targets if k != "direct")
        p99: dict[str, list[float]] = {k: [] for k in tail_targets}
        half_cpu: dict[str, list[float]] = {k: [] for k in tail_targets if k != "direct"}
        for rep in range(args.latency_reps):
            for name in tail_targets:
                port, path, h, pids = targets[name]
                before = [suite.cpu_times(p) for p in pids]
                r = suite.fixed_rate(f"http://127.0.0.1:{port}{path}", h, args.latency_seconds, rate, client_cpu, tmp)
                used = cpu_used(before, [suite.cpu_times(p) for p in pids])
                p99[name].append(r["p99_us"])
                if name in half_cpu and r.get("requests"):
                    half_cpu[name].append(sum(used) / r["requests"] * 1e6)
                log(f"tail round {rep + 1} {name} at {rate:.0f}/s: p99 {r['p99_us']:.0f} us ({r['tool']})")

        res = {
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "commit": suite.sh("git rev-parse --short HEAD"),
            "machine": suite.machine(),
            "load": suite.load(),
            "postgres": pg_version,
            "cpu_us": {k: statistics.median(v) for k, v in cpu.items()},
            "cpu_us_runs": cpu,
            "kernel_us": {k: statistics.median(v) for k, v in kernel.items()},
            "rps": {k: statistics.median(v) for k, v in rps.items()},
            "db_us": {k: statistics.median(v) for k, v in db_part.items() if v},
            "rate": rate,
            "p99_us": {k: statistics.median(v) for k, v in p99.items()},
            "p99_us_runs": p99,
            "half_cpu_us": {k: statistics.median(v) for k, v in half_cpu.items() if v},
            "half_cpu_us_runs": half_cpu,
            "seconds": args.seconds,
            "reps": args.reps,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=1))
        publish(args, res)
    finally:
        for p in reversed(procs):
            p.stop()
        if pg:
            pg.stop()
        # The gateways' databases and logs (about 350 MB a full run); the report and the
        # JSON are written elsewhere.
        shutil.rmtree(tmp, ignore_errors=True)


def cpu_used(before: list[tuple[float, float]], after: list[tuple[float, float]]) -> list[float]:
    """The CPU seconds (user + system) each process spent between two `suite.cpu_times` reads."""
    return [sum(a) - sum(b) for a, b in zip(after, before)]


def publish(args, res: dict) -> None:
    """Prints the report, writes it to --out and splices it into --benchmarks (section 7)."""
    text = START + "\n## 7. Capacity per core: CPU per call (`bench/run.sh --capacity`)\n\n" + report(res) + END + "\n"
    print(text)
    Path(args.out).write_text(text)
    suite.splice(Path(args.benchmarks), START, END, text)
    log(f"wrote {args.out} and its section of {args.benchmarks}")


def paired_ratios(runs: dict) -> dict[str, list[float]]:
    """For `unigate` and its baseline build: each round's CPU per call over nginx's in that round."""
    ng = runs.get("nginx") or []
    return {k: [u / n for u, n in zip(runs[k], ng) if n]
            for k in ("unigate", "unigate-baseline") if runs.get(k) and ng}


def report(res: dict) -> str:
    c = res["cpu_us"]
    ng = c.get("nginx")
    floor = c.get("axum+hyper")
    m = res["machine"]
    L = [f"CPU per call, `bench/capacity.py`, {res['when']}, commit `{res['commit']}`; "
         f"{m['nproc']} CPUs ({m['cpu']}), load before the run {res['load']}; each proxy pinned to CPU 0, "
         f"wrk and the provider on CPU 1; {res['reps']} interleaved {res['seconds']:.0f} s runs at "
         f"saturation, medians" + (f"; {res['postgres']}" if res.get("postgres") else "") + ".", "",
         "| Target | CPU per call | of which in the kernel | × nginx | × the floor | req/s at saturation (CPU 0 saturated or not) | runs (µs) |",
         "|---|---:|---:|---:|---:|---:|---|"]
    kern = res.get("kernel_us", {})
    for k, v in c.items():
        ratio = f"{v / ng:.2f}" if ng else "n/a"
        over = f"{v / floor:.2f}" if floor else "n/a"
        runs = ", ".join(f"{x:.1f}" for x in res["cpu_us_runs"][k])
        sys_part = f"{kern[k]:.1f} µs" if k in kern else ""
        L.append(f"| {k} | **{v:.1f} µs** | {sys_part} | {ratio} | {over} | {res['rps'][k]:.0f} | {runs} |")
    paired = paired_ratios(res["cpu_us_runs"])
    if paired:
        L.append("")
        L.append("Round by round (each run over nginx's run of the same round, which takes out the "
                 "machine's drift between rounds): "
                 + "; ".join(f"`{k}` {statistics.median(r):.2f} × nginx (rounds {min(r):.2f}–{max(r):.2f})"
                             for k, r in paired.items()) + ".")
    if res.get("db_us"):
        L.append("")
        for k, v in res["db_us"].items():
            L.append(f"Of `{k}`'s CPU per call, PostgreSQL's processes took {v:.1f} µs and the gateway "
                     f"{c[k] - v:.1f} µs.")
    if c.get("unigate-nolog") and c.get("unigate"):
        L.append("")
        L.append(f"The request log (an entry per call, stored in SQLite a batch of up to 64 to a row, on by default) is {c['unigate'] - c['unigate-nolog']:.1f} µs "
                 f"of the `get`'s CPU per call; with it off, as nginx's `access_log` is here, the `get` is "
                 + (f"{c['unigate-nolog'] / ng:.2f} × nginx." if ng else "n/a."))
    if c.get("unigate-pg") and c.get("unigate"):
        L.append(f"PostgreSQL mode, gateway plus database: {c['unigate-pg'] / c['unigate']:.2f} × the SQLite mode's "
                 "CPU per call (target ≤ 1.5)"
                 + (f"; without the account cache {c['unigate-pg-nocache'] / c['unigate']:.2f} ×."
                    if c.get("unigate-pg-nocache") else "."))
    p = res["p99_us"]
    d = p.get("direct", 0)
    L += ["", f"Open-loop tail at {res['rate']:.0f} req/s (half of the slowest proxy's saturation), "
          "`oha --latency-correction`, interleaved runs, medians:", "",
          "| Target | p99 | added p99 (over direct) | × nginx's added p99 | runs (ms) | CPU per call at this rate | × nginx |",
          "|---|---:|---:|---:|---|---:|---:|"]
    added_ng = p.get("nginx", 0) - d if "nginx" in p else None
    half = res.get("half_cpu_us", {})
    for k, v in p.items():
        added = v - d
        ratio = f"{added / added_ng:.2f}" if added_ng and k != "direct" else ""
        runs = ", ".join(f"{x / 1000:.2f}" for x in res["p99_us_runs"][k])
        cpu_half = f"{half[k]:.1f} µs" if k in half else ""
        cpu_ratio = f"{half[k] / half['nginx']:.2f}" if k in half and half.get("nginx") else ""
        L.append(f"| {k} | {v / 1000:.2f} ms | {'' if k == 'direct' else f'{added / 1000:.2f} ms'} | {ratio} | {runs} "
                 f"| {cpu_half} | {cpu_ratio} |")
    if half.get("unigate") and half.get("nginx"):
        L += ["", "At this rate each proxy has idle time and wakes up for fewer requests at a time than at "
              f"saturation. Unigate's CPU per call: {half['unigate']:.1f} µs here against "
              f"{c.get('unigate', 0):.1f} µs at saturation ({half['unigate'] / half['nginx']:.2f} × nginx at this "
              f"rate, {c['unigate'] / c['nginx']:.2f} × at saturation)." if c.get("unigate") and c.get("nginx") else
              f"saturation. Unigate's CPU per call here: {half['unigate']:.1f} µs "
              f"({half['unigate'] / half['nginx']:.2f} × nginx at this rate)."]
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    main()
