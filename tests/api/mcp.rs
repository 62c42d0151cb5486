//! RaptorFlow's MCP server through the official MCP Python SDK (installed
//! by scripts/test.sh): `raptorflow mcp` on stdio (initialize, the tools and
//! their schemas, `codex_search` with citations from a real Codex on the
//! real embedder, `guardian_check` with the brand's rules, malformed calls
//! answered with JSON-RPC errors while the server stays up, resources) and
//! `raptorflow serve`'s `/mcp` over streamable HTTP behind the API token
//! (the writing tool when allowed, `agent_run` on the local model).

#[path = "../sync/harness.rs"]
mod harness;

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

use harness::Client;
use serde_json::{Value, json};

const BRIEF: &str = "# Fold F1 launch brief\n\n\
The Fold F1 is our folding e-bike for commuters who take the train. It folds in ten seconds and weighs 14 kg.\n\n\
## Offer\n\nUntil 30 June, the code FOLDFREE gives a free front light with every Fold F1.\n\n\
## Warranty\n\nKestrel Care covers the frame for five years and the battery for two.\n";

/// Copy that breaks X's health policy and the brand's banned term.
const BAD_COPY: &str = "Guaranteed to cure your back pain: the cheapest e-bike ever!";
const GOOD_COPY: &str = "Fold it in ten seconds, carry it onto the train, ride the last mile.";

/// A `raptorflow serve` child, killed when dropped.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(client: &Client) -> (Serving, String) {
    let (child, base_url) = client.serve(&["--mcp-allow-writes"]);
    (Serving(child), format!("{}/mcp", base_url.trim_end_matches("/v1")))
}

fn structured<'a>(report: &'a Value, key: &str) -> &'a Value {
    let result = &report[key];
    assert_eq!(result["is_error"], false, "{key} failed: {result}");
    &result["structured"]
}

fn rpc_error(report: &Value, key: &str) -> (i64, String) {
    let error = &report["protocol_errors"][key];
    let code = error["code"].as_i64().unwrap_or_else(|| panic!("{key}: no JSON-RPC error: {error}"));
    (code, error["message"].as_str().unwrap().to_owned())
}

/// The text of a tool's error result (wrong arguments, nothing there).
fn tool_error(result: &Value, key: &str) -> String {
    let result = result.get("returned").unwrap_or(result);
    assert_eq!(result["is_error"], true, "{key}: not a tool error: {result}");
    result["texts"][0].as_str().unwrap().to_owned()
}

#[test]
fn the_mcp_python_sdk_searches_the_codex_checks_copy_and_runs_an_agent_over_stdio_and_http() {
    let packages = std::env::var("RAPTORFLOW_PYTHON_PACKAGES")
        .expect("RAPTORFLOW_PYTHON_PACKAGES is not set: run the tests through scripts/test.sh, which installs the MCP SDK there");
    let client = Client::new("ana");
    let workspace = client.run(&["--json", "workspace", "create", "Kestrel"]).ok().json()["id"].as_str().unwrap().to_owned();
    let brand = client.dir.path().join("brand.json");
    let brand_json = json!({"company": "Kestrel Bikes", "offer": "Folding e-bikes", "banned_terms": ["cheapest"]});
    std::fs::write(&brand, brand_json.to_string()).unwrap();
    client.run(&["workspace", "set-brand", &workspace, brand.to_str().unwrap()]).ok();
    let campaign = client
        .run(&["--json", "campaign", "create", "--workspace", &workspace, "--goal", "200 test rides", "--channel", "linkedin", "Spring launch"])
        .ok()
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let brief = client.dir.path().join("fold-f1-brief.md");
    std::fs::write(&brief, BRIEF).unwrap();
    let added = client.run(&["--json", "codex", "add", "--workspace", &workspace, brief.to_str().unwrap()]).ok().json();
    let source_id = added["files"][0]["source_id"].as_str().unwrap().to_owned();
    let token = client.run(&["--json", "serve", "--print-token"]).ok().json()["token"].as_str().unwrap().to_owned();
    let (_server, url) = serve(&client);

    // `raptorflow mcp` started by the SDK as a desktop client would, with
    // this test's data directory and models.
    let mcp = client.command();
    let mut env: serde_json::Map<String, Value> =
        std::env::vars().filter(|(k, _)| k.starts_with("RAPTORFLOW_") || k == "DBUS_SESSION_BUS_ADDRESS").map(|(k, v)| (k, Value::String(v))).collect();
    env.remove("RAPTORFLOW_DATA_DIR");
    env.insert("RAPTORFLOW_USER".into(), json!("ana"));
    let stderr_file = client.dir.path().join("mcp-stderr.log");
    let config = json!({
        "command": mcp.get_program().to_str().unwrap(),
        "args": mcp.get_args().map(|a| a.to_str().unwrap()).chain(["mcp"]).collect::<Vec<_>>(),
        "env": env,
        "stderr": stderr_file,
        "url": url,
        "token": token,
        "workspace": workspace,
        "campaign": campaign,
        "query": "which promo code gives a free light",
        "bad_copy": BAD_COPY,
        "good_copy": GOOD_COPY,
        "agent": "RES-001",
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/api/mcp_client.py");
    let output = Command::new("python3").arg(script).arg(config.to_string()).env("PYTHONPATH", &packages).output().expect("python3 runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let server_log = std::fs::read_to_string(&stderr_file).unwrap_or_default();
    assert!(output.status.success(), "the client script failed:\n{stderr}\nraptorflow mcp said:\n{server_log}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| panic!("the script printed no JSON ({err}): {stderr}"));

    // The handshake and the tools: read-only on stdio unless allowed.
    let init = &report["initialize"];
    assert_eq!(init["server"], "raptorflow", "{init}");
    assert_eq!((init["has_tools"].as_bool(), init["has_resources"].as_bool()), (Some(true), Some(true)), "{init}");
    assert!(init["instructions"].as_str().unwrap().contains("read-only"), "{init}");
    let tools = report["tools"].as_object().unwrap();
    let mut names: Vec<&str> = tools.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["agent_run", "codex_search", "guardian_check", "workspace_read"], "no writing tool unless allowed");
    assert_eq!(tools["guardian_check"]["input_schema"]["required"], json!(["platform", "asset"]), "{}", tools["guardian_check"]);
    assert_eq!(tools["codex_search"]["read_only"], true);
    assert_eq!(tools["agent_run"]["read_only"], false);

    // codex_search: the passage with the promo code, cited back into the brief.
    let search = structured(&report, "codex_search");
    let first = &search["passages"][0];
    let text = first["text"].as_str().unwrap();
    assert!(text.contains("FOLDFREE"), "{search}");
    let citation = &first["citation"];
    assert_eq!(citation["source_id"], source_id.as_str(), "{citation}");
    assert_eq!(citation["title"], "Fold F1 launch brief");
    let (start, end) = (citation["span"][0].as_u64().unwrap() as usize, citation["span"][1].as_u64().unwrap() as usize);
    let cited: String = BRIEF.trim().chars().skip(start).take(end - start).collect();
    assert_eq!(cited, text, "the span cuts the passage out of the source");
    assert!(search["passages"].as_array().unwrap().len() <= 3, "limit 3: {search}");

    // guardian_check: blocked by X's health policy, the brand's banned term found.
    let block = structured(&report, "guardian_block");
    assert_eq!(block["verdict"], "block", "{block}");
    let rules: Vec<&str> = block["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert!(rules.contains(&"restricted.cure_claim"), "{rules:?}");
    assert!(block["findings"].as_array().unwrap().iter().any(|f| f["message"].as_str().unwrap().contains("cheapest")), "the brand's banned term: {block}");
    let pass = structured(&report, "guardian_pass");
    assert_eq!(pass["verdict"], "pass", "{pass}");

    // Wrong arguments: the tool's error, saying what was wrong and where
    // (as the MCP specification asks since 2025-11-25, so that the model
    // can correct the call).
    let errors = &report["argument_errors"];
    assert!(tool_error(&errors["asset_not_an_object"], "asset").contains("expected a map"), "{errors}");
    let message = tool_error(&errors["unknown_platform"], "platform");
    assert!(message.contains("`platform`") && message.contains("tiktok") && message.contains("google-ads"), "{message}");
    assert!(tool_error(&errors["no_query"], "query").contains("missing field `query`"), "{errors}");
    assert!(tool_error(&errors["bad_workspace_id"], "workspace").contains("`workspace`"), "{errors}");
    // A tool that is not served is a JSON-RPC error.
    for key in ["unknown_tool", "writing_tool"] {
        let (code, message) = rpc_error(&report, key);
        assert_eq!(code, -32602, "{key}: {message}");
        assert!(message.contains("not found"), "{key}: {message}");
    }
    // Read, but naming nothing here: the tool's own error.
    let message = tool_error(&report["missing_workspace"], "missing workspace");
    assert!(message.contains("not_found"), "{message}");
    // And the server is still up.
    let after = structured(&report, "after_errors");
    assert_eq!(after["name"], "Kestrel");
    assert_eq!(after["brand_codex"]["banned_terms"], json!(["cheapest"]));
    assert_eq!(after["campaigns"][0]["id"], campaign.as_str());

    // Resources: the brand codex and the campaign, as JSON.
    let uris: Vec<&str> = report["resources"].as_array().unwrap().iter().map(|r| r["uri"].as_str().unwrap()).collect();
    assert_eq!(uris, [format!("raptorflow://workspaces/{workspace}/brand-codex"), format!("raptorflow://campaigns/{campaign}")], "{report}");
    let brand_read = &report["brand_resource"];
    assert_eq!(brand_read["mime_type"], "application/json");
    let brand_codex: Value = serde_json::from_str(brand_read["text"].as_str().unwrap()).unwrap();
    assert_eq!(brand_codex["company"], "Kestrel Bikes");
    assert!(report["missing_resource"]["code"].is_i64(), "{}", report["missing_resource"]);

    // Over HTTP with the token and writing allowed: the asset is added as a draft, checked.
    assert!(report["http_initialize"]["instructions"].as_str().unwrap().contains("Writing is enabled"), "{}", report["http_initialize"]);
    assert_eq!(report["http_tools"], json!(["agent_run", "asset_add", "codex_search", "guardian_check", "workspace_read"]));
    let added = structured(&report, "asset_add");
    assert_eq!(added["status"], "draft");
    assert_eq!(added["verdict"], "block", "the banned term and the cure claim: {added}");
    let asset_id = added["asset_id"].as_str().unwrap();
    let message = tool_error(&report["asset_add_malformed"], "asset_add");
    assert!(message.contains("`content`") && message.contains("missing field `text`"), "names the missing field: {message}");
    let stored = structured(&report, "campaign");
    assert_eq!(stored["assets"][asset_id]["content"]["text"], BAD_COPY, "{stored}");
    assert_eq!(stored["assets"].as_object().unwrap().len(), 1, "the malformed asset added nothing: {stored}");
    let shown = client.run(&["--json", "campaign", "show", &campaign]).ok().json();
    assert_eq!(shown["assets"][asset_id]["status"], "draft", "in the workspace: {shown}");

    // agent_run on the local model: a validated output and its run.
    let run = structured(&report, "agent_run");
    assert_eq!(run["status"], "finished", "{run}");
    assert!(run["output"].is_object(), "{run}");
    let run_id = run["run_id"].as_str().unwrap();
    let shown = client.run(&["--json", "run", "show", run_id]).ok().json();
    assert_eq!(shown["run"]["status"], "finished", "the run is recorded: {shown}");
    let message = tool_error(&report["unknown_agent"], "agent");
    assert!(message.contains("`agent`") && message.contains("MUSE-999"), "{message}");

    // Without the token: 401 in OpenAI's shape, before MCP is spoken.
    let refused = &report["http_no_token"];
    assert_eq!(refused["status"], 401, "{refused}");
    assert_eq!(refused["body"]["error"]["code"], "invalid_api_key");
}

/// Writes JSON-RPC lines to `raptorflow mcp` and reads its answers by id.
struct RawMcp {
    child: Child,
    stdin: std::process::ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
}

impl RawMcp {
    fn start(client: &Client) -> Self {
        let mut child = client.command().arg("mcp").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
        let (stdin, stdout) = (child.stdin.take().unwrap(), BufReader::new(child.stdout.take().unwrap()));
        Self { child, stdin, stdout }
    }

    fn send(&mut self, line: &str) {
        use std::io::Write as _;
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// The next message: answers come in the order the work ends.
    fn receive(&mut self) -> Value {
        let mut line = String::new();
        assert!(self.stdout.read_line(&mut line).unwrap() > 0, "raptorflow mcp closed its output");
        serde_json::from_str(&line).unwrap_or_else(|err| panic!("not JSON ({err}): {line:?}"))
    }
}

#[test]
fn raw_json_rpc_that_cannot_be_served_gets_errors_and_the_server_stays_up() {
    let client = Client::new("ana");
    client.run(&["workspace", "create", "Kestrel"]).ok();
    let mut mcp = RawMcp::start(&client);
    mcp.send(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}"#);
    let init = mcp.receive();
    assert_eq!(init["id"], 1);
    assert_eq!(init["result"]["serverInfo"]["name"], "raptorflow", "{init}");
    mcp.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    // A line that is not JSON has no id to answer: it is skipped.
    mcp.send("{not json");
    mcp.send(r#"{"jsonrpc":"2.0","id":2,"method":"no/such/method"}"#);
    mcp.send(r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}"#);
    mcp.send(r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"guardian_check","arguments":{"platform":"x"}}}"#);
    mcp.send(r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"guardian_check","arguments":{"platform":"x","asset":{"text":"Guaranteed to cure your back pain"}}}}"#);
    let mut answers = std::collections::BTreeMap::new();
    while answers.len() < 4 {
        let message = mcp.receive();
        answers.insert(message["id"].as_i64().unwrap_or_else(|| panic!("an answer without an id: {message}")), message);
    }
    assert_eq!(answers[&2]["error"]["code"], -32601, "{}", answers[&2]);
    assert_eq!(answers[&3]["error"]["code"], -32602, "{}", answers[&3]);
    assert_eq!(answers[&4]["result"]["isError"], true, "{}", answers[&4]);
    assert!(answers[&4]["result"]["content"][0]["text"].as_str().unwrap().contains("missing field `asset`"), "{}", answers[&4]);
    // Still up, and right.
    assert_eq!(answers[&5]["result"]["structuredContent"]["verdict"], "block", "{}", answers[&5]);
    // The client closing stdin ends the server cleanly.
    drop(mcp.stdin);
    let status = mcp.child.wait().unwrap();
    assert!(status.success(), "{status}");
}

/// Copies the prompts directory, with RES-001's file allowing one tool of
/// the `facts` MCP server.
fn prompts_with_mcp_tool(client: &Client) -> std::path::PathBuf {
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/../prompts");
    let copy = client.dir.path().join("prompts");
    let status = Command::new("cp").args(["-r", source, copy.to_str().unwrap()]).status().unwrap();
    assert!(status.success());
    let file = copy.join("agents/RES-001.md");
    let text = std::fs::read_to_string(&file).unwrap();
    let allowed = text.replace(
        r#"tools = ["codex.search", "workspace.read"]"#,
        "tools = [\"codex.search\", \"workspace.read\", \"mcp:facts/lookup\"]\nmcp_arguments = { \"facts/lookup\" = { topic = \"{{ input.region }} commuters\" } }",
    );
    assert_ne!(allowed, text, "RES-001's tools line changed: update this test");
    std::fs::write(&file, allowed).unwrap();
    copy
}

/// The run `agent run --json` shows after its progress lines.
fn shown_run(run: &harness::Run) -> Value {
    assert_eq!(run.code, 0, "{}", run.stderr);
    let start = run.stdout.find("\n{\n").map_or(0, |i| i + 1);
    serde_json::from_str(&run.stdout[start..]).unwrap_or_else(|err| panic!("no run shown ({err}): {}", run.stdout))
}

#[test]
fn an_agent_calls_the_mcp_tool_its_file_names_and_no_other() {
    let packages = std::env::var("RAPTORFLOW_PYTHON_PACKAGES")
        .expect("RAPTORFLOW_PYTHON_PACKAGES is not set: run the tests through scripts/test.sh, which installs the MCP SDK there");
    let client = Client::new("ana");
    let prompts = prompts_with_mcp_tool(&client);
    let log = client.dir.path().join("calls.jsonl");
    let run = |args: &[&str]| {
        let output =
            client.command().args(args).env("RAPTORFLOW_PROMPTS_DIR", &prompts).env("PYTHONPATH", &packages).env("MCP_TEST_LOG", &log).output().unwrap();
        harness::Run::of(output)
    };
    let server = concat!(env!("CARGO_MANIFEST_DIR"), "/api/mcp_test_server.py");

    // Before the server is added, the agent's run says what is missing.
    // (A step whose tool cannot be called waits in the dead-letter list.)
    let missing = shown_run(&run(&["--json", "agent", "run", "RES-001"]));
    assert_eq!(missing["run"]["status"], "blocked", "{missing}");
    let error = missing["steps"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("MCP server") && error.contains("facts"), "{missing}");

    run(&["mcp-servers", "add", "facts", "--command", "python3", "--arg", server]).ok();
    let tools = run(&["--json", "mcp-servers", "tools", "facts"]).ok().json();
    let names: Vec<&str> = tools.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["lookup", "secret"], "{tools}");
    std::fs::remove_file(&log).ok();

    // The run: the tool named in the file, with the rendered arguments, logged.
    let done = shown_run(&run(&["--json", "agent", "run", "RES-001"]));
    assert_eq!(done["run"]["status"], "finished", "{done}");
    let run_id = done["run"]["id"].as_str().unwrap();
    let calls: Vec<Value> = std::fs::read_to_string(&log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(calls, [json!({"tool": "lookup", "arguments": {"topic": "United Kingdom commuters"}})], "only the allowed tool, once");
    let watched = run(&["--json", "run", "watch", run_id, "--once"]).ok();
    let used: Vec<Value> = watched
        .stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|line| line["progress"].as_str().and_then(|p| serde_json::from_str::<Value>(p).ok()))
        .map(|record| record["event"].clone())
        .filter(|event| event["type"] == "tool_used" && event["tool"] == "mcp:facts/lookup")
        .collect();
    assert_eq!(used.len(), 1, "{}", watched.stdout);
    let detail = used[0]["detail"].as_str().unwrap();
    assert!(detail.contains(r#"{"topic":"United Kingdom commuters"}"#) && detail.contains("an answer of 114 characters"), "arguments and size: {detail}");

    // An agent file naming a tool the server does not offer: refused, nothing called.
    let file = prompts.join("agents/RES-001.md");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("mcp:facts/lookup", "mcp:facts/launch_plans").replace("\"facts/lookup\"", "\"facts/launch_plans\"")).unwrap();
    std::fs::remove_file(&log).ok();
    let refused = shown_run(&run(&["--json", "agent", "run", "RES-001"]));
    assert_eq!(refused["run"]["status"], "blocked", "{refused}");
    let error = refused["steps"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("has no tool \"launch_plans\"") && error.contains("lookup, secret"), "{error}");
    assert!(!log.exists(), "no tool was called: {:?}", std::fs::read_to_string(&log));
}

/// The test MCP server on streamable HTTP behind `token`, killed when dropped.
fn http_test_server(packages: &str, log: &std::path::Path, token: &str) -> (Serving, u16) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/api/mcp_test_server.py");
    let mut child = Command::new("python3")
        .arg(script)
        .env("PYTHONPATH", packages)
        .env("MCP_TEST_LOG", log)
        .env("MCP_TEST_TOKEN", token)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line.trim().parse().unwrap_or_else(|_| panic!("the test server did not print its port: {line:?}"));
    (Serving(child), port)
}

#[test]
fn an_mcp_server_by_url_gets_its_token_from_the_keyring_and_serves_the_agent() {
    harness::require_keyring();
    let packages = std::env::var("RAPTORFLOW_PYTHON_PACKAGES")
        .expect("RAPTORFLOW_PYTHON_PACKAGES is not set: run the tests through scripts/test.sh, which installs the MCP SDK there");
    let client = Client::new("ana");
    let prompts = prompts_with_mcp_tool(&client);
    let log = client.dir.path().join("calls.jsonl");
    let token = "mcp-test-token-4ee1";
    let (_server, port) = http_test_server(&packages, &log, token);
    let url = format!("http://127.0.0.1:{port}/mcp");
    let run = |args: &[&str], stdin: &str| {
        let mut child = client
            .command()
            .args(args)
            .env("RAPTORFLOW_PROMPTS_DIR", &prompts)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
        harness::Run::of(child.wait_with_output().unwrap())
    };

    // Bad input is refused, saying what and where, and adds nothing.
    let refused = run(&["mcp-servers", "add", "facts", "--url", "ftp://127.0.0.1/mcp"], "");
    assert!(refused.code != 0 && refused.stderr.contains("url") && refused.stderr.contains("http:// or https://"), "{}", refused.stderr);
    let plain = run(&["mcp-servers", "add", "facts", "--url", "http://mcp.example.com/mcp", "--token-stdin"], token);
    assert!(plain.code != 0 && plain.stderr.contains("only over https"), "a token over plain http off this machine: {}", plain.stderr);
    assert_eq!(run(&["--json", "mcp-servers", "list"], "").ok().json(), json!([]));

    // Without the token the server answers 401, and the error says so.
    run(&["mcp-servers", "add", "facts", "--url", &url], "").ok();
    let unauthorized = run(&["mcp-servers", "tools", "facts"], "");
    assert!(unauthorized.code != 0 && unauthorized.stderr.contains("MCP server facts"), "{}", unauthorized.stderr);
    assert!(unauthorized.stderr.contains("401") || unauthorized.stderr.to_lowercase().contains("unauthorized"), "{}", unauthorized.stderr);
    run(&["mcp-servers", "remove", "facts"], "").ok();

    // With it (from stdin into the keyring, never into settings.toml).
    run(&["mcp-servers", "add", "facts", "--url", &url, "--token-stdin"], token).ok();
    let listed = run(&["--json", "mcp-servers", "list"], "").ok().json();
    assert_eq!(listed[0]["url"], url.as_str(), "{listed}");
    assert!(listed[0]["key_ref"].is_string(), "{listed}");
    let settings = std::fs::read_to_string(client.dir.path().join("data/settings.toml")).unwrap();
    assert!(!settings.contains(token) && settings.contains(&url), "{settings}");
    let tools = run(&["--json", "mcp-servers", "tools", "facts"], "").ok().json();
    let names: Vec<&str> = tools.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["lookup", "secret"], "{tools}");

    // The agent calls the tool its file names, over HTTP, and no other.
    std::fs::remove_file(&log).ok();
    let done = shown_run(&run(&["--json", "agent", "run", "RES-001"], ""));
    assert_eq!(done["run"]["status"], "finished", "{done}");
    let calls: Vec<Value> = std::fs::read_to_string(&log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(calls, [json!({"tool": "lookup", "arguments": {"topic": "United Kingdom commuters"}})], "only the allowed tool, once");

    // Offline-only mode: a server off this machine is not called at all
    // (the error comes before any connection); this one, on 127.0.0.1, is.
    run(&["mcp-servers", "add", "remote", "--url", "https://mcp.example.com/mcp"], "").ok();
    run(&["providers", "privacy", "offline-only"], "").ok();
    let offline = run(&["mcp-servers", "tools", "remote"], "");
    assert!(offline.code != 0 && offline.stderr.contains("offline-only"), "{}", offline.stderr);
    run(&["mcp-servers", "tools", "facts"], "").ok();

    run(&["mcp-servers", "remove", "facts"], "").ok();
    run(&["mcp-servers", "remove", "remote"], "").ok();
    assert_eq!(run(&["--json", "mcp-servers", "list"], "").ok().json(), json!([]));
}
