#!/usr/bin/env python3
"""CPU per thread while the benchmark runs: every second, the CPU time each thread of the
bench process (runtime workers, the audit writer) and of h2load used in that second, and how
much of the machine was idle. 1.00 is one core.

    python3 benches/threads.py 40 & BENCH_QUICK=1 BENCH_ONLY=warm benches/run.sh

Reads /proc only (Linux); a thread that used no CPU in a second is left out of its line.
"""
import collections
import os
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def watched(name: str) -> bool:
    # The bench binary is named after its target (gateway-<hash>); h2load is its child.
    return name.startswith("gateway") or name == "h2load"


def sample():
    """CPU ticks per (process, thread name), and the machine's idle and total ticks."""
    used = collections.Counter()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            process = open(f"/proc/{pid}/comm").read().strip()
            if not watched(process):
                continue
            for tid in os.listdir(f"/proc/{pid}/task"):
                stat = open(f"/proc/{pid}/task/{tid}/stat").read()
                name = stat[stat.index("(") + 1 : stat.rindex(")")]
                fields = stat[stat.rindex(")") + 2 :].split()
                used[f"{process}:{name}"] += int(fields[11]) + int(fields[12])  # utime + stime
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread or process that ended meanwhile
    cpu = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    return used, cpu[3] + cpu[4], sum(cpu)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60
    before, idle0, total0 = sample()
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        time.sleep(1)
        now, idle1, total1 = sample()
        idle = 100 * (idle1 - idle0) / max(total1 - total0, 1)
        threads = " ".join(
            f"{name}={(now[name] - before.get(name, 0)) / TICKS:.2f}"
            for name in sorted(now)
            if now[name] > before.get(name, 0)
        )
        print(f"{time.monotonic() - start:5.0f} s  idle {idle:3.0f} %  {threads}", flush=True)
        before, idle0, total0 = now, idle1, total1


if __name__ == "__main__":
    main()
