//! The Slack incoming-webhook payload.

use serde_json::{Value, json};

use super::Alert;
use super::text::{cut, cut_with, fit, units};

/// Slack Block Kit (docs.slack.dev/reference/block-kit/blocks): `header` text <= 150 characters (plain_text
/// only), `section` text <= 3000, `fields` <= 10 items of <= 2000; a message holds <= 50 blocks. With
/// `blocks`, the top-level `text` is the notification fallback (docs.slack.dev, incoming webhooks).
pub(super) const SLACK_HEADER_MAX: usize = 150;
pub(super) const SLACK_SECTION_MAX: usize = 3000;
pub(super) const SLACK_FIELD_MAX: usize = 2000;
pub(super) const SLACK_FIELDS_MAX: usize = 10;

impl Alert {
    /// Slack incoming webhook: `text` (the notification fallback) and Block Kit `blocks` in mrkdwn.
    pub fn slack(&self) -> Value {
        let title = self.title();
        let header = json!({"type": "header", "text": {"type": "plain_text", "text": cut(&title, SLACK_HEADER_MAX)}});
        let tail = format!("\n*Fix:* {}", slack_text(self.hint, usize::MAX));
        let summary = fit("", &self.summary_text(), &tail, SLACK_SECTION_MAX, slack_escape);
        let mut blocks = vec![header, json!({"type": "section", "text": {"type": "mrkdwn", "text": summary}})];

        let fields: Vec<Value> = self
            .details()
            .into_iter()
            .take(SLACK_FIELDS_MAX)
            .map(|(label, value)| {
                let head = format!("*{label}*\n");
                let text = match (label, &self.console_url) {
                    ("Task", Some(url)) => format!("{head}<{url}|{}>", slack_text(&value, SLACK_FIELD_MAX / 2)),
                    _ => fit(&head, &value, "", SLACK_FIELD_MAX, slack_escape),
                };
                json!({"type": "mrkdwn", "text": text})
            })
            .collect();
        blocks.push(json!({"type": "section", "fields": fields}));

        let evidence = self.evidence_text(SLACK_SECTION_MAX).replace("```", "'''");
        let evidence = fit("*Evidence*\n```\n", &evidence, "\n```", SLACK_SECTION_MAX, slack_escape);
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": evidence}}));

        if !self.log_lines.is_empty() {
            let (head, tail) = (format!("*{}*\n```\n", self.log_heading()), "\n```");
            let room = SLACK_SECTION_MAX - units(&head) - units(tail);
            // Inside a code block: break any fence in a line, escape mrkdwn's control characters.
            let lines = self.log_text(room, |line, max| slack_text(&line.replace("```", "'''"), max));
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("{head}{lines}{tail}")}}));
        }

        let links: Vec<String> = self.links().iter().map(|(label, url)| format!("<{url}|{label}>")).collect();
        if !links.is_empty() {
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": links.join("  |  ")}}));
        }
        json!({"text": slack_text(&title, SLACK_SECTION_MAX), "blocks": blocks})
    }
}

/// Slack mrkdwn's three control characters (docs.slack.dev, "Formatting text for app surfaces").
fn slack_escape(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        _ => None,
    }
}

/// `text` with mrkdwn's control characters escaped, at most `max` UTF-16 units.
fn slack_text(text: &str, max: usize) -> String {
    cut_with(text, max, slack_escape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::fixtures::{CLUSTER, TASK, alert_of, task};
    use crate::message::text::keep;

    #[test]
    fn slack_escapes_mrkdwn_and_keeps_cuts_outside_escapes() {
        let task =
            task(json!({"clusterArn": CLUSTER, "taskArn": TASK, "stoppedReason": "InternalError: <reason> & more"}));
        let slack = alert_of(&task).slack();
        let text = slack.to_string();
        assert!(text.contains("InternalError: &lt;reason&gt; &amp; more"), "{text}");
        assert!(!text.contains("<reason>"), "{text}");

        assert_eq!(cut_with(&"<".repeat(10), 12, slack_escape), "&lt;&lt;...");
        assert_eq!(cut_with("ab", 1, keep), "a");
        assert_eq!(cut("😀😀", 3), "...");
        assert_eq!(cut("é😀xyz", 5), "é...");
        assert_eq!(cut("é😀x", 5), "é😀x");
        assert_eq!(cut("fits", 4), "fits");
    }
}
