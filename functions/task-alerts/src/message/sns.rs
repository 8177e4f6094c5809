//! What is published on the SNS topic: the subject, the plain-text body, and the per-protocol message
//! that carries the body and the Amazon Q Developer notification in one publish.

use serde_json::json;

use super::Alert;
use super::parts::{LOG_TEXT_MAX, REASON_MAX};
use super::text::{ELLIPSIS, cut, cut_json_bytes};

/// SNS `Publish` `Message`: "at most 256 KB in size (262,144 bytes, not 262,144 characters)"; with
/// `MessageStructure` `json` the limit is on the whole JSON object, so "including multiple protocols may
/// limit message sizes" (docs.aws.amazon.com/sns/latest/api/API_Publish.html).
pub(super) const SNS_MESSAGE_MAX: usize = 262_144;

/// SNS `Publish` `Subject`: "UTF-8 text with no line breaks or control characters, and less than 100
/// characters long" (SNS API reference, PublishRequest.Subject); the email transport and AWS's older wording
/// want ASCII, so subjects are printable ASCII.
const SNS_SUBJECT_MAX: usize = 99;

impl Alert {
    /// The title as an SNS subject: printable ASCII, one line, under 100 characters.
    pub fn sns_subject(&self) -> String {
        let ascii = printable_ascii(&self.title());
        let subject = ascii.trim();
        cut(if subject.is_empty() { "ECS task stopped" } else { subject }, SNS_SUBJECT_MAX)
    }

    /// The SNS message body: summary, fix, evidence, the task's details, and the links.
    pub fn plain_text(&self) -> String {
        let mut parts = vec![
            self.summary_text(),
            format!("Fix: {}", self.hint),
            format!("Evidence:\n{}", self.evidence_text(REASON_MAX)),
        ];
        if !self.log_lines.is_empty() {
            let from = self.logs.as_ref().map(|logs| format!(" ({} {})", logs.group, logs.stream));
            let lines = self.log_text(LOG_TEXT_MAX, cut).lines().map(|line| format!("\n  {line}")).collect::<String>();
            parts.push(format!("{}{}:{lines}", self.log_heading(), from.unwrap_or_default()));
        }
        parts.push(self.details_text());
        if let Some(arn) = &self.task_arn {
            parts.push(format!("Task ARN: {arn}"));
        }
        let mut links = self.links_text();
        if let Some(logs) = &self.logs {
            links += &format!("\nLog group: {}\nLog stream: {}", logs.group, logs.stream);
        }
        parts.push(links);
        parts.retain(|part| !part.trim().is_empty());
        parts.join("\n\n")
    }

    /// The `Message` of one publish with `MessageStructure` `json`: a JSON object of strings, one per
    /// protocol, `default` required; SNS sends each subscription the value of its protocol's key, else
    /// `default` (docs.aws.amazon.com/sns/latest/api/API_Publish.html, `MessageStructure`).
    ///
    /// - `default`: the plain text, for email, email-json, SMS, http, SQS and Lambda subscribers alike.
    ///   No `email` or `sms` key repeating it: they would get the same text, and each copy counts
    ///   against the 256 KB of the whole message.
    /// - `https`: the Amazon Q Developer custom notification, as a JSON string (SNS ignores a key whose
    ///   value is not a string). Amazon Q Developer in chat applications reads the topic through the
    ///   subscription it makes itself, protocol `https`, endpoint `https://global.sns-api.chatbot.amazonaws.com`,
    ///   and custom notifications "must use the following event format"
    ///   (docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html): the JSON, not the text.
    ///
    /// The subject stays the publish's `Subject`, for email. The whole object
    /// stays within 256 KB (262,144 bytes) as serialised, escapes included: the notification is cut to
    /// its own limits already (a few KB), so it is the plain text that is cut if anything must be.
    pub fn sns_per_protocol(&self) -> String {
        let notification = self.amazon_q_notification(&self.thread_id()).to_string();
        let message = |default: &str| json!({"default": default, "https": notification}).to_string();
        let room = SNS_MESSAGE_MAX.saturating_sub(message("").len());
        message(&cut_json_bytes(&self.plain_text(), room))
    }
}

/// Printable ASCII: typographic quotes and dashes as their ASCII look-alikes, anything else as `?`.
fn printable_ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            ' '..='~' => out.push(c),
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{2032}' => out.push('\''),
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{2033}' => out.push('"'),
            '\u{2010}'..='\u{2015}' | '\u{2212}' => out.push('-'),
            '\u{2026}' => out += ELLIPSIS,
            c if c.is_whitespace() || c.is_control() => out.push(' '),
            _ => out.push('?'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::SNS_MESSAGE_MAX;
    use crate::message::fixtures::{CLUSTER, OOM, TASK, alert_of, huge, service_oom, task, with_logs};

    #[test]
    fn sns_subject_is_short_printable_ascii() {
        let mut alert = alert_of(&service_oom());
        assert_eq!(alert.sns_subject(), alert.title(), "a short ASCII title is the subject");

        alert.cluster = "prod".into();
        alert.service = Some(format!("café–“naïve”{}", "服务".repeat(80)));
        let subject = alert.sns_subject();
        assert!(subject.chars().count() <= 99, "{} chars", subject.chars().count());
        assert!(subject.bytes().all(|b| (b' '..=b'~').contains(&b)), "{subject}");
        assert!(subject.starts_with("[prod] caf?-\"na?ve\"???"), "{subject}");
        assert!(subject.ends_with("..."), "{subject}");

        alert.service = Some("line\nbreak\ttab".into());
        assert!(alert.sns_subject().contains("line break tab"));
    }

    #[test]
    fn plain_text_has_every_part() {
        let alert = alert_of(&service_oom()).with_suppressed(4, None);
        let text = alert.plain_text();
        for part in [
            alert.summary.as_str(),
            "4 suppressed: similar stops of this service (same category) were held back since the last alert.",
            &format!("Fix: {}", alert.hint),
            &format!("container app: exitCode 137, reason: {OOM}"),
            "container envoy: exitCode 0",
            "stopCode: EssentialContainerExited",
            "Task definition: web:42",
            "Service: web",
            "Launch type: FARGATE",
            "Capacity provider: FARGATE_SPOT",
            "Availability zone: eu-west-1a",
            "Stopped at: 2023-11-14T22:13:20.500Z",
            "Open the task in the ECS console: https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prod/",
        ] {
            assert!(text.contains(part), "missing {part:?} in\n{text}");
        }
        assert!(!text.contains("logs"), "no logs link without a log stream");
        assert!(!text.contains("\n\n\n"), "{text}");
    }

    /// The per-protocol message for every kind of alert: a JSON object of two strings, the plain text as
    /// `default` and the Amazon Q notification as `https`, within 256 KB; the plain text is cut only when the
    /// whole would not fit (eleven reasons of 8,000 three-byte characters).
    #[test]
    fn sns_per_protocol_has_the_text_by_default_and_amazon_q_for_https() {
        let reason = "服".repeat(9000);
        let containers: Vec<Value> =
            (0..10).map(|i| json!({"name": format!("c{i}"), "exitCode": 1, "reason": reason})).collect();
        let crowded = task(json!({"clusterArn": CLUSTER, "taskArn": TASK, "group": "service:web",
            "stopCode": "EssentialContainerExited", "stoppedReason": reason, "containers": containers}));
        let [logs, huge_logs] = with_logs();
        let crowded = alert_of(&crowded);
        assert!(crowded.plain_text().len() > SNS_MESSAGE_MAX, "the crowded alert must need the cut");
        for (alert, whole) in
            [(alert_of(&service_oom()), true), (huge("é😀"), true), (logs, true), (huge_logs, true), (crowded, false)]
        {
            let message = alert.sns_per_protocol();
            assert!(message.len() <= SNS_MESSAGE_MAX, "{} bytes", message.len());
            let object: serde_json::Map<String, Value> = serde_json::from_str(&message).expect("a JSON object");
            assert_eq!(object.keys().collect::<Vec<_>>(), ["default", "https"]);
            let default = object["default"].as_str().expect("a string");
            let https = object["https"].as_str().expect("a string, not an object: SNS ignores non-string values");
            let notification: Value = serde_json::from_str(https).expect("the notification parses");
            assert_eq!(notification, alert.amazon_q_notification(&alert.thread_id()));
            let text = alert.plain_text();
            if whole {
                assert_eq!(default, text);
            } else {
                assert!(default.ends_with("...") && text.starts_with(default.trim_end_matches("...")));
                assert!(message.len() > SNS_MESSAGE_MAX - 16, "cut no more than needed: {} bytes", message.len());
            }
        }
    }
}
