"""AMI intake throughput: framer + decision machine vs panoramisk's own parser.

A very busy PBX day as one AMI byte stream of at least 200,000 events: the
real Asterisk 22 recordings, each copy given its own Uniqueids/Linkedids so
every copy is a new call, mixed with generated calls that overlap (ten
ringing at once). The same 64 KiB chunks go through

- baseline: panoramisk's AMIProtocol.data_received with a no-op handler;
- textback: AmiFramer.feed and CallTracker.feed on every message.

Each side runs several times, alternating, and the best run counts. Memory:
the process's RSS after each quarter of the stream; it must not grow with
the number of finished calls. Prints a table, then one JSON line.

    python bench/ami_intake.py [--events 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import resource
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from panoramisk.ami_protocol import AMIProtocol

from bridge.ami.framer import AmiFramer
from bridge.detection.rules import DetectionRules
from bridge.detection.tracker import CallTracker
from bridge.sim import callgen

TRACES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "asterisk"
CHUNK = 65536
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def busy_day(min_events: int) -> tuple[list[bytes], int]:
    """The stream as CHUNK-sized pieces, and how many events it holds."""
    recordings = []
    for path in sorted(TRACES.glob("*.ami")):
        data = path.read_bytes()
        body = data.split(b"\r\n\r\n", 2)[2]  # without banner, Login response, FullyBooted
        recordings.append(body)
    parts: list[bytes] = [callgen.BANNER]
    events = 0
    copy = 0
    pbx = callgen.Pbx(epoch=1_700_000_000)
    names = sorted(callgen.SCENARIOS)
    while events < min_events:
        copy += 1
        # Real events, renumbered: every copy is a different set of calls.
        for body in recordings:
            renumbered = body.replace(b": 1795617", f": {copy + 1_000_000:07d}".encode())
            parts.append(renumbered)
            events += renumbered.count(b"\r\n\r\n")
        for start in range(0, len(names), 10):  # ten generated calls ringing at once
            for chunk in callgen.interleave(
                pbx, (callgen.SCENARIOS[n][0](pbx) for n in names[start : start + 10])
            ):
                parts.append(chunk)
                events += chunk.count(b"\r\n\r\n")
    stream = b"".join(parts)
    return [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)], events


def run_baseline(chunks: list[bytes]) -> float:
    protocol = AMIProtocol()
    protocol.connection_made(SimpleNamespace(write=lambda b: None, close=lambda: None))
    protocol.factory = SimpleNamespace(dispatch=lambda message: None)
    protocol.encoding = "utf8"
    protocol.log = logging.getLogger("bench.panoramisk")
    start = time.perf_counter()
    for chunk in chunks:
        protocol.data_received(chunk)
    return time.perf_counter() - start


def run_textback(
    chunks: list[bytes], checkpoints: dict[int, float] | None = None
) -> tuple[float, int, CallTracker]:
    rules = DetectionRules(
        frozenset({"from-trunk"}), frozenset({"from-internal"}), {"+15125550100": "Main line"}
    )
    framer = AmiFramer()
    tracker = CallTracker(rules)
    feed = tracker.feed
    decisions = 0
    quarter = max(1, len(chunks) // 4)
    elapsed = 0.0
    for index, chunk in enumerate(chunks, start=1):
        start = time.perf_counter()
        for message in framer.feed(chunk):
            if feed(message, NOW) is not None:
                decisions += 1
        elapsed += time.perf_counter() - start
        if checkpoints is not None and index % quarter == 0:
            checkpoints[index // quarter] = rss_mb()
    return elapsed, decisions, tracker


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    chunks, events = busy_day(args.events)
    logging.disable(logging.CRITICAL)  # neither side may spend time logging
    gc.collect()

    checkpoints: dict[int, float] = {}
    _, decisions, tracker = run_textback(chunks, checkpoints)  # warm-up and memory profile
    baseline_runs, textback_runs = [], []
    for _ in range(args.rounds):
        baseline_runs.append(run_baseline(chunks))
        textback_runs.append(run_textback(chunks)[0])
    baseline, ours = min(baseline_runs), min(textback_runs)
    ratio = baseline / ours  # >1: textback does parse + decide faster than panoramisk parses

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    growth = checkpoints.get(4, 0.0) - checkpoints.get(1, 0.0)
    rows = [
        ("events in the stream", f"{events:,}"),
        ("calls decided", f"{decisions:,}"),
        ("calls left open at the end", f"{tracker.open_calls}"),
        ("panoramisk parse only, events/s", f"{events / baseline:,.0f}"),
        ("textback parse + decide, events/s", f"{events / ours:,.0f}"),
        ("ratio (target >= 0.8)", f"{ratio:.2f}"),
        (
            "RSS after 1/4, 2/4, 3/4, 4/4 (MB)",
            ", ".join(f"{checkpoints[q]:.1f}" for q in sorted(checkpoints)),
        ),
        ("RSS growth 1/4 -> 4/4 (MB)", f"{growth:+.1f}"),
        ("peak RSS incl. the stream (MB)", f"{peak:.1f}"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"AMI intake, best of {args.rounds} rounds, {len(chunks)} chunks of {CHUNK} bytes")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    print(
        json.dumps(
            {
                "events": events,
                "decisions": decisions,
                "events_per_s": round(events / ours),
                "baseline_events_per_s": round(events / baseline),
                "ratio": round(ratio, 3),
                "rss_growth_mb": round(growth, 1),
                "peak_rss_mb": round(peak, 1),
                "open_calls_end": tracker.open_calls,
            }
        )
    )


if __name__ == "__main__":
    main()
