//! Importing into the Codex: incremental re-imports, bad files that are
//! refused one by one, each with its own message, without stopping the batch
//! or touching what was already saved, and symbolic links and RaptorFlow's
//! own folders that are never followed out of what the user gave. Real
//! files, the real embedder, a real data directory.

mod common;

use std::path::PathBuf;

use rf_core::codex::{AddOptions, CodexProgress, FileOutcome, IndexProgress, SearchMode, SearchOptions, SkipReason};

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reimporting_embeds_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (core, workspace) = common::core_with_workspace(dir.path()).await;
    let folder = dir.path().join("brand");
    copy_dir(&common::corpus_dir().join("brand"), &folder);
    let n_files = std::fs::read_dir(&folder).unwrap().count();

    let first = common::add(&core, workspace, std::slice::from_ref(&folder)).await;
    assert_eq!(first.len(), n_files);
    let mut total_chunks = 0;
    for report in &first {
        let FileOutcome::Added { n_chunks, n_embedded, .. } = report.outcome else { panic!("{report:?}") };
        assert!(n_chunks > 0);
        assert_eq!(n_embedded, n_chunks, "a new source embeds every passage");
        total_chunks += n_chunks;
    }

    // The same folder again: nothing is embedded.
    let mut embedded_events = 0;
    let again = core
        .codex_add(workspace, std::slice::from_ref(&folder), &AddOptions::default(), &mut |event| {
            if matches!(event, CodexProgress::Index(IndexProgress::Embedded { .. })) {
                embedded_events += 1;
            }
        })
        .await
        .unwrap();
    assert!(again.iter().all(|r| matches!(r.outcome, FileOutcome::Unchanged { .. })), "{again:#?}");
    assert_eq!(embedded_events, 0);

    // One file edited at its end: only it is re-indexed, and only its new
    // passages go through the embedder.
    let edited = folder.join("positioning.md");
    let mut text = std::fs::read_to_string(&edited).unwrap();
    text.push_str("\n\n## Winter note\n\nIn snowy cities we lead with studded tyres and the heated grips bundle, code KC-WINTER-26.\n");
    std::fs::write(&edited, &text).unwrap();
    let third = common::add(&core, workspace, std::slice::from_ref(&folder)).await;
    for report in &third {
        if report.path.ends_with("positioning.md") {
            let FileOutcome::Updated { n_chunks, n_embedded, .. } = report.outcome else { panic!("{report:?}") };
            assert!(n_embedded >= 1 && n_embedded < n_chunks, "only the changed passages are embedded: {n_embedded} of {n_chunks}");
        } else {
            assert!(matches!(report.outcome, FileOutcome::Unchanged { .. }), "{report:?}");
        }
    }
    let hits =
        core.codex_search(workspace, "KC-WINTER-26", SearchOptions { mode: SearchMode::Keyword, k: 3, ..Default::default() }, &mut |_| {}).await.unwrap();
    assert!(hits.first().is_some_and(|p| p.text.contains("KC-WINTER-26")), "the edit is searchable: {hits:#?}");
    let listed = core.codex_list(workspace).await.unwrap();
    assert_eq!(listed.len(), n_files);
    assert!(listed.iter().all(|s| s.n_chunks.is_some()));
    assert!(listed.iter().map(|s| s.n_chunks.unwrap()).sum::<usize>() >= total_chunks);
    core.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_are_refused_one_by_one_and_the_rest_imported() {
    let dir = tempfile::tempdir().unwrap();
    let (core, workspace) = common::core_with_workspace(dir.path()).await;
    let folder = dir.path().join("inbox");
    std::fs::create_dir_all(&folder).unwrap();
    let good = folder.join("good.md");
    std::fs::write(&good, "# Spring push\n\nThe Commuter C2 spring push leads with the 30-day home test ride.\n").unwrap();
    // A PDF header, then damage.
    let mut corrupt = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n".to_vec();
    corrupt.extend((0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    std::fs::write(folder.join("corrupt.pdf"), &corrupt).unwrap();
    std::fs::write(folder.join("empty.md"), b"").unwrap();
    // A PNG renamed .md.
    std::fs::write(folder.join("image.md"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10").unwrap();
    // 200 MB, sparse: refused by its size before it is read.
    std::fs::File::create(folder.join("huge.txt")).unwrap().set_len(200 * 1024 * 1024).unwrap();
    // Latin-1, not UTF-8.
    std::fs::write(folder.join("latin1.txt"), b"Caf\xe9 cr\xe8me, the caf\xe9 campaign\n").unwrap();
    std::fs::write(folder.join("logo.png"), b"\x89PNG\r\n\x1a\n").unwrap();
    let missing = dir.path().join("no-such-folder");

    let reports = common::add(&core, workspace, &[folder.clone(), missing.clone()]).await;
    assert_eq!(reports.len(), 8, "{reports:#?}");
    assert!(matches!(common::outcome(&reports, "good.md"), FileOutcome::Added { .. }));
    let expect = |suffix: &str, words: &str| {
        let FileOutcome::Failed { error } = common::outcome(&reports, suffix) else { panic!("{suffix} should fail: {reports:#?}") };
        assert!(error.contains(words), "{suffix}: {error:?} should say {words:?}");
        error.clone()
    };
    let messages = [
        expect("corrupt.pdf", "PDF is damaged"),
        expect("empty.md", "empty (0 bytes)"),
        expect("image.md", "binary file, not text"),
        expect("huge.txt", "200.0 MB"),
        expect("latin1.txt", "not valid UTF-8 (line 1, byte 3)"),
        expect("logo.png", ".png files are not supported"),
        expect("no-such-folder", "no such file or folder"),
    ];
    let distinct: std::collections::BTreeSet<&String> = messages.iter().collect();
    assert_eq!(distinct.len(), messages.len(), "each problem has its own message");
    assert_eq!(core.codex_list(workspace).await.unwrap().len(), 1);

    // A saved source whose file is now broken keeps its saved text.
    let before = core.codex_list(workspace).await.unwrap();
    std::fs::write(&good, b"\0\0\0garbage").unwrap();
    let reports = common::add(&core, workspace, std::slice::from_ref(&good)).await;
    assert!(matches!(reports[0].outcome, FileOutcome::Failed { .. }), "{reports:#?}");
    assert_eq!(core.codex_list(workspace).await.unwrap(), before);
    let hits = core.codex_search(workspace, "home test ride", SearchOptions::default(), &mut |_| {}).await.unwrap();
    assert!(hits.iter().any(|p| p.text.contains("30-day home test ride")), "{hits:#?}");

    // An unknown workspace is refused before anything is read.
    let err = core.codex_add(rf_domain::WorkspaceId::new(), &[PathBuf::from("x.md")], &AddOptions::default(), &mut |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("no workspace"), "{err}");
    core.close().await;
}

/// `folder/a.md`, `folder/sub/b.md`; a secret outside the folder (no
/// extension, like `~/.ssh/id_rsa`) and `folder/notes.md` linking to it;
/// `folder/up -> ..` and `folder/sub/loop -> ..` (back to `folder`).
#[cfg(unix)]
fn folder_with_links(base: &std::path::Path) -> PathBuf {
    use std::os::unix::fs::symlink;
    let folder = base.join("folder");
    std::fs::create_dir_all(folder.join("sub")).unwrap();
    std::fs::write(folder.join("a.md"), "# Fold F1 pricing\n\nThe Fold F1 costs 1,299 euros at launch.\n").unwrap();
    std::fs::write(folder.join("sub/b.md"), "# Commuter C2 range\n\nThe Commuter C2 rides fifty miles on one charge.\n").unwrap();
    std::fs::create_dir_all(base.join("ssh")).unwrap();
    std::fs::write(base.join("ssh/id_rsa"), "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA secret\n").unwrap();
    symlink(base.join("ssh/id_rsa"), folder.join("notes.md")).unwrap();
    symlink("..", folder.join("up")).unwrap();
    symlink("..", folder.join("sub/loop")).unwrap();
    folder
}

#[cfg(unix)]
fn n_added(reports: &[rf_core::codex::FileReport]) -> usize {
    reports.iter().filter(|r| matches!(r.outcome, FileOutcome::Added { .. })).count()
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_inside_folders_never_import_what_is_outside_and_loops_end() {
    let dir = tempfile::tempdir().unwrap();
    let (core, workspace) = common::core_with_workspace(dir.path()).await;
    let folder = folder_with_links(dir.path());

    // By default no link inside the folder is followed: each is reported.
    let reports = common::add(&core, workspace, std::slice::from_ref(&folder)).await;
    assert_eq!(n_added(&reports), 2, "a.md and sub/b.md only: {reports:#?}");
    for link in ["notes.md", "up", "sub/loop"] {
        assert_eq!(common::outcome(&reports, link), &FileOutcome::Skipped { reason: SkipReason::Symlink }, "{link}");
    }
    assert_eq!(reports.len(), 5, "{reports:#?}");

    // Followed on request, a link may not leave the folder, and `loop -> ..`
    // ends: every file is read once.
    let options = AddOptions { follow_symlinks: true, ..AddOptions::default() };
    let reports = common::add_with(&core, workspace, std::slice::from_ref(&folder), &options).await;
    assert_eq!(reports.len(), 5, "{reports:#?}");
    assert!(matches!(common::outcome(&reports, "notes.md"), FileOutcome::Skipped { reason: SkipReason::SymlinkOutside { .. } }), "{reports:#?}");
    assert!(matches!(common::outcome(&reports, "folder/up"), FileOutcome::Skipped { reason: SkipReason::SymlinkOutside { .. } }), "{reports:#?}");
    assert!(matches!(common::outcome(&reports, "sub/loop"), FileOutcome::Skipped { reason: SkipReason::AlreadyRead { .. } }), "{reports:#?}");
    assert!(matches!(common::outcome(&reports, "a.md"), FileOutcome::Unchanged { .. }));

    let listed = core.codex_list(workspace).await.unwrap();
    assert_eq!(listed.iter().map(|s| s.title.as_str()).collect::<Vec<_>>(), ["Commuter C2 range", "Fold F1 pricing"]);
    for source in &listed {
        let text = core.codex_source(workspace, source.source_id).await.unwrap().text;
        assert!(!text.contains("PRIVATE KEY"), "the secret was imported: {text}");
    }
    core.close().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_inside_an_imported_folder_is_never_imported() {
    let dir = tempfile::tempdir().unwrap();
    // The data directory lives in the very folder the user imports.
    let folder = dir.path().join("work");
    let (core, workspace) = common::core_with_workspace(&folder).await;
    std::fs::write(folder.join("brief.md"), "# Brief\n\nLead with the belt drive.\n").unwrap();
    // Something importable inside the data directory, as an export could be.
    std::fs::write(folder.join("data/notes.md"), "# Not for the Codex\n\nThis lives in the data directory.\n").unwrap();

    let reports = common::add(&core, workspace, std::slice::from_ref(&folder)).await;
    assert!(matches!(common::outcome(&reports, "brief.md"), FileOutcome::Added { .. }), "{reports:#?}");
    let FileOutcome::Skipped { reason } = common::outcome(&reports, "work/data") else { panic!("{reports:#?}") };
    assert!(reason.to_string().contains("data directory"), "{reason}");
    assert_eq!(reports.len(), 2, "nothing inside the data directory is even listed: {reports:#?}");
    // Named directly, a file inside it is refused too.
    let reports = common::add(&core, workspace, &[folder.join("data/notes.md")]).await;
    assert!(matches!(reports[0].outcome, FileOutcome::Skipped { reason: SkipReason::Excluded { .. } }), "{reports:#?}");
    assert_eq!(core.codex_list(workspace).await.unwrap().len(), 1);
    core.close().await;
}
