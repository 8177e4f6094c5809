//! What is published on the SNS topic as text: the subject, and the message body.

use super::Alert;
use super::parts::{LOG_TEXT_MAX, REASON_MAX};
use super::text::{ELLIPSIS, cut};

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
    use crate::message::fixtures::{OOM, alert_of, service_oom};

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
}
