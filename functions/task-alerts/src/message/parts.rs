//! The parts every format is made of: the summary and the suppressed note, the verbatim evidence, the
//! task's details, the links, and the tail of the blamed container's log.

use shared::text::controls_to_spaces;

use super::text::{clean, cut, fit, keep, log_line, units};
use super::{Alert, AlertKind};

/// One verbatim reason in the SNS body and the generic JSON (an SNS message is at most 256 KB).
pub(super) const REASON_MAX: usize = 8000;
/// One log line as shown: the caller caps them, this keeps a runaway line from crowding out the others.
pub(super) const LOG_LINE_MAX: usize = 300;
/// All log lines in the SNS body and the generic JSON: at least 60 whole lines, far within 256 KB.
pub(super) const LOG_TEXT_MAX: usize = 20_000;

impl Alert {
    /// The summary, and how many similar stops were suppressed.
    pub(super) fn summary_text(&self) -> String {
        match self.suppressed_note() {
            Some(note) => format!("{}\n{note}", self.summary),
            None => self.summary.clone(),
        }
    }

    /// `9 suppressed since <time>: similar stops ...`, when any were.
    pub(super) fn suppressed_note(&self) -> Option<String> {
        let since = self.suppressed_since.as_deref().map(|since| format!(" since {}", controls_to_spaces(since)));
        let what = match self.kind {
            AlertKind::Stop(_) => "similar stops of this service (same category) were held back since the last alert",
            AlertKind::Service(_) => "repeats of this event were held back since the last alert",
        };
        (self.suppressed > 0).then(|| format!("{} suppressed{}: {what}.", self.suppressed, since.unwrap_or_default()))
    }

    /// One line per verbatim fact: stop code, task reason, each container's exit code and reason.
    pub(super) fn evidence_lines(&self, reason_max: usize) -> Vec<String> {
        let mut lines: Vec<String> = self.event_evidence.iter().map(|line| cut(&clean(line), reason_max)).collect();
        if let Some(code) = &self.stop_code {
            lines.push(format!("stopCode: {code}"));
        }
        if let Some(reason) = &self.stopped_reason {
            lines.push(format!("stoppedReason: {}", cut(&clean(reason), reason_max)));
        }
        for container in &self.containers {
            let mut line = format!("container {}:", container.name.as_deref().unwrap_or("unnamed"));
            if let Some(code) = container.exit_code {
                line += &format!(" exitCode {code}");
            }
            if let Some(reason) = &container.reason {
                let sep = if container.exit_code.is_some() { "," } else { "" };
                line += &format!("{sep} reason: {}", cut(&clean(reason), reason_max));
            }
            lines.push(line);
        }
        if lines.is_empty() {
            lines.push("no stop code, reason or exit code recorded".to_string());
        }
        lines
    }

    pub(super) fn evidence_text(&self, reason_max: usize) -> String {
        self.evidence_lines(reason_max).iter().map(|line| format!("- {line}")).collect::<Vec<_>>().join("\n")
    }

    /// Label and value of what is known about the task, in reading order.
    pub(super) fn details(&self) -> Vec<(&'static str, String)> {
        let mut details = vec![("Cluster", self.cluster.clone())];
        let mut add = |label: &'static str, value: Option<String>| {
            if let Some(value) = value {
                details.push((label, controls_to_spaces(&value)));
            }
        };
        add("Account", self.account_label());
        add("Task definition", self.task_definition());
        match (&self.service, &self.group) {
            (Some(service), _) => add("Service", Some(service.clone())),
            (None, group) => add("Group", group.clone()),
        }
        add("Launch type", self.launch_type.clone());
        add("Capacity provider", self.capacity_provider.clone());
        add("Availability zone", self.availability_zone.clone());
        let at = if matches!(self.kind, AlertKind::Stop(_)) { "Stopped at" } else { "At" };
        add(at, self.stopped_at.clone());
        for (label, value) in &self.event_details {
            add(label, Some(value.clone()));
        }
        add("Task", self.task_id.clone());
        details
    }

    /// `210987654321 (payments-prod)` with a name configured for the account (`ACCOUNT_NAMES`), else
    /// the id alone; `None` when the event named no account.
    pub(super) fn account_label(&self) -> Option<String> {
        let account = self.account.as_deref()?;
        Some(match self.account_name.as_deref() {
            Some(name) => format!("{account} ({name})"),
            None => account.to_string(),
        })
    }

    pub(super) fn details_text(&self) -> String {
        self.details().iter().map(|(label, value)| format!("{label}: {value}")).collect::<Vec<_>>().join("\n")
    }

    /// `(label, url)` of the links there are.
    pub(super) fn links(&self) -> Vec<(&'static str, &str)> {
        let label = match (self.kind, &self.task_id, &self.service) {
            (AlertKind::Stop(_), ..) | (_, Some(_), _) => "Open the task in the ECS console",
            (_, None, Some(_)) => "Open the service in the ECS console",
            (_, None, None) => "Open the cluster's infrastructure in the ECS console",
        };
        let console = self.console_url.as_deref().map(|url| (label, url));
        let logs = self.logs_url.as_deref().map(|url| ("Open the container's logs in CloudWatch", url));
        console.into_iter().chain(logs).collect()
    }

    pub(super) fn links_text(&self) -> String {
        self.links().iter().map(|(label, url)| format!("{label}: {url}")).collect::<Vec<_>>().join("\n")
    }

    /// `Last 20 log lines`.
    pub(super) fn log_heading(&self) -> String {
        match self.log_lines.len() {
            1 => "Last 1 log line".to_string(),
            n => format!("Last {n} log lines"),
        }
    }

    /// The newest log lines that fit in `max` UTF-16 units with a newline between two, oldest first, each on
    /// one line and shown by `show` (which escapes, and cuts to the units it is given); and how many older
    /// lines were left out, with room kept for the note saying so.
    pub(super) fn log_tail(&self, max: usize, show: impl Fn(&str, usize) -> String) -> (Vec<String>, usize) {
        let mut lines: Vec<String> = self.log_lines.iter().map(|line| show(&log_line(line), LOG_LINE_MAX)).collect();
        if units(&lines.join("\n")) <= max {
            return (lines, 0);
        }
        // Not all fit: the newest that do, and room for the note on how many older ones were left out.
        let mut first = lines.len(); // the oldest line kept
        let mut used = 0; // the units of the lines kept and of the newlines between them
        while first > 0 {
            let line = units(&lines[first - 1]);
            let with_line = if first == lines.len() { line } else { used + 1 + line };
            if with_line + 1 + units(&left_out_note(first - 1)) > max {
                break;
            }
            (used, first) = (with_line, first - 1);
        }
        if first == lines.len() {
            // Not even the newest line fits whole: its start, as it is the one nearest the failure.
            first -= 1;
            let room = max.saturating_sub(units(&left_out_note(first)) + 1);
            lines[first] = show(&log_line(&self.log_lines[first]), room);
        }
        (lines.split_off(first), first)
    }

    /// The log tail as text: `… 12 earlier lines left out` when some were, then one line per log line.
    pub(super) fn log_text(&self, max: usize, show: impl Fn(&str, usize) -> String) -> String {
        let (lines, left_out) = self.log_tail(max, show);
        let note = (left_out > 0).then(|| left_out_note(left_out));
        note.into_iter().chain(lines).collect::<Vec<_>>().join("\n")
    }

    /// `head`, the evidence, the log lines under `Last N log lines:`, then `tail`: at most `max` units.
    /// Head and tail stay whole; the evidence keeps at least half the room they leave (it is what the
    /// diagnosis read), the log lines take what they need of the rest.
    pub(super) fn fit_with_logs(&self, head: &str, evidence: &str, tail: &str, max: usize) -> String {
        if self.log_lines.is_empty() {
            return fit(head, evidence, tail, max, keep);
        }
        let heading = format!("\n\n{}:\n", self.log_heading());
        let room = max.saturating_sub(units(head) + units(tail) + units(&heading));
        let logs = self.log_text(room - units(evidence).min(room / 2), cut);
        fit(head, evidence, &format!("{heading}{logs}{tail}"), max, keep)
    }
}

/// `… 12 earlier lines left out`.
fn left_out_note(lines: usize) -> String {
    match lines {
        1 => "… 1 earlier line left out".to_string(),
        n => format!("… {n} earlier lines left out"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::fixtures::{alert_of, service_oom};

    #[test]
    fn the_account_line_names_the_account() {
        let mut alert = alert_of(&service_oom());
        let line = |alert: &Alert| alert.details().into_iter().find(|(label, _)| *label == "Account").map(|(_, v)| v);
        let cases = [
            (None, None, None),
            (Some("210987654321"), None, Some("210987654321")),
            (Some("210987654321"), Some("payments-prod"), Some("210987654321 (payments-prod)")),
            (Some("210987654321"), Some("pay\nments"), Some("210987654321 (pay ments)")),
        ];
        for (account, name, want) in cases {
            (alert.account, alert.account_name) = (account.map(str::to_string), name.map(str::to_string));
            assert_eq!(line(&alert).as_deref(), want, "{account:?} {name:?}");
        }
    }

    #[test]
    fn log_tail_keeps_the_newest_lines_and_counts_the_rest() {
        let mut alert = alert_of(&service_oom());
        alert.log_lines = (0..20).map(|i| format!("line {i:02}")).collect();
        let last = |n: usize| alert.log_lines[20 - n..].join("\n");
        let note = "… 12 earlier lines left out";
        #[rustfmt::skip]
        let cases: Vec<(&str, usize, String)> = vec![
            ("everything fits", 20 * 8 - 1, last(20)),
            ("8 lines and the note", units(note) + 1 + 8 * 8 - 1, format!("{note}\n{}", last(8))),
            ("one unit short of 8 lines", units(note) + 8 * 8 - 1, format!("… 13 earlier lines left out\n{}", last(7))),
            ("not even the newest line whole", units("… 19 earlier lines left out") + 1 + 5,
             "… 19 earlier lines left out\nli...".to_string()),
        ];
        for (name, max, want) in cases {
            let text = alert.log_text(max, cut);
            assert_eq!(text, want, "{name}");
            assert!(units(&text) <= max, "{name}");
        }

        alert.log_lines = vec!["x".repeat(2000), "a\r\nb\u{1b}c\td\u{2028}e  \n".into()];
        assert_eq!(alert.log_tail(usize::MAX, cut), (vec![format!("{}...", "x".repeat(297)), "a  b c\td e".into()], 0));
    }
}
