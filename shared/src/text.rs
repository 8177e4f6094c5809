//! Small text rules every function uses the same way: putting text on one line, and telling a
//! region name from anything else. Each function does one thing, and its name says which.

/// Every control character (line breaks, tabs, NUL, escapes) as a space; nothing else changes, so
/// the text keeps its length in characters and its runs of spaces.
pub fn controls_to_spaces(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// [`controls_to_spaces`], then at most `max_chars` characters, followed by `...` when cut (so a
/// cut text is `max_chars + 3` characters long).
pub fn controls_to_spaces_cut(text: &str, max_chars: usize) -> String {
    let flat = controls_to_spaces(text);
    match flat.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}...", &flat[..cut]),
        None => flat,
    }
}

/// Words separated by single spaces: control characters and line breaks become spaces, runs of
/// white space fold to one, and none is left at either end.
pub fn collapse_whitespace(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-northwest-1`: two or more words of lowercase
/// letters, then a number, joined by dashes.
pub fn is_region_code(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// Whether `text` may stand for a region in a host name (`https://<region>.console.aws.amazon.com`):
/// 4 to 30 lowercase letters, digits and dashes, no dash at either end. Looser than
/// [`is_region_code`]: it asks only that the name is safe in a URL, not that it reads as a region.
pub fn is_safe_region_label(text: &str) -> bool {
    (4..=30).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_table() {
        // (input, collapse_whitespace, controls_to_spaces)
        let cases = [
            ("plain", "plain", "plain"),
            ("two\nlines", "two lines", "two lines"),
            ("  padded\t\ttabs  ", "padded tabs", "  padded  tabs  "),
            ("crlf\r\nand\u{0}nul", "crlf and nul", "crlf  and nul"),
            ("", "", ""),
        ];
        for (input, collapsed, spaced) in cases {
            assert_eq!(collapse_whitespace(input), collapsed, "{input:?}");
            assert_eq!(controls_to_spaces(input), spaced, "{input:?}");
        }
        assert_eq!(controls_to_spaces_cut("a\nb", 3), "a b");
        assert_eq!(controls_to_spaces_cut("a\nbcd", 3), "a b...");
        assert_eq!(controls_to_spaces_cut(&"é".repeat(300), 200).chars().count(), 203);
    }

    #[test]
    fn region_codes_and_safe_region_labels() {
        // (text, a region code, safe as a region label)
        let cases = [
            ("us-east-1", true, true),
            ("us-gov-west-1", true, true),
            ("cn-northwest-1", true, true),
            ("external-1", false, true),
            ("local", false, true),
            ("us-east", false, true),
            ("us--1", false, true),
            ("-us-east-1", false, false),
            ("us-east-1-", false, false),
            ("US-EAST-1", false, false),
            ("a-b-1", true, true),
            ("us", false, false),
            ("not a region!", false, false),
            ("", false, false),
        ];
        for (text, code, label) in cases {
            assert_eq!((is_region_code(text), is_safe_region_label(text)), (code, label), "{text:?}");
        }
    }
}
