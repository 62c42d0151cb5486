//! The desktop app's real window under WebDriver: Xvfb (through `xvfb-run`),
//! `tauri-driver` in front of WebKitGTK's `WebKitWebDriver`, and a small W3C
//! WebDriver client for what the tests do (find, click, type, read,
//! screenshot).

#![allow(dead_code, unreachable_pub)]

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use base64::Engine as _;
use serde_json::{Value, json};

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// `tauri-driver` on a private X display; stopped, with everything it
/// started (WebKitWebDriver, the app, Xvfb), when dropped.
pub struct Driver {
    child: Child,
    pub url: String,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn tool(name: &str, install: &str) -> PathBuf {
    let home_bin = std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo/bin").join(name));
    if let Some(path) = home_bin.filter(|p| p.exists()) {
        return path;
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        if dir.join(name).exists() {
            return dir.join(name);
        }
    }
    panic!("{name} is not installed: {install} (./scripts/test.sh does)")
}

impl Driver {
    /// Starts `tauri-driver` under `xvfb-run` with `env` for the app.
    pub fn start(env: &[(&str, &Path)]) -> Self {
        let tauri_driver = tool("tauri-driver", "cargo install tauri-driver --version ~2.1 --locked");
        let native = tool("WebKitWebDriver", "apt-get install webkit2gtk-driver");
        tool("xvfb-run", "apt-get install xvfb");
        let (port, native_port) = (free_port(), free_port());
        let mut command = Command::new("xvfb-run");
        command
            .args(["-a", "-s", "-screen 0 1400x900x24 -nolisten tcp"])
            .arg(&tauri_driver)
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string(), "--native-driver"])
            .arg(&native)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (key, value) in env {
            command.env(key, value);
        }
        // No accessibility bus for a window nobody reads aloud.
        command.env("NO_AT_BRIDGE", "1");
        // Its own process group, so that dropping the driver stops the
        // whole tree at once.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().expect("xvfb-run could not start");
        let driver = Self { child, url: format!("http://127.0.0.1:{port}") };
        // tauri-driver forwards a new session to WebKitWebDriver, which it
        // starts itself: a session asked for before that driver listens is
        // dropped mid-request (a CI run under load saw it), so both ports
        // are waited for.
        let deadline = Instant::now() + Duration::from_secs(30);
        for (name, port) in [("tauri-driver", port), ("WebKitWebDriver", native_port)] {
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(Instant::now() < deadline, "{name} did not listen on port {port} within 30 s");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// One WebDriver session: the app's window.
pub struct Session {
    http: reqwest::Client,
    base: String,
}

/// A reference to an element of the page.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Session {
    /// Starts `application` (its window) through the driver.
    pub async fn open(driver: &Driver, application: &Path) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        let capabilities = json!({ "capabilities": { "alwaysMatch": { "tauri:options": { "application": application } } } });
        let reply: Value = http.post(format!("{}/session", driver.url)).json(&capabilities).send().await.unwrap().json().await.unwrap();
        let id = reply["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no WebDriver session: {reply}")).to_owned();
        Self { http, base: format!("{}/session/{id}", driver.url) }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let reply: Value = response.json().await.map_err(|e| e.to_string())?;
        if status.is_success() { Ok(reply["value"].clone()) } else { Err(format!("{status}: {}", reply["value"])) }
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// The elements matching `xpath`, now.
    pub async fn all(&self, xpath: &str) -> Vec<Element> {
        match self.post("/elements", json!({ "using": "xpath", "value": xpath })).await {
            Ok(Value::Array(found)) => found.iter().filter_map(|e| e[ELEMENT].as_str()).map(|id| Element(id.to_owned())).collect(),
            _ => Vec::new(),
        }
    }

    /// The first element matching `xpath`, waiting up to `within` for it.
    pub async fn wait(&self, xpath: &str, within: Duration) -> Element {
        let deadline = Instant::now() + within;
        loop {
            if let Some(found) = self.all(xpath).await.into_iter().next() {
                return found;
            }
            if Instant::now() > deadline {
                let text = self.text_of_page().await;
                panic!("nothing matched {xpath} within {within:?}; the window shows:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The first element matching `xpath`, waiting up to 10 s.
    pub async fn find(&self, xpath: &str) -> Element {
        self.wait(xpath, Duration::from_secs(10)).await
    }

    /// The input a `<label>` starting with `label` is for.
    pub async fn input(&self, label: &str) -> Element {
        let label_el = self.find(&format!("//label[starts-with(normalize-space(.), {})]", literal(label))).await;
        let id = self.get(&format!("/element/{}/attribute/for", label_el.0)).await.unwrap();
        let id = id.as_str().unwrap_or_else(|| panic!("the label {label:?} is for no input"));
        self.find(&format!("//*[@id={}]", literal(id))).await
    }

    /// The button whose text is `name`.
    pub async fn button(&self, name: &str) -> Element {
        self.find(&format!("//button[normalize-space(.)={}]", literal(name))).await
    }

    /// Clicks the navigation entry `name`.
    pub async fn nav(&self, name: &str) {
        let entry = self.find(&format!("//*[contains(@class, 'mantine-NavLink-root')][normalize-space(.)={}]", literal(name))).await;
        self.click(&entry).await;
    }

    pub async fn click(&self, element: &Element) {
        self.post(&format!("/element/{}/click", element.0), json!({})).await.unwrap();
    }

    /// Replaces the element's value with `text`, as typing does.
    pub async fn fill(&self, element: &Element, text: &str) {
        self.post(&format!("/element/{}/clear", element.0), json!({})).await.unwrap();
        if !text.is_empty() {
            self.post(&format!("/element/{}/value", element.0), json!({ "text": text })).await.unwrap();
        }
    }

    pub async fn text(&self, element: &Element) -> String {
        self.get(&format!("/element/{}/text", element.0)).await.unwrap().as_str().unwrap_or_default().to_owned()
    }

    pub async fn enabled(&self, element: &Element) -> bool {
        self.get(&format!("/element/{}/enabled", element.0)).await.unwrap().as_bool().unwrap_or(false)
    }

    /// Everything the window shows as text (for failure messages).
    pub async fn text_of_page(&self) -> String {
        match self.post("/element", json!({ "using": "xpath", "value": "//body" })).await {
            Ok(body) => match body[ELEMENT].as_str() {
                Some(id) => self.get(&format!("/element/{id}/text")).await.ok().and_then(|t| t.as_str().map(str::to_owned)).unwrap_or_default(),
                None => String::new(),
            },
            Err(err) => format!("(could not read the page: {err})"),
        }
    }

    /// Runs `script` in the page and returns what it returns.
    pub async fn script(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": [] })).await.unwrap()
    }

    /// Runs `script` asynchronously (it calls its last argument with the
    /// result), waiting up to `within`.
    pub async fn script_async(&self, script: &str, within: Duration) -> Value {
        let ms = u64::try_from(within.as_millis()).unwrap_or(u64::MAX);
        self.post("/timeouts", json!({ "script": ms })).await.unwrap();
        self.post("/execute/async", json!({ "script": script, "args": [] })).await.unwrap()
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Vec<u8> {
        let data = self.get("/screenshot").await.unwrap();
        base64::engine::general_purpose::STANDARD.decode(data.as_str().unwrap_or_default()).unwrap()
    }

    /// Ends the session, which closes the app.
    pub async fn close(self) {
        let _ = self.call(reqwest::Method::DELETE, "", None).await;
    }
}

/// `text` as an XPath string literal.
pub fn literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        format!("concat('{}')", text.replace('\'', "', \"'\", '"))
    }
}
