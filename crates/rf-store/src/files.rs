//! Whole-file writes that readers see entirely or not at all: the one way
//! the engine replaces a file (settings, the model store's lists, converted
//! models, exports).

use std::{fs::File, io, path::Path};

/// Writes `bytes` to `path` atomically (see [`write_atomically_with`]).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomically_with(path, |file| io::Write::write_all(file, bytes))
}

/// Creates or replaces `path` through a temporary file in the same
/// directory (made if missing) that `write` fills; the file is synced to
/// disk, renamed over `path`, and the directory is synced so that the rename
/// survives a power cut. A reader sees the old file or the whole new one; a
/// failure leaves the old file as it was and no temporary file behind.
pub fn write_atomically_with(path: &Path, write: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    if path.file_name().is_none() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile::Builder::new().prefix(".partial-").tempfile_in(dir)?;
    write(temp.as_file_mut())?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|err| err.error)?;
    sync_dir(dir);
    Ok(())
}

/// Makes a rename in `dir` durable. Best effort: Windows cannot open a
/// directory as a file, and there the rename is already journaled.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_replaces_the_whole_file_and_a_failed_one_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("settings.toml");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");

        let err = write_atomically_with(&path, |file| {
            io::Write::write_all(file, b"half of a thi")?;
            Err(io::Error::other("the writer failed midway"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "the writer failed midway");
        assert_eq!(std::fs::read(&path).unwrap(), b"second", "the old file is untouched");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["settings.toml"], "no temporary file is left behind");
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomically(&dir.path().join(".."), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
