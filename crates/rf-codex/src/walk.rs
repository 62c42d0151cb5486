//! Which files an import reads: the paths a user gives, folders walked in a
//! stable order with hidden entries left out, symbolic links inside folders
//! not followed unless asked (and then only to places inside the given
//! folders, each folder and file read once), and never RaptorFlow's own data.
//!
//! A link inside a folder can point anywhere (`id_rsa -> ~/.ssh/id_rsa`,
//! `loop -> ..`), and whatever is imported syncs to every teammate, so the
//! walk trusts only what is really inside the folders it was given.

use std::{
    collections::HashMap,
    fs::Metadata,
    path::{Path, PathBuf},
};

use crate::FileProblem;

/// How an import walks its folders.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalkOptions {
    /// Follow symbolic links inside folders when their target is inside one
    /// of the given paths. Off: every link inside a folder is skipped.
    pub follow_symlinks: bool,
    /// Folders never read, whatever the paths given: the data directory
    /// (its exports and index would be imported into themselves) and the
    /// models directory.
    pub excluded: Vec<ExcludedDir>,
}

/// A folder an import never reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExcludedDir {
    /// What it is, for the report: "data directory".
    pub what: &'static str,
    pub path: PathBuf,
}

/// Why an entry was left out of an import on purpose. Unlike a
/// [`FileProblem`], a skipped entry does not make the import fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    #[error("a symbolic link; links inside folders are not followed")]
    Symlink,
    #[error("a symbolic link to {}, outside the paths being imported", .target.display())]
    SymlinkOutside { target: PathBuf },
    #[error("a symbolic link whose target cannot be read: {0}")]
    BrokenSymlink(String),
    #[error("the same file or folder as {}, already read in this import", .first.display())]
    AlreadyRead { first: PathBuf },
    #[error("inside RaptorFlow's {what} ({}), which is never imported", .dir.display())]
    Excluded { what: &'static str, dir: PathBuf },
    #[error("not a regular file or folder (a socket, pipe or device)")]
    Special,
}

/// What the walk decided about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A file to import.
    File,
    /// A path that cannot be imported: the import reports it as failed.
    Problem(FileProblem),
    /// Left out on purpose, with the reason.
    Skipped(SkipReason),
}

/// One path the walk met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundEntry {
    /// As the user would name it: the given path, joined with the names
    /// inside it.
    pub path: PathBuf,
    pub found: Found,
}

/// What identifies a file or folder however it is reached: (device, inode)
/// on Unix, the canonical path elsewhere.
#[cfg(unix)]
type Identity = (u64, u64);
#[cfg(not(unix))]
type Identity = PathBuf;

#[cfg(unix)]
fn identity(metadata: &Metadata, _real: &Path) -> Identity {
    use std::os::unix::fs::MetadataExt;
    (metadata.dev(), metadata.ino())
}

#[cfg(not(unix))]
fn identity(_metadata: &Metadata, real: &Path) -> Identity {
    real.to_owned()
}

struct Walk<'a> {
    options: &'a WalkOptions,
    /// Canonical forms of the given paths: followed links must land inside.
    roots: Vec<PathBuf>,
    /// Canonical forms of the excluded folders that exist.
    excluded: Vec<ExcludedDir>,
    /// Every folder and file read so far, with the path it was first met at;
    /// this is what ends `loop -> ..` and imports a file reached twice once.
    seen: HashMap<Identity, PathBuf>,
    out: Vec<FoundEntry>,
}

/// Every path under `paths` with what to do about it, in a stable order.
/// A path given directly may itself be a symbolic link (it is resolved);
/// inside folders, links are followed only as `options` allows. Blocking.
pub fn collect_files(paths: &[PathBuf], options: &WalkOptions) -> Vec<FoundEntry> {
    let excluded = options.excluded.iter().filter_map(|dir| std::fs::canonicalize(&dir.path).ok().map(|path| ExcludedDir { what: dir.what, path })).collect();
    let roots = paths.iter().filter_map(|path| std::fs::canonicalize(path).ok()).collect();
    let mut walk = Walk { options, roots, excluded, seen: HashMap::new(), out: Vec::new() };
    for path in paths {
        walk.root(path);
    }
    walk.out
}

impl Walk<'_> {
    fn push(&mut self, path: PathBuf, found: Found) {
        self.out.push(FoundEntry { path, found });
    }

    fn excluded_by(&self, real: &Path) -> Option<SkipReason> {
        self.excluded.iter().find(|dir| real.starts_with(&dir.path)).map(|dir| SkipReason::Excluded { what: dir.what, dir: dir.path.clone() })
    }

    fn root(&mut self, path: &Path) {
        let (metadata, real) = match std::fs::metadata(path).and_then(|m| Ok((m, std::fs::canonicalize(path)?))) {
            Ok(found) => found,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return self.push(path.to_owned(), Found::Problem(FileProblem::NotFound)),
            Err(err) => return self.push(path.to_owned(), Found::Problem(FileProblem::Unreadable(err.to_string()))),
        };
        self.target(path.to_owned(), &real, &metadata);
    }

    /// A path known to be what it is, `real` being its canonical form.
    fn target(&mut self, shown: PathBuf, real: &Path, metadata: &Metadata) {
        if let Some(reason) = self.excluded_by(real) {
            return self.push(shown, Found::Skipped(reason));
        }
        if !metadata.is_dir() && !metadata.is_file() {
            return self.push(shown, Found::Skipped(SkipReason::Special));
        }
        if let Some(first) = self.seen.get(&identity(metadata, real)) {
            let reason = SkipReason::AlreadyRead { first: first.clone() };
            return self.push(shown, Found::Skipped(reason));
        }
        self.seen.insert(identity(metadata, real), shown.clone());
        if metadata.is_dir() {
            self.dir(&shown, real);
        } else {
            self.push(shown, Found::File);
        }
    }

    fn dir(&mut self, shown: &Path, real: &Path) {
        let entries = match std::fs::read_dir(real) {
            Ok(entries) => entries,
            Err(err) => return self.push(shown.to_owned(), Found::Problem(FileProblem::Unreadable(err.to_string()))),
        };
        let mut names: Vec<_> = entries.filter_map(Result::ok).map(|entry| entry.file_name()).collect();
        names.sort();
        for name in names {
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let (child_shown, child_real) = (shown.join(&name), real.join(&name));
            let metadata = match std::fs::symlink_metadata(&child_real) {
                Ok(metadata) => metadata,
                Err(err) => {
                    self.push(child_shown, Found::Problem(FileProblem::Unreadable(err.to_string())));
                    continue;
                }
            };
            if metadata.file_type().is_symlink() {
                self.link(child_shown, &child_real);
            } else {
                // `real` is canonical and this entry is no link, so this is too.
                self.target(child_shown, &child_real, &metadata);
            }
        }
    }

    fn link(&mut self, shown: PathBuf, link: &Path) {
        if !self.options.follow_symlinks {
            return self.push(shown, Found::Skipped(SkipReason::Symlink));
        }
        let (metadata, target) = match std::fs::canonicalize(link).and_then(|target| Ok((std::fs::metadata(&target)?, target))) {
            Ok(found) => found,
            Err(err) => return self.push(shown, Found::Skipped(SkipReason::BrokenSymlink(err.to_string()))),
        };
        if !self.roots.iter().any(|root| target.starts_with(root)) {
            return self.push(shown, Found::Skipped(SkipReason::SymlinkOutside { target }));
        }
        self.target(shown, &target, &metadata);
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn summary(entries: &[FoundEntry], base: &Path) -> Vec<String> {
        entries
            .iter()
            .map(|entry| {
                let path = entry.path.strip_prefix(base).unwrap_or(&entry.path).display().to_string();
                match &entry.found {
                    Found::File => path,
                    Found::Problem(problem) => format!("{path}: failed: {problem}"),
                    Found::Skipped(reason) => format!("{path}: skipped: {}", reason.to_string().replace(&base.display().to_string(), "BASE")),
                }
            })
            .collect()
    }

    /// `folder/a.md`, `folder/sub/b.md`, a secret outside the folder, a link
    /// to it, and a link back up.
    fn tree() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let folder = base.join("folder");
        std::fs::create_dir_all(folder.join("sub")).unwrap();
        std::fs::write(folder.join("a.md"), "a").unwrap();
        std::fs::write(folder.join("sub/b.md"), "b").unwrap();
        std::fs::write(base.join("id_rsa"), "secret").unwrap();
        symlink(base.join("id_rsa"), folder.join("key")).unwrap();
        symlink("..", folder.join("sub/loop")).unwrap();
        symlink("a.md", folder.join("alias.md")).unwrap();
        (dir, base)
    }

    #[test]
    fn links_inside_folders_are_skipped_by_default() {
        let (_dir, base) = tree();
        let found = collect_files(&[base.join("folder")], &WalkOptions::default());
        assert_eq!(
            summary(&found, &base),
            [
                "folder/a.md",
                "folder/alias.md: skipped: a symbolic link; links inside folders are not followed",
                "folder/key: skipped: a symbolic link; links inside folders are not followed",
                "folder/sub/b.md",
                "folder/sub/loop: skipped: a symbolic link; links inside folders are not followed",
            ]
        );
    }

    #[test]
    fn followed_links_stay_inside_the_roots_and_read_everything_once() {
        let (_dir, base) = tree();
        let options = WalkOptions { follow_symlinks: true, excluded: Vec::new() };
        let found = collect_files(&[base.join("folder")], &options);
        assert_eq!(
            summary(&found, &base),
            [
                "folder/a.md",
                "folder/alias.md: skipped: the same file or folder as BASE/folder/a.md, already read in this import",
                "folder/key: skipped: a symbolic link to BASE/id_rsa, outside the paths being imported",
                "folder/sub/b.md",
                "folder/sub/loop: skipped: the same file or folder as BASE/folder, already read in this import",
            ]
        );
    }

    #[test]
    fn a_link_given_as_a_path_is_resolved_and_excluded_folders_are_never_read() {
        let (_dir, base) = tree();
        symlink(base.join("folder"), base.join("shortcut")).unwrap();
        std::fs::create_dir_all(base.join("folder/data")).unwrap();
        std::fs::write(base.join("folder/data/export.md"), "x").unwrap();
        let options = WalkOptions { follow_symlinks: false, excluded: vec![ExcludedDir { what: "data directory", path: base.join("folder/data") }] };
        let found = collect_files(&[base.join("shortcut"), base.join("folder/data/export.md")], &options);
        let summary = summary(&found, &base);
        assert_eq!(summary[0], "shortcut/a.md");
        assert_eq!(summary[2], "shortcut/data: skipped: inside RaptorFlow's data directory (BASE/folder/data), which is never imported");
        assert_eq!(summary.last().unwrap(), "folder/data/export.md: skipped: inside RaptorFlow's data directory (BASE/folder/data), which is never imported");
    }
}
