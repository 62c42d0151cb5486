//! Bounded reading of files a user hands to rf-core (an import, an asset, a
//! brand codex, the settings file). A file's length cannot be trusted before
//! reading it (`/dev/zero` and pipes report 0, a file can grow), so every
//! read goes through `Read::take(limit + 1)` and is refused if more than the
//! limit came, having held at most `limit + 1` bytes and changed nothing.

use std::{io::Read, path::Path};

use crate::{CoreError, Result};

/// Largest import (workspace export) file, in bytes: 256 MiB.
pub const MAX_IMPORT_BYTES: u64 = 256 * 1024 * 1024;

/// Largest asset or brand codex file (JSON) a shell hands in, in bytes: 4 MiB.
pub const MAX_INPUT_BYTES: u64 = 4 * 1024 * 1024;

/// Largest settings file (`settings.toml`), in bytes: 1 MiB.
pub const MAX_SETTINGS_BYTES: u64 = 1024 * 1024;

/// Reads the whole file at `path`, refusing it with [`CoreError::TooLarge`]
/// once more than `limit` bytes have come. `what` names the file's role in
/// the error ("import file", "brand codex file"). A file that cannot be
/// opened or read is [`CoreError::Io`].
pub fn read_limited(path: &Path, what: &'static str, limit: u64) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|source| CoreError::Io { action: "could not read", path: path.to_owned(), source })?;
    // The length is only a hint for the first allocation: it is 0 for
    // devices and pipes, and may change while we read.
    let hint = file.metadata().map(|m| m.len()).unwrap_or(0).min(limit);
    read_limited_from(file, path, what, limit, hint)
}

/// Reads `reader` to its end the way [`read_limited`] reads a file; `name`
/// is what errors call it (a path, or `stdin`). `size_hint` is the expected
/// length, 0 if unknown.
pub fn read_limited_from(reader: impl Read, name: &Path, what: &'static str, limit: u64, size_hint: u64) -> Result<Vec<u8>> {
    let capacity = usize::try_from(size_hint.min(limit).saturating_add(1)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    reader.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(|source| CoreError::Io { action: "could not read", path: name.to_owned(), source })?;
    if bytes.len() as u64 > limit {
        return Err(CoreError::TooLarge { path: name.to_owned(), what, limit });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &[u8], limit: u64, expect_ok: bool) {
        let result = read_limited_from(input, Path::new("in.json"), "test file", limit, 0);
        match (result, expect_ok) {
            (Ok(bytes), true) => assert_eq!(bytes, input),
            (Err(err @ CoreError::TooLarge { .. }), false) => {
                assert_eq!(err.to_string(), format!("refused in.json: the test file is larger than its limit of {limit} bytes; nothing was changed"));
            }
            (other, _) => panic!("{} bytes, limit {limit}: {other:?}", input.len()),
        }
    }

    #[test]
    fn reads_up_to_the_limit_and_refuses_one_byte_more() {
        check(b"", 0, true);
        check(b"a", 0, false);
        check(b"abcd", 4, true);
        check(b"abcde", 4, false);
    }

    #[test]
    fn an_endless_reader_is_refused_after_limit_plus_one_bytes() {
        let mut endless = std::io::repeat(0);
        let err = read_limited_from(&mut endless, Path::new("/dev/zero"), "import file", 1024, 0).unwrap_err();
        assert!(matches!(err, CoreError::TooLarge { limit: 1024, .. }), "{err}");
    }
}
