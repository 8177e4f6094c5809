//! Cutting a text to a service's limit, and making verbatim text safe to show.
//!
//! Every cut keeps whole characters and counts UTF-16 code units, never fewer than the characters: a text
//! within a limit in UTF-16 units is within it whether the service counts characters (Slack) or
//! UTF-16 units (Discord). The one exception, `cut_json_bytes`, counts the bytes a text takes inside a
//! JSON document, for SNS's limit on a whole per-protocol message.

pub(super) const ELLIPSIS: &str = "...";

/// Length in UTF-16 code units (Discord's count; never less than the character count).
pub(super) fn units(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// An escape for a character: its replacement, or `None` to keep it.
pub(super) type Escape = fn(char) -> Option<&'static str>;

/// The escape that keeps every character as it is.
pub(super) fn keep(_: char) -> Option<&'static str> {
    None
}

/// At most `max` UTF-16 units, ending in `...` when cut; cuts between characters.
pub(super) fn cut(text: &str, max: usize) -> String {
    cut_with(text, max, keep)
}

/// `text` escaped, at most `max` UTF-16 units after escaping, ending in `...` when cut. Cuts between
/// characters, so never inside a character or an escape.
pub(super) fn cut_with(text: &str, max: usize, escape: Escape) -> String {
    cut_measured(text, max, escape, |c| escape(c).map_or(c.len_utf16(), units))
}

/// At most `max` bytes once written as a JSON string's contents (UTF-8, with serde_json's escapes),
/// ending in `...` when cut: for a limit in bytes on a whole JSON document (an SNS message).
pub(super) fn cut_json_bytes(text: &str, max: usize) -> String {
    cut_measured(text, max, keep, json_bytes)
}

/// The bytes `c` takes inside a JSON string as serde_json writes it: `"` and `\` and the short escapes
/// (`\n`, `\t`, …) two, other control characters six (`\u001b`), anything else its UTF-8 length.
pub(super) fn json_bytes(c: char) -> usize {
    match c {
        '"' | '\\' | '\u{8}' | '\u{c}' | '\n' | '\r' | '\t' => 2,
        '\0'..='\u{1f}' => 6,
        c => c.len_utf8(),
    }
}

/// `text` escaped, at most `max` as `width` counts each character once escaped, ending in `...` when cut.
fn cut_measured(text: &str, max: usize, escape: Escape, width: impl Fn(char) -> usize) -> String {
    let full: usize = text.chars().map(&width).sum();
    let ellipsis = if full > max && max >= ELLIPSIS.len() { ELLIPSIS } else { "" };
    let room = if full > max { max - ellipsis.len() } else { max };
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        used += width(c);
        if used > room {
            break;
        }
        match escape(c) {
            Some(escaped) => out += escaped,
            None => out.push(c),
        }
    }
    out + ellipsis
}

/// `head`, then `middle` escaped and cut to what room is left, then `tail`: at most `max` UTF-16 units, and
/// the head and tail (links, details) whole whenever they fit on their own.
pub(super) fn fit(head: &str, middle: &str, tail: &str, max: usize, escape: Escape) -> String {
    let room = max.saturating_sub(units(head) + units(tail));
    let text = format!("{head}{}{tail}", cut_with(middle, room, escape));
    if units(&text) <= max { text } else { cut(&text, max) }
}

/// Control characters other than newline and tab as spaces: verbatim text, safe to print.
pub(super) fn clean(text: &str) -> String {
    text.chars().map(|c| if c.is_control() && c != '\n' && c != '\t' { ' ' } else { c }).collect()
}

/// A log line on one line: control characters (newlines too, not tabs) and Unicode line and paragraph
/// separators as spaces, trailing blanks dropped.
pub(super) fn log_line(text: &str) -> String {
    let flat = |c: char| (c.is_control() && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}');
    text.chars().map(|c| if flat(c) { ' ' } else { c }).collect::<String>().trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `json_bytes` is what serde_json writes, for every kind of character; a cut stays within its bytes.
    #[test]
    fn json_bytes_are_serde_json_s() {
        let text = "plain \"quoted\" back\\slash\n\r\t\u{8}\u{c}\u{0}\u{1b}[31m\u{7f} é € 😀 服\u{2028}";
        for c in text.chars() {
            let written = serde_json::to_string(&c.to_string()).expect("a string").len() - 2;
            assert_eq!(json_bytes(c), written, "{c:?}");
        }
        let full = serde_json::to_string(text).expect("a string").len() - 2;
        for max in [0, 2, 3, 10, 40, full - 1, full, 1000] {
            let cut = cut_json_bytes(text, max);
            let written = serde_json::to_string(&cut).expect("a string").len() - 2;
            assert!(written <= max, "{max}: {written} bytes");
            assert_eq!(cut.ends_with(ELLIPSIS), max < full && max >= 3, "{max}: {cut:?}");
        }
        assert_eq!(cut_json_bytes(text, 1000), text);
    }
}
