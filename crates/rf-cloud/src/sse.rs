//! Server-sent events as the providers stream them: `event:` and `data:`
//! lines, events ended by a blank line, `\n` or `\r\n` line ends, comments
//! (`:`) ignored. Bytes arrive in arbitrary pieces, so an event (or a UTF-8
//! character) may be split across chunks.

/// Splits a byte stream into `(event name, data)` pairs.
#[derive(Debug, Default)]
pub(super) struct Events {
    pending: Vec<u8>,
}

impl Events {
    /// Adds `chunk` and returns the events it completed.
    pub(super) fn push(&mut self, chunk: &[u8]) -> Vec<(String, String)> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some((end, separator)) = find_blank_line(&self.pending) {
            let block: Vec<u8> = self.pending.drain(..end + separator).take(end).collect();
            if let Some(event) = parse_block(&String::from_utf8_lossy(&block)) {
                events.push(event);
            }
        }
        events
    }
}

/// The end of the first event block and the length of the blank line after it.
fn find_blank_line(bytes: &[u8]) -> Option<(usize, usize)> {
    (0..bytes.len()).find_map(|i| {
        let rest = &bytes[i..];
        if rest.starts_with(b"\r\n\r\n") {
            Some((i, 4))
        } else if rest.starts_with(b"\n\n") {
            Some((i, 2))
        } else {
            None
        }
    })
}

fn parse_block(block: &str) -> Option<(String, String)> {
    let mut name = String::new();
    let mut data: Vec<&str> = Vec::new();
    for line in block.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => name = value.to_owned(),
            "data" => data.push(value),
            _ => {}
        }
    }
    (!data.is_empty() || !name.is_empty()).then(|| (name, data.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_come_out_whole() {
        let wire = "event: message_start\ndata: {\"a\":1}\n\n: keep-alive\n\ndata: caf\u{e9}\r\n\r\ndata: line one\ndata: line two\n\ndata: [DONE]\n\n";
        let expected = vec![
            ("message_start".to_owned(), "{\"a\":1}".to_owned()),
            (String::new(), "caf\u{e9}".to_owned()),
            (String::new(), "line one\nline two".to_owned()),
            (String::new(), "[DONE]".to_owned()),
        ];
        for piece in [1, 2, 3, 7, wire.len()] {
            let mut events = Events::default();
            let mut got = Vec::new();
            for chunk in wire.as_bytes().chunks(piece) {
                got.extend(events.push(chunk));
            }
            assert_eq!(got, expected, "pieces of {piece} bytes");
        }
    }

    #[test]
    fn an_unfinished_event_is_held_back() {
        let mut events = Events::default();
        assert!(events.push(b"data: {\"partial\"").is_empty());
        assert_eq!(events.push(b": true}\n\n"), vec![(String::new(), "{\"partial\": true}".to_owned())]);
    }
}
