//! The alert for a stopped task: a one-line title, the SNS subject and body, the Amazon Q Developer custom
//! notification, and one webhook payload per chat service.
//!
//! Pure: an [`Alert`] is built from the task, its [`Diagnosis`] and the region, and renders itself. It never
//! sees a webhook URL or a secret, so none can end up in a message. Every cut keeps whole characters and
//! counts UTF-16 code units, never fewer than the characters: a text within a limit in UTF-16 units is
//! within it whether the service counts characters (Slack, Chime) or UTF-16 units (Discord).

use std::fmt;
use std::str::FromStr;

use serde_json::{Value, json};

use crate::diagnosis::{Category, ContainerEvidence, Diagnosis, TaskDetail, Timestamp};

// Limits, with where they are documented (some numbers come from client libraries, as noted):
/// SNS `Publish` `Subject`: "UTF-8 text with no line breaks or control characters, and less than 100
/// characters long" (SNS API reference, PublishRequest.Subject); the email transport and AWS's older wording
/// want ASCII, so subjects are printable ASCII.
const SNS_SUBJECT_MAX: usize = 99;
/// Slack Block Kit (docs.slack.dev/reference/block-kit/blocks): `header` text <= 150 characters (plain_text
/// only), `section` text <= 3000, `fields` <= 10 items of <= 2000; a message holds <= 50 blocks. With
/// `blocks`, the top-level `text` is the notification fallback (docs.slack.dev, incoming webhooks).
const SLACK_HEADER_MAX: usize = 150;
const SLACK_SECTION_MAX: usize = 3000;
const SLACK_FIELD_MAX: usize = 2000;
const SLACK_FIELDS_MAX: usize = 10;
/// Amazon Chime incoming webhooks take "a JSON payload with a single key `Content`" (Chime admin guide,
/// "Creating webhooks for Amazon Chime"). That page gives no length; 4096 characters is what clients enforce
/// (Apache Airflow's `ChimeWebhookHook`). AWS ends support for Amazon Chime on 2026-02-20.
const CHIME_CONTENT_MAX: usize = 4096;
/// Discord "Execute Webhook" (discord.com/developers/docs/resources/webhook#execute-webhook; the same numbers
/// in Discord's OpenAPI-derived schemas and Sapphire's `EmbedLimits`): `content` <= 2000
/// characters, <= 10 embeds; embed limits (…/resources/message#embed-object-embed-limits): title 256,
/// description 4096, <= 25 fields, field name 256, field value 1024, and 6000 across one message's embeds.
const DISCORD_CONTENT_MAX: usize = 2000;
const DISCORD_TITLE_MAX: usize = 256;
const DISCORD_DESCRIPTION_MAX: usize = 4096;
const DISCORD_FIELDS_MAX: usize = 25;
const DISCORD_FIELD_NAME_MAX: usize = 256;
const DISCORD_FIELD_VALUE_MAX: usize = 1024;
const DISCORD_EMBEDS_TOTAL_MAX: usize = 6000;
/// Teams Workflows ("When a Teams webhook request is received", learn.microsoft.com/microsoftteams/platform/
/// webhooks-and-connectors/how-to/connectors-using) take Adaptive Cards only, in a Bot Framework `message`
/// with one `application/vnd.microsoft.card.adaptive` attachment; Workflows reject card versions above 1.4.
/// (Version cap: reported by users of Workflows, e.g. Skitionek/notify-microsoft-teams#107.) A Teams message
/// is at most ~28 KB, and a body sent without a charset has been seen counted as UTF-16 (about 14 KB of
/// UTF-8): each text block stays small so the whole card does.
const TEAMS_TEXT_MAX: usize = 3000;
const TEAMS_FACT_MAX: usize = 500;
/// Amazon Q Developer custom notifications document no length limit; the description is kept within one
/// Slack section so it renders in Slack as well as Teams.
const Q_DESCRIPTION_MAX: usize = 3000;
/// One verbatim reason in the SNS body and the generic JSON (an SNS message is at most 256 KB).
const REASON_MAX: usize = 8000;
/// One log line as shown: the caller caps them, this keeps a runaway line from crowding out the others.
const LOG_LINE_MAX: usize = 300;
/// All log lines in the SNS body and the generic JSON: at least 60 whole lines, far within 256 KB.
const LOG_TEXT_MAX: usize = 20_000;
/// The log lines' block in a Teams card: smaller than the other text blocks, so that a card with the
/// evidence and the log lines both at their longest stays within the ~14 KB above.
const TEAMS_LOG_MAX: usize = 2000;
const ELLIPSIS: &str = "...";

/// Where the blamed container's `awslogs` output went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogStream {
    pub group: String,
    pub stream: String,
}

impl LogStream {
    /// The stream the `awslogs` driver writes for a task: `<awslogs-stream-prefix>/<container>/<task-id>`.
    pub fn awslogs(group: &str, stream_prefix: &str, container: &str, task_id: &str) -> Self {
        LogStream { group: group.to_string(), stream: format!("{stream_prefix}/{container}/{task_id}") }
    }
}

/// Everything an alert says about one stopped task, names already taken out of their ARNs.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub category: Category,
    pub summary: String,
    pub hint: &'static str,
    /// The region the links point at: the one given, else the one in the task's ARNs, else empty (no links).
    pub region: String,
    /// From `clusterArn` (or a long-format `taskArn`); `unknown-cluster` when neither names one.
    pub cluster: String,
    /// From `group` `service:NAME`.
    pub service: Option<String>,
    pub group: Option<String>,
    /// Task definition family and revision, from `taskDefinitionArn`.
    pub family: Option<String>,
    pub revision: Option<String>,
    pub task_definition_arn: Option<String>,
    pub task_arn: Option<String>,
    pub task_id: Option<String>,
    pub launch_type: Option<String>,
    pub capacity_provider: Option<String>,
    pub availability_zone: Option<String>,
    /// As the event gave it (ISO 8601), or epoch seconds written as RFC 3339 UTC.
    pub stopped_at: Option<String>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    /// The containers' verbatim reasons and exit codes.
    pub containers: Vec<ContainerEvidence>,
    /// The container the diagnosis blames.
    pub container: Option<String>,
    pub console_url: Option<String>,
    pub logs: Option<LogStream>,
    pub logs_url: Option<String>,
    /// The blamed container's last log lines, oldest first, as read (see [`Alert::with_log_tail`]).
    pub log_lines: Vec<String>,
    /// How many similar stops of this service were held back since the last alert.
    pub suppressed: u64,
    /// Since when they were held back (the first one's time), as the caller wrote it.
    pub suppressed_since: Option<String>,
}

impl Alert {
    pub fn new(task: &TaskDetail, diagnosis: &Diagnosis, region: &str, logs: Option<LogStream>) -> Self {
        let arns = [&task.task_arn, &task.cluster_arn, &task.task_definition_arn];
        let region = if is_region(region) {
            region.to_string()
        } else {
            arns.iter().find_map(|arn| arn.as_deref().and_then(arn_region)).unwrap_or_default().to_string()
        };
        let task_id = task.task_arn.as_deref().and_then(task_id);
        let cluster = cluster_name(task.cluster_arn.as_deref(), task.task_arn.as_deref())
            .unwrap_or("unknown-cluster")
            .to_string();
        let (family, revision) = task.task_definition_arn.as_deref().map(family_revision).unwrap_or_default();
        let service = task.group.as_deref().and_then(|g| g.strip_prefix("service:")).map(str::to_string);
        let stopped_at = task.stopped_at.as_ref().map(|at| match at {
            Timestamp::Text(text) => text.clone(),
            Timestamp::EpochSeconds(seconds) => rfc3339_utc(*seconds),
        });
        let links = is_region(&region);
        let console_url = task_id.filter(|_| links).map(|id| console_url(&region, &cluster, id));
        let logs_url = logs.as_ref().filter(|_| links).map(|logs| logs_url(&region, logs));
        Alert {
            category: diagnosis.category,
            summary: diagnosis.summary.clone(),
            hint: diagnosis.hint,
            region,
            cluster,
            service,
            group: task.group.clone(),
            family,
            revision,
            task_definition_arn: task.task_definition_arn.clone(),
            task_arn: task.task_arn.clone(),
            task_id: task_id.map(str::to_string),
            launch_type: task.launch_type.clone(),
            capacity_provider: task.capacity_provider_name.clone(),
            availability_zone: task.availability_zone.clone(),
            stopped_at,
            stop_code: diagnosis.evidence.stop_code.clone(),
            stopped_reason: diagnosis.evidence.stopped_reason.clone(),
            containers: diagnosis.evidence.containers.clone(),
            container: diagnosis.container.clone(),
            console_url,
            logs,
            logs_url,
            log_lines: Vec::new(),
            suppressed: 0,
            suppressed_since: None,
        }
    }

    /// Show the blamed container's last log lines, oldest first, read from `stream` (which becomes the
    /// alert's log stream and link). The caller caps the lines; each is still shown on one line and cut.
    pub fn with_log_tail(mut self, stream: LogStream, lines: Vec<String>) -> Self {
        self.logs_url = is_region(&self.region).then(|| logs_url(&self.region, &stream));
        self.logs = Some(stream);
        self.log_lines = lines;
        self
    }

    /// Say in this alert how many similar stops were suppressed since the last one, and since when.
    pub fn with_suppressed(mut self, suppressed: u64, since: Option<String>) -> Self {
        self.suppressed = suppressed;
        self.suppressed_since = since;
        self
    }

    /// The service, else the task definition family (a standalone task), else the `group`.
    pub fn service_or_family(&self) -> &str {
        let group = self.group.as_deref().map(|g| g.strip_prefix("family:").unwrap_or(g));
        self.service.as_deref().or(self.family.as_deref()).or(group).unwrap_or("unknown-task")
    }

    /// `family:revision`.
    pub fn task_definition(&self) -> Option<String> {
        let family = self.family.as_deref()?;
        Some(match &self.revision {
            Some(revision) => format!("{family}:{revision}"),
            None => family.to_string(),
        })
    }

    /// `<category id>`, e.g. `out_of_memory`, as the diagnosis serialises it.
    pub fn category_id(&self) -> String {
        self.category.id().to_string()
    }

    /// One line: `[<cluster>] <service or family>: <category words> (<container>, <key fact>)`.
    pub fn title(&self) -> String {
        let mut title = format!("[{}] {}: {}", self.cluster, self.service_or_family(), self.category.words());
        match (self.container.as_deref(), self.key_fact()) {
            (Some(container), Some(fact)) => title += &format!(" ({container}, {fact})"),
            (Some(container), None) => title += &format!(" ({container})"),
            (None, Some(fact)) => title += &format!(" ({fact})"),
            (None, None) => {}
        }
        one_line(&title)
    }

    /// The blamed container's exit code, else the task's stop code.
    fn key_fact(&self) -> Option<String> {
        let blamed = self.container.as_deref().and_then(|name| self.evidence_of(name));
        let exit = blamed.and_then(|c| c.exit_code).map(|code| format!("exit {code}"));
        exit.or_else(|| self.stop_code.clone())
    }

    fn evidence_of(&self, name: &str) -> Option<&ContainerEvidence> {
        self.containers.iter().find(|c| c.name.as_deref() == Some(name))
    }

    /// The title as an SNS subject: printable ASCII, one line, under 100 characters.
    pub fn sns_subject(&self) -> String {
        let ascii = printable_ascii(&self.title());
        let subject = ascii.trim();
        cut(if subject.is_empty() { "ECS task stopped" } else { subject }, SNS_SUBJECT_MAX)
    }

    /// Threads Amazon Q Developer notifications per service: `<cluster>/<service or family>`.
    pub fn thread_id(&self) -> String {
        format!("{}/{}", self.cluster, self.service_or_family())
    }

    /// The summary, and how many similar stops were suppressed.
    fn summary_text(&self) -> String {
        match self.suppressed_note() {
            Some(note) => format!("{}\n{note}", self.summary),
            None => self.summary.clone(),
        }
    }

    /// `9 suppressed since <time>: similar stops ...`, when any were.
    fn suppressed_note(&self) -> Option<String> {
        let since = self.suppressed_since.as_deref().map(|since| format!(" since {}", one_line(since)));
        let what = "similar stops of this service (same category) were held back since the last alert";
        (self.suppressed > 0).then(|| format!("{} suppressed{}: {what}.", self.suppressed, since.unwrap_or_default()))
    }

    /// One line per verbatim fact: stop code, task reason, each container's exit code and reason.
    fn evidence_lines(&self, reason_max: usize) -> Vec<String> {
        let mut lines = Vec::new();
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

    fn evidence_text(&self, reason_max: usize) -> String {
        self.evidence_lines(reason_max).iter().map(|line| format!("- {line}")).collect::<Vec<_>>().join("\n")
    }

    /// Label and value of what is known about the task, in reading order.
    fn details(&self) -> Vec<(&'static str, String)> {
        let mut details = vec![("Cluster", self.cluster.clone())];
        let mut add = |label: &'static str, value: Option<String>| {
            if let Some(value) = value {
                details.push((label, one_line(&value)));
            }
        };
        add("Task definition", self.task_definition());
        match (&self.service, &self.group) {
            (Some(service), _) => add("Service", Some(service.clone())),
            (None, group) => add("Group", group.clone()),
        }
        add("Launch type", self.launch_type.clone());
        add("Capacity provider", self.capacity_provider.clone());
        add("Availability zone", self.availability_zone.clone());
        add("Stopped at", self.stopped_at.clone());
        add("Task", self.task_id.clone());
        details
    }

    fn details_text(&self) -> String {
        self.details().iter().map(|(label, value)| format!("{label}: {value}")).collect::<Vec<_>>().join("\n")
    }

    /// `(label, url)` of the links there are.
    fn links(&self) -> Vec<(&'static str, &str)> {
        let console = self.console_url.as_deref().map(|url| ("Open the task in the ECS console", url));
        let logs = self.logs_url.as_deref().map(|url| ("Open the container's logs in CloudWatch", url));
        console.into_iter().chain(logs).collect()
    }

    fn links_text(&self) -> String {
        self.links().iter().map(|(label, url)| format!("{label}: {url}")).collect::<Vec<_>>().join("\n")
    }

    /// `Last 20 log lines`.
    fn log_heading(&self) -> String {
        match self.log_lines.len() {
            1 => "Last 1 log line".to_string(),
            n => format!("Last {n} log lines"),
        }
    }

    /// The newest log lines that fit in `max` UTF-16 units with a newline between two, oldest first, each on
    /// one line and shown by `show` (which escapes, and cuts to the units it is given); and how many older
    /// lines were left out, with room kept for the note saying so.
    fn log_tail(&self, max: usize, show: impl Fn(&str, usize) -> String) -> (Vec<String>, usize) {
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
    fn log_text(&self, max: usize, show: impl Fn(&str, usize) -> String) -> String {
        let (lines, left_out) = self.log_tail(max, show);
        let note = (left_out > 0).then(|| left_out_note(left_out));
        note.into_iter().chain(lines).collect::<Vec<_>>().join("\n")
    }

    /// `head`, the evidence, the log lines under `Last N log lines:`, then `tail`: at most `max` units.
    /// Head and tail stay whole; the evidence keeps at least half the room they leave (it is what the
    /// diagnosis read), the log lines take what they need of the rest.
    fn fit_with_logs(&self, head: &str, evidence: &str, tail: &str, max: usize) -> String {
        if self.log_lines.is_empty() {
            return fit(head, evidence, tail, max, keep);
        }
        let heading = format!("\n\n{}:\n", self.log_heading());
        let room = max.saturating_sub(units(head) + units(tail) + units(&heading));
        let logs = self.log_text(room - units(evidence).min(room / 2), cut);
        fit(head, evidence, &format!("{heading}{logs}{tail}"), max, keep)
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

    pub fn webhook_payload(&self, format: WebhookFormat) -> Value {
        match format {
            WebhookFormat::Slack => self.slack(),
            WebhookFormat::Teams => self.teams(),
            WebhookFormat::Chime => self.chime(),
            WebhookFormat::Discord => self.discord(),
            WebhookFormat::Generic => self.generic(),
        }
    }

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

    /// Microsoft Teams Workflows webhook: a `message` with one Adaptive Card (version 1.4) attachment.
    pub fn teams(&self) -> Value {
        let text = |text: &str| json!({"type": "TextBlock", "text": cut(text, TEAMS_TEXT_MAX), "wrap": true});
        let facts: Vec<Value> = self
            .details()
            .into_iter()
            .map(|(label, value)| json!({"title": label, "value": cut(&value, TEAMS_FACT_MAX)}))
            .collect();
        let mut body = vec![
            json!({"type": "TextBlock", "text": cut(&self.title(), TEAMS_FACT_MAX), "weight": "Bolder",
                   "size": "Medium", "wrap": true}),
            text(&self.summary_text()),
            text(&format!("**Fix:** {}", self.hint)),
            json!({"type": "FactSet", "facts": facts}),
            json!({"type": "TextBlock", "text": "Evidence", "weight": "Bolder", "wrap": true}),
            json!({"type": "TextBlock", "text": cut(&self.evidence_text(TEAMS_TEXT_MAX), TEAMS_TEXT_MAX),
                   "wrap": true, "fontType": "Monospace"}),
        ];
        if !self.log_lines.is_empty() {
            body.push(json!({"type": "TextBlock", "text": self.log_heading(), "weight": "Bolder", "wrap": true}));
            body.push(json!({"type": "TextBlock", "text": self.log_text(TEAMS_LOG_MAX, cut), "wrap": true,
                             "fontType": "Monospace"}));
        }
        let actions: Vec<Value> = self
            .links()
            .iter()
            .map(|(label, url)| json!({"type": "Action.OpenUrl", "title": label, "url": url}))
            .collect();
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                    "actions": actions,
                    "msteams": {"width": "Full"},
                },
            }],
        })
    }

    /// Amazon Chime incoming webhook: `{"Content": ...}`; the evidence is cut first so the links stay.
    pub fn chime(&self) -> Value {
        let head = format!("{}\n{}\nFix: {}\n\nEvidence:\n", self.title(), self.summary_text(), self.hint);
        let tail = format!("\n\n{}\n\n{}", self.details_text(), self.links_text());
        let content =
            self.fit_with_logs(&head, &self.evidence_text(CHIME_CONTENT_MAX), tail.trim_end(), CHIME_CONTENT_MAX);
        json!({"Content": content})
    }

    /// Discord execute-webhook body: the title as `content`, one embed, and no mentions parsed (a verbatim
    /// reason saying `@everyone` must not ping anyone).
    pub fn discord(&self) -> Value {
        let title = self.title();
        let embed_title = cut(&title, DISCORD_TITLE_MAX);
        // The log lines in a field of their own, a code block with any fence in a line broken.
        let log_field = (!self.log_lines.is_empty()).then(|| {
            let (head, tail) = ("```\n", "\n```");
            let room = DISCORD_FIELD_VALUE_MAX - units(head) - units(tail);
            let lines = self.log_text(room, |line, max| cut(&line.replace("```", "'''"), max));
            ("Last log lines".to_string(), format!("{head}{lines}{tail}"))
        });
        let fields: Vec<(String, String)> = self
            .details()
            .into_iter()
            .take(DISCORD_FIELDS_MAX - usize::from(log_field.is_some()))
            .map(|(label, value)| (cut(label, DISCORD_FIELD_NAME_MAX), cut(&value, DISCORD_FIELD_VALUE_MAX)))
            .collect();
        let used = units(&embed_title)
            + fields.iter().chain(&log_field).map(|(name, value)| units(name) + units(value)).sum::<usize>();
        let description_max = DISCORD_DESCRIPTION_MAX.min(DISCORD_EMBEDS_TOTAL_MAX.saturating_sub(used));

        let head = format!("{}\n\n**Fix:** {}\n\n**Evidence**\n```\n", self.summary_text(), self.hint);
        let links: Vec<String> = self.links().iter().map(|(label, url)| format!("[{label}]({url})")).collect();
        let tail = format!("\n```\n{}", links.join("\n"));
        let evidence = self.evidence_text(DISCORD_DESCRIPTION_MAX).replace("```", "'''");
        let description = fit(&head, &evidence, tail.trim_end(), description_max, keep);

        let mut fields: Vec<Value> =
            fields.into_iter().map(|(name, value)| json!({"name": name, "value": value, "inline": true})).collect();
        fields.extend(log_field.map(|(name, value)| json!({"name": name, "value": value, "inline": false})));
        let mut embed = json!({"title": embed_title, "description": description, "color": 0xD13438, "fields": fields});
        if let Some(url) = &self.console_url {
            embed["url"] = json!(url);
        }
        json!({"content": cut(&title, DISCORD_CONTENT_MAX), "embeds": [embed], "allowed_mentions": {"parse": []}})
    }

    /// A flat JSON object for any other receiver.
    pub fn generic(&self) -> Value {
        let containers: Vec<Value> = self
            .containers
            .iter()
            .map(|c| {
                let reason = c.reason.as_deref().map(|r| cut(r, REASON_MAX));
                json!({"name": c.name, "exit_code": c.exit_code, "reason": reason})
            })
            .collect();
        let stopped_reason = self.stopped_reason.as_deref().map(|r| cut(r, REASON_MAX));
        let mut generic = json!({
            "title": self.title(),
            "category": self.category_id(),
            "summary": self.summary,
            "hint": self.hint,
            "cluster": self.cluster,
            "service": self.service,
            "group": self.group,
            "task_arn": self.task_arn,
            "task_id": self.task_id,
            "task_definition": self.task_definition(),
            "task_definition_arn": self.task_definition_arn,
            "launch_type": self.launch_type,
            "capacity_provider": self.capacity_provider,
            "availability_zone": self.availability_zone,
            "region": self.region,
            "container": self.container,
            "evidence": {"stop_code": self.stop_code, "stopped_reason": stopped_reason, "containers": containers},
            "console_url": self.console_url,
            "logs_url": self.logs_url,
            "stopped_at": self.stopped_at,
            "suppressed": self.suppressed,
            "suppressed_since": self.suppressed_since,
            "suppressed_note": self.suppressed_note(),
        });
        if !self.log_lines.is_empty() {
            let (lines, left_out) = self.log_tail(LOG_TEXT_MAX, cut);
            generic["log_group"] = json!(self.logs.as_ref().map(|logs| &logs.group));
            generic["log_stream"] = json!(self.logs.as_ref().map(|logs| &logs.stream));
            generic["log_lines"] = json!(lines);
            generic["log_lines_left_out"] = json!(left_out);
        }
        generic
    }

    /// The custom-notification JSON of Amazon Q Developer in chat applications (formerly AWS Chatbot), to
    /// publish on the SNS topic it watches. Schema (docs.aws.amazon.com/chatbot/latest/adminguide/
    /// custom-notifs.html): `version` must be "1.0", `source` must be "custom", `content.textType` only
    /// "client-markdown" (rendered in the chat's own markdown), `content.description` (markdown),
    /// optional `title`, `nextSteps`, `keywords`; `metadata.threadId` threads updates, `summary`,
    /// `relatedResources`. Plain text, line breaks and URLs render the same in Slack and Teams.
    pub fn amazon_q_notification(&self, thread_id: &str) -> Value {
        let head = format!("{}\n\nEvidence:\n", self.summary_text());
        let tail = format!("\n\n{}", self.details_text());
        let description = self.fit_with_logs(&head, &self.evidence_text(Q_DESCRIPTION_MAX), &tail, Q_DESCRIPTION_MAX);
        let mut next_steps = vec![format!("Fix: {}", self.hint)];
        next_steps.extend(self.links().iter().map(|(label, url)| format!("{label}: {url}")));
        let keywords = [self.category_id(), self.cluster.clone(), self.service_or_family().to_string()];
        let related: Vec<&String> = [&self.task_arn, &self.task_definition_arn].into_iter().flatten().collect();
        json!({
            "version": "1.0",
            "source": "custom",
            "content": {
                "textType": "client-markdown",
                "title": self.title(),
                "description": description,
                "nextSteps": next_steps,
                "keywords": keywords,
            },
            "metadata": {
                "threadId": thread_id,
                "summary": self.title(),
                "relatedResources": related,
            },
        })
    }
}

/// The chat services a webhook secret can name in its `format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    Slack,
    Teams,
    Chime,
    Discord,
    Generic,
}

/// A `format` we do not know. It echoes the value only when it looks like a format name: the value comes
/// from the webhook secret, and a URL pasted into the wrong field must not reach a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFormat(Option<String>);

impl std::error::Error for UnknownFormat {}

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(name) => write!(f, "unknown webhook format {name:?}")?,
            None => write!(f, "unknown webhook format")?,
        }
        write!(f, ": expected slack, teams, chime, discord or generic")
    }
}

impl FromStr for WebhookFormat {
    type Err = UnknownFormat;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let name = text.trim().to_ascii_lowercase();
        Ok(match name.as_str() {
            "slack" => WebhookFormat::Slack,
            "teams" | "msteams" => WebhookFormat::Teams,
            "chime" => WebhookFormat::Chime,
            "discord" => WebhookFormat::Discord,
            "generic" | "json" => WebhookFormat::Generic,
            _ => {
                let plain = (1..=20).contains(&name.len())
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                return Err(UnknownFormat(plain.then_some(name)));
            }
        })
    }
}

/// `https://<region>.console.aws.amazon.com/ecs/v2/clusters/<cluster>/tasks/<task-id>/configuration?region=<region>`
fn console_url(region: &str, cluster: &str, task_id: &str) -> String {
    let (cluster, task_id) = (percent_encode(cluster), percent_encode(task_id));
    format!(
        "https://{region}.console.aws.amazon.com/ecs/v2/clusters/{cluster}/tasks/{task_id}/configuration?region={region}"
    )
}

/// The CloudWatch console's log-events page. Its fragment takes each name URL-encoded twice with `%` written
/// as `$` (`/ecs/web` is `$252Fecs$252Fweb`).
fn logs_url(region: &str, logs: &LogStream) -> String {
    let encode = |name: &str| percent_encode(&percent_encode(name)).replace('%', "$");
    format!(
        "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{}/log-events/{}",
        encode(&logs.group),
        encode(&logs.stream)
    )
}

/// Everything but RFC 3986 unreserved characters, percent-encoded.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out += &format!("%{byte:02X}");
        }
    }
    out
}

/// `us-east-1`, `us-gov-west-1`, `cn-north-1`: lowercase letters, digits and dashes, safe in a host name.
fn is_region(region: &str) -> bool {
    (4..=30).contains(&region.len())
        && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-')
}

/// `arn:partition:service:region:account:resource` -> region.
fn arn_region(arn: &str) -> Option<&str> {
    let region = arn.strip_prefix("arn:")?.split(':').nth(2)?;
    is_region(region).then_some(region)
}

/// The task id is the last part of the ARN, in both `task/<id>` and `task/<cluster>/<id>` forms.
fn task_id(task_arn: &str) -> Option<&str> {
    let (_, resource) = task_arn.split_once(":task/")?;
    resource.rsplit('/').next().filter(|id| !id.is_empty())
}

fn cluster_name<'a>(cluster_arn: Option<&'a str>, task_arn: Option<&'a str>) -> Option<&'a str> {
    let from_cluster = cluster_arn.and_then(|arn| match arn.split_once(":cluster/") {
        Some((_, name)) => Some(name),
        None => (!arn.contains(':')).then_some(arn),
    });
    let from_task = || task_arn?.split_once(":task/")?.1.split_once('/').map(|(cluster, _)| cluster);
    from_cluster.or_else(from_task).filter(|name| !name.is_empty())
}

/// `arn:...:task-definition/web:12` -> (`web`, `12`).
fn family_revision(arn: &str) -> (Option<String>, Option<String>) {
    let name = arn.split_once(":task-definition/").map_or(arn, |(_, name)| name);
    match name.rsplit_once(':') {
        Some((family, revision)) if !revision.is_empty() && revision.bytes().all(|b| b.is_ascii_digit()) => {
            (Some(family.to_string()), Some(revision.to_string()))
        }
        _ => ((!name.is_empty()).then(|| name.to_string()), None),
    }
}

/// Epoch seconds as RFC 3339 UTC, milliseconds when there are any.
fn rfc3339_utc(seconds: f64) -> String {
    if !seconds.is_finite() {
        return seconds.to_string();
    }
    let millis = (seconds * 1000.0).round() as i64;
    let (secs, ms) = (millis.div_euclid(1000), millis.rem_euclid(1000));
    let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let (h, m, s) = (of_day / 3600, of_day % 3600 / 60, of_day % 60);
    let fraction = if ms > 0 { format!(".{ms:03}") } else { String::new() };
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}{fraction}Z")
}

/// Days since 1970-01-01 to the proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Control characters (newlines too) as spaces.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Control characters other than newline and tab as spaces: verbatim text, safe to print.
fn clean(text: &str) -> String {
    text.chars().map(|c| if c.is_control() && c != '\n' && c != '\t' { ' ' } else { c }).collect()
}

/// A log line on one line: control characters (newlines too, not tabs) and Unicode line and paragraph
/// separators as spaces, trailing blanks dropped.
fn log_line(text: &str) -> String {
    let flat = |c: char| (c.is_control() && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}');
    text.chars().map(|c| if flat(c) { ' ' } else { c }).collect::<String>().trim_end().to_string()
}

/// `… 12 earlier lines left out`.
fn left_out_note(lines: usize) -> String {
    match lines {
        1 => "… 1 earlier line left out".to_string(),
        n => format!("… {n} earlier lines left out"),
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

/// Length in UTF-16 code units (Discord's count; never less than the character count).
fn units(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// An escape for a character: its replacement, or `None` to keep it.
type Escape = fn(char) -> Option<&'static str>;

fn keep(_: char) -> Option<&'static str> {
    None
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

fn slack_text(text: &str, max: usize) -> String {
    cut_with(text, max, slack_escape)
}

/// At most `max` UTF-16 units, ending in `...` when cut; cuts between characters.
fn cut(text: &str, max: usize) -> String {
    cut_with(text, max, keep)
}

/// `text` escaped, at most `max` UTF-16 units after escaping, ending in `...` when cut. Cuts between
/// characters, so never inside a character or an escape.
fn cut_with(text: &str, max: usize, escape: Escape) -> String {
    let width = |c: char| escape(c).map_or(c.len_utf16(), units);
    let full: usize = text.chars().map(width).sum();
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
fn fit(head: &str, middle: &str, tail: &str, max: usize, escape: Escape) -> String {
    let room = max.saturating_sub(units(head) + units(tail));
    let text = format!("{head}{}{tail}", cut_with(middle, room, escape));
    if units(&text) <= max { text } else { cut(&text, max) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::diagnose;

    const USER_STOPPED: &str =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/task-alerts/stopped-by-user.json"));
    const SPOT_NOTICE: &str =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/task-alerts/spot-interruption-notice.json"));

    const CLUSTER: &str = "arn:aws:ecs:eu-west-1:111122223333:cluster/prod";
    const TASK: &str = "arn:aws:ecs:eu-west-1:111122223333:task/prod/0123456789abcdef0123456789abcdef";
    const OOM: &str = "OutOfMemoryError: Container killed due to memory usage";
    const SINCE: &str = "2023-11-14T21:58:07Z";

    fn task(value: Value) -> TaskDetail {
        TaskDetail::from_json(&value.to_string()).expect("a task")
    }

    fn alert_of(task: &TaskDetail) -> Alert {
        Alert::new(task, &diagnose(task), "eu-west-1", None)
    }

    fn service_oom() -> TaskDetail {
        task(json!({
            "clusterArn": CLUSTER, "taskArn": TASK, "group": "service:web",
            "taskDefinitionArn": "arn:aws:ecs:eu-west-1:111122223333:task-definition/web:42",
            "launchType": "FARGATE", "capacityProviderName": "FARGATE_SPOT", "availabilityZone": "eu-west-1a",
            "stopCode": "EssentialContainerExited", "stoppedReason": "Essential container in task exited",
            "stoppedAt": 1_700_000_000.5,
            "containers": [{"name": "app", "exitCode": 137, "reason": OOM}, {"name": "envoy", "exitCode": 0}]
        }))
    }

    /// A task whose reasons are `reason` repeated to 100,000 characters, to test every cut.
    fn huge(reason: &str) -> Alert {
        let long = reason.repeat(100_000 / reason.chars().count());
        let task = task(json!({
            "clusterArn": CLUSTER, "taskArn": TASK, "group": "service:web",
            "taskDefinitionArn": "arn:aws:ecs:eu-west-1:111122223333:task-definition/web:42",
            "stopCode": "TaskFailedToStart", "stoppedReason": long,
            "containers": [{"name": "app", "reason": format!("CannotPullContainerError: {long}")},
                           {"name": "sidecar", "exitCode": 1, "reason": long}]
        }));
        let logs = LogStream::awslogs("/ecs/web", "ecs", "app", "0123456789abcdef0123456789abcdef");
        Alert::new(&task, &diagnose(&task), "eu-west-1", Some(logs)).with_suppressed(3, Some(SINCE.into()))
    }

    fn app_logs() -> LogStream {
        LogStream::awslogs("/ecs/web", "ecs", "app", "0123456789abcdef0123456789abcdef")
    }

    /// 20 log lines, oldest first, `line NN` at the start of each: 2,000-character lines, control
    /// characters and line separators, fences and backticks, `<` and `&`, emoji.
    fn log_lines() -> Vec<String> {
        (0..20)
            .map(|i| match i % 4 {
                0 => format!("line {i:02} {}", "x".repeat(2000)),
                1 => format!("line {i:02} cr\r\nlf \u{1b}[31mred\u{0} nul\ttab\u{2028}ls\u{85}nel\n"),
                2 => format!("line {i:02} ```fence``` `tick` <b>&amp; & {}", "😀".repeat(1000)),
                _ => format!("line {i:02} {}", "é😀<&`".repeat(400)),
            })
            .collect()
    }

    /// An alert with 20 long log lines: for a normal task, and with huge non-ASCII reasons.
    fn with_logs() -> [Alert; 2] {
        [alert_of(&service_oom()), huge("é😀")].map(|alert| alert.with_log_tail(app_logs(), log_lines()))
    }

    #[test]
    fn titles() {
        #[rustfmt::skip]
        let cases: Vec<(&str, TaskDetail, &str)> = vec![
            ("service, OOM container", service_oom(),
             "[prod] web: Out of memory (app, exit 137)"),
            ("standalone family, Spot, no container", task(json!({
                "clusterArn": CLUSTER, "taskArn": TASK, "group": "family:nightly",
                "taskDefinitionArn": "arn:aws:ecs:eu-west-1:1:task-definition/nightly:3",
                "stopCode": "SpotInterruption", "stoppedReason": "Your Spot Task was interrupted.",
                "containers": [{"name": "job", "exitCode": 143}]})),
             "[prod] nightly: Fargate Spot interruption (SpotInterruption)"),
            ("container without exit code: the stop code", task(json!({
                "clusterArn": CLUSTER, "group": "service:api", "stopCode": "TaskFailedToStart",
                "containers": [{"name": "api", "reason": "CannotPullContainerError: pull access denied"}]})),
             "[prod] api: Image pull failed (api, TaskFailedToStart)"),
            ("container without any key fact", task(json!({
                "clusterArn": CLUSTER, "group": "service:api",
                "containers": [{"name": "api", "reason": "CannotPullContainerError: pull access denied"}]})),
             "[prod] api: Image pull failed (api)"),
            ("cluster from a long task ARN, family from the group", task(json!({
                "taskArn": TASK, "group": "family:batch", "stopCode": "EssentialContainerExited",
                "containers": [{"name": "main", "exitCode": 1}]})),
             "[prod] batch: Essential container exited (main, exit 1)"),
            ("nothing known", task(json!({"containers": []})),
             "[unknown-cluster] unknown-task: Stopped for an unclear reason"),
            ("AWS example: user stop, standalone family",
             TaskDetail::from_json(USER_STOPPED).expect("event"),
             "[MyCluster] webserver: Stopped on purpose (deployment, scale-in or StopTask) (UserInitiated)"),
            ("AWS example: Spot notice, short task ARN", TaskDetail::from_json(SPOT_NOTICE).expect("event"),
             "[default] unknown-task: Fargate Spot interruption (TerminationNotice)"),
        ];
        for (name, task, want) in cases {
            assert_eq!(alert_of(&task).title(), want, "{name}");
        }
    }

    #[test]
    fn names_links_and_times_come_out_of_the_task() {
        let alert = alert_of(&service_oom());
        assert_eq!(alert.task_id.as_deref(), Some("0123456789abcdef0123456789abcdef"));
        assert_eq!(alert.task_definition().as_deref(), Some("web:42"));
        assert_eq!(alert.stopped_at.as_deref(), Some("2023-11-14T22:13:20.500Z"));
        assert_eq!(
            alert.console_url.as_deref(),
            Some(
                "https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prod/tasks/\
                 0123456789abcdef0123456789abcdef/configuration?region=eu-west-1"
            )
        );
        assert_eq!(alert.thread_id(), "prod/web");

        let event = TaskDetail::from_json(USER_STOPPED).expect("event");
        let logs = LogStream::awslogs("/ecs/webserver", "ecs", "web", "36ad4ef947bb470b89010d864574237e");
        let alert = Alert::new(&event, &diagnose(&event), "", Some(logs));
        assert_eq!(alert.region, "us-east-1", "the region of the ARNs when none is given");
        assert_eq!(
            alert.logs_url.as_deref(),
            Some(
                "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/\
                 log-group/$252Fecs$252Fwebserver/log-events/ecs$252Fweb$252F36ad4ef947bb470b89010d864574237e"
            )
        );
        assert_eq!(alert.stopped_at, None);

        let no_region = task(json!({"clusterArn": "prod", "taskArn": "nope"}));
        let alert = Alert::new(&no_region, &diagnose(&no_region), "not a region!", None);
        assert_eq!((alert.cluster.as_str(), alert.console_url), ("prod", None));
        assert_eq!(rfc3339_utc(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400.0), "2000-02-29T00:00:00Z");
    }

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

    #[test]
    fn formats_parse_case_insensitively() {
        #[rustfmt::skip]
        let cases = [
            ("slack", Ok(WebhookFormat::Slack)), ("Slack", Ok(WebhookFormat::Slack)),
            (" TEAMS ", Ok(WebhookFormat::Teams)), ("MSTeams", Ok(WebhookFormat::Teams)),
            ("chime", Ok(WebhookFormat::Chime)), ("Discord", Ok(WebhookFormat::Discord)),
            ("generic", Ok(WebhookFormat::Generic)), ("JSON", Ok(WebhookFormat::Generic)),
            ("mattermost", Err(UnknownFormat(Some("mattermost".into())))),
            ("", Err(UnknownFormat(None))),
            ("https://hooks.slack.com/services/T0/B0/secret", Err(UnknownFormat(None))),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<WebhookFormat>(), want, "{text:?}");
        }
        let err = "https://hooks.slack.com/services/T0/B0/secret".parse::<WebhookFormat>().unwrap_err();
        assert!(!err.to_string().contains("hooks"), "{err}");
        assert!("Mattermost".parse::<WebhookFormat>().unwrap_err().to_string().contains("\"mattermost\""));
    }

    fn text_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
        value.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("no string at {pointer} in {value}"))
    }

    fn within(text: &str, max: usize, what: &str) {
        assert!(units(text) <= max, "{what}: {} UTF-16 units > {max}", units(text));
        assert!(!text.is_empty(), "{what} is empty");
    }

    /// Every format, for a normal task and for huge ASCII and non-ASCII reasons: valid JSON, the keys the
    /// service requires, every text within its limit, and the links kept.
    #[test]
    fn webhook_payloads_have_their_keys_and_stay_within_limits() {
        let [logs, huge_logs] = with_logs();
        let alerts = [alert_of(&service_oom()), huge("x"), huge("é😀"), logs, huge_logs];
        for alert in &alerts {
            let console = alert.console_url.as_deref().expect("a console link");
            for format in [
                WebhookFormat::Slack,
                WebhookFormat::Teams,
                WebhookFormat::Chime,
                WebhookFormat::Discord,
                WebhookFormat::Generic,
            ] {
                let payload = alert.webhook_payload(format);
                let text = payload.to_string();
                let reparsed: Value = serde_json::from_str(&text).expect("valid JSON");
                assert_eq!(reparsed, payload);
                assert!(text.contains(console), "{format:?} lost the console link");
                if let Some(logs) = &alert.logs_url {
                    assert!(text.contains(logs.as_str()), "{format:?} lost the logs link");
                }
            }

            let slack = alert.slack();
            within(text_at(&slack, "/text"), SLACK_SECTION_MAX, "slack text");
            let blocks = slack["blocks"].as_array().expect("blocks");
            assert!(blocks.len() <= 50);
            assert_eq!(text_at(&slack, "/blocks/0/type"), "header");
            within(text_at(&slack, "/blocks/0/text/text"), SLACK_HEADER_MAX, "slack header");
            for block in blocks.iter().skip(1) {
                assert_eq!(block["type"], "section");
                if let Some(text) = block.pointer("/text/text").and_then(Value::as_str) {
                    within(text, SLACK_SECTION_MAX, "slack section");
                    assert_eq!(block["text"]["type"], "mrkdwn");
                }
                if let Some(fields) = block["fields"].as_array() {
                    assert!(fields.len() <= SLACK_FIELDS_MAX);
                    for field in fields {
                        within(text_at(field, "/text"), SLACK_FIELD_MAX, "slack field");
                    }
                }
            }

            let teams = alert.teams();
            assert_eq!(teams["type"], "message");
            assert_eq!(text_at(&teams, "/attachments/0/contentType"), "application/vnd.microsoft.card.adaptive");
            let card = &teams["attachments"][0]["content"];
            assert_eq!((card["type"].as_str(), card["version"].as_str()), (Some("AdaptiveCard"), Some("1.4")));
            assert!(card["body"].as_array().is_some_and(|body| !body.is_empty()));
            assert_eq!(text_at(card, "/actions/0/type"), "Action.OpenUrl");
            assert_eq!(text_at(card, "/actions/0/url"), console);
            assert!(teams.to_string().len() < 14_000, "teams card is {} bytes", teams.to_string().len());

            within(text_at(&alert.chime(), "/Content"), CHIME_CONTENT_MAX, "chime content");

            let discord = alert.discord();
            within(text_at(&discord, "/content"), DISCORD_CONTENT_MAX, "discord content");
            let embed = &discord["embeds"][0];
            within(text_at(embed, "/title"), DISCORD_TITLE_MAX, "discord title");
            within(text_at(embed, "/description"), DISCORD_DESCRIPTION_MAX, "discord description");
            assert_eq!(text_at(embed, "/url"), console);
            let fields = embed["fields"].as_array().expect("fields");
            assert!(fields.len() <= DISCORD_FIELDS_MAX);
            let mut total = units(text_at(embed, "/title")) + units(text_at(embed, "/description"));
            for field in fields {
                within(text_at(field, "/name"), DISCORD_FIELD_NAME_MAX, "discord field name");
                within(text_at(field, "/value"), DISCORD_FIELD_VALUE_MAX, "discord field value");
                total += units(text_at(field, "/name")) + units(text_at(field, "/value"));
            }
            assert!(total <= DISCORD_EMBEDS_TOTAL_MAX, "discord embed total {total}");
            assert_eq!(discord["allowed_mentions"]["parse"], json!([]));

            let generic = alert.generic();
            for key in ["category", "summary", "hint", "cluster", "service", "task_arn", "task_definition"] {
                assert!(!generic[key].is_null(), "generic {key}");
            }
            for key in ["evidence", "console_url", "logs_url", "stopped_at"] {
                assert!(generic.get(key).is_some(), "generic {key}");
            }
            assert_eq!(text_at(&generic, "/console_url"), console);
        }
    }

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

    #[test]
    fn amazon_q_notification_follows_the_custom_schema() {
        let [logs, huge_logs] = with_logs();
        for alert in [alert_of(&service_oom()), huge("é😀"), logs, huge_logs] {
            let q = alert.amazon_q_notification(&alert.thread_id());
            assert_eq!((q["version"].as_str(), q["source"].as_str()), (Some("1.0"), Some("custom")));
            assert_eq!(text_at(&q, "/content/textType"), "client-markdown");
            assert_eq!(text_at(&q, "/content/title"), alert.title());
            within(text_at(&q, "/content/description"), Q_DESCRIPTION_MAX, "q description");
            assert!(text_at(&q, "/content/description").contains("Service: web"));
            let steps = q["content"]["nextSteps"].as_array().expect("nextSteps");
            assert_eq!(steps[0], json!(format!("Fix: {}", alert.hint)));
            assert!(steps[1].as_str().is_some_and(|step| step.contains("/ecs/v2/clusters/prod/tasks/")));
            assert_eq!(text_at(&q, "/metadata/threadId"), "prod/web");
            assert_eq!(text_at(&q, "/metadata/relatedResources/0"), TASK);
            assert_eq!(q["content"]["keywords"][0], json!(alert.category_id()));
        }
    }

    #[test]
    fn with_log_tail_sets_the_stream_and_its_link() {
        let alert = alert_of(&service_oom());
        assert_eq!((alert.logs_url.as_deref(), alert.log_lines.len()), (None, 0));
        let alert = alert.with_log_tail(app_logs(), vec!["ready".into()]);
        assert_eq!(alert.logs, Some(app_logs()));
        assert_eq!(alert.logs_url, Some(logs_url("eu-west-1", &app_logs())));
        assert_eq!(alert.log_lines, ["ready"]);

        let no_region = task(json!({"clusterArn": "prod", "taskArn": "nope"}));
        let alert = Alert::new(&no_region, &diagnose(&no_region), "", None).with_log_tail(app_logs(), vec![]);
        assert_eq!((alert.logs.is_some(), alert.logs_url), (true, None), "no link without a region");
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

    /// The log block of each format: within its limit, on one line per log line, the newest kept (escaped
    /// as the format escapes), the older ones counted when some are left out.
    #[test]
    fn log_lines_fit_every_format_and_keep_the_newest() {
        for alert in with_logs() {
            let slack = alert.slack();
            let slack_logs = slack["blocks"]
                .as_array()
                .and_then(|blocks| {
                    blocks
                        .iter()
                        .filter_map(|b| b.pointer("/text/text")?.as_str())
                        .find(|t| t.starts_with("*Last 20 log lines*"))
                })
                .expect("a Slack section of log lines");
            let teams = alert.teams();
            let body = teams["attachments"][0]["content"]["body"].as_array().expect("a card body");
            let [heading, teams_logs] = &body[body.len() - 2..] else { panic!("two log blocks") };
            assert_eq!(
                (heading["text"].as_str(), teams_logs["fontType"].as_str()),
                (Some("Last 20 log lines"), Some("Monospace"))
            );
            let discord = alert.discord();
            let log_field = discord["embeds"][0]["fields"].as_array().and_then(|fields| fields.last()).expect("fields");
            assert_eq!(
                (log_field["name"].as_str(), log_field["inline"].as_bool()),
                (Some("Last log lines"), Some(false))
            );
            let generic = alert.generic();
            let generic_lines: Vec<&str> =
                generic["log_lines"].as_array().expect("log_lines").iter().filter_map(Value::as_str).collect();
            let q = alert.amazon_q_notification(&alert.thread_id());

            let (plain, chime) = (alert.plain_text(), alert.chime());
            let newest = "line 19 é😀<&`é😀<&`";
            #[rustfmt::skip]
            let cases: Vec<(&str, &str, usize, &str, bool)> = vec![
                // format, text, limit, the newest line's start, earlier lines left out
                ("plain text", &plain, 256 * 1024, newest, false),
                ("slack", slack_logs, SLACK_SECTION_MAX, "line 19 é😀&lt;&amp;`é😀&lt;&amp;`", true),
                ("teams", text_at(teams_logs, "/text"), TEAMS_TEXT_MAX, newest, true),
                ("chime", text_at(&chime, "/Content"), CHIME_CONTENT_MAX, newest, true),
                ("discord", text_at(log_field, "/value"), DISCORD_FIELD_VALUE_MAX, newest, true),
                ("generic", generic_lines.last().expect("a line"), LOG_LINE_MAX, newest, false),
                ("amazon q", text_at(&q, "/content/description"), Q_DESCRIPTION_MAX, newest, true),
            ];
            for (format, text, max, newest, cut) in cases {
                within(text, max, format);
                assert!(text.contains(newest), "{format} lost the newest line:\n{text}");
                assert!(!text.contains(|c: char| c.is_control() && c != '\n' && c != '\t'), "{format}: {text:?}");
                assert!(!text.contains(['\u{2028}', '\u{85}']), "{format}: {text:?}");
                assert_eq!(text.contains(" earlier lines left out"), cut, "{format}:\n{text}");
            }

            assert_eq!(slack_logs.matches("```").count(), 2, "{slack_logs}");
            assert!(!slack_logs.contains('<'), "{slack_logs}");
            assert_eq!(text_at(log_field, "/value").matches("```").count(), 2);
            assert_eq!(generic_lines.len(), 20, "the generic JSON has room for every line");
            assert!(generic_lines.iter().all(|line| units(line) <= LOG_LINE_MAX && !line.contains('\n')));
            assert!(generic_lines[1].starts_with("line 01 cr  lf  [31mred  nul\ttab ls nel"), "{}", generic_lines[1]);
            assert_eq!(generic["log_lines_left_out"], 0);
            assert_eq!(
                (text_at(&generic, "/log_group"), text_at(&generic, "/log_stream")),
                ("/ecs/web", "ecs/app/0123456789abcdef0123456789abcdef")
            );

            let heading = "Last 20 log lines (/ecs/web ecs/app/0123456789abcdef0123456789abcdef):\n  line 00 xxx";
            let (evidence, logs, details) = (plain.find("Evidence:"), plain.find(heading), plain.find("Cluster: prod"));
            assert!(evidence < logs && logs < details, "the log lines between evidence and details:\n{plain}");
            assert!(plain.contains("\n  line 19 é😀<&`"), "{plain}");
            assert!(plain.len() <= 256 * 1024, "an SNS message is at most 256 KB");
        }
    }

    #[test]
    fn no_log_lines_no_log_block() {
        let none = alert_of(&service_oom()).with_log_tail(app_logs(), vec![]);
        let one = none.clone().with_log_tail(app_logs(), vec!["boom".into()]);
        for (format, none, one) in [
            ("plain text", json!(none.plain_text()), json!(one.plain_text())),
            ("slack", none.slack(), one.slack()),
            ("teams", none.teams(), one.teams()),
            ("chime", none.chime(), one.chime()),
            ("discord", none.discord(), one.discord()),
            ("generic", none.generic(), one.generic()),
            ("amazon q", none.amazon_q_notification("t"), one.amazon_q_notification("t")),
        ] {
            assert!(!none.to_string().contains("log line"), "{format}: {none}");
            assert!(one.to_string().contains("boom"), "{format}: {one}");
        }
        assert!(none.generic().get("log_lines").is_none());
    }

    #[test]
    fn suppressed_count_and_time_in_every_format() {
        let alert = alert_of(&service_oom()).with_suppressed(9, Some(SINCE.into()));
        let sentence = format!(
            "9 suppressed since {SINCE}: similar stops of this service (same category) were held back since the last alert."
        );
        assert!(alert.plain_text().contains(&sentence), "{}", alert.plain_text());
        #[rustfmt::skip]
        let cases = [
            ("plain text", json!(alert.plain_text())), ("slack", alert.slack()), ("teams", alert.teams()),
            ("chime", alert.chime()), ("discord", alert.discord()), ("generic", alert.generic()),
            ("amazon q", alert.amazon_q_notification(&alert.thread_id())),
        ];
        for (format, payload) in cases {
            assert!(payload.to_string().contains(&format!("9 suppressed since {SINCE}")), "{format}: {payload}");
        }
        assert_eq!(alert.generic()["suppressed_since"], SINCE);

        let one = alert_of(&service_oom()).with_suppressed(1, Some(SINCE.into())).plain_text();
        assert!(one.contains(&format!("\n1 suppressed since {SINCE}: similar stops of this")), "{one}");
        let untimed = alert_of(&service_oom()).with_suppressed(2, None).plain_text();
        assert!(untimed.contains("\n2 suppressed: similar stops of this service"), "{untimed}");
        let none = alert_of(&service_oom()).with_suppressed(0, Some(SINCE.into()));
        assert!(!none.plain_text().contains("suppressed") && none.generic()["suppressed_note"].is_null());
    }
}
