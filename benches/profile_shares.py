"""Cuts benches/profile.sh's perf.data into the warm rows' phases and tells where the CPU goes.

For each phase named in phases.txt (written by the benchmark with BENCH_PHASES): its stacks in
inferno's folded format and a flame graph, and, in shares.txt, the CPU per 1,000 requests of the
gateway's process (h2load, the load generator, left out) by part. Requests per second come from
table.md, the benchmark's own rows. Usage: python3 benches/profile_shares.py target/profile
"""

import re
import subprocess
import sys
from pathlib import Path

# A sample goes to the part of its innermost frame that names one (walking from the leaf
# towards the thread's start): where the CPU was spent, not who called it. The audit writer's
# thread is one part whatever it runs.
AUDIT_THREAD = "audit writer thread (chain, hash, write, fsync)"
PARTS = [
    ("allocator (malloc, free)", r"malloc|free|realloc|cfree|_int_"),
    ("kernel (sockets, futex, epoll)", r"^\S+ \[unknown\]|entry_SYSCALL|syscall|__libc_sendmsg|writev|epoll_wait|__GI___libc_read|recv"),
    ("response encoding (prost)", r"prost::"),
    ("tracing spans and events", r"tracing|opentelemetry"),
    ("metrics", r"metrics::|metrics_exporter"),
    ("audit record, its serialization and hand-off, in the call", r"registry_gateway::audit::|Call::audit|sha2::|serde_json::"),
    ("decision (facts, rules, reasons)", r"registry_gateway::decision::"),
    ("registry look-up through guard and cache", r"registry_gateway::resilience::|moka::"),
    ("the rest of the gateway (edge, access, conversion)", r"registry_gateway::|gateway::Ceiling"),
    ("HTTP/2 and gRPC transport (h2, hyper, tonic, tower)", r"h2::|hyper::|hyper_util::|tonic::|tower::|http::|bytes::"),
    ("tokio scheduler and timers", r"tokio::"),
]
OTHER = "other"


def script(data: Path, start: float, end: float) -> str:
    """perf script's text of the samples between start and end."""
    return subprocess.run(
        ["perf", "script", "-i", str(data), "--time", f"{start},{end}"],
        capture_output=True, text=True, check=True,
    ).stdout


def samples(text: str):
    """(thread name, frames) of each sample of the gateway's process (h2load left out)."""
    for block in text.split("\n\n"):
        lines = [l for l in block.splitlines() if l.strip()]
        if not lines:
            continue
        comm = lines[0].split()[0]
        if comm.startswith("h2load"):
            continue
        yield comm, [l.strip() for l in lines[1:]]


def part_of(comm: str, frames: list[str]) -> str:
    if comm.startswith("audit-wr"):
        return AUDIT_THREAD
    for frame in frames:
        for name, pattern in PARTS:
            if re.search(pattern, frame):
                return name
    return OTHER


def main(out: Path) -> None:
    rates = {}
    for line in (out / "table.md").read_text().splitlines():
        m = re.match(
            r"\| (?:ceiling: bare tonic, canned|warm) (\w+)(.*?)\| (\d+) req/s(?: vs (\d+))?", line)
        if m:
            rpc, rest, rate, ceiling = m.groups()
            # The demo row names its phase "(demo)" and carries its own ceiling's rate.
            demo = "_(demo)" if "demo defaults" in rest else ""
            side = "ceiling" if line.startswith("| ceiling") else "gateway"
            rates[f"{side}_{rpc}{demo}"] = int(rate)
            if demo and ceiling:
                rates[f"ceiling_{rpc}{demo}"] = int(ceiling)
    report = []
    for line in (out / "phases.txt").read_text().splitlines():
        label, start, end = line.split()
        start, end = float(start), float(end)
        text = script(out / "perf.data", start, end)
        counts: dict[str, int] = {}
        for comm, frames in samples(text):
            part = part_of(comm, frames)
            counts[part] = counts.get(part, 0) + 1
        total = sum(counts.values())
        requests = rates.get(label, 0) * (end - start)
        # 499 samples a second per busy thread: one sample is about 2 ms of CPU.
        per_request_us = total * (1e6 / 499) / requests if requests else float("nan")
        report.append(f"{label}: {total} samples, {rates.get(label, 0)} req/s, "
                      f"{per_request_us:.1f} µs of CPU per request")
        for name in [AUDIT_THREAD] + [n for n, _ in PARTS] + [OTHER]:
            if counts.get(name):
                share = counts[name] / total
                report.append(f"  {share * 100:5.1f} %  {per_request_us * share:5.1f} µs  {name}")
        folded = subprocess.run(["inferno-collapse-perf"], input=text,
                                capture_output=True, text=True, check=True).stdout
        (out / f"{label}.folded").write_text(folded)
        svg = subprocess.run(["inferno-flamegraph", "--title", label], input=folded,
                             capture_output=True, text=True, check=True).stdout
        (out / f"{label}.svg").write_text(svg)
    (out / "shares.txt").write_text("\n".join(report) + "\n")
    print("\n".join(report))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "target/profile"))
