//! The text scans behind the editorial checks and pattern matching. Each
//! returns byte ranges into the text it was given; the engine turns them
//! into character spans. Scans walk the text once and allocate only for
//! what they find, because Guardian runs on every keystroke.

use std::{collections::HashSet, ops::Range};

use regex::Regex;
use unicode_width::UnicodeWidthChar;

use crate::{asset::SEPARATOR, pack::LengthUnit};

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// A set of characters with a constant-time test for ASCII ones.
#[derive(Debug, Clone, Default)]
pub(crate) struct CharSet {
    ascii: u128,
    other: Vec<char>,
}

impl CharSet {
    pub(crate) fn new(chars: impl IntoIterator<Item = char>) -> CharSet {
        let mut set = CharSet::default();
        for c in chars {
            if c.is_ascii() {
                set.ascii |= 1 << (c as u32);
            } else if !set.other.contains(&c) {
                set.other.push(c);
            }
        }
        set
    }

    #[inline]
    pub(crate) fn contains(&self, c: char) -> bool {
        if c.is_ascii() { self.ascii >> (c as u32) & 1 == 1 } else { self.other.contains(&c) }
    }

    /// Whether any member can be in `text`: a byte scan when every member
    /// is ASCII (UTF-8 never has ASCII bytes inside other characters).
    fn may_occur_in(&self, text: &str) -> bool {
        if self.other.is_empty() { text.bytes().any(|b| b < 128 && self.ascii >> b & 1 == 1) } else { true }
    }
}

/// Every match of `regex` (whose patterns carry their own word
/// boundaries, see `pack::compile_alternation`).
pub(crate) fn matches(regex: &Regex, text: &str) -> Vec<Range<usize>> {
    regex.find_iter(text).map(|m| m.range()).filter(|range| !range.is_empty()).collect()
}

/// The length of a text in `unit`.
pub(crate) fn length(text: &str, unit: LengthUnit) -> usize {
    match unit {
        LengthUnit::Chars => text.chars().count(),
        LengthUnit::DisplayWidth => text.chars().map(display_width).sum(),
        LengthUnit::Twitter => twitter_length(text),
    }
}

fn display_width(c: char) -> usize {
    // Control characters (a newline) have no width of their own but are
    // still characters of the text.
    c.width().unwrap_or(1)
}

fn twitter_length(text: &str) -> usize {
    if text.is_empty() {
        return 0;
    }
    let parsed = twitter_text::parse(text, twitter_text_config::config_v3(), true);
    usize::try_from(parsed.weighted_length).unwrap_or(0)
}

/// The byte offset where the part of `text` beyond `max` units starts.
pub(crate) fn overflow_start(text: &str, max: usize, unit: LengthUnit) -> usize {
    match unit {
        LengthUnit::Chars | LengthUnit::DisplayWidth => {
            let mut total = 0;
            for (offset, c) in text.char_indices() {
                total += if unit == LengthUnit::Chars { 1 } else { display_width(c) };
                if total > max {
                    return offset;
                }
            }
            text.len()
        }
        LengthUnit::Twitter => {
            // Weighted length depends on context (a URL counts 23 however
            // long it is), so find the longest prefix that fits by bisection
            // over character boundaries.
            let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
            let (mut fits, mut over) = (0, boundaries.len() - 1);
            while over - fits > 1 {
                let mid = (fits + over) / 2;
                if twitter_length(&text[..boundaries[mid]]) <= max {
                    fits = mid;
                } else {
                    over = mid;
                }
            }
            boundaries[fits]
        }
    }
}

/// Words: maximal runs of letters and digits, as byte ranges.
fn words(text: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        let (start, _) = chars.by_ref().find(|(_, c)| is_word_char(*c))?;
        let mut end = text.len();
        while let Some(&(i, c)) = chars.peek() {
            if !is_word_char(c) {
                end = i;
                break;
            }
            chars.next();
        }
        Some(start..end)
    })
}

/// Words in capitals for emphasis ("FREE") and words whose case flips
/// back and forth ("FlOwErS").
pub(crate) fn capitalization(
    text: &str,
    min_letters: usize,
    max_case_flips: usize,
    allow: &HashSet<String>,
    trademarks: &HashSet<String>,
) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    for range in words(text) {
        let word = &text[range.clone()];
        let mut n_letters = 0;
        let mut all_upper = true;
        let mut has_digit = false;
        let mut flips = 0;
        let mut previous_lower = false;
        for c in word.chars() {
            if c.is_alphabetic() {
                n_letters += 1;
                all_upper &= c.is_uppercase();
                if c.is_uppercase() && previous_lower {
                    flips += 1;
                }
                previous_lower = c.is_lowercase();
            } else {
                has_digit |= c.is_numeric();
                previous_lower = false;
            }
        }
        let shouting = all_upper && n_letters >= min_letters && !has_digit;
        if (shouting || flips > max_case_flips) && !allow.contains(word) && !trademarks.contains(&word.to_uppercase()) {
            found.push(range);
        }
    }
    found
}

/// Runs of two or more punctuation marks from `marks`, except a plain
/// three-dot ellipsis and a full stop before a comma.
pub(crate) fn repeated_punctuation(text: &str, marks: &CharSet) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    if !marks.may_occur_in(text) {
        return found;
    }
    let mut run: Option<(usize, usize)> = None;
    let close = |run: Option<(usize, usize)>, end: usize, found: &mut Vec<Range<usize>>| {
        // An abbreviation's full stop before a comma ("e.g.,", "Inc.,") is
        // two marks but not a repetition.
        let abbreviation = |run: &str| run.len() == 2 && run.starts_with('.') && run.ends_with([',', ';', ':']);
        if let Some((start, n)) = run
            && n >= 2
            && &text[start..end] != "..."
            && !abbreviation(&text[start..end])
        {
            found.push(start..end);
        }
    };
    for (i, c) in text.char_indices() {
        if marks.contains(c) {
            run = Some(run.map_or((i, 1), |(start, n)| (start, n + 1)));
        } else {
            close(run.take(), i, &mut found);
        }
    }
    close(run, text.len(), &mut found);
    found
}

/// Letters spaced or dotted out one by one ("F.R.E.E", "S A L E"), and
/// doubled spaces.
pub(crate) fn gimmicky_spacing(text: &str, chars: &[(usize, char)], min_letters: usize, double_spaces: bool) -> Vec<Range<usize>> {
    const SEPARATORS: [char; 4] = ['.', ' ', '-', '_'];
    let end_of = |k: usize| chars.get(k + 1).map_or(text.len(), |(i, _)| *i);
    let letter = |k: usize| chars.get(k).is_some_and(|(_, c)| c.is_alphabetic());
    let word_char = |k: usize| chars.get(k).is_some_and(|(_, c)| is_word_char(*c));
    let mut found = Vec::new();
    let mut k = 0;
    while k < chars.len() {
        let single_start = letter(k) && (k == 0 || !word_char(k - 1)) && !word_char(k + 1);
        if single_start
            && let Some(&(_, separator)) = chars.get(k + 1)
            && SEPARATORS.contains(&separator)
        {
            let mut last = k;
            let mut n = 1;
            while chars.get(last + 1).is_some_and(|(_, c)| *c == separator) && letter(last + 2) && !word_char(last + 3) {
                last += 2;
                n += 1;
            }
            if n >= min_letters {
                found.push(chars[k].0..end_of(last));
                k = last + 1;
                continue;
            }
        }
        k += 1;
    }
    if double_spaces {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b' ' && bytes.get(i + 1) == Some(&b' ') {
                let start = i;
                while bytes.get(i) == Some(&b' ') {
                    i += 1;
                }
                found.push(start..i);
            } else {
                i += 1;
            }
        }
        found.sort_by_key(|r| r.start);
    }
    found
}

/// Digits or symbols standing in for letters inside a word.
pub(crate) fn symbols_as_letters(text: &str, chars: &[(usize, char)], digits: &CharSet, symbols: &CharSet) -> Vec<Range<usize>> {
    let at = |k: usize| chars.get(k).map(|(_, c)| *c);
    let mut found = Vec::new();
    if !digits.may_occur_in(text) && !symbols.may_occur_in(text) {
        return found;
    }
    let mut k = 1;
    while k + 1 < chars.len() {
        let c = chars[k].1;
        if digits.contains(c) {
            let mut last = k;
            while at(last + 1).is_some_and(|d| digits.contains(d)) {
                last += 1;
            }
            let (before, after) = (at(k - 1), at(last + 1));
            let letters = before.is_some_and(char::is_alphabetic) && after.is_some_and(char::is_alphabetic);
            if letters && (before.is_some_and(char::is_lowercase) || after.is_some_and(char::is_lowercase)) {
                found.push(word_around(text, chars[k].0));
            }
            k = last + 1;
            continue;
        }
        if symbols.contains(c) && at(k - 1).is_some_and(char::is_alphabetic) && at(k + 1).is_some_and(char::is_alphabetic) {
            let word = word_around(text, chars[k].0);
            let token = &text[word.clone()];
            let is_email = token.find('@').is_some_and(|at| token[at..].contains('.'));
            if !is_email {
                found.push(word);
            }
        }
        k += 1;
    }
    found.dedup();
    found
}

/// The run of non-space characters around a byte offset, within its field.
fn word_around(text: &str, offset: usize) -> Range<usize> {
    let gap = |c: char| c.is_whitespace() || c == SEPARATOR;
    let start = text[..offset].rfind(gap).map_or(0, |i| i + 1);
    let end = text[offset..].find(gap).map_or(text.len(), |i| offset + i);
    let token = &text[start..end];
    // Leave sentence punctuation around the word out of the span.
    let trimmed_start = start + (token.len() - token.trim_start_matches(['(', '"', '\'']).len());
    let trimmed_end = end - (token.len() - token.trim_end_matches([',', '.', ';', ':', ')', '"', '\'', '?']).len());
    if trimmed_start < trimmed_end { trimmed_start..trimmed_end } else { start..end }
}

/// Bullets, and asterisks that emphasise ("*free*", "**", a lone "*" used
/// as a bullet) rather than point to a condition ("5* hotel", "shipping*",
/// "*On orders over $30").
pub(crate) fn emphasis_symbols(text: &str, chars: &[(usize, char)], bullets: &CharSet) -> Vec<Range<usize>> {
    if !bullets.may_occur_in(text) && !text.contains('*') {
        return Vec::new();
    }
    let end_of = |k: usize| chars.get(k + 1).map_or(text.len(), |(i, _)| *i);
    let mut found = Vec::new();
    let mut k = 0;
    while k < chars.len() {
        let (offset, c) = chars[k];
        if bullets.contains(c) {
            found.push(offset..end_of(k));
        } else if c == '*' {
            let mut last = k;
            while chars.get(last + 1).is_some_and(|(_, c)| *c == '*') {
                last += 1;
            }
            let previous = k.checked_sub(1).map(|p| chars[p].1);
            let next = chars.get(last + 1).map(|(_, c)| *c);
            let doubled = last > k;
            let blank = |c: char| c.is_whitespace() || c == SEPARATOR;
            let as_a_bullet = previous.is_none_or(blank) && next.is_none_or(blank);
            // "*free*": a word wrapped in asterisks. A single asterisk before
            // words ("*On orders over $30") is a footnote marker.
            let mut word_end = last;
            while chars.get(word_end + 1).is_some_and(|(_, c)| is_word_char(*c)) {
                word_end += 1;
            }
            let wraps_a_word = word_end > last && chars.get(word_end + 1).is_some_and(|(_, c)| *c == '*');
            if doubled || as_a_bullet {
                found.push(offset..end_of(last));
            } else if wraps_a_word {
                found.push(offset..end_of(word_end + 1));
                k = word_end + 2;
                continue;
            }
            k = last + 1;
            continue;
        }
        k += 1;
    }
    found
}

/// Emoji, a sequence of them (joined by ZWJ, with variation selectors) as
/// one range.
pub(crate) fn emoji(text: &str, ranges: &[(u32, u32)]) -> Vec<Range<usize>> {
    let mut found: Vec<Range<usize>> = Vec::new();
    let lowest = ranges.iter().map(|r| r.0).min().unwrap_or(0);
    if lowest >= 0x80 && text.is_ascii() {
        return found;
    }
    let in_ranges = |c: char| {
        let c = c as u32;
        c >= lowest && ranges.iter().any(|&(start, end)| (start..=end).contains(&c))
    };
    for (offset, c) in text.char_indices() {
        if in_ranges(c) {
            let end = offset + c.len_utf8();
            match found.last_mut() {
                Some(last) if last.end == offset => last.end = end,
                _ => found.push(offset..end),
            }
        }
    }
    found
}

/// Occurrences of any of `chars`.
pub(crate) fn forbidden_chars(text: &str, forbidden: &CharSet) -> Vec<Range<usize>> {
    if !forbidden.may_occur_in(text) {
        return Vec::new();
    }
    text.char_indices().filter(|(_, c)| forbidden.contains(*c)).map(|(i, c)| i..i + c.len_utf8()).collect()
}

/// Term matches within `window` words of an anchor match, each as the range
/// from the first to the last of the pair.
pub(crate) fn near(text: &str, anchors: &Regex, terms: &Regex, window: usize) -> Vec<Range<usize>> {
    let term_hits = matches(terms, text);
    if term_hits.is_empty() {
        return Vec::new();
    }
    let anchor_hits = matches(anchors, text);
    let words_between = |a: &Range<usize>, b: &Range<usize>| {
        let (first, second) = if a.start <= b.start { (a, b) } else { (b, a) };
        if second.start < first.end { 0 } else { words(&text[first.end..second.start]).count() }
    };
    let mut found = Vec::new();
    for term in &term_hits {
        let closest = anchor_hits
            .iter()
            .filter(|anchor| anchor.end <= term.start || anchor.start >= term.end)
            .filter(|anchor| words_between(anchor, term) <= window)
            .min_by_key(|anchor| words_between(anchor, term));
        if let Some(anchor) = closest {
            found.push(anchor.start.min(term.start)..anchor.end.max(term.end));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(text: &str, ranges: Vec<Range<usize>>) -> Vec<&str> {
        ranges.into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn capitals() {
        let allow: HashSet<String> = ["ASAP".to_owned()].into();
        let marks: HashSet<String> = ["IKEA".to_owned()].into();
        let check = |text: &str, expected: &[&str]| {
            assert_eq!(show(text, capitalization(text, 4, 1, &allow, &marks)), expected, "{text}");
        };
        check("FREE shipping ASAP", &["FREE"]);
        check("FlOwErS and fReE", &["FlOwErS", "fReE"]);
        check("iPhone YouTube McDonald NEW SAVE20 IKEA ikea", &[]);
        check("GRÖSSE", &["GRÖSSE"]);
        check("日本語のコピー", &[]);
    }

    #[test]
    fn punctuation_and_spacing() {
        let marks = CharSet::new("!?.,;:".chars());
        let text = "Sale!! Why?! Wait... ok.. Made in the U.S., e.g., by Acme Inc.; yes";
        assert_eq!(show(text, repeated_punctuation(text, &marks)), ["!!", "?!", ".."]);
        let spaced = |t: &str| show(t, gimmicky_spacing(t, &t.char_indices().collect::<Vec<_>>(), 4, true)).join("|");
        assert_eq!(spaced("F.L.O.W.E.R.S today"), "F.L.O.W.E.R.S");
        assert_eq!(spaced("Big S A L E now"), "S A L E");
        assert_eq!(spaced("Made in the U.S.A. e.g. now"), "");
        assert_eq!(spaced("Free  shipping"), "  ");
        assert_eq!(spaced("Plan A or B"), "");
    }

    #[test]
    fn symbols() {
        let digits = CharSet::new("013457".chars());
        let symbols = CharSet::new("@$!|".chars());
        let chars = |text: &str| text.char_indices().collect::<Vec<_>>();
        let check = |text: &str, expected: &[&str]| {
            assert_eq!(show(text, symbols_as_letters(text, &chars(text), &digits, &symbols)), expected, "{text}");
        };
        check("Fresh fl0wers, ca$h, C0ffee and fl@wers.", &["fl0wers", "ca$h", "C0ffee", "fl@wers"]);
        check("B2B Web3 MP3 hello@acme.com 24/7 x86", &[]);
        let bullets = CharSet::new(['•', '★']);
        let emph = |text: &str| show(text, emphasis_symbols(text, &chars(text), &bullets)).join("|");
        assert_eq!(emph("5* hotel, free shipping* today. *On orders over $30"), "");
        assert_eq!(emph("*FREE* gift"), "*FREE*");
        assert_eq!(emph("** Sale • fast ★ * new"), "**|•|★|*");
    }

    #[test]
    fn twitter_lengths() {
        assert_eq!(length("hello", LengthUnit::Twitter), 5);
        assert_eq!(length("日本語", LengthUnit::Twitter), 6);
        assert_eq!(length("see https://example.com/a/very/long/path/indeed", LengthUnit::Twitter), 4 + 23);
        assert_eq!(length("😀", LengthUnit::Twitter), 2);
        assert_eq!(length("日本語", LengthUnit::DisplayWidth), 6);
        assert_eq!(length("Größe", LengthUnit::DisplayWidth), 5);
        let long = "a".repeat(300);
        assert_eq!(overflow_start(&long, 280, LengthUnit::Twitter), 280);
        assert_eq!(overflow_start("日本語", 4, LengthUnit::DisplayWidth), "日本".len());
    }

    #[test]
    fn boundaries() {
        let compile = |patterns: &[&str]| crate::pack::compile_alternation(&patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>(), true).unwrap();
        let text = "Bestseller, the best! #10 #1 curated cure";
        assert_eq!(show(text, matches(&compile(&["best", "#1", "cures?"]), text)), ["best", "#1", "cure"]);
        let (anchors, terms) = (compile(&["you", "your"]), compile(&["diabetic", "debt"]));
        let text = "Are you diabetic? Pay off your credit card debt. Our diabetic range is new and old.";
        assert_eq!(show(text, near(text, &anchors, &terms, 3)), ["you diabetic", "your credit card debt"]);
    }
}
