//! The browser's part of an OAuth sign-in through the CLI: run
//! `raptorflow connectors auth ...`, read the address it prints, and
//! follow the redirect with a code, as the service would after the user
//! approved.
#![allow(dead_code, unreachable_pub)]

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
};

use crate::harness::{Run, binary};

/// What the sign-in printed and what the browser saw.
pub struct SignedIn {
    pub run: Run,
    /// The page the redirect showed.
    pub page: String,
    /// The authorization address's query.
    pub query: HashMap<String, String>,
}

/// Runs `connectors auth NAME ARGS` with `stdin`; `on_address` sees the
/// authorization address's query (to note the PKCE challenge and the
/// redirect before the code is exchanged); then the redirect is followed
/// with `code` and `state` (the address's own when `None`).
pub fn sign_in(
    data: &std::path::Path,
    name: &str,
    args: &[&str],
    stdin: &str,
    code: &str,
    state: Option<&str>,
    on_address: impl FnOnce(&url::Url, &HashMap<String, String>),
) -> SignedIn {
    let mut child = Command::new(binary("raptorflow"))
        .args(["--data-dir", data.to_str().unwrap(), "--user", "ana", "connectors", "auth", name, "--redirect-port", "0", "--timeout", "60"])
        .args(args)
        .env_remove("RAPTORFLOW_PRIVACY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    let address = loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            let mut run = Run::of(child.wait_with_output().unwrap());
            run.stdout = printed;
            return SignedIn { run, page: String::new(), query: HashMap::new() };
        }
        printed.push_str(&line);
        if let Some(url) = line.trim().strip_prefix("open this address in your browser and approve: ") {
            break url::Url::parse(url).unwrap();
        }
    };
    let query: HashMap<String, String> = address.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    on_address(&address, &query);
    let state = state.unwrap_or(&query["state"]);
    let redirect = format!("{}?code={code}&state={state}", query["redirect_uri"]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let page = runtime.block_on(async { reqwest::get(&redirect).await.unwrap().text().await.unwrap() });
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let mut run = Run::of(child.wait_with_output().unwrap());
    run.stdout = printed + &rest;
    SignedIn { run, page, query }
}

/// Serves `app` (a fake service) on a loopback port, on its own runtime so
/// that the CLI processes the tests run can reach it; its base URL.
pub fn serve(app: axum::Router) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{}", rx.recv().unwrap())
}
