#!/usr/bin/env python3
"""Instruction counts (valgrind --tool=callgrind) per gateway request and per mapping evaluation.

Wall-clock numbers on a shared 2-core machine move with whatever else runs; instruction counts do
not (to within a fraction of a percent), so they are what before/after comparisons of a change use.
They miss what the kernel does (system calls, context switches), so the context switches per request
are counted too, on a native run, from /proc.

    python3 bench/callgrind.py --out target/ir.json                  # release binaries in target/
    python3 bench/callgrind.py --out after.json --compare before.json
    python3 bench/callgrind.py --only mapping --mapping-evals 500

Measured, each after a warm-up and with collection switched on only around the measured part:
- gateway: `/health`, a unified `get` of an unknown account (404: token and account lookups only),
  the same `get` with `truto_response_format=raw` (adds the provider call), the `unified` `get`
  (adds the mapping) and the `normalized` one (no `remote_data`), GitHub's emulator as the provider; nginx proxying the emulator, for scale;
  `bench forward` (a bare axum server with a reqwest or hyper-util client), the floor of the stack,
  and the same with hyper's HTTP/1 server alone (`hyper+hyper`: what axum's `serve` and router add).
  Instructions of every thread of the process, divided by the number of requests.
- mapping: each provider's organizations `get` response mapping, `bench mapping --evals N --only P`,
  collecting only inside the driver's `eval_loop` (`--toggle-collect`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import suite  # noqa: E402  (the suite's process and gateway helpers)

# Longer than the request log's batching delay (200 ms), with room for valgrind's slowness.
LOG_SETTLE_SECONDS = 1.5

ROOT = suite.ROOT


def log(msg: str) -> None:
    print(f"[callgrind] {msg}", file=sys.stderr, flush=True)


def totals(path: Path) -> int:
    """The Ir total of one callgrind dump: its `totals:` line (a dump taken while other threads
    are inside calls can have a `summary:` line that undercounts; `totals:` is the sum of the
    self costs, what `callgrind_annotate` lists)."""
    lines = path.read_text(errors="replace").splitlines()
    for key in ("totals:", "summary:"):
        for line in lines:
            if line.startswith(key):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def oha(url: str, headers: dict, n: int, conns: int = 4) -> None:
    exe = shutil.which("oha") or str(Path.home() / ".cargo/bin/oha")
    args = [exe, "--no-tui", "-n", str(n), "-c", str(conns), "--output-format", "json"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    p = subprocess.run(args + [url], capture_output=True, text=True, timeout=3600)
    codes = json.loads(p.stdout).get("statusCodeDistribution", {})
    if sum(codes.values()) != n:
        raise RuntimeError(f"oha: {codes} for {n} requests to {url}")


def ctl(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True, timeout=600)


class Measured:
    """A process started under callgrind with instrumentation off until asked."""

    def __init__(self, out_dir: Path, name: str):
        self.out_dir = out_dir
        self.name = name
        self.wrapper = out_dir / f"{name}.sh"

    def wrap(self, binary: str) -> str:
        self.wrapper.write_text("#!/bin/sh\nexec valgrind --tool=callgrind --instr-atstart=no "
                                f"--callgrind-out-file={self.out_dir}/{self.name}.%p.out {binary} \"$@\"\n")
        self.wrapper.chmod(0o755)
        return str(self.wrapper)

    def measure(self, pid: int, url: str, headers: dict, n: int, warm: int) -> float:
        oha(url, headers, warm)
        # The request log writes its rows in batches, up to 200 ms after a call (more under
        # valgrind): the warm-up's rows are written before collection starts, and the
        # measured calls' rows before it stops, so each measured call counts its own row
        # once. Without these waits a batch fell on either side of the window by chance,
        # and the same binary measured up to 2 % apart from one run to the next.
        time.sleep(LOG_SETTLE_SECONDS)
        before = set(self.out_dir.glob(f"{self.name}.{pid}.out*"))
        ctl("-i", "on", str(pid))
        oha(url, headers, n)
        time.sleep(LOG_SETTLE_SECONDS)
        ctl("-d", str(pid))
        ctl("-i", "off", str(pid))
        new = sorted(set(self.out_dir.glob(f"{self.name}.{pid}.out*")) - before)
        if not new:
            raise RuntimeError("callgrind wrote no dump")
        return sum(totals(p) for p in new) / n


def ctxt_switches(pid: int) -> int:
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            for line in status.read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def endpoints(gw: suite.Gateway) -> dict[str, tuple[int, str, dict]]:
    get = f"/unified/user-directory/organizations/octo-org?integrated_account_id={gw.account}"
    unknown = "/unified/user-directory/organizations/octo-org?integrated_account_id=00000000-0000-4000-8000-000000000000"
    return {
        "health": (gw.port, "/health", {}),
        "unknown_account": (gw.port, unknown, gw.auth()),
        "get_raw": (gw.port, get + "&truto_response_format=raw", gw.auth()),
        "get_unified": (gw.port, get, gw.auth()),
        "get_normalized": (gw.port, get + "&truto_response_format=normalized", gw.auth()),
    }


def start_gateway(binary: str, tmp: Path, emu_url: str, github_token: str) -> suite.Gateway:
    data = tmp / "gw-data"
    data.mkdir(exist_ok=True)
    gw = suite.Gateway(binary, data, None)
    # As in the suite, where the gateway is pinned to one CPU (so one worker) but valgrind
    # would otherwise see two.
    gw.workers = 1
    gw.start(emu_url)
    gw.import_account(github_token)
    return gw


def gateway(args, tmp: Path) -> dict:
    emu, emu_url = suite.start_emulator(args, None)
    emu_port = int(emu_url.rsplit(":", 1)[1].split("/")[0])
    github_token = suite.GITHUB_TOKEN_RE.search(
        (ROOT / "catalog/integrations/github/emulator.yaml").read_text()).group(1)
    out: dict = {"ir_per_request": {}, "ctxt_switches_per_request": {}}
    try:
        # Native run: context switches per request, all threads.
        (tmp / "native").mkdir()
        gw = start_gateway(args.gateway_bin, tmp / "native", emu_url, github_token)
        try:
            for name, (port, path, h) in endpoints(gw).items():
                url = f"http://127.0.0.1:{port}{path}"
                oha(url, h, args.warm)
                c0 = ctxt_switches(gw.pid)
                oha(url, h, args.requests)
                out["ctxt_switches_per_request"][name] = (ctxt_switches(gw.pid) - c0) / args.requests
        finally:
            gw.stop()
        # Under callgrind.
        (tmp / "cg").mkdir()
        m = Measured(tmp / "cg", "unigate")
        gw = start_gateway(m.wrap(args.gateway_bin), tmp / "cg", emu_url, github_token)
        try:
            for name, (port, path, h) in endpoints(gw).items():
                ir = m.measure(gw.pid, f"http://127.0.0.1:{port}{path}", h, args.requests, args.warm)
                out["ir_per_request"][name] = ir
                log(f"unigate {name}: {ir:,.0f} Ir/request, "
                    f"{out['ctxt_switches_per_request'][name]:.2f} context switches/request")
        finally:
            gw.stop()
        # nginx in front of the same emulator, one process (no master), under callgrind.
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if Path(nginx).exists():
            out["nginx"] = nginx_ir(args, tmp, nginx, emu_port, github_token)
        out["forward"] = forward_ir(args, tmp, emu_url, github_token)
    finally:
        emu.stop()
    return out


def forward_ir(args, tmp: Path, emu_url: str, github_token: str) -> dict:
    """`bench forward`, the bare axum server with a reqwest or a hyper-util client, and hyper's
    HTTP/1 server alone with the hyper-util client: the floor of the stack, and its server's
    layers."""
    d = tmp / "forward"
    d.mkdir()
    h = {"Authorization": f"Bearer {github_token}"}
    result = {}
    for server, client in (("axum", "reqwest"), ("axum", "hyper"), ("hyper", "hyper")):
        name = f"{server}+{client}"
        m = Measured(d, f"forward-{server}-{client}")
        p = suite.Proc([m.wrap(args.driver_bin), "forward", "--to", emu_url, "--client", client,
                        "--server", server],
                       stdout=subprocess.PIPE, stdin=subprocess.PIPE)
        try:
            assert p.p.stdout
            line = p.p.stdout.readline()
            if not line.startswith("READY "):
                raise RuntimeError(f"bench forward did not start: {line!r}")
            url = line.split()[1] + "/orgs/octo-org"
            result[name] = m.measure(p.pid, url, h, args.requests, args.warm)
        finally:
            p.stop()
        log(f"forward ({name}): {result[name]:,.0f} Ir/request")
    return result


def nginx_ir(args, tmp: Path, nginx: str, emu_port: int, github_token: str) -> dict:
    d = tmp / "nginx"
    d.mkdir()
    port = suite.free_port()
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = d / "nginx.conf"
    conf.write_text(f"""{user}worker_processes 1;
master_process off;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  upstream emulator {{ server 127.0.0.1:{emu_port}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{ proxy_pass http://emulator; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}
}}
""")
    h = {"Authorization": f"Bearer {github_token}"}
    url = f"http://127.0.0.1:{port}/orgs/octo-org"
    result = {}
    for mode in ("native", "callgrind"):
        m = Measured(d, "nginx")
        binary = m.wrap(nginx) if mode == "callgrind" else nginx
        p = suite.Proc([binary, "-c", str(conf), "-p", str(d)])
        try:
            deadline = time.time() + 60
            while True:
                try:
                    if suite.request(port, "GET", "/orgs/octo-org", h, timeout=5)[0] == 200:
                        break
                except OSError:
                    pass
                if time.time() > deadline:
                    raise RuntimeError("nginx did not start")
                time.sleep(0.1)
            if mode == "native":
                oha(url, h, args.warm)
                c0 = ctxt_switches(p.pid)
                oha(url, h, args.requests)
                result["ctxt_switches_per_request"] = (ctxt_switches(p.pid) - c0) / args.requests
            else:
                result["ir_per_request"] = m.measure(p.pid, url, h, args.requests, args.warm)
        finally:
            p.stop()
    log(f"nginx: {result['ir_per_request']:,.0f} Ir/request, "
        f"{result['ctxt_switches_per_request']:.2f} context switches/request")
    return result


def mapping(args, tmp: Path) -> dict:
    d = tmp / "mapping"
    d.mkdir()
    listed = subprocess.run([args.driver_bin, "mapping", "--evals", "0"], capture_output=True, text=True,
                            check=True, timeout=600).stdout
    providers = [json.loads(line)["provider"] for line in listed.splitlines() if line.startswith("{")]
    out = {}
    for prov in providers:
        if args.provider and prov != args.provider:
            continue
        dump = d / f"{prov}.out"
        subprocess.run(["valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=*eval_loop*",
                        f"--callgrind-out-file={dump}", args.driver_bin, "mapping", "--evals",
                        str(args.mapping_evals), "--only", prov],
                       capture_output=True, text=True, check=True, timeout=3600)
        out[prov] = totals(dump) / args.mapping_evals
        log(f"mapping {prov}: {out[prov]:,.0f} Ir/evaluation")
    return out


def report(res: dict, base: dict | None) -> str:
    def row(name: str, ir: float, old: float | None, extra: str = "") -> str:
        if old:
            return f"| {name} | {old:,.0f} | {ir:,.0f} | {old / ir:.2f} ×{extra} |"
        return f"| {name} | {ir:,.0f}{extra} |"

    L = []
    g = res.get("gateway")
    if g:
        bg = (base or {}).get("gateway", {})
        L += ["Instructions per request (all threads of the process):", ""]
        L += ["| Endpoint | before Ir | after Ir | fewer | ctx switches before → after |",
              "|---|---:|---:|---:|---:|"] if bg else ["| Endpoint | Ir | ctx switches |", "|---|---:|---:|"]
        for name, ir in g["ir_per_request"].items():
            cs = g["ctxt_switches_per_request"].get(name, 0.0)
            if bg:
                ocs = bg["ctxt_switches_per_request"].get(name, 0.0)
                L.append(row(name, ir, bg["ir_per_request"].get(name)).rstrip("|") + f"| {ocs:.2f} → {cs:.2f} |")
            else:
                L.append(f"| {name} | {ir:,.0f} | {cs:.2f} |")
        if g.get("nginx"):
            n = g["nginx"]
            L.append(f"| nginx (proxy to the same emulator) | | {n['ir_per_request']:,.0f} | | "
                     f"{n['ctxt_switches_per_request']:.2f} |" if bg else
                     f"| nginx | {n['ir_per_request']:,.0f} | {n['ctxt_switches_per_request']:.2f} |")
        for name, ir in g.get("forward", {}).items():
            L.append(f"| {name} (`bench forward`, no gateway logic) | | {ir:,.0f} | | |" if bg else
                     f"| {name} (`bench forward`, no gateway logic) | {ir:,.0f} | |")
        if g.get("nginx"):
            L += ["", f"Unigate `unified` get / nginx: {g['ir_per_request']['get_unified'] / g['nginx']['ir_per_request']:.1f} × "
                      "the instructions per request."]
        L.append("")
    mp = res.get("mapping")
    if mp:
        bm = (base or {}).get("mapping", {})
        L += ["Instructions per mapping evaluation (`Expr::eval` on a `serde_json::Value`):", ""]
        L += ["| Provider | before Ir | after Ir | fewer |", "|---|---:|---:|---:|"] if bm else \
             ["| Provider | Ir |", "|---|---:|"]
        for prov, ir in mp.items():
            L.append(row(prov, ir, bm.get(prov)))
        if bm:
            import math
            common = [p for p in mp if p in bm]
            gm = math.exp(sum(math.log(bm[p] / mp[p]) for p in common) / len(common))
            L += ["", f"Geometric mean: {gm:.2f} × fewer instructions."]
    return "\n".join(L)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gateway-bin", default=str(ROOT / "target/release/unigate"))
    ap.add_argument("--emulator-bin", default=str(ROOT / "target/release/unigate-emulator"))
    ap.add_argument("--driver-bin", default=str(ROOT / "target/release/examples/bench"))
    ap.add_argument("--only", choices=["gateway", "mapping"], default=None)
    ap.add_argument("--provider", default=None, help="one provider for the mapping counts")
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--warm", type=int, default=200)
    ap.add_argument("--mapping-evals", type=int, default=1000)
    ap.add_argument("--out", default=None, help="write the counts as JSON here")
    ap.add_argument("--compare", default=None, help="a JSON file of an earlier run, printed side by side")
    ap.add_argument("--keep", default=None, help="keep the callgrind dumps in this folder (callgrind_annotate)")
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        log("valgrind is not installed (apt-get install valgrind)")
        return 1
    res: dict = {}
    with tempfile.TemporaryDirectory(prefix="unigate-callgrind-") as t:
        tmp = Path(args.keep) if args.keep else Path(t)
        tmp.mkdir(parents=True, exist_ok=True)
        if args.only in (None, "gateway"):
            res["gateway"] = gateway(args, tmp)
        if args.only in (None, "mapping"):
            res["mapping"] = mapping(args, tmp)
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1))
    base = json.loads(Path(args.compare).read_text()) if args.compare else None
    print(report(res, base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
