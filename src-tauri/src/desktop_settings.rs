//! Settings of the app itself (not of the engine, which `settings.toml`
//! holds for the CLI too): the number of threads the local models use
//! (applied at start, because candle sizes its thread pools once per
//! process) and whether the app runs the local API. Kept as `desktop.json`
//! in the data directory.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file, inside the data directory.
pub const FILE_NAME: &str = "desktop.json";

/// The most threads the setting accepts.
pub const MAX_THREADS: u16 = 256;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DesktopSettings {
    /// Threads for the local models; `None` is one per core.
    pub threads: Option<u16>,
    /// The local OpenAI-compatible API (and MCP on `/mcp`).
    pub api: ApiSettings,
}

/// Whether the app runs the local API while it is open, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSettings {
    pub enabled: bool,
    /// `None` is the default port (7420).
    pub port: Option<u16>,
    /// Serve MCP's writing tools (draft assets) on `/mcp`.
    pub mcp_allow_writes: bool,
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// The settings in `data_dir`: the defaults when there is no file yet. A
/// file that cannot be read is reported and the defaults used, so that a
/// damaged file never stops the app from starting.
pub fn load(data_dir: &Path) -> DesktopSettings {
    let path = path(data_dir);
    match std::fs::read(&path) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => DesktopSettings::default(),
        Err(err) => {
            tracing::warn!(path = %path.display(), error = %err, "could not read the app's settings; using the defaults");
            DesktopSettings::default()
        }
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|err| {
            tracing::warn!(path = %path.display(), error = %err, "the app's settings are not valid; using the defaults");
            DesktopSettings::default()
        }),
    }
}

/// Checks and saves `settings` (to a temporary file renamed over the old
/// one, so a crash leaves the old or the new settings, never half of one).
pub fn save(data_dir: &Path, settings: &DesktopSettings) -> Result<(), String> {
    if let Some(threads) = settings.threads
        && !(1..=MAX_THREADS).contains(&threads)
    {
        return Err(format!("must be between 1 and {MAX_THREADS}, got {threads}"));
    }
    std::fs::create_dir_all(data_dir).map_err(|err| format!("could not create {}: {err}", data_dir.display()))?;
    let path = path(data_dir);
    let temporary = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(settings).map_err(|err| err.to_string())?;
    std::fs::write(&temporary, bytes).map_err(|err| format!("could not write {}: {err}", temporary.display()))?;
    std::fs::rename(&temporary, &path).map_err(|err| format!("could not replace {}: {err}", path.display()))
}

/// When the saved thread count differs from what candle's pools will use
/// (`CANDLE_NUM_THREADS`, `RAYON_NUM_THREADS`), runs this program again
/// with both set and returns its exit code; `None` to go on.
pub fn rerun_with_threads(data_dir: &Path) -> Option<std::process::ExitCode> {
    rf_core::ai::rerun_with_pool_threads(load(data_dir).threads?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_bad_ones_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()), DesktopSettings::default());
        save(dir.path(), &DesktopSettings { threads: Some(2), ..DesktopSettings::default() }).unwrap();
        assert_eq!(load(dir.path()).threads, Some(2));
        let err = save(dir.path(), &DesktopSettings { threads: Some(0), ..DesktopSettings::default() }).unwrap_err();
        assert!(err.contains("between 1 and 256"), "{err}");
        assert_eq!(load(dir.path()).threads, Some(2));
        // A file from before the API setting still loads, with the API off.
        std::fs::write(path(dir.path()), br#"{ "threads": 3 }"#).unwrap();
        assert_eq!(load(dir.path()), DesktopSettings { threads: Some(3), api: ApiSettings::default() });
        // A damaged file does not stop the app: the defaults apply.
        std::fs::write(path(dir.path()), b"{ not json").unwrap();
        assert_eq!(load(dir.path()), DesktopSettings::default());
    }
}
