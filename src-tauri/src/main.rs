//! `raptorflow-desktop`: starts the app (see lib.rs).

// No console window behind the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

#[allow(clippy::print_stderr)]
fn main() -> ExitCode {
    // The thread count saved in the app's settings, applied before anything
    // starts a thread pool.
    if let Ok(data_dir) = raptorflow_desktop::data_dir()
        && let Some(code) = raptorflow_desktop::desktop_settings::rerun_with_threads(&data_dir)
    {
        return code;
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("RAPTORFLOW_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    match raptorflow_desktop::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
