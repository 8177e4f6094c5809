//! The alert for a stopped task: a one-line title, the SNS subject and body, the Amazon Q Developer custom
//! notification, and one webhook payload per chat service.
//!
//! Pure: an [`Alert`] is built from the task, its [`Diagnosis`] and the region, and renders itself. It never
//! sees a webhook URL or a secret, so none can end up in a message. Every cut keeps whole characters and
//! counts UTF-16 code units, so a text stays within each service's limit however it counts (see `text`).
//!
//! The model is here; the parts every format shares are in `parts`, the cutting and escaping in `text`,
//! the names out of the ARNs in `arn`, the console links in `console`. Each format, with its limits and
//! its tests, has a file of its own: `sns` (subject and body), `amazon_q`, `slack`, `teams`, `discord`
//! and `generic`.

mod amazon_q;
mod arn;
mod console;
mod discord;
mod generic;
mod parts;
mod rfc3339;
mod slack;
mod sns;
mod teams;
mod text;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod service_tests;
#[cfg(test)]
mod tests;

use serde_json::Value;
use shared::text::{controls_to_spaces, is_safe_region_label};

use crate::diagnosis::{Category, ContainerEvidence, Diagnosis, TaskDetail, Timestamp};
use crate::service_event::{Kind, Problem, Subject, SubjectName};
use crate::webhook::WebhookFormat;
use arn::{arn_region, cluster_name, family_revision, task_id};
use console::{cluster_url, console_url, logs_url, service_url};
use rfc3339::rfc3339_utc;

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

/// The service's page in the ECS console (`cluster`: its name or ARN), when `region` is one.
pub fn service_console_url(region: &str, cluster: &str, service: &str) -> Option<String> {
    let cluster = cluster_name(Some(cluster), None)?;
    is_safe_region_label(region).then(|| service_url(region, cluster, service))
}

/// What an alert is about: a stopped task's category, or a service-level problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    Stop(Category),
    Service(Kind),
}

impl AlertKind {
    /// The id users write in `IGNORE_CATEGORIES` and see in JSON: `out_of_memory`, `deployment_failed`.
    pub fn id(self) -> &'static str {
        match self {
            AlertKind::Stop(category) => category.id(),
            AlertKind::Service(kind) => kind.id(),
        }
    }

    /// Parse an [`id`](AlertKind::id), ignoring case and surrounding spaces.
    pub fn from_id(text: &str) -> Option<AlertKind> {
        Category::from_id(text).map(AlertKind::Stop).or_else(|| Kind::from_id(text).map(AlertKind::Service))
    }

    /// Every id, stop categories first.
    pub fn all_ids() -> Vec<&'static str> {
        Category::ALL.iter().map(|c| c.id()).chain(Kind::ALL.iter().map(|k| k.id())).collect()
    }

    pub fn words(self) -> &'static str {
        match self {
            AlertKind::Stop(category) => category.words(),
            AlertKind::Service(kind) => kind.words(),
        }
    }

    /// The stop's category, for a stopped task's alert.
    pub fn category(self) -> Option<Category> {
        match self {
            AlertKind::Stop(category) => Some(category),
            AlertKind::Service(_) => None,
        }
    }
}

/// Everything an alert says about one stopped task or one service-level problem, names already
/// taken out of their ARNs.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub kind: AlertKind,
    /// A resolution: the problem of `kind` is over (the summary says how).
    pub resolved: bool,
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
    /// What the title names in place of the service or family: `daemon <name>`, `instance <id>`.
    pub subject: Option<String>,
    /// The title's key fact when it is not an exit code or stop code (a placement reason, …).
    pub fact: Option<String>,
    /// A service-level event's own facts (deployment, capacity providers, instance), after the task's.
    pub event_details: Vec<(&'static str, String)>,
    /// A service-level event's own words, verbatim, as evidence lines.
    pub event_evidence: Vec<String>,
    /// The account that sent the event (another one's when forwarded to this bus).
    pub account: Option<String>,
    /// The name configured for `account` (see [`Alert::for_account`]).
    pub account_name: Option<String>,
}

impl Alert {
    pub fn new(task: &TaskDetail, diagnosis: &Diagnosis, region: &str, logs: Option<LogStream>) -> Self {
        let arns = [&task.task_arn, &task.cluster_arn, &task.task_definition_arn];
        let region = if is_safe_region_label(region) {
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
        let links = is_safe_region_label(&region);
        let console_url = task_id.filter(|_| links).map(|id| console_url(&region, &cluster, id));
        let logs_url = logs.as_ref().filter(|_| links).map(|logs| logs_url(&region, logs));
        Alert {
            kind: AlertKind::Stop(diagnosis.category),
            resolved: false,
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
            subject: None,
            fact: None,
            event_details: Vec::new(),
            event_evidence: Vec::new(),
            account: None,
            account_name: None,
        }
    }

    /// The alert for a service-level problem.
    pub fn for_problem(problem: &Problem) -> Self {
        let mut alert = Alert::about(&problem.subject, AlertKind::Service(problem.kind));
        alert.summary = problem.summary.clone();
        alert.hint = problem.hint;
        alert.fact = problem.fact.clone();
        alert.stopped_at = problem.at.clone();
        alert.event_details = problem.details.clone();
        alert.event_evidence = problem.evidence.clone();
        if let Some(task_arn) = &problem.task_arn {
            alert.task_id = task_id(task_arn).map(str::to_string);
            alert.task_arn = Some(task_arn.clone());
            if let Some(id) = alert.task_id.as_deref().filter(|_| is_safe_region_label(&alert.region)) {
                alert.console_url = Some(console_url(&alert.region, &alert.cluster, id));
            }
        }
        alert
    }

    /// The resolution of the problems `kinds` (at least one) of `subject`, which `event_name` ended.
    pub fn resolution(subject: &Subject, kinds: &[Kind], event_name: &str, at: Option<String>) -> Self {
        let kind = kinds.first().copied().unwrap_or(Kind::TaskStartImpaired);
        let mut alert = Alert::about(subject, AlertKind::Service(kind));
        alert.resolved = true;
        let words: Vec<String> = kinds.iter().map(|k| k.words().to_lowercase()).collect();
        alert.summary = format!("Resolved: {} ({event_name}).", words.join("; "));
        alert.hint = "Nothing to do: this closes the alert above.";
        alert.stopped_at = at;
        alert.event_evidence = vec![format!("event: {event_name}")];
        alert
    }

    /// Name a failed deployment's task definitions (`family:revision`), and the one ECS rolled back to.
    pub fn with_rollback(mut self, failed: Option<String>, rolled_back_to: Option<String>) -> Self {
        let name = |arn: &str| match family_revision(arn) {
            (Some(family), Some(revision)) => format!("{family}:{revision}"),
            _ => arn.to_string(),
        };
        if let Some(failed) = failed.as_deref().map(name) {
            self.summary += &format!(" Failed task definition: {failed}.");
            self.event_details.push(("Failed task definition", failed));
        }
        if let Some(to) = rolled_back_to.as_deref().map(name) {
            self.summary += &format!(" Rolled back to {to}.");
            self.fact = Some(format!("rolled back to {to}"));
            self.event_details.push(("Rolled back to", to));
        }
        self
    }

    /// What every service-level alert of `subject` starts from.
    fn about(subject: &Subject, kind: AlertKind) -> Self {
        let region = if is_safe_region_label(&subject.region) { subject.region.clone() } else { String::new() };
        let links = !region.is_empty();
        let (service, label, console) = match &subject.name {
            SubjectName::Service(name) => {
                (Some(name.clone()), None, links.then(|| service_url(&region, &subject.cluster, name)))
            }
            SubjectName::Daemon(_) | SubjectName::Instance(_) => {
                (None, Some(subject.label()), links.then(|| cluster_url(&region, &subject.cluster)))
            }
        };
        Alert {
            kind,
            resolved: false,
            summary: String::new(),
            hint: "",
            region,
            cluster: subject.cluster.clone(),
            service,
            group: None,
            family: None,
            revision: None,
            task_definition_arn: None,
            task_arn: None,
            task_id: None,
            launch_type: None,
            capacity_provider: None,
            availability_zone: None,
            stopped_at: None,
            stop_code: None,
            stopped_reason: None,
            containers: Vec::new(),
            container: None,
            console_url: console,
            logs: None,
            logs_url: None,
            log_lines: Vec::new(),
            suppressed: 0,
            suppressed_since: None,
            subject: label,
            fact: None,
            event_details: Vec::new(),
            event_evidence: Vec::new(),
            account: Some(subject.account.clone()).filter(|a| !a.is_empty()),
            account_name: None,
        }
    }

    /// Show the blamed container's last log lines, oldest first, read from `stream` (which becomes the
    /// alert's log stream and link). The caller caps the lines; each is still shown on one line and cut.
    pub fn with_log_tail(mut self, stream: LogStream, lines: Vec<String>) -> Self {
        self.logs_url = is_safe_region_label(&self.region).then(|| logs_url(&self.region, &stream));
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

    /// The service, else the task definition family (a standalone task), else the `group`; a
    /// daemon or an instance by its label.
    pub fn service_or_family(&self) -> &str {
        let group = self.group.as_deref().map(|g| g.strip_prefix("family:").unwrap_or(g));
        let named = self.service.as_deref().or(self.subject.as_deref());
        named.or(self.family.as_deref()).or(group).unwrap_or("unknown-task")
    }

    /// `family:revision`.
    pub fn task_definition(&self) -> Option<String> {
        let family = self.family.as_deref()?;
        Some(match &self.revision {
            Some(revision) => format!("{family}:{revision}"),
            None => family.to_string(),
        })
    }

    /// `<category id>`, e.g. `out_of_memory` or `deployment_failed`.
    pub fn category_id(&self) -> String {
        self.kind.id().to_string()
    }

    /// One line: `[<cluster>] <service or family>: <category words> (<container>, <key fact>)`; a
    /// resolution's words start with `Resolved:`.
    pub fn title(&self) -> String {
        let words = if self.resolved { format!("Resolved: {}", self.kind.words()) } else { self.kind.words().into() };
        let mut title = format!("[{}] {}: {words}", self.cluster, self.service_or_family());
        match (self.container.as_deref(), self.key_fact()) {
            (Some(container), Some(fact)) => title += &format!(" ({container}, {fact})"),
            (Some(container), None) => title += &format!(" ({container})"),
            (None, Some(fact)) => title += &format!(" ({fact})"),
            (None, None) => {}
        }
        controls_to_spaces(&title)
    }

    /// The blamed container's exit code, else the task's stop code, else the event's own fact.
    fn key_fact(&self) -> Option<String> {
        let blamed = self.container.as_deref().and_then(|name| self.evidence_of(name));
        let exit = blamed.and_then(|c| c.exit_code).map(|code| format!("exit {code}"));
        exit.or_else(|| self.stop_code.clone()).or_else(|| self.fact.clone())
    }

    fn evidence_of(&self, name: &str) -> Option<&ContainerEvidence> {
        self.containers.iter().find(|c| c.name.as_deref() == Some(name))
    }

    /// Threads Amazon Q Developer notifications per service: `<cluster>/<service or family>`.
    pub fn thread_id(&self) -> String {
        format!("{}/{}", self.cluster, self.service_or_family())
    }

    /// The payload of the chat service a webhook's format names.
    pub fn webhook_payload(&self, format: WebhookFormat) -> Value {
        match format {
            WebhookFormat::Slack => self.slack(),
            WebhookFormat::Teams => self.teams(),
            WebhookFormat::Discord => self.discord(),
            WebhookFormat::Generic => self.generic(),
        }
    }
}
