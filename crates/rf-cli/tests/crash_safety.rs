//! Nothing acknowledged is lost: a writer killed with SIGKILL at random
//! moments never loses a move it reported as saved, and two processes on one
//! data directory both work and their changes merge.

mod support;

use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader},
    process::Stdio,
    time::Duration,
};

use rand::Rng;
use support::Cli;

const N_KILLS: usize = 24;

#[test]
fn moves_reported_as_saved_survive_sigkill() {
    let cli = Cli::new();
    let (_, campaign_id) = cli.workspace_with_campaign();
    let mut rng = rand::rng();
    let mut acknowledged = BTreeSet::new();
    for kill_idx in 0..N_KILLS {
        let mut writer = cli
            .command()
            .args(["dev", "add-moves", "--campaign", &campaign_id, "--count", "100000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the writer starts");
        let mut lines = BufReader::new(writer.stdout.take().unwrap()).lines();
        // Kill after a random number of acknowledged moves, then a random
        // extra pause, so the kill lands anywhere in the write path:
        // mid-transaction, mid-compaction, between chunk puts.
        let n_before_kill = rng.random_range(1..=25);
        for _ in 0..n_before_kill {
            let line = lines.next().expect("the writer prints ids").expect("utf-8 output");
            acknowledged.insert(line);
        }
        std::thread::sleep(Duration::from_micros(rng.random_range(0..30_000)));
        writer.kill().expect("SIGKILL the writer");
        // Ids printed before the kill took effect were acknowledged too.
        for line in lines {
            match line {
                Ok(line) => {
                    acknowledged.insert(line);
                }
                Err(_) => break,
            }
        }
        writer.wait().unwrap();

        // A fresh process opens the store cleanly and sees every acknowledged move.
        let stored: BTreeSet<String> = cli.move_ids(&campaign_id).into_iter().collect();
        let missing: Vec<_> = acknowledged.difference(&stored).collect();
        assert!(missing.is_empty(), "after kill {kill_idx}: acknowledged moves missing: {missing:?}");
    }
    assert!(acknowledged.len() >= N_KILLS, "each kill point followed at least one acknowledged move");
}

#[test]
fn two_processes_on_one_data_directory_both_work_and_merge() {
    let cli = Cli::new();
    let (_, campaign_id) = cli.workspace_with_campaign();
    let spawn = || {
        cli.command()
            .args(["dev", "add-moves", "--campaign", &campaign_id, "--count", "40"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("a writer starts")
    };
    let (first, second) = (spawn(), spawn());
    let mut written = BTreeSet::new();
    for writer in [first, second] {
        let output = writer.wait_with_output().unwrap();
        assert!(output.status.success(), "writer failed: {}", String::from_utf8_lossy(&output.stderr));
        let ids: Vec<String> = String::from_utf8(output.stdout).unwrap().lines().map(String::from).collect();
        assert_eq!(ids.len(), 40);
        written.extend(ids);
    }
    let stored: BTreeSet<String> = cli.move_ids(&campaign_id).into_iter().collect();
    assert_eq!(stored, written, "both processes' moves are in the merged campaign");

    // And the store is still sound for another writer.
    cli.run(["move", "add", "--campaign", &campaign_id, "--channel", "blog", "One more"]).ok();
    assert_eq!(cli.move_ids(&campaign_id).len(), 81);
}
