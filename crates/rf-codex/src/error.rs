//! Errors of the Codex. A [`FileProblem`] is about one file and never stops
//! a batch; a [`CodexError`] stops the operation it comes from.

/// Why one file was not imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    #[error("no such file or folder")]
    NotFound,
    #[error("not a regular file")]
    NotAFile,
    #[error("could not be read: {0}")]
    Unreadable(String),
    #[error("the file is empty (0 bytes); there is nothing to import")]
    Empty,
    #[error("{} files are not supported; the Codex reads {}", describe_extension(.extension), crate::MediaType::EXTENSIONS)]
    Unsupported { extension: Option<String> },
    #[error("the file is {} but the Codex imports files up to {}; split it or export the part you need", format_bytes(*.bytes), format_bytes(*.limit))]
    TooLarge { bytes: u64, limit: u64 },
    #[error("its text is {} once extracted, over the Codex's limit of {} per source; split it", format_bytes(*.bytes as u64), format_bytes(*.limit as u64))]
    TextTooLarge { bytes: usize, limit: usize },
    #[error("this is a binary file, not text (a NUL byte at offset {offset}); is the extension right?")]
    Binary { offset: usize },
    #[error("the text is not valid UTF-8 (line {line}, byte {offset}); save it as UTF-8 and import it again")]
    InvalidUtf8 { offset: usize, line: usize },
    #[error("not a PDF (no %PDF- header); is the extension right?")]
    NotPdf,
    #[error("the PDF is damaged or not readable: {0}")]
    CorruptPdf(String),
    #[error("not a readable DOCX: {0}")]
    NotDocx(String),
    #[error("not a readable CSV: {0}")]
    BadCsv(String),
    #[error("no text to import: {what}")]
    NoText { what: &'static str },
}

fn describe_extension(extension: &Option<String>) -> String {
    match extension {
        Some(extension) => format!(".{extension}"),
        None => "files without an extension".to_owned(),
    }
}

/// `1.5 MB`, `200.0 MB`, `812 bytes`.
pub fn format_bytes(bytes: u64) -> String {
    const MB: f64 = 1024.0 * 1024.0;
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MB", bytes as f64 / MB)
    }
}

/// An error that stops a Codex operation.
#[derive(Debug, thiserror::Error)]
pub enum CodexError {
    #[error(transparent)]
    Store(#[from] rf_store::StoreError),
    #[error("the Codex index could not be read or written: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Ai(#[from] rf_ai::AiError),
    #[error("could not split the text into chunks: {0}")]
    Chunking(String),
    /// Work run off the async runtime (splitting, embedding) did not finish.
    #[error("a background task of the Codex failed: {0}")]
    Task(String),
    #[error("invalid search: {0}")]
    InvalidQuery(String),
    #[error("the Codex index is damaged: {0}")]
    Damaged(String),
    #[error("could not move the damaged Codex index {} aside: {source}", path.display())]
    MoveAside { path: std::path::PathBuf, source: std::io::Error },
}

pub type Result<T, E = CodexError> = std::result::Result<T, E>;
