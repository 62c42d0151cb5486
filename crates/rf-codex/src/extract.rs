//! Text from files: Markdown and plain text as they are, HTML's main content
//! (navigation, banners and footers dropped), a PDF's text layer, a DOCX's
//! paragraphs and tables, and a CSV's rows.
//!
//! Every refusal is a [`FileProblem`] that says what is wrong with the file;
//! the caller names the file.

use std::{io::Read, path::Path};

use scraper::{ElementRef, Html, Node, Selector};

use crate::FileProblem;

/// What the Codex accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest file read, in bytes.
    pub max_file_bytes: u64,
    /// Largest extracted text kept, in bytes of UTF-8.
    pub max_text_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_file_bytes: 64 * 1024 * 1024, max_text_bytes: 8 * 1024 * 1024 }
    }
}

/// The kinds of file the Codex reads, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Markdown,
    PlainText,
    Html,
    Pdf,
    Docx,
    Csv,
}

impl MediaType {
    /// Extensions the Codex reads, for messages.
    pub const EXTENSIONS: &'static str = "md, markdown, txt, text, html, htm, pdf, docx, csv";

    /// The media type of a file name's extension, if the Codex reads it.
    pub fn of_path(path: &Path) -> Option<Self> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match extension.as_str() {
            "md" | "markdown" => Self::Markdown,
            "txt" | "text" => Self::PlainText,
            "html" | "htm" => Self::Html,
            "pdf" => Self::Pdf,
            "docx" => Self::Docx,
            "csv" => Self::Csv,
            _ => return None,
        })
    }

    /// The IANA media type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Markdown => "text/markdown",
            Self::PlainText => "text/plain",
            Self::Html => "text/html",
            Self::Pdf => "application/pdf",
            Self::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Self::Csv => "text/csv",
        }
    }

    /// Whether extracted text of this kind is Markdown-shaped (headings as
    /// `#` lines), so that chunking can follow its headings.
    pub fn is_markdown_shaped(media_type: &str) -> bool {
        matches!(media_type, "text/markdown" | "text/html" | "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    }
}

/// A file's text, ready to be stored and chunked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub title: String,
    pub media_type: MediaType,
    /// sha256 of the file's bytes, lowercase hex.
    pub content_hash: String,
    pub text: String,
}

/// Reads and extracts one file. Blocking; run it off the async runtime.
pub fn extract_file(path: &Path, limits: &Limits) -> Result<Extracted, FileProblem> {
    let metadata = std::fs::metadata(path).map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => FileProblem::NotFound,
        _ => FileProblem::Unreadable(err.to_string()),
    })?;
    if !metadata.is_file() {
        return Err(FileProblem::NotAFile);
    }
    let media_type =
        MediaType::of_path(path).ok_or_else(|| FileProblem::Unsupported { extension: path.extension().map(|e| e.to_string_lossy().into_owned()) })?;
    if metadata.len() > limits.max_file_bytes {
        return Err(FileProblem::TooLarge { bytes: metadata.len(), limit: limits.max_file_bytes });
    }
    if metadata.len() == 0 {
        return Err(FileProblem::Empty);
    }
    // Read at most one byte past the limit, in case the file grew.
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    std::fs::File::open(path)
        .and_then(|file| file.take(limits.max_file_bytes + 1).read_to_end(&mut bytes))
        .map_err(|err| FileProblem::Unreadable(err.to_string()))?;
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(FileProblem::TooLarge { bytes: bytes.len() as u64, limit: limits.max_file_bytes });
    }
    extract_bytes(path, media_type, &bytes, limits)
}

/// Extracts text from a file's bytes; `path` gives the title when the file
/// has none.
pub fn extract_bytes(path: &Path, media_type: MediaType, bytes: &[u8], limits: &Limits) -> Result<Extracted, FileProblem> {
    if bytes.is_empty() {
        return Err(FileProblem::Empty);
    }
    let content_hash = crate::sha256_hex(bytes);
    let (title, text) = match media_type {
        MediaType::Markdown => {
            let text = normalize_newlines(decode_text(bytes)?);
            (markdown_title(&text), text)
        }
        MediaType::PlainText => {
            let text = normalize_newlines(decode_text(bytes)?);
            (first_line_title(&text), text)
        }
        MediaType::Csv => {
            let text = decode_text(bytes)?;
            (None, csv_text(&text)?)
        }
        MediaType::Html => {
            let text = decode_text(bytes)?;
            html_text(&text)
        }
        MediaType::Pdf => {
            let text = normalize_newlines(pdf_text(bytes)?);
            (first_line_title(&text), text)
        }
        MediaType::Docx => docx_text(bytes)?,
    };
    let text = text.trim().to_owned();
    if text.is_empty() {
        return Err(FileProblem::NoText { what: media_type.no_text_hint() });
    }
    if text.len() > limits.max_text_bytes {
        return Err(FileProblem::TextTooLarge { bytes: text.len(), limit: limits.max_text_bytes });
    }
    let title = title.filter(|t| !t.is_empty()).unwrap_or_else(|| file_stem_title(path));
    // The title syncs to teammates and is shown in lists: escape sequences
    // and bidi overrides from a file name or heading must not travel with it.
    let title = rf_domain::replace_unsafe_chars(&title).trim().to_owned();
    Ok(Extracted { title, media_type, content_hash, text })
}

impl MediaType {
    fn no_text_hint(self) -> &'static str {
        match self {
            Self::Pdf => "the PDF has no text layer (a scan needs OCR first)",
            Self::Html => "the page has no text outside navigation, scripts and styles",
            Self::Docx => "the document has no paragraphs with text",
            Self::Csv => "the CSV has a header but no rows",
            Self::Markdown | Self::PlainText => "the file holds only whitespace",
        }
    }
}

/// Text files must be UTF-8 and not binary.
fn decode_text(bytes: &[u8]) -> Result<String, FileProblem> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Some(offset) = bytes.iter().take(64 * 1024).position(|&b| b == 0) {
        return Err(FileProblem::Binary { offset });
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_owned()),
        Err(err) => {
            let offset = err.valid_up_to();
            let line = bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
            Err(FileProblem::InvalidUtf8 { offset, line })
        }
    }
}

fn normalize_newlines(text: String) -> String {
    if text.contains('\r') { text.replace("\r\n", "\n").replace('\r', "\n") } else { text }
}

fn file_stem_title(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().replace(['-', '_'], " ")).unwrap_or_default().trim().to_owned()
}

const MAX_TITLE_CHARS: usize = 120;

fn markdown_title(text: &str) -> Option<String> {
    let heading = text.lines().map(str::trim_start).find_map(|line| line.strip_prefix("# ")).map(|t| t.trim().to_owned());
    heading.filter(|t| t.chars().count() <= MAX_TITLE_CHARS).or_else(|| first_line_title(text))
}

fn first_line_title(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|line| !line.is_empty())?;
    let line = line.trim_start_matches('#').trim();
    (line.chars().count() <= MAX_TITLE_CHARS).then(|| line.to_owned())
}

/// One paragraph per row: `column: value` lines, so that a review or a price
/// keeps its column names beside it.
fn csv_text(text: &str) -> Result<String, FileProblem> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers: Vec<String> = reader.headers().map_err(|err| FileProblem::BadCsv(err.to_string()))?.iter().map(|h| h.trim().to_owned()).collect();
    let mut out = String::new();
    for record in reader.records() {
        let record = record.map_err(|err| FileProblem::BadCsv(err.to_string()))?;
        let mut row = String::new();
        for (i, value) in record.iter().enumerate() {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let name = headers.get(i).map_or("", String::as_str);
            if !row.is_empty() {
                row.push('\n');
            }
            if !name.is_empty() {
                row.push_str(name);
                row.push_str(": ");
            }
            row.push_str(&value.replace(['\r', '\n'], " "));
        }
        if !row.is_empty() {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(&row);
        }
    }
    Ok(out)
}

/// Elements whose text is never content.
const SKIPPED_ELEMENTS: &[&str] =
    &["nav", "header", "footer", "aside", "script", "style", "noscript", "template", "svg", "form", "button", "iframe", "select", "dialog"];
/// Elements that start a new paragraph.
const BLOCK_ELEMENTS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "table",
    "thead",
    "tbody",
    "tr",
    "blockquote",
    "pre",
    "figure",
    "figcaption",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "address",
    "details",
    "summary",
];

/// The page's title and its main content as Markdown-shaped text: headings
/// as `#` lines, list items as `- ` lines, table rows as `a | b` lines.
fn html_text(source: &str) -> (Option<String>, String) {
    let document = Html::parse_document(source);
    let select = |css: &str| Selector::parse(css).ok().and_then(|s| document.select(&s).next());
    let title = select("title").map(|t| collapse_whitespace(&t.text().collect::<String>())).filter(|t| !t.is_empty());
    let root = select("main").or_else(|| select("[role=main]")).or_else(|| select("article")).or_else(|| select("body"));
    let mut writer = HtmlWriter::default();
    if let Some(root) = root {
        writer.element(root);
    }
    writer.end_block();
    let title = title.or_else(|| select("h1").map(|h| collapse_whitespace(&h.text().collect::<String>())));
    (title, writer.blocks.join("\n\n"))
}

#[derive(Default)]
struct HtmlWriter {
    blocks: Vec<String>,
    line: String,
    in_pre: usize,
}

impl HtmlWriter {
    fn end_block(&mut self) {
        let line = std::mem::take(&mut self.line);
        let line = line.trim();
        if !line.is_empty() && line != "-" && !line.chars().all(|c| c == '#' || c == ' ') {
            self.blocks.push(line.to_owned());
        }
    }

    fn text(&mut self, text: &str) {
        if self.in_pre > 0 {
            self.line.push_str(text);
            return;
        }
        let collapsed = collapse_whitespace(text);
        if collapsed.is_empty() {
            if text.chars().any(char::is_whitespace) && !self.line.is_empty() && !self.line.ends_with(' ') {
                self.line.push(' ');
            }
            return;
        }
        if text.starts_with(char::is_whitespace) && !self.line.is_empty() && !self.line.ends_with(' ') {
            self.line.push(' ');
        }
        self.line.push_str(&collapsed);
        if text.ends_with(char::is_whitespace) {
            self.line.push(' ');
        }
    }

    fn element(&mut self, element: ElementRef<'_>) {
        let value = element.value();
        let name = value.name();
        if SKIPPED_ELEMENTS.contains(&name) || value.attr("hidden").is_some() || value.attr("aria-hidden") == Some("true") || is_banner(value) {
            return;
        }
        let block = BLOCK_ELEMENTS.contains(&name);
        if block {
            self.end_block();
        }
        match name {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                let level = usize::from(name.as_bytes()[1] - b'0');
                self.line.push_str(&"#".repeat(level));
                self.line.push(' ');
            }
            "li" => self.line.push_str("- "),
            "br" => self.end_block(),
            "pre" => self.in_pre += 1,
            _ => {}
        }
        let mut first_cell = true;
        for child in element.children() {
            match child.value() {
                Node::Text(text) => self.text(text),
                Node::Element(_) => {
                    if let Some(child) = ElementRef::wrap(child) {
                        if matches!(child.value().name(), "td" | "th") {
                            if !first_cell {
                                self.line.push_str(" | ");
                            }
                            first_cell = false;
                            let before = self.line.len();
                            self.element(child);
                            let cell = self.line[before..].trim().to_owned();
                            self.line.truncate(before);
                            self.line.push_str(&cell);
                        } else {
                            self.element(child);
                        }
                    }
                }
                _ => {}
            }
        }
        if name == "pre" {
            self.in_pre -= 1;
        }
        if block {
            self.end_block();
        }
    }
}

/// Cookie and consent banners, by their ids and classes.
fn is_banner(element: &scraper::node::Element) -> bool {
    let marks = [element.attr("id").unwrap_or(""), element.attr("class").unwrap_or("")];
    marks.iter().any(|mark| {
        let mark = mark.to_ascii_lowercase();
        mark.contains("cookie") || mark.contains("consent") || mark.contains("newsletter-signup")
    })
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A PDF's text layer. The PDF parser is given malformed input by design
/// here, so a panic inside it is caught and reported as a damaged file.
fn pdf_text(bytes: &[u8]) -> Result<String, FileProblem> {
    let head = &bytes[..bytes.len().min(1024)];
    if !head.windows(5).any(|w| w == b"%PDF-") {
        return Err(FileProblem::NotPdf);
    }
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pdf_extract::extract_text_from_mem(bytes)));
    let text = match outcome {
        Ok(Ok(text)) => text,
        Ok(Err(err)) => return Err(FileProblem::CorruptPdf(err.to_string())),
        Err(panic) => {
            let detail = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "the PDF parser gave up".to_owned());
            return Err(FileProblem::CorruptPdf(detail));
        }
    };
    // The text layer breaks lines where the page did; keep paragraphs
    // (blank lines) and join the rest.
    let mut paragraphs = Vec::new();
    for paragraph in text.split("\n\n") {
        let joined = paragraph.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
        if !joined.is_empty() {
            paragraphs.push(joined);
        }
    }
    Ok(paragraphs.join("\n\n"))
}

/// A DOCX's body as Markdown-shaped text, and its title from the document
/// properties or its first heading.
fn docx_text(bytes: &[u8]) -> Result<(Option<String>, String), FileProblem> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|err| FileProblem::NotDocx(format!("not a ZIP archive ({err})")))?;
    let body = read_zip_entry(&mut archive, "word/document.xml")?.ok_or_else(|| FileProblem::NotDocx("it has no word/document.xml".to_owned()))?;
    let properties_title = read_zip_entry(&mut archive, "docProps/core.xml")?.and_then(|core| docx_core_title(&core));
    let (heading_title, text) = docx_body(&body)?;
    Ok((properties_title.or(heading_title), text))
}

fn read_zip_entry(archive: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>, name: &str) -> Result<Option<String>, FileProblem> {
    let mut entry = match archive.by_name(name) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(err) => return Err(FileProblem::NotDocx(format!("could not read {name}: {err}"))),
    };
    // A document.xml past this size is a zip bomb, not a document.
    let mut text = String::new();
    (&mut entry).take(256 * 1024 * 1024).read_to_string(&mut text).map_err(|err| FileProblem::NotDocx(format!("could not read {name}: {err}")))?;
    Ok(Some(text))
}

fn docx_core_title(core: &str) -> Option<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(core);
    let mut in_title = false;
    let mut title = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) if e.local_name().as_ref() == "title" => in_title = true,
            Event::End(e) if e.local_name().as_ref() == "title" => break,
            Event::Text(t) if in_title => title.push_str(&t.xml10_content()),
            Event::Eof => break,
            _ => {}
        }
    }
    let title = title.trim().to_owned();
    (!title.is_empty()).then_some(title)
}

fn docx_body(xml: &str) -> Result<(Option<String>, String), FileProblem> {
    use quick_xml::events::Event;
    let bad = |err: &dyn std::fmt::Display| FileProblem::NotDocx(format!("word/document.xml is not well-formed XML ({err})"));
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut blocks: Vec<String> = Vec::new();
    let mut first_heading = None;
    let mut paragraph = String::new();
    let mut heading_level: Option<usize> = None;
    let mut list_item = false;
    let mut in_text = false;
    let mut table_depth = 0usize;
    let mut cell = String::new();
    let mut row: Vec<String> = Vec::new();
    loop {
        let event = reader.read_event().map_err(|err| bad(&err))?;
        match event {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                "t" => in_text = true,
                "tab" => paragraph.push('\t'),
                "br" | "cr" => paragraph.push('\n'),
                "tbl" => table_depth += 1,
                "numPr" => list_item = true,
                "pStyle" => {
                    for attribute in e.attributes().flatten() {
                        if attribute.key.local_name().as_ref() == "val" {
                            let style = attribute.value.to_ascii_lowercase();
                            heading_level = docx_heading_level(&style);
                            if style.starts_with("list") {
                                list_item = true;
                            }
                        }
                    }
                }
                _ => {}
            },
            Event::Text(t) if in_text => paragraph.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if in_text => {
                let name: &str = r.as_ref();
                let resolved =
                    quick_xml::escape::resolve_predefined_entity(name).map(str::to_owned).or_else(|| r.resolve_char_ref().ok().flatten().map(String::from));
                paragraph.push_str(&resolved.unwrap_or_default());
            }
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_text = false,
                "p" => {
                    let text = paragraph.trim().to_owned();
                    paragraph.clear();
                    if table_depth > 0 {
                        if !text.is_empty() {
                            if !cell.is_empty() {
                                cell.push(' ');
                            }
                            cell.push_str(&text);
                        }
                    } else if !text.is_empty() {
                        let block = match heading_level {
                            Some(level) => {
                                first_heading.get_or_insert_with(|| text.clone());
                                format!("{} {text}", "#".repeat(level))
                            }
                            None if list_item => format!("- {text}"),
                            None => text,
                        };
                        blocks.push(block);
                    }
                    heading_level = None;
                    list_item = false;
                }
                "tc" => row.push(std::mem::take(&mut cell)),
                "tr" => {
                    let line = std::mem::take(&mut row).join(" | ");
                    if !line.trim_matches([' ', '|']).is_empty() {
                        blocks.push(line);
                    }
                }
                "tbl" => table_depth = table_depth.saturating_sub(1),
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok((first_heading, blocks.join("\n\n")))
}

fn docx_heading_level(style: &str) -> Option<usize> {
    if style == "title" {
        return Some(1);
    }
    let digits = style.strip_prefix("heading")?;
    digits.trim().parse::<usize>().ok().filter(|level| (1..=6).contains(level))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn html_keeps_main_content_and_drops_navigation() {
        let page = r#"<html><head><title>C2 | Kestrel</title></head><body>
            <nav><a href="/">Home</a> Subscribe to our newsletter</nav>
            <div class="cookie-banner">We use cookies</div>
            <main><h1>Commuter  C2</h1><p>Fifty miles
            of <b>range</b>.</p><ul><li>Belt drive</li></ul>
            <table><tr><th>Motor</th><td>250W</td></tr></table></main>
            <footer>© 2026 Kestrel Cycles</footer></body></html>"#;
        let out = extract_bytes(Path::new("c2.html"), MediaType::Html, page.as_bytes(), &limits()).unwrap();
        assert_eq!(out.title, "C2 | Kestrel");
        assert_eq!(out.text, "# Commuter C2\n\nFifty miles of range.\n\n- Belt drive\n\nMotor | 250W");
    }

    #[test]
    fn text_refusals_say_what_is_wrong() {
        let md = Path::new("a.md");
        assert_eq!(extract_bytes(md, MediaType::Markdown, b"ok\0\x01\x02", &limits()), Err(FileProblem::Binary { offset: 2 }));
        assert_eq!(extract_bytes(md, MediaType::Markdown, b"line one\nline \xff two", &limits()), Err(FileProblem::InvalidUtf8 { offset: 14, line: 2 }));
        assert!(matches!(extract_bytes(md, MediaType::Markdown, b" \n\t", &limits()), Err(FileProblem::NoText { .. })));
        assert_eq!(extract_bytes(Path::new("a.pdf"), MediaType::Pdf, b"hello", &limits()), Err(FileProblem::NotPdf));
        assert!(matches!(extract_bytes(Path::new("a.pdf"), MediaType::Pdf, b"%PDF-1.7\ngarbage", &limits()), Err(FileProblem::CorruptPdf(_))));
        assert!(matches!(extract_bytes(Path::new("a.docx"), MediaType::Docx, b"PK\x03\x04nope", &limits()), Err(FileProblem::NotDocx(_))));
    }

    #[test]
    fn csv_rows_keep_their_column_names() {
        let csv = "id,title,body\n1,Great,\"Smooth, quiet ride\"\n2,,Squeaky belt\n";
        let out = extract_bytes(Path::new("reviews.csv"), MediaType::Csv, csv.as_bytes(), &limits()).unwrap();
        assert_eq!(out.text, "id: 1\ntitle: Great\nbody: Smooth, quiet ride\n\nid: 2\nbody: Squeaky belt");
        assert_eq!(out.title, "reviews");
    }

    #[test]
    fn titles_come_from_the_first_heading_or_line() {
        let out = extract_bytes(Path::new("x.md"), MediaType::Markdown, b"Intro\r\n\r\n# Positioning\r\nText", &limits()).unwrap();
        assert_eq!(out.title, "Positioning");
        assert_eq!(out.text, "Intro\n\n# Positioning\nText");
    }

    #[test]
    fn titles_lose_escape_sequences_and_bidi_overrides() {
        let md = "# \u{1b}]8;;https://evil.example\u{7}Pricing\u{1b}]8;;\u{7} \u{202E}fdp.exe\n\nBody";
        let out = extract_bytes(Path::new("x.md"), MediaType::Markdown, md.as_bytes(), &limits()).unwrap();
        assert_eq!(out.title, "\u{FFFD}]8;;https://evil.example\u{FFFD}Pricing\u{FFFD}]8;;\u{FFFD} \u{FFFD}fdp.exe");
        let named = extract_bytes(Path::new("\u{1b}[2Jnotes\u{2066}.txt"), MediaType::PlainText, b"\n\n", &limits());
        assert!(named.is_err(), "whitespace only");
        let named = extract_bytes(Path::new("\u{1b}[2Jnotes\u{2066}.csv"), MediaType::Csv, b"a\n1\n", &limits()).unwrap();
        assert_eq!(named.title, "\u{FFFD}[2Jnotes\u{FFFD}");
    }

    #[test]
    fn docx_headings_paragraphs_and_tables() {
        let xml = r#"<w:document xmlns:w="x"><w:body>
            <w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Launch plan</w:t></w:r></w:p>
            <w:p><w:r><w:t xml:space="preserve">Fold F1 &amp; friends </w:t></w:r><w:r><w:t>ship in Q3.</w:t></w:r></w:p>
            <w:tbl><w:tr><w:tc><w:p><w:r><w:t>Channel</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Budget</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
            </w:body></w:document>"#;
        let (title, text) = docx_body(xml).unwrap();
        assert_eq!(title.as_deref(), Some("Launch plan"));
        assert_eq!(text, "# Launch plan\n\nFold F1 & friends ship in Q3.\n\nChannel | Budget");
    }
}
