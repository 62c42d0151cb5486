//! The RaptorFlow desktop app: one [`Core`] opened at start and kept in
//! Tauri's state, the commands in [`commands`], and Core's change events
//! forwarded to the window as `core-event` (so that what the CLI or a
//! teammate changes shows up without a reload).

pub mod commands;
pub mod desktop_settings;
pub mod error;
pub mod intel;
pub mod interfaces;
pub mod ipc;
pub mod settings;
pub mod swarm;

use std::path::PathBuf;

use rf_core::{Core, CoreConfig, LocalUser};
use tauri::Manager;
use tauri_specta::Event;

/// Where the app keeps its data: `RAPTORFLOW_DATA_DIR`, else the same
/// default directory as the CLI, so that both see the same workspaces.
pub fn data_dir() -> anyhow::Result<PathBuf> {
    match std::env::var_os("RAPTORFLOW_DATA_DIR") {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => rf_core::default_data_dir().ok_or_else(|| anyhow::anyhow!("no home directory found; set RAPTORFLOW_DATA_DIR")),
    }
}

/// The Core the app runs on, with the CLI's conventions for models.
pub async fn open_core(data_dir: PathBuf) -> anyhow::Result<Core> {
    let mut config = CoreConfig::new(&data_dir, LocalUser::from_env(None));
    if let Some(threads) = desktop_settings::load(&data_dir).threads {
        config.threads = usize::from(threads);
    }
    if let Some(models) = std::env::var_os("RAPTORFLOW_MODELS_DIR").filter(|d| !d.is_empty()) {
        config.models_dir = PathBuf::from(models);
    }
    Ok(Core::open_with(config).await?)
}

/// Runs the app until its window closes.
pub fn run() -> anyhow::Result<()> {
    let startup = commands::Startup::now();
    let data_dir = data_dir()?;
    let core = tauri::async_runtime::block_on(open_core(data_dir.clone()))
        .map_err(|err| anyhow::anyhow!("could not open the data directory {}: {err:#}", data_dir.display()))?;
    let events = core.subscribe();
    let ipc = ipc::builder();
    let core_for_runs = core.clone();
    tauri::Builder::default()
        // A second launch focuses the window that is already open: two
        // apps on one data directory would only confuse the user.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.unminimize();
                let _ = window.set_focus();
            }
        }))
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_dialog::init())
        .manage(core.clone())
        .manage(commands::AskRequests::default())
        .manage(startup)
        .manage(settings::Downloads::default())
        .manage(swarm::Drivers::default())
        .manage(interfaces::LocalApi::default())
        .invoke_handler(ipc.invoke_handler())
        .setup(move |app| {
            ipc.mount_events(app);
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(forward_events(handle.clone(), events));
            tauri::async_runtime::spawn(forward_run_events(handle, core_for_runs.clone()));
            tauri::async_runtime::spawn(sweep_signals(core_for_runs.clone()));
            let app_handle = app.handle().clone();
            let core_for_api = core_for_runs.clone();
            tauri::async_runtime::spawn(async move { app_handle.state::<interfaces::LocalApi>().start_saved(&core_for_api).await });
            Ok(())
        })
        .build(tauri::generate_context!())
        .map_err(|err| anyhow::anyhow!("could not start the window: {err}"))?
        .run(move |app, event| {
            if let tauri::RunEvent::Exit = event {
                tauri::async_runtime::block_on(async {
                    app.state::<interfaces::LocalApi>().stop().await;
                    core.close().await;
                });
            }
        });
    Ok(())
}

/// Sweeps the workspaces' market signals when they are due (daily unless
/// `signals_every_hours` says otherwise), checking every 15 minutes while
/// the app runs. Failures are logged; the next check tries again.
async fn sweep_signals(core: Core) {
    loop {
        match core.sweep_due_signals().await {
            Ok(done) => {
                for (workspace, outcome) in done {
                    match outcome {
                        Ok(sweep) => {
                            tracing::info!(%workspace, recorded = sweep.recorded.len(), calls = sweep.calls_sent, "swept the market signals");
                            for problem in &sweep.problems {
                                tracing::warn!(%workspace, "the signal sweep could not measure something: {problem}");
                            }
                        }
                        Err(err) => tracing::warn!(%workspace, "the signal sweep failed: {err}"),
                    }
                }
            }
            Err(err) => tracing::warn!("could not check for due signal sweeps: {err}"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(15 * 60)).await;
    }
}

/// Sends each of Core's change events to the window until Core closes.
async fn forward_events(app: tauri::AppHandle, mut events: tokio::sync::broadcast::Receiver<rf_core::CoreEvent>) {
    loop {
        match events.recv().await {
            Ok(event) => {
                if let Err(err) = ipc::CoreChanged(event).emit(&app) {
                    tracing::debug!(error = %err, "could not send a change event to the window");
                }
            }
            // The window re-reads everything on Resync; a lagging receiver
            // missed events, which is the same situation.
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                let _ = ipc::CoreChanged(rf_core::CoreEvent::Resync).emit(&app);
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Sends every event of the swarm's runs (streamed text included) to the
/// window as `run-event`. The roster is loaded here, at start, so that a
/// broken agent file shows in the log at once rather than at the first run.
async fn forward_run_events(app: tauri::AppHandle, core: Core) {
    let swarm = match core.swarm().await {
        Ok(swarm) => swarm,
        Err(err) => {
            tracing::error!("the swarm is unavailable: {err}");
            return;
        }
    };
    let mut events = swarm.subscribe();
    loop {
        match events.recv().await {
            Ok(record) => {
                if let Err(err) = ipc::RunChanged(record).emit(&app) {
                    tracing::debug!(error = %err, "could not send a run event to the window");
                }
            }
            // The screen re-reads a run's log when it sees a gap in `seq`.
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}
