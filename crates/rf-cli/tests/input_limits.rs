//! Files handed to the CLI are read with a limit enforced while reading:
//! endless inputs (`/dev/zero`) and oversized files are refused with exit
//! code 2, a message naming the file and its limit, and nothing changed.
//! Imports may not reuse ids that another workspace here already owns.
//!
//! The endless-input runs happen under `prlimit --as` (4 GiB of address
//! space): a build that reads the whole input dies on a failed allocation
//! instead of exiting 2, so memory that is not bounded fails the test on any
//! machine, without timing anything.

mod support;

use std::process::Command;

use support::{Cli, Run};

/// The address-space cap for runs fed an endless input: far above what a
/// bounded read needs (the import limit is 256 MiB), far below what an
/// unbounded one reaches.
const ADDRESS_SPACE_CAP: &str = "--as=4294967296";

/// Runs the CLI under `prlimit`, with the same environment as `Cli::run`.
fn run_capped(cli: &Cli, args: &[&str]) -> Run {
    let plain = cli.command();
    let mut command = Command::new("prlimit");
    command.arg(ADDRESS_SPACE_CAP).arg("--").arg(plain.get_program()).args(plain.get_args()).args(args);
    for (key, value) in plain.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    let output = command.stdin(std::process::Stdio::null()).output().expect("prlimit (util-linux) runs; install util-linux if it is missing");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn workspace_count(cli: &Cli) -> usize {
    cli.run(["--json", "workspace", "list"]).ok().json().as_array().unwrap().len()
}

fn check_refused(run: &Run, needles: &[&str]) {
    assert_eq!(run.code, 2, "stdout {}\nstderr {}", run.stdout, run.stderr);
    for needle in needles {
        assert!(run.stderr.contains(needle), "stderr should mention {needle:?}: {}", run.stderr);
    }
}

#[test]
fn endless_and_oversized_imports_are_refused_while_reading() {
    let cli = Cli::new();
    cli.workspace_with_campaign();
    let run = run_capped(&cli, &["import", "/dev/zero"]);
    check_refused(&run, &["refused /dev/zero", "import file", "limit of 268435456 bytes", "nothing was changed"]);

    // A sparse file one byte over the limit: takes no disk space.
    let big = cli.dir.path().join("big.json");
    std::fs::File::create(&big).unwrap().set_len(256 * 1024 * 1024 + 1).unwrap();
    let run = run_capped(&cli, &["import", big.to_str().unwrap()]);
    check_refused(&run, &["big.json", "limit of 268435456 bytes", "nothing was changed"]);
    assert_eq!(workspace_count(&cli), 1);
}

#[test]
fn endless_and_oversized_brand_and_asset_files_are_refused_while_reading() {
    let cli = Cli::new();
    let (ws_id, _) = cli.workspace_with_campaign();
    let before = cli.run(["--json", "workspace", "show", &ws_id]).ok().stdout;

    let run = run_capped(&cli, &["workspace", "set-brand", &ws_id, "/dev/zero"]);
    check_refused(&run, &["refused /dev/zero", "limit of 4194304 bytes", "nothing was changed"]);
    let big = cli.dir.path().join("brand.json");
    std::fs::write(&big, vec![b' '; 4 * 1024 * 1024 + 1]).unwrap();
    let run = run_capped(&cli, &["workspace", "set-brand", &ws_id, big.to_str().unwrap()]);
    check_refused(&run, &["brand.json", "limit of 4194304 bytes"]);
    assert_eq!(cli.run(["--json", "workspace", "show", &ws_id]).ok().stdout, before);

    let run = run_capped(&cli, &["guardian", "check", "--platform", "x", "/dev/zero"]);
    check_refused(&run, &["refused /dev/zero", "limit of 4194304 bytes"]);
}

#[test]
fn an_import_reusing_another_workspaces_move_id_is_refused() {
    let cli = Cli::new();
    let (ws_id, campaign_id) = cli.workspace_with_campaign();
    let move_id = cli.add_move(&campaign_id, "Nurture");
    let file = cli.dir.path().join("export.json");
    cli.run(["export", "--workspace", &ws_id, file.to_str().unwrap()]).ok();

    // New workspace and campaign ids, the same move id.
    let new_ws = "0192f0c1-7a6e-7cc0-9a4e-3b1d2c4e5f61";
    let new_campaign = "0192f0c1-7a6e-7cc0-9a4e-3b1d2c4e5f62";
    let text = String::from_utf8(support::read(&file)).unwrap();
    let edited = text.replace(&ws_id, new_ws).replace(&campaign_id, new_campaign);
    assert!(edited.contains(&move_id) && !edited.contains(&ws_id));
    let edited_file = cli.dir.path().join("edited.json");
    std::fs::write(&edited_file, edited).unwrap();

    let run = cli.run(["import", edited_file.to_str().unwrap()]);
    check_refused(&run, &["the move id", &move_id, &format!("workspace {ws_id}"), "nothing was imported"]);
    assert_eq!(workspace_count(&cli), 1, "nothing was added");
    let shown = cli.run(["--json", "workspace", "show", new_ws]);
    assert_eq!(shown.code, 2, "the new workspace must not exist: {}", shown.stdout);

    // The move still belongs to its own campaign.
    let set = cli.run(["--json", "move", "set-status", &move_id, "done"]).ok().json();
    assert_eq!(set["campaign_id"].as_str(), Some(campaign_id.as_str()), "{set}");
}
