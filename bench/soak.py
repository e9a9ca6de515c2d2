#!/usr/bin/env python3
"""Soak: the gateway at half its saturation rate for a long while, watched for growth.

Runs through `bench/run.sh --soak [--minutes N]` (which builds the release binaries). One
gateway (SQLite, request log on, its row cap lowered with `--log-cap` so that a short soak
reaches it) in front of GitHub's emulator, the same `get` as section 1 of BENCHMARKS.md.
First a closed-loop saturation run (`oha -c 32`, 5 s) finds the rate; then `oha -q RATE`
holds half of it for the whole soak while, every `--interval` seconds, the gateway's
resident memory, open file descriptors and database size (the SQLite file with its WAL) are
sampled. Writes bench/soak.svg (the plot) and bench/SOAK.md (the table and the slopes),
and splices SOAK.md into BENCHMARKS.md between its soak markers. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import suite  # noqa: E402  (the suite's process, gateway and load helpers)

ROOT = suite.ROOT
START, END = "<!-- soak:start -->", "<!-- soak:end -->"


def fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def db_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("unigate.db*") if p.is_file())


def oha(url: str, headers: dict, seconds: float, rate: float | None) -> dict:
    tool = suite.cargo_tool("oha")
    if not tool:
        raise SystemExit("the soak needs oha (cargo install oha --locked)")
    args = suite.pinned(1) + [tool, "--no-tui", "--output-format", "json", "-z", f"{max(1, round(seconds))}s",
                              "-c", "32"]
    if rate:
        args += ["-q", f"{rate:.0f}", "--latency-correction"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    args.append(url)
    p = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 120)
    j = json.loads(p.stdout)
    codes = j.get("statusCodeDistribution", {})
    return {
        "rps": j["summary"]["requestsPerSec"],
        "requests": sum(codes.values()),
        "non2xx": sum(v for k, v in codes.items() if not str(k).startswith("2")),
        "errors": sum(j.get("errorDistribution", {}).values()),
        "p99_ms": j.get("latencyPercentiles", {}).get("p99", 0) * 1000,
    }


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) in value per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    den = sum((t - mx) ** 2 for t, _ in points)
    return 0.0 if den == 0 else sum((t - mx) * (v - my) for t, v in points) / den * 3600


def svg(samples: list[dict], title: str) -> str:
    """Two panels sharing the time axis: RSS (MiB) and database size (MiB); fds in the legend."""
    w, h, pad, gap = 720, 420, 56, 40
    ph = (h - 2 * pad - gap) / 2
    t_max = max(s["t"] for s in samples) or 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" '
           f'font-size="11"><rect width="100%" height="100%" fill="white"/>',
           f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="13">{title}</text>']
    panels = [("rss_mib", "gateway RSS (MiB)", "#1f77b4"), ("db_mib", "SQLite database + WAL (MiB)", "#d62728")]
    for i, (key, label, colour) in enumerate(panels):
        top = pad + i * (ph + gap)
        v_max = max(s[key] for s in samples) * 1.15 or 1
        x = lambda t: pad + (w - 2 * pad) * t / t_max  # noqa: E731
        y = lambda v: top + ph - ph * v / v_max  # noqa: E731
        out.append(f'<rect x="{pad}" y="{top}" width="{w - 2 * pad}" height="{ph}" fill="none" stroke="#999"/>')
        for k in range(5):
            v = v_max * k / 4
            out.append(f'<text x="{pad - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.0f}</text>')
            out.append(f'<line x1="{pad}" x2="{w - pad}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eee"/>')
        pts = " ".join(f"{x(s['t']):.1f},{y(s[key]):.1f}" for s in samples)
        out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{pad + 6}" y="{top + 14}" fill="{colour}">{label}</text>')
    base = h - pad + 16
    for k in range(5):
        t = t_max * k / 4
        out.append(f'<text x="{pad + (w - 2 * pad) * k / 4:.1f}" y="{base}" text-anchor="middle">'
                   f'{t / 60:.1f} min</text>')
    out.append("</svg>")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--gateway-bin", default=str(ROOT / "target/release/unigate"))
    ap.add_argument("--emulator-bin", default=str(ROOT / "target/release/unigate-emulator"))
    ap.add_argument("--driver-bin", default=str(ROOT / "target/release/examples/bench"))
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--interval", type=float, default=30, help="seconds between samples")
    ap.add_argument("--log-cap", type=int, default=200_000,
                    help="request_log.max_rows_per_environment for the soak (default 200,000)")
    ap.add_argument("--rate", type=float, default=None, help="requests/s (default: half of saturation)")
    ap.add_argument("--out-dir", default=str(ROOT / "bench"))
    ap.add_argument("--benchmarks", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument("--smoke", action="store_true", help="seconds, not minutes; writes nothing")
    args = ap.parse_args()
    if args.smoke:
        args.minutes, args.interval = 0.2, 3
    seconds = args.minutes * 60
    token = suite.GITHUB_TOKEN_RE.search((ROOT / "catalog/integrations/github/emulator.yaml").read_text()).group(1)
    with tempfile.TemporaryDirectory(prefix="unigate-soak-") as t:
        tmp = Path(t)
        data_dir = tmp / "data"
        gw = suite.Gateway(args.gateway_bin, data_dir, 0)
        gw.extra_config = f"\n[request_log]\nmax_rows_per_environment = {args.log_cap}\n"
        emu, emu_url = suite.start_emulator(args, 1)
        try:
            gw.start(emu_url)
            gw.import_account(token)
            url = f"http://127.0.0.1:{gw.port}/unified/user-directory/organizations/octo-org" \
                  f"?integrated_account_id={gw.account}"
            rate = args.rate
            if rate is None:
                sat = oha(url, gw.auth(), 2 if args.smoke else 5, None)
                rate = sat["rps"] / 2
                suite.log(f"saturation {sat['rps']:.0f} req/s: soaking at {rate:.0f} req/s for {args.minutes} min")
            load: dict = {}
            runner = threading.Thread(target=lambda: load.update(oha(url, gw.auth(), seconds, rate)))
            t0 = time.perf_counter()
            runner.start()
            samples = []
            while True:
                now = time.perf_counter() - t0
                st = suite.proc_status(gw.pid)
                samples.append({"t": now, "rss_mib": st.get("VmRSS", 0) / 1024, "fds": fds(gw.pid),
                                "db_mib": db_bytes(data_dir) / 1048576, "loaded": runner.is_alive()})
                s = samples[-1]
                suite.log(f"{now:6.0f} s: RSS {s['rss_mib']:.1f} MiB, {s['fds']} fds, database {s['db_mib']:.1f} MiB")
                if not runner.is_alive():
                    break
                runner.join(timeout=args.interval)
            runner.join()
            samples[-1]["loaded"] = False  # taken as the load ended
        finally:
            gw.stop()
            emu.stop()
    if args.smoke:
        print(json.dumps({"load": load, "samples": samples}))
        return 0
    # The first minute is warm-up (pools, caches, the database's first pages); slopes after it.
    # Only samples taken under load count (the last one, after the load ended, does not).
    steady = [s for s in samples if s["t"] >= 60 and s["loaded"]] or samples
    rss_slope = slope_per_hour([(s["t"], s["rss_mib"]) for s in steady])
    half = [s for s in steady if s["t"] >= seconds / 2] or steady
    rss_slope_late = slope_per_hour([(s["t"], s["rss_mib"]) for s in half])
    fd_range = (min(s["fds"] for s in steady), max(s["fds"] for s in steady))
    row_bytes = 390
    cap_mib = args.log_cap * row_bytes / 1048576
    date = time.strftime("%Y-%m-%d %H:%M %Z")
    out_dir = Path(args.out_dir)
    (out_dir / "soak.svg").write_text(svg(samples, f"Soak {date}: {rate:.0f} req/s for {args.minutes:g} min"))
    L = [START, "## 6. Soak", "",
         f"`bench/run.sh --soak --minutes {args.minutes:g}` on {date}: one gateway (release build, SQLite, request "
         f"log on with `request_log.max_rows_per_environment = {args.log_cap:,}`) held at {rate:.0f} req/s "
         f"(half of its {2 * rate:.0f} req/s saturation, `oha -q` open loop) on section 1's unified `get`, sampled "
         f"every {args.interval:g} s. {load.get('requests', 0):,} calls, {load.get('non2xx', 0)} not 2xx, "
         f"{load.get('errors', 0)} transport errors (oha counts the calls its deadline cut off); achieved {load.get('rps', 0):.0f} req/s, p99 "
         f"{load.get('p99_ms', 0):.2f} ms.", "",
         "![soak](bench/soak.svg)", "",
         f"RSS slope after the first minute: **{rss_slope:+.1f} MiB/hour**, over the second half "
         f"**{rss_slope_late:+.1f} MiB/hour**; open files {fd_range[0]}–{fd_range[1]} under load. "
         f"The database grows until the log holds its cap ({args.log_cap:,} rows, about {cap_mib:.0f} MiB at "
         f"~{row_bytes} B a row), then stays bounded: the cap trims every minute and SQLite reuses the freed pages.",
         "", "| time | RSS | open fds | database + WAL |", "|---:|---:|---:|---:|"]
    for s in samples:
        L.append(f"| {s['t'] / 60:.1f} min | {s['rss_mib']:.1f} MiB | {s['fds']} | {s['db_mib']:.1f} MiB |")
    L += ["", END]
    text = "\n".join(L) + "\n"
    (out_dir / "SOAK.md").write_text(text)
    bench = Path(args.benchmarks)
    suite.splice(bench, START, END, text)
    suite.log(f"RSS slope {rss_slope:+.2f} MiB/h; wrote {out_dir / 'SOAK.md'}, {out_dir / 'soak.svg'}, {bench}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
