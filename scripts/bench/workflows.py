#!/usr/bin/env python3
"""The swarm's workflows on each local model, offline (issue 24's benchmark).

For every model named (default: each installed local LLM of the manifest
that has a chat template), in a fresh data directory with networking off:

1. the anchor: one constrained `ask` with a fixed prompt and schema, whose
   answer tokens per second the workflow figures are divided by;
2. the onboarding of tests/fixtures/onboarding (business file and two
   documents) to its approval, approved;
3. one campaign cycle on the brand of tests/fixtures/campaign: the plan of a
   campaign on Google Ads, LinkedIn and email, approved, then the assets of
   4 of its moves (round-robin over the channels), each approved.

4. the Google RSA writer (MUSE-001) alone on the 10 briefs of
   tests/fixtures/campaign/rsa-briefs.json.

It prints, per model: wall time and tokens of the onboarding and of the
cycle, the share of agent steps whose first generation validated, and the
share of Google responsive search ads whose first draft passes Guardian's
deterministic checks (no blocking finding, with the brand's rules), with
the rules the others broke.

Run from the repository, with a release build and the models installed:

    cargo build --locked --release -p rf-cli
    dbus-run-session -- scripts/test-services.sh \\
        python3 scripts/bench/workflows.py [--json FILE] [MODEL ...]

`--binary` picks another raptorflow build; `--threads N` is passed on as
CANDLE_NUM_THREADS. Networking is cut with `unshare --user --net` for every
command that may call a model.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ONBOARDING = REPO / "tests/fixtures/onboarding"
CAMPAIGN = REPO / "tests/fixtures/campaign"
ANCHOR_PROMPT = "Describe a coffee subscription that ships beans roasted this week, for its product page."
# Long enough (about 150 tokens) that loading the model is a small part of it.
ANCHOR_SCHEMA = {
    "type": "object",
    "properties": {"description": {"type": "string", "minLength": 600, "maxLength": 700}},
    "required": ["description"],
    "additionalProperties": False,
}
RSA_BRIEFS = CAMPAIGN / "rsa-briefs.json"


class Failed(Exception):
    pass


class Cli:
    def __init__(self, binary, data_dir, model, threads):
        self.binary = binary
        self.env = dict(os.environ)
        self.env.update({"RAPTORFLOW_DATA_DIR": str(data_dir), "RAPTORFLOW_USER": "ana", "RAPTORFLOW_LOCAL_MODEL": model})
        if threads:
            self.env["CANDLE_NUM_THREADS"] = str(threads)

    def run(self, *args, offline=False):
        command = [self.binary, "--json", *args]
        if offline:
            command = ["unshare", "--user", "--map-root-user", "--net", "--", *command]
        done = subprocess.run(command, env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise Failed(f"{' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
        # Run commands print progress lines, then the run as a document: the
        # last document counts.
        decoder, text, at, last = json.JSONDecoder(), done.stdout, 0, None
        while at < len(text):
            if text[at] in "{[":
                last, at = decoder.raw_decode(text, at)
            else:
                newline = text.find("\n", at)
                at = len(text) if newline < 0 else newline + 1
        return last


def approve(cli, shown):
    waiting = [s for s in shown["steps"] if s["kind"] == "approval" and s["status"] == "waiting"]
    if not waiting:
        raise Failed(f"run {shown['run']['id']} has no waiting approval (status {shown['run']['status']}: {shown['run'].get('reason')})")
    return cli.run("run", "approve", shown["run"]["id"], str(waiting[0]["step"]), offline=True)


def agent_steps(shown):
    return [s for s in shown["steps"] if s["kind"] == "agent"]


def tally(runs):
    steps = [s for shown in runs for s in agent_steps(shown)]
    return {
        "steps": len(steps),
        "first_try_valid": sum(1 for s in steps if s["status"] == "done" and s["calls"] == 1),
        "failed": sum(1 for s in steps if s["status"] == "failed"),
        "input_tokens": sum(s["input_tokens"] for s in steps),
        "output_tokens": sum(s["output_tokens"] for s in steps),
    }


def anchor(cli):
    """One constrained ask in its own process (model load included, as in
    every workflow command): answer tokens per second of its latency."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as schema:
        json.dump(ANCHOR_SCHEMA, schema)
    answer = cli.run(
        "ask", "--provider", "local", "--schema", schema.name, "--max-tokens", "400", "--temperature", "0", "--no-cache", ANCHOR_PROMPT, offline=True
    )
    os.unlink(schema.name)
    outcome = answer["outcome"]
    tokens, seconds = outcome["completion"]["usage"]["output_tokens"], outcome["record"]["latency_ms"] / 1000
    return {"seconds": seconds, "output_tokens": tokens, "tokens_per_s": tokens / seconds if seconds else 0.0}


def onboarding(cli):
    workspace = cli.run("workspace", "create", "Fernhill")["id"]
    started = time.monotonic()
    shown = cli.run("onboard", "--workspace", workspace, "--business", str(ONBOARDING / "business.json"), "--docs", str(ONBOARDING / "docs"), offline=True)
    approve(cli, shown)
    elapsed = time.monotonic() - started
    return {"seconds": elapsed, **tally([shown])}


def guardian_rsa(cli, workspace, output):
    """Guardian's verdict on a Google RSA writer's answer, with the brand's rules."""
    asset = {k: output[k] for k in ("headlines", "descriptions", "paths") if k in output}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(asset, f)
    checked = cli.run("guardian", "check", "--platform", "google-ads", "--workspace", workspace, f.name)
    os.unlink(f.name)
    blocking = sorted({f["rule"] for f in checked["findings"] if f["severity"] == "block"})
    return {"verdict": checked["verdict"], "blocking": blocking, "headlines": output.get("headlines")}


def rsa_first_drafts(cli, workspace, shown):
    """Guardian's verdict on each Google RSA writer's first draft in a run."""
    return [
        guardian_rsa(cli, workspace, step["output"])
        for step in agent_steps(shown)
        if step["agent_id"] == "MUSE-001" and (step.get("review") or {}).get("round") == 1 and step.get("output")
    ]


def rsa_sample(cli):
    """The Google RSA writer (MUSE-001) once on each brief of
    tests/fixtures/campaign/rsa-briefs.json, as a one-agent run in the
    campaign fixture's workspace: first drafts, before any review."""
    workspace = cli.run("workspace", "create", "Fernhill")["id"]
    cli.run("workspace", "set-brand", workspace, str(CAMPAIGN / "brand.json"))
    briefs = json.loads(RSA_BRIEFS.read_text())
    started, drafts, runs = time.monotonic(), [], []
    for brief in briefs:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(brief, f)
        shown = cli.run("agent", "run", "MUSE-001", "--workspace", workspace, "--input", f.name, offline=True)
        os.unlink(f.name)
        runs.append(shown)
        step = next((s for s in agent_steps(shown) if s["agent_id"] == "MUSE-001" and s.get("output")), None)
        drafts.append(guardian_rsa(cli, workspace, step["output"]) if step else {"verdict": "failed", "blocking": [], "headlines": None})
    return {
        "seconds": time.monotonic() - started,
        "drafts": len(drafts),
        "pass": sum(1 for d in drafts if d["verdict"] in ("pass", "warn")),
        "results": drafts,
        **tally(runs),
    }


def campaign_cycle(cli, moves_wanted=4):
    workspace = cli.run("workspace", "create", "Fernhill")["id"]
    cli.run("workspace", "set-brand", workspace, str(CAMPAIGN / "brand.json"))
    campaign = cli.run(
        "campaign", "create", "--workspace", workspace, "--goal", "Win 1,500 new subscribers in January",
        "--channel", "google_ads", "--channel", "linkedin", "--channel", "email",
        "--budget", "6000", "--currency", "GBP", "January routines",
    )["id"]
    cli.run("campaign", "edit", campaign, "--start", "2027-01-04", "--end", "2027-01-31")
    started = time.monotonic()
    plan = cli.run("campaign", "plan", "--campaign", campaign, offline=True)
    approve(cli, plan)
    moves = cli.run("campaign", "show", campaign)["moves"]
    by_channel = {}
    for move_id, move in sorted(moves.items(), key=lambda m: m[1].get("title", "")):
        by_channel.setdefault(move["channel"], []).append(move_id)
    chosen = []
    while len(chosen) < moves_wanted and any(by_channel.values()):
        for channel in ("google_ads", "linkedin", "email"):
            if by_channel.get(channel) and len(chosen) < moves_wanted:
                chosen.append(by_channel[channel].pop(0))
    runs, verdicts, assets = [plan], [], []
    for move_id in chosen:
        written = cli.run("assets", "generate", "--campaign", campaign, "--move", move_id, offline=True)
        runs.append(written)
        verdicts += rsa_first_drafts(cli, workspace, written)
        approve(cli, written)
    elapsed = time.monotonic() - started
    shown = cli.run("campaign", "show", campaign)
    for asset in shown["assets"].values():
        assets.append({"kind": asset["content"]["kind"], "blocking": sum(1 for f in asset.get("findings", []) if f["severity"] == "block")})
    return {
        "seconds": elapsed,
        "moves_planned": len(moves),
        "moves_written": len(chosen),
        "assets": assets,
        "rsa_first_drafts": len(verdicts),
        "rsa_first_try_pass": sum(1 for v in verdicts if v["verdict"] in ("pass", "warn")),
        "rsa_results": verdicts,
        **tally(runs),
    }


def installed_chat_models(binary):
    listed = json.loads(subprocess.run([binary, "--json", "models", "list"], capture_output=True, text=True, check=True).stdout)
    return [m["id"] for m in listed["models"] if m["kind"] == "llm" and m["installed"] and m["id"] != "gemma-3-270m-q4_k_m"]


def pct(part, whole):
    return f"{part}/{whole} ({100 * part / whole:.0f} %)" if whole else "n/a"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*")
    parser.add_argument("--binary", default=str(Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "release/raptorflow"))
    parser.add_argument("--threads", type=int)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--only-rsa", action="store_true", help="only the Google RSA writer on the 10 briefs")
    args = parser.parse_args()
    models = args.models or installed_chat_models(args.binary)
    results = {}
    for model in models:
        with tempfile.TemporaryDirectory(prefix="rf-bench-") as data:
            cli = Cli(args.binary, data, model, args.threads)
            result = {}
            try:
                if args.only_rsa:
                    result["rsa"] = rsa_sample(cli)
                    print(f"{model}: RSA sample {result['rsa']['pass']}/{result['rsa']['drafts']} pass", file=sys.stderr, flush=True)
                    results[model] = result
                    continue
                result["anchor"] = anchor(cli)
                print(f"{model}: anchor {result['anchor']['tokens_per_s']:.1f} answer tokens/s", file=sys.stderr, flush=True)
                result["onboarding"] = onboarding(cli)
                print(f"{model}: onboarding {result['onboarding']['seconds']:.0f} s", file=sys.stderr, flush=True)
                result["cycle"] = campaign_cycle(cli)
                print(f"{model}: campaign cycle {result['cycle']['seconds']:.0f} s", file=sys.stderr, flush=True)
                result["rsa"] = rsa_sample(cli)
                print(f"{model}: RSA sample {result['rsa']['pass']}/{result['rsa']['drafts']} pass", file=sys.stderr, flush=True)
                # Measured again at the end: the box's load moves during a run.
                after = anchor(cli)
                result["anchor"]["tokens_per_s"] = (result["anchor"]["tokens_per_s"] + after["tokens_per_s"]) / 2
                result["anchor_after"] = after
            except Failed as err:
                result["error"] = str(err)
                print(f"{model}: FAILED: {err}", file=sys.stderr, flush=True)
            results[model] = result
    print("| model | anchor tok/s | workflow | wall | tokens (prompt + answer) | answer tok/s (ratio to anchor) | first try valid | RSA first-try Guardian pass |")
    print("|---|---|---|---|---|---|---|---|")
    for model, result in results.items():
        if args.only_rsa:
            continue
        rate = result.get("anchor", {}).get("tokens_per_s", 0.0)
        for name in ("onboarding", "cycle"):
            r = result.get(name)
            if not r:
                print(f"| {model} | {rate:.1f} | {name} | failed: {result.get('error', '')[:200]} | | | | |")
                continue
            answer_rate = r["output_tokens"] / r["seconds"]
            ratio = f"{answer_rate / rate:.2f}" if rate else "n/a"
            rsa = pct(r["rsa_first_try_pass"], r["rsa_first_drafts"]) if name == "cycle" else ""
            print(
                f"| {model} | {rate:.1f} | {name} | {r['seconds']:.0f} s | {r['input_tokens']:,} + {r['output_tokens']:,} "
                f"| {answer_rate:.1f} ({ratio}) | {pct(r['first_try_valid'], r['steps'])} | {rsa} |"
            )
    print()
    print("| model | Google RSA first drafts passing Guardian (the 10 briefs, then the cycle's) | blocking rules met | steps valid first try | wall |")
    print("|---|---|---|---|---|")
    for model, result in results.items():
        r = result.get("rsa")
        if not r:
            continue
        cycle = result.get("cycle", {})
        rules = {}
        for d in r["results"] + cycle.get("rsa_results", []):
            for rule in d["blocking"]:
                rules[rule] = rules.get(rule, 0) + 1
        met = ", ".join(f"{rule} ({n})" for rule, n in sorted(rules.items())) or "none"
        both = r["pass"] + cycle.get("rsa_first_try_pass", 0), r["drafts"] + cycle.get("rsa_first_drafts", 0)
        print(f"| {model} | {pct(r['pass'], r['drafts'])}; with the cycle's {pct(*both)} | {met} | {pct(r['first_try_valid'], r['steps'])} | {r['seconds']:.0f} s |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
