//! Tauri's build step: the app's context (config, icons, capabilities) and
//! the interface in ui/dist, which must be built first (`npm run build` in
//! ui/; scripts/test.sh and scripts/run.sh do it).

fn main() {
    tauri_build::build();
}
