//! Real processes for the sync tests: `raptorflow-sync` servers on loopback
//! ports, `raptorflow` CLI clients with their own data directories, and raw
//! WebSocket peers that speak (or break) the automerge-repo protocol.

#![allow(dead_code, unreachable_pub)]

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A built binary of this workspace, next to the test executable's `deps/`.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/..");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let built = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is not built: run `cargo build -p rf-cli -p raptorflow-sync` (./scripts/test.sh does)", path.display()));
    // `cargo test` does not rebuild another package's binaries: a binary
    // older than the engine's sources would test old code and pass or fail
    // for the wrong reason.
    if let Some(newer) = newest_source(name).filter(|(modified, _)| *modified > built) {
        panic!("{} is older than {}: run `cargo build -p rf-cli -p raptorflow-sync` (./scripts/test.sh does)", path.display(), newer.1.display());
    }
    path
}

/// The most recently modified file that binary `name` is built from: its
/// packages' sources, migrations and embedded data (not their tests or
/// benches, which do not relink a binary). The server is built from the sync
/// server and the three crates it uses; the CLI from every engine crate.
fn newest_source(name: &str) -> Option<(std::time::SystemTime, PathBuf)> {
    type Newest = Option<(std::time::SystemTime, PathBuf)>;
    static CACHE: std::sync::Mutex<Vec<(String, Newest)>> = std::sync::Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, newest)) = cache.iter().find(|(n, _)| n == name) {
        return newest.clone();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root");
    let (packages, mut pending): (Vec<PathBuf>, Vec<PathBuf>) = if name == "raptorflow-sync" {
        (["crates/rf-domain", "crates/rf-sync", "crates/rf-store", "sync-server"].iter().map(|p| root.join(p)).collect(), Vec::new())
    } else {
        (std::fs::read_dir(root.join("crates")).unwrap().flatten().map(|e| e.path()).collect(), vec![root.join("models")])
    };
    for package in packages {
        pending.push(package.join("Cargo.toml"));
        pending.extend(["src", "migrations", "packs", "build.rs"].iter().map(|d| package.join(d)));
    }
    let mut newest: Newest = None;
    while let Some(path) = pending.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                pending.extend(entries.flatten().map(|e| e.path()));
            }
            continue;
        }
        let built_from = path.extension().is_some_and(|e| e == "rs" || e == "toml" || e == "sql");
        if let (true, Ok(modified)) = (built_from, meta.modified())
            && newest.as_ref().is_none_or(|(at, _)| modified > *at)
        {
            newest = Some((modified, path));
        }
    }
    cache.push((name.to_owned(), newest.clone()));
    newest
}

/// Fails loudly unless the OS keyring the CLI stores tokens in is reachable.
pub fn require_keyring() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "the sync tests need a Secret Service keyring: run them through ./scripts/test.sh, \
         which starts a D-Bus session and an unlocked gnome-keyring"
    );
}

/// The output of one process run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn of(output: std::process::Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "expected success, got {}:\nstdout: {}\nstderr: {}", self.code, self.stdout, self.stderr);
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

/// A running `raptorflow-sync serve`.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub db: String,
    pub port: u16,
    child: Option<Child>,
    env: Vec<(String, String)>,
    /// The open-file limit to run under (`ulimit -n`), if not inherited.
    nofile: Option<u64>,
}

impl Server {
    /// A server on a fresh SQLite file.
    pub fn start() -> Self {
        Self::start_with(None, &[])
    }

    /// A server on `db` (or a fresh SQLite file), with extra `RAPTORFLOW_SYNC_*` settings.
    pub fn start_with(db: Option<&str>, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = db.map_or_else(|| format!("sqlite://{}", dir.path().join("sync.db").display()), str::to_owned);
        let mut env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        env.push(("RAPTORFLOW_SYNC_ACCESS_POLL_MILLIS".into(), "100".into()));
        let mut server = Self { dir, db, port: 0, child: None, env, nofile: None };
        server.spawn(0);
        server
    }

    /// A server on a fresh SQLite file that runs under `ulimit -n nofile`.
    pub fn start_limited(env: &[(&str, &str)], nofile: u64) -> Self {
        let mut server = Self::start_with(None, env);
        server.kill();
        server.nofile = Some(nofile);
        server.restart();
        server
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server is running").id()
    }

    fn spawn(&mut self, port: u16) {
        let log = std::fs::File::create(self.dir.path().join(format!("server-{}.log", Instant::now().elapsed().as_nanos()))).unwrap();
        let mut command = match self.nofile {
            Some(limit) => {
                let mut command = Command::new("sh");
                command.args(["-c", &format!("ulimit -n {limit} && exec \"$0\" \"$@\"")]).arg(binary("raptorflow-sync"));
                command
            }
            None => Command::new(binary("raptorflow-sync")),
        };
        command
            .args(["--db", &self.db, "serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("RAPTORFLOW_SYNC_LOG", "raptorflow_sync=debug,warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("raptorflow-sync starts");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let address = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        self.port = address.rsplit(':').next().unwrap().parse().unwrap();
        self.child = Some(child);
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `raptorflow-sync admin ...` against this server's database.
    pub fn admin(&self, args: &[&str]) -> Run {
        let output = Command::new(binary("raptorflow-sync")).args(["--db", &self.db, "admin"]).args(args).output().unwrap();
        Run::of(output)
    }

    pub fn create_workspace(&self, name: &str) {
        self.admin(&["workspace", "create", name]).ok();
    }

    /// Adds a member and returns their token.
    pub fn add_member(&self, workspace: &str, user: &str, role: &str) -> String {
        self.admin(&["member", "add", "--workspace", workspace, "--user", user, "--role", role]).ok().stdout.trim().to_owned()
    }

    /// Kills the server with SIGKILL: no shutdown, no flush.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Stops with SIGTERM and waits for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let status = child.wait().unwrap();
            assert!(status.success(), "the server did not shut down cleanly: {status}");
        }
    }

    /// Starts again on the same port and database.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop or kill the server first");
        let port = self.port;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // The port may linger for a moment after a kill.
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.spawn(port))) {
                Ok(()) => return,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    }

    /// An HTTP GET on loopback, returning (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        http(self.port, "GET", path, &[], "")
    }

    /// Waits until no document is in memory (`documents_loaded` is 0) and
    /// at least `unloaded` were unloaded so far, or panics after 20 s.
    pub fn until_documents_unloaded(&self, unloaded: u64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.metric("documents_loaded") != 0 || self.metric("documents_unloaded_total") < unloaded {
            assert!(Instant::now() < deadline, "documents stayed in memory: {}", self.get("/metrics").1);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The value of one metric from `/metrics`.
    pub fn metric(&self, name: &str) -> u64 {
        metric(self.port, name)
    }

    /// A ticket for `token`, for clients that cannot send headers.
    pub fn ticket(&self, token: &str) -> String {
        let (status, body) = http(self.port, "POST", "/api/v1/tickets", &[("Authorization", &format!("Bearer {token}"))], "");
        assert_eq!(status, 200, "{body}");
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        value["ticket"].as_str().unwrap().to_owned()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        let mut paths: Vec<_> = std::fs::read_dir(self.dir.path()).unwrap().flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths.into_iter().filter(|p| p.extension().is_some_and(|e| e == "log")) {
            text.push_str(&std::fs::read_to_string(path).unwrap_or_default());
        }
        text
    }
}

/// Ends the server as an operator would (SIGTERM), so that it shuts down
/// through its own code path and flushes what it writes at exit (the
/// coverage run's profiles among them); SIGKILL if it has not exited
/// after five seconds.
impl Drop for Server {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The soft open-file limit of a running process, from /proc.
pub fn open_file_limit(pid: u32) -> u64 {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).expect("a Max open files line");
    line.split_whitespace().nth(3).and_then(|n| n.parse().ok()).expect("a number")
}

/// A counter from the /metrics of the server on `port`.
pub fn metric(port: u16, name: &str) -> u64 {
    let (_, body) = http(port, "GET", "/metrics", &[], "");
    body.lines()
        .find_map(|line| line.strip_prefix(&format!("raptorflow_sync_{name} ")))
        .unwrap_or_else(|| panic!("no metric {name} in:\n{body}"))
        .trim()
        .parse()
        .unwrap()
}

/// A minimal HTTP/1.1 request on loopback (no client library needed).
pub fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    // Bodies may be chunked; the JSON or text we look at survives that.
    (status, body.to_owned())
}

/// A `raptorflow` CLI user with their own data directory.
pub struct Client {
    pub dir: tempfile::TempDir,
    pub user: String,
}

impl Client {
    pub fn new(user: &str) -> Self {
        Self { dir: tempfile::tempdir().unwrap(), user: user.to_owned() }
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new(binary("raptorflow"));
        command.arg("--data-dir").arg(self.dir.path().join("data")).env("RAPTORFLOW_USER", &self.user).env_remove("RAPTORFLOW_DATA_DIR").stdin(Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::of(self.command().args(args).output().unwrap())
    }

    /// `raptorflow --json serve --port 0` with `extra` arguments, once it
    /// listens: the child (to kill) and the API's base URL
    /// (`http://127.0.0.1:PORT/v1`).
    pub fn serve(&self, extra: &[&str]) -> (Child, String) {
        let mut child = self
            .command()
            .args(["--json", "serve", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("raptorflow serve starts");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
        let listening: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|err| panic!("the first line is not JSON ({err}): {line:?}"));
        let base_url = listening["listening"].as_str().unwrap_or_else(|| panic!("no address: {line}")).to_owned();
        (child, base_url)
    }

    /// `sync join`, with the token on stdin.
    pub fn join(&self, server: &Server, token: &str, share: Option<&str>) -> Run {
        let mut command = self.command();
        command.args(["--json", "sync", "join", "--server", &server.url(), "--token-stdin", "--timeout", "20"]);
        if let Some(workspace) = share {
            command.args(["--workspace", workspace]);
        }
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(format!("{token}\n").as_bytes()).unwrap();
        Run::of(child.wait_with_output().unwrap())
    }

    pub fn sync(&self) -> Run {
        self.run(&["--json", "sync", "now", "--timeout", "20"])
    }

    /// Every joined document and its heads.
    pub fn heads(&self) -> BTreeMap<String, Vec<String>> {
        let status = self.run(&["--json", "sync", "status"]).ok().json();
        let mut heads = BTreeMap::new();
        for workspace in status.as_array().unwrap() {
            for doc in workspace["documents"].as_array().unwrap() {
                let list = doc["heads"].as_array().unwrap().iter().map(|h| h.as_str().unwrap().to_owned()).collect();
                heads.insert(doc["document"].as_str().unwrap().to_owned(), list);
            }
        }
        heads
    }

    /// Creates a workspace and a campaign; returns their ids.
    pub fn workspace_with_campaign(&self, name: &str) -> (String, String) {
        let ws = self.run(&["--json", "workspace", "create", name]).ok().json();
        let ws_id = ws["id"].as_str().unwrap().to_owned();
        let campaign =
            self.run(&["--json", "campaign", "create", "--workspace", &ws_id, "--goal", "200 demos", "--channel", "email", "Spring launch"]).ok().json();
        (ws_id, campaign["id"].as_str().unwrap().to_owned())
    }

    pub fn add_move(&self, campaign: &str, title: &str) -> String {
        let saved = self.run(&["--json", "move", "add", "--campaign", campaign, "--channel", "email", title]).ok().json();
        saved["move_id"].as_str().or_else(|| saved["id"].as_str()).unwrap_or_else(|| panic!("no move id in {saved}")).to_owned()
    }

    /// The titles of a campaign's moves, sorted.
    pub fn move_titles(&self, campaign: &str) -> Vec<String> {
        let campaign = self.run(&["--json", "campaign", "show", campaign]).ok().json();
        let mut titles: Vec<String> = campaign["moves"]
            .as_object()
            .map(|moves| moves.values().map(|m| m["title"].as_str().unwrap().to_owned()).collect())
            .or_else(|| campaign["moves"].as_array().map(|moves| moves.iter().map(|m| m["title"].as_str().unwrap().to_owned()).collect()))
            .unwrap_or_else(|| panic!("no moves in {campaign}"));
        titles.sort();
        titles
    }
}
