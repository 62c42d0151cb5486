//! `raptorflow serve`, the local OpenAI-compatible API, through the
//! official `openai` Python client (installed by scripts/test.sh) on the
//! real local models: models listed, a streamed chat completion, a stop
//! sequence, a JSON Schema answer that validates, embeddings equal to
//! `raptorflow embed`'s, errors in OpenAI's shape; and over raw HTTP, the
//! checks a client library would not make: no token, a foreign Host, a
//! web page's Origin, a body that is not JSON; every call in the ledger
//! with the API as its caller.

#[path = "../sync/harness.rs"]
mod harness;

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::{Child, Command},
    time::Duration,
};

use harness::Client;
use serde_json::Value;

const EMBEDDER: &str = "all-minilm-l6-v2";

fn chat_model() -> String {
    std::env::var("RAPTORFLOW_LOCAL_MODEL").unwrap_or_else(|_| "smollm2-135m-instruct-q4_1".into())
}

/// A `raptorflow serve` child, killed when dropped.
struct Serving {
    child: Child,
    base_url: String,
    port: u16,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(client: &Client, extra: &[&str]) -> Serving {
    let (child, base_url) = client.serve(extra);
    let port = base_url.trim_start_matches("http://127.0.0.1:").trim_end_matches("/v1").parse().unwrap();
    Serving { child, base_url, port }
}

/// One HTTP/1.1 exchange written by hand: the status, the headers (lower
/// case) and the body.
fn raw(port: u16, request: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no header end: {response:?}"));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_lowercase(), body.to_owned())
}

fn get(port: u16, path: &str, headers: &str) -> (u16, String, String) {
    raw(port, &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{headers}\r\n"))
}

fn error_of(body: &str) -> Value {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|err| panic!("not JSON ({err}): {body}"));
    let error = value["error"].clone();
    for field in ["message", "type", "param", "code"] {
        assert!(error.get(field).is_some(), "OpenAI's error shape has `{field}`: {value}");
    }
    error
}

/// The body's error, whether the client kept the envelope or not.
fn client_error(report: &Value, key: &str) -> (u64, Value) {
    let error = &report[key];
    let body = &error["body"];
    let inner = if body.get("error").is_some() { body["error"].clone() } else { body.clone() };
    (error["status"].as_u64().unwrap_or_else(|| panic!("{key}: no error raised: {report}")), inner)
}

fn as_f32s(value: &Value) -> Vec<f32> {
    value.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect()
}

#[test]
fn the_openai_python_client_lists_chats_streams_and_embeds_through_raptorflow_serve() {
    let packages = std::env::var("RAPTORFLOW_PYTHON_PACKAGES")
        .expect("RAPTORFLOW_PYTHON_PACKAGES is not set: run the tests through scripts/test.sh, which installs the openai client there");
    let client = Client::new("ana");
    let token = client.run(&["--json", "serve", "--print-token"]).ok().json()["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("rf-") && token.len() == 67, "{token}");
    assert_eq!(client.run(&["--json", "serve", "--print-token"]).ok().json()["token"], token.as_str(), "kept in the keyring, not made again");
    // A second data directory has a token of its own.
    let other = Client::new("ana");
    assert_ne!(other.run(&["--json", "serve", "--print-token"]).ok().json()["token"], token.as_str());

    // Written as a person might; compared as browsers send it.
    let server = serve(&client, &["--allow-origin", "HTTPS://App.Example.com:443/"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/api/openai_client.py");
    let output = Command::new("python3")
        .arg(script)
        .args([&server.base_url, &token, &chat_model(), EMBEDDER])
        .env("PYTHONPATH", &packages)
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the client script failed:\n{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| panic!("the script printed no JSON ({err}): {stderr}"));

    // Models: auto, the local chat model and the embedder.
    let models: Vec<&str> = report["models"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    for id in ["auto", chat_model().as_str(), EMBEDDER] {
        assert!(models.contains(&id), "{id} is not listed: {models:?}");
    }

    // The stream: the role first, then pieces, a finish reason and the usage.
    let stream = &report["stream"];
    assert_eq!(stream["roles"], serde_json::json!(["assistant"]), "{stream}");
    let pieces = stream["pieces"].as_array().unwrap();
    assert!(pieces.len() >= 2, "the answer came in pieces: {stream}");
    assert!(matches!(stream["finish_reason"].as_str(), Some("stop" | "length")), "{stream}");
    let usage = &stream["usage"];
    let completion_tokens = usage["completion_tokens"].as_u64().unwrap();
    assert!((1..=24).contains(&completion_tokens), "max_tokens 24 holds: {usage}");
    assert!(usage["prompt_tokens"].as_u64().unwrap() > 10, "{usage}");
    assert_eq!(usage["total_tokens"].as_u64(), Some(usage["prompt_tokens"].as_u64().unwrap() + completion_tokens));
    let streamed: String = pieces.iter().map(|p| p.as_str().unwrap()).collect();
    assert_eq!(report["stream_again"].as_str(), Some(streamed.as_str()), "the repeat, from the cache, streams the same text once");

    // Not streamed, with a stop sequence from the middle of the free answer.
    let whole = &report["whole"];
    let expected = whole["expected"].as_str().unwrap();
    assert!(!expected.is_empty(), "{whole}");
    assert_eq!(whole["content"].as_str(), Some(expected), "the answer ends just before the stop sequence: {whole}");
    assert_eq!(whole["finish_reason"], "stop", "{whole}");
    assert_eq!(whole["model"], chat_model().as_str());

    // The JSON Schema answer parses and validates.
    let structured = &report["structured"];
    let answer: Value = serde_json::from_str(structured["content"].as_str().unwrap()).unwrap_or_else(|err| panic!("not JSON ({err}): {structured}"));
    let object = answer.as_object().unwrap();
    let mut keys: Vec<&String> = object.keys().collect();
    keys.sort();
    assert_eq!(keys, ["description", "headline"], "{answer}");
    assert!(answer["headline"].as_str().unwrap().chars().count() <= 30, "{answer}");
    assert!(answer["description"].as_str().unwrap().chars().count() <= 90, "{answer}");

    // Embeddings: base64 (the client's default) and floats, equal to `raptorflow embed`'s.
    let embeddings = &report["embeddings"];
    let texts: Vec<&str> = embeddings["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    let mut args = vec!["--json", "embed", "--model", EMBEDDER];
    args.extend(&texts);
    let cli = client.run(&args).ok().json();
    for (i, row) in cli["embeddings"].as_array().unwrap().iter().enumerate() {
        let expected = as_f32s(&row["vector"]);
        assert_eq!(expected.len(), 384);
        assert_eq!(as_f32s(&embeddings["vectors"][i]), expected, "text {i}: the API's vector is the CLI's");
    }
    assert_eq!(as_f32s(&embeddings["float_vector"]), as_f32s(&embeddings["vectors"][0]), "floats and base64 agree");
    assert_eq!(embeddings["model"], EMBEDDER);
    assert!(embeddings["usage"]["prompt_tokens"].as_u64().unwrap() >= 8, "{embeddings}");

    // Errors in OpenAI's shape, raised as the client's own exceptions.
    let (status, error) = client_error(&report, "wrong_token");
    assert_eq!((status, report["wrong_token"]["class"].as_str()), (401, Some("AuthenticationError")), "{report}");
    assert_eq!(error["code"], "invalid_api_key", "{error}");
    let (status, error) = client_error(&report, "unknown_model");
    assert_eq!((status, report["unknown_model"]["class"].as_str()), (404, Some("NotFoundError")), "{report}");
    assert_eq!(error["code"], "model_not_found");
    assert!(error["message"].as_str().unwrap().contains("`gpt-9`"), "{error}");
    let (status, error) = client_error(&report, "bad_request");
    assert_eq!(status, 400, "{report}");
    assert_eq!(error["param"], "temperature");
    assert!(error["message"].as_str().unwrap().contains("temperature is 5"), "{error}");

    // Over raw HTTP: what a client library would not send.
    let port = server.port;
    let auth = format!("Authorization: Bearer {token}\r\n");
    let (status, _, body) = get(port, "/v1/models", "");
    assert_eq!(status, 401, "no token: {body}");
    assert!(error_of(&body)["message"].as_str().unwrap().contains("--print-token"), "{body}");
    let (status, _, body) = raw(port, &format!("GET /v1/models HTTP/1.1\r\nHost: attacker.example:{port}\r\nConnection: close\r\n{auth}\r\n"));
    assert_eq!(status, 403, "a DNS-rebound host is refused: {body}");
    let (status, _, body) = get(port, "/v1/models", &format!("{auth}Origin: https://evil.example\r\n"));
    assert_eq!(status, 403, "a web page's request is refused: {body}");
    assert!(error_of(&body)["message"].as_str().unwrap().contains("--allow-origin https://evil.example"), "{body}");
    let (status, head, _) = get(port, "/v1/models", &format!("{auth}Origin: https://app.example.com\r\n"));
    assert_eq!(status, 200);
    assert!(head.contains("access-control-allow-origin: https://app.example.com"), "{head}");
    // The browser's preflight from the allowed origin: the headers it asks for are allowed.
    let (status, head, _) = raw(
        port,
        &format!(
            "OPTIONS /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nOrigin: https://app.example.com\r\n\
             Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization, content-type, x-stainless-os\r\n\r\n"
        ),
    );
    assert_eq!(status, 204, "{head}");
    assert!(head.contains("access-control-allow-headers: authorization, content-type, x-stainless-os"), "{head}");
    // The scheme's name in any case.
    let (status, _, body) = get(port, "/v1/models", &format!("Authorization: bearer {token}\r\n"));
    assert_eq!(status, 200, "{body}");
    let bad = "{\"model\": \"auto\", \"messages\": [{\"role\": \"user\", \"content\": 3}]}";
    let (status, _, body) = raw(
        port,
        &format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{bad}",
            bad.len()
        ),
    );
    assert_eq!(status, 400, "{body}");
    assert!(error_of(&body)["message"].as_str().unwrap().contains("messages[0]"), "the error says where: {body}");
    let (status, _, body) =
        raw(port, &format!("POST /v1/embeddings HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n{auth}Content-Length: 9\r\n\r\nnot json!"));
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = get(port, "/v1/nothing", &auth);
    assert_eq!((status, error_of(&body)["code"].as_str()), (404, Some("unknown_url")));
    let (status, _, body) = get(port, "/v1/models", &auth);
    assert_eq!(status, 200, "the server is still up: {body}");
    drop(server);

    // The ledger: the API's calls, with the API as their caller.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let calls = runtime.block_on(async {
        let ledger = rf_metering::ledger::Ledger::open(&client.dir.path().join("data").join(rf_metering::ledger::LEDGER_FILE_NAME)).await.unwrap();
        ledger.calls(&rf_metering::ledger::ReportFilter::default()).await.unwrap()
    });
    let from_api: Vec<_> = calls.iter().filter(|c| c.context.caller.as_deref() == Some("api")).collect();
    // Five chats (one from the cache) and two embedding requests; the
    // refused ones cost nothing.
    assert_eq!(from_api.len(), 7, "{calls:#?}");
    assert_eq!(from_api.iter().filter(|c| c.cache_hit).count(), 1, "{calls:#?}");
    assert!(calls.iter().any(|c| c.context.caller.is_none()), "`raptorflow embed` is not the API: {calls:#?}");
}
