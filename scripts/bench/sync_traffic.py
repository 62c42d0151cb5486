#!/usr/bin/env python3
"""What a sync server sends to its clients per change (issue 25).

Stock automerge-repo 2.x clients (tests/interop/traffic.mjs) join one
document on raptorflow-sync (release build, fresh SQLite file) and on the
reference Node automerge-repo server (tests/interop/node_server.mjs), in the
same run; some of them edit concurrently. Prints, per server and size, the
frames and bytes the clients received per change and the time from the last
edit until every client had every change, with ours / Node ratios.

Run: cargo build --release -p raptorflow-sync && npm ci --prefix tests/interop &&
     python3 scripts/bench/sync_traffic.py [--sizes 10,100,300] [--editors 10]
     [--changes 10] [--json] [--server PATH] [--baseline PATH]

--server PATH runs another raptorflow-sync build as ours; --baseline PATH adds
a second raptorflow-sync build to the same run (e.g. the previous commit's),
with its ratio to ours.

--shutdown N: instead, N clients edit (changes 1 ms apart, 5,000 each) and the
server gets SIGTERM 2 s after they start; prints how long it took to exit (goal: 5 s,
after flushing what it acknowledged).
"""

import argparse
import json
import signal
import time
import os
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INTEROP = ROOT / "tests" / "interop"


def target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


class Ours:
    name = "raptorflow-sync"
    bin = None

    def __init__(self, tmp):
        self.bin = Path(self.bin) if self.bin else target_dir() / "release" / "raptorflow-sync"
        if not self.bin.exists():
            sys.exit(f"{self.bin} is missing: run `cargo build --release -p raptorflow-sync` first")
        self.db = f"sqlite://{tmp}/sync.db"
        self.admin("workspace", "create", "Bench")
        self.token = self.admin("member", "add", "--workspace", "Bench", "--user", "bench", "--role", "owner").strip()
        env = dict(os.environ, RAPTORFLOW_SYNC_MESSAGES_PER_SECOND="10000000", RAPTORFLOW_SYNC_MAX_CONNECTIONS_PER_ADDRESS="0")
        self.log = open(f"{tmp}/server.log", "w")
        self.proc = subprocess.Popen([self.bin, "--db", self.db, "serve", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=self.log, env=env, text=True)
        line = self.proc.stdout.readline().strip()
        self.address = line.removeprefix("listening on ")

    def admin(self, *args):
        out = subprocess.run([self.bin, "--db", self.db, "admin", *args], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(out.stderr)
        return out.stdout

    def url(self, _peer):
        request = urllib.request.Request(f"http://{self.address}/api/v1/tickets", method="POST", headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request) as response:
            ticket = json.load(response)["ticket"]
        return f"ws://{self.address}/sync?ticket={ticket}"

    def counters(self):
        with urllib.request.urlopen(f"http://{self.address}/metrics") as response:
            text = response.read().decode()
        return {name: float(value) for name, value in (line.split()[:2] for line in text.splitlines() if line and not line.startswith("#"))}

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class Node:
    name = "node automerge-repo"

    def __init__(self, _tmp):
        self.proc = subprocess.Popen(["node", INTEROP / "node_server.mjs"], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        self.port = line[1]

    def url(self, _peer):
        return f"ws://127.0.0.1:{self.port}"

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def run(server_class, size, editors, changes, pause_ms):
    with tempfile.TemporaryDirectory() as tmp:
        server = server_class(tmp)
        try:
            args = ["node", INTEROP / "traffic.mjs", "--editors", str(editors), "--changes", str(changes), "--pause-ms", str(pause_ms), "--timeout-ms", "120000"]
            for i in range(size):
                peer = f"bench/traffic-{size}-{i}"
                args += ["--client", f"{peer}={server.url(peer)}"]
            out = subprocess.run(args, capture_output=True, text=True)
            if out.returncode != 0:
                return {"error": out.stderr.strip()[-300:]}
            return json.loads(out.stdout.strip().splitlines()[-1])
        finally:
            server.stop()


def shutdown(size, editors, changes):
    with tempfile.TemporaryDirectory() as tmp:
        server = Ours(tmp)
        args = ["node", INTEROP / "traffic.mjs", "--editors", str(editors), "--changes", str(changes), "--pause-ms", "1", "--timeout-ms", "60000"]
        for i in range(size):
            args += ["--client", f"bench/shutdown-{i}={server.url(i)}"]
        clients = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in clients.stderr:
            if "editing" in line:
                break
        # Two seconds into the editing; the storage counters over them.
        before = server.counters()
        time.sleep(2)
        after = server.counters()
        writes = after["raptorflow_sync_storage_chunk_writes_total"] - before["raptorflow_sync_storage_chunk_writes_total"]
        commits = after["raptorflow_sync_storage_commits_total"] - before["raptorflow_sync_storage_commits_total"]
        print(f"group commit under load: {writes / 2:.0f} chunk writes/s in {commits / 2:.0f} transactions/s ({writes / max(commits, 1):.1f} per transaction)")
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        try:
            code = server.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            code = "killed after 60 s"
        took = time.monotonic() - started
        log = Path(f"{tmp}/server.log").read_text()
        flushed = "stopped" in log
        clients.kill()
        clients.wait()
        print(f"SIGTERM under load ({size} clients, {editors} editing): exited in {took:.2f} s, exit status {code}, storage flushed and stopped: {flushed}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,300")
    parser.add_argument("--editors", type=int, default=10)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--pause-ms", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--shutdown", type=int, metavar="N")
    parser.add_argument("--server", metavar="PATH")
    parser.add_argument("--baseline", metavar="PATH")
    args = parser.parse_args()
    Ours.bin = args.server
    servers = [Ours, Node]
    if args.baseline:
        servers.insert(1, type("Baseline", (Ours,), {"name": "baseline raptorflow-sync", "bin": args.baseline}))
    if args.shutdown:
        shutdown(args.shutdown, min(args.editors, args.shutdown), 5000)
        return
    rows = []
    print("| clients | server | frames per change | KB per change | editing took | last edit to all have all | frames per change by kind |")
    print("|---|---|---|---|---|---|---|")
    for size in [int(s) for s in args.sizes.split(",")]:
        editors = min(args.editors, size)
        results = {}
        for server_class in servers:
            result = run(server_class, size, editors, args.changes, args.pause_ms)
            results[server_class.name] = result
            if "error" in result:
                print(f"| {size} | {server_class.name} | failed: {result['error']} | | |", flush=True)
                continue
            per = result["changes"]
            kinds = ", ".join(f"{kind} {n / per:.1f}" for kind, n in sorted(result.get("kinds", {}).items()))
            print(f"| {size} | {server_class.name} | {result['frames'] / per:.1f} | {result['bytes'] / per / 1024:.1f} | {result['edit_ms']} ms | {result['converge_ms']} ms | {kinds} |", flush=True)
        ours, node = results["raptorflow-sync"], results["node automerge-repo"]
        if "error" not in ours and "error" not in node:
            print(
                f"| {size} | ratio ours / node | {ours['frames'] / max(node['frames'], 1):.2f} | {ours['bytes'] / max(node['bytes'], 1):.2f} | {ours['edit_ms'] / max(node['edit_ms'], 1):.2f} | {ours['converge_ms'] / max(node['converge_ms'], 1):.2f} |",
                flush=True,
            )
        base = results.get("baseline raptorflow-sync")
        if base and "error" not in ours and "error" not in base:
            print(
                f"| {size} | ratio ours / baseline | {ours['frames'] / max(base['frames'], 1):.2f} | {ours['bytes'] / max(base['bytes'], 1):.2f} | {ours['edit_ms'] / max(base['edit_ms'], 1):.2f} | {ours['converge_ms'] / max(base['converge_ms'], 1):.2f} |",
                flush=True,
            )
        rows.append({"clients": size, "editors": editors, **{k: v for k, v in results.items()}})
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
