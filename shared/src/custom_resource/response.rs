//! The one response body CloudFormation reads: shaped to one line and to its 4,096-byte limit.

use std::collections::BTreeMap;

use serde::Serialize;

use super::request::ResponseTarget;
use crate::text::collapse_whitespace;

/// CloudFormation rejects larger response bodies (and the stack waits for its timeout).
pub const MAX_BODY_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Success,
    Failed,
}

/// A response before it is shaped into a body.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: Status,
    /// What happened (and for a failure how to fix it); the log stream is appended when shaped.
    pub message: String,
    pub physical_resource_id: String,
    pub data: BTreeMap<String, String>,
    pub no_echo: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Body<'a> {
    status: Status,
    reason: &'a str,
    physical_resource_id: &'a str,
    stack_id: &'a str,
    request_id: &'a str,
    logical_resource_id: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    no_echo: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    data: &'a BTreeMap<String, String>,
}

const ELLIPSIS: char = '…';

impl Response {
    /// The JSON body, at most [`MAX_BODY_BYTES`]: the reason is cut first; if that is not enough
    /// `Data` is dropped and the reason says so. The log stream name always stays at the end.
    pub fn to_body(&self, target: &ResponseTarget, log_stream: Option<&str>) -> Vec<u8> {
        // One line for a stack event.
        let message = collapse_whitespace(&self.message);
        let render = |message: &str, data: &BTreeMap<String, String>| {
            let reason = match log_stream {
                Some(stream) => format!("{message} (log stream {stream})").trim_start().to_string(),
                None => message.to_string(),
            };
            let body = Body {
                status: self.status,
                reason: &reason,
                physical_resource_id: &self.physical_resource_id,
                stack_id: &target.stack_id,
                request_id: &target.request_id,
                logical_resource_id: &target.logical_resource_id,
                no_echo: self.no_echo,
                data,
            };
            serde_json::to_vec(&body).unwrap_or_default()
        };
        let full = render(&message, &self.data);
        if full.len() <= MAX_BODY_BYTES {
            return full;
        }
        if let Some(body) = cut_to_fit(&message, |m| render(m, &self.data)) {
            return body;
        }
        let no_data = BTreeMap::new();
        let note = format!("attributes (Data) dropped: the response would exceed {MAX_BODY_BYTES} bytes");
        let noted = if message.is_empty() { note } else { format!("{note}; {message}") };
        cut_to_fit(&noted, |m| render(m, &no_data)).unwrap_or_else(|| render("", &no_data))
    }
}

/// The longest prefix of `message` (plus an ellipsis) whose rendering fits, if any does.
fn cut_to_fit(message: &str, render: impl Fn(&str) -> Vec<u8>) -> Option<Vec<u8>> {
    let chars: Vec<char> = message.chars().collect();
    let cut = |n: usize| -> String {
        let ellipsis = (n < chars.len()).then_some(ELLIPSIS);
        chars[..n].iter().copied().chain(ellipsis).collect()
    };
    // Binary search on the number of characters kept: rendering is monotonic in it.
    let (mut lo, mut hi) = (0usize, chars.len());
    let mut best = None;
    while lo <= hi {
        let mid = lo + (hi - lo) / 2;
        let body = render(&cut(mid));
        if body.len() <= MAX_BODY_BYTES {
            best = Some(body);
            lo = mid + 1;
        } else if mid == 0 {
            break;
        } else {
            hi = mid - 1;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn target() -> ResponseTarget {
        ResponseTarget {
            url: "https://example.s3.amazonaws.com/x".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/guid".into(),
            request_id: "req-1".into(),
            logical_resource_id: "Probe".into(),
            physical_resource_id: None,
        }
    }

    fn response(message: &str, data: &[(&str, String)]) -> Response {
        Response {
            status: Status::Failed,
            message: message.into(),
            physical_resource_id: "pcx-1".into(),
            data: data.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            no_echo: false,
        }
    }

    fn parsed(body: &[u8]) -> Value {
        serde_json::from_slice(body).expect("the body is valid JSON")
    }

    #[test]
    fn reason_ends_with_the_log_stream() {
        let body =
            parsed(&response("route exists\nelsewhere", &[]).to_body(&target(), Some("2026/11/22/[$LATEST]abc")));
        assert_eq!(body["Reason"], "route exists elsewhere (log stream 2026/11/22/[$LATEST]abc)");
        assert_eq!(body["Status"], "FAILED");
        assert_eq!(body["PhysicalResourceId"], "pcx-1");
        assert_eq!(body["RequestId"], "req-1");
        assert!(body.get("Data").is_none());
        assert!(body.get("NoEcho").is_none());
    }

    #[test]
    fn size_table() {
        let stream = "2026/11/22/[$LATEST]0123456789abcdef";
        // (case, message length, data value length, reason cut?, data kept?)
        let cases = [
            ("small", 100, 100, false, true),
            ("long reason, small data", 10_000, 100, true, true),
            ("multi-byte reason", 0, 0, true, true),
            ("big data", 100, 5_000, false, false),
            ("both big", 10_000, 5_000, true, false),
        ];
        for (case, reason_len, data_len, cut, kept) in cases {
            let message = if case == "multi-byte reason" { "é€😀".repeat(2_000) } else { "r".repeat(reason_len) };
            let r = response(&message, &[("Blob", "d".repeat(data_len))]);
            let body = r.to_body(&target(), Some(stream));
            assert!(body.len() <= MAX_BODY_BYTES, "{case}: {} bytes", body.len());
            let json = parsed(&body);
            let reason = json["Reason"].as_str().unwrap();
            assert!(reason.ends_with(&format!("(log stream {stream})")), "{case}: {reason}");
            assert_eq!(reason.contains(ELLIPSIS), cut, "{case}: cut");
            assert_eq!(json.get("Data").is_some(), kept, "{case}: data kept");
            if !kept {
                assert!(reason.starts_with("attributes (Data) dropped"), "{case}: {reason}");
            }
            if cut {
                // Cut no more than needed: within a few characters of the limit.
                assert!(body.len() > MAX_BODY_BYTES - 16, "{case}: {} bytes", body.len());
            }
        }
    }
}
