//! `explain-stop`'s pure parts: its arguments, what it prints, and its one-line errors with the fix.
//! The binary (`src/bin/explain-stop.rs`) reads stdin or ECS ([`crate::stopped_tasks`]) and calls these.
//!
//! The arguments are parsed by hand: the workspace has no argument parser among the dependencies
//! that ship (clap is in Cargo.lock only through criterion, a benchmark's dev-dependency), and five
//! flags do not justify one in the binary.

use serde::Serialize;
use shared::aws::AwsFailure;
use shared::text::controls_to_spaces;

use crate::diagnosis::{Diagnosis, TaskDetail, diagnose};
use crate::message::Alert;
use crate::stopped_tasks::{Event, MAX_TASKS, ServiceStops};

/// How many stopped tasks `--service` explains unless `--last` says otherwise.
pub const DEFAULT_LAST: usize = 5;

pub const USAGE: &str = "usage: explain-stop [--format json|text] < task.json | \
    explain-stop --cluster <name or ARN> --task <id or ARN> [--format json|text] | \
    explain-stop --cluster <name or ARN> --service <name> [--last N] [--format json|text]";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// One JSON document on stdin (an EventBridge event or a `describe-tasks` element).
    Stdin {
        format: Format,
    },
    /// DescribeTasks for one task.
    Task {
        cluster: String,
        task: String,
        format: Format,
    },
    /// The service's recently stopped tasks, newest first, at most `last`, and its recent events.
    Service {
        cluster: String,
        service: String,
        last: usize,
        format: Format,
    },
    Help,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    #[error("unknown argument `{0}`")]
    Unknown(String),
    #[error("`{0}` needs a value")]
    NoValue(&'static str),
    #[error("`{0}` given twice")]
    Twice(&'static str),
    #[error("`{0}` is empty")]
    Empty(&'static str),
    #[error("--format is `json` or `text`, not `{0}`")]
    Format(String),
    #[error("--last is a whole number from 1 to {MAX_TASKS}, not `{0}`")]
    Last(String),
    #[error("--task and --service are one or the other")]
    Both,
    #[error("`{0}` needs --cluster (the cluster's name or ARN)")]
    NoCluster(&'static str),
    #[error("--cluster needs --task or --service")]
    ClusterAlone,
    #[error("--last goes with --service")]
    LastWithoutService,
}

/// Pure: the command line (without the program's name) as a [`Command`]. `--flag value` and
/// `--flag=value` both work; no flag at all reads stdin, as `explain-stop` always did.
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Command, ArgsError> {
    const FLAGS: [&str; 5] = ["--cluster", "--task", "--service", "--last", "--format"];
    let mut values: [Option<String>; 5] = Default::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--help" || arg == "-h" {
            return Ok(Command::Help);
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_string(), Some(value.to_string())),
            None => (arg.clone(), None),
        };
        let Some(at) = FLAGS.iter().position(|f| *f == flag) else { return Err(ArgsError::Unknown(arg)) };
        let name = FLAGS[at];
        let value = match inline {
            Some(value) => value,
            None => args.next().filter(|v| !v.starts_with("--")).ok_or(ArgsError::NoValue(name))?,
        };
        if value.trim().is_empty() {
            return Err(ArgsError::Empty(name));
        }
        if values[at].replace(value).is_some() {
            return Err(ArgsError::Twice(name));
        }
    }
    let [cluster, task, service, last, format] = values;
    let format = match format.as_deref() {
        None | Some("json") => Format::Json,
        Some("text") => Format::Text,
        Some(other) => return Err(ArgsError::Format(other.to_string())),
    };
    if last.is_some() && service.is_none() {
        return Err(ArgsError::LastWithoutService);
    }
    match (cluster, task, service) {
        (None, None, None) => Ok(Command::Stdin { format }),
        (Some(_), None, None) => Err(ArgsError::ClusterAlone),
        (_, Some(_), Some(_)) => Err(ArgsError::Both),
        (None, Some(_), None) => Err(ArgsError::NoCluster("--task")),
        (None, None, Some(_)) => Err(ArgsError::NoCluster("--service")),
        (Some(cluster), Some(task), None) => Ok(Command::Task { cluster, task, format }),
        (Some(cluster), None, Some(service)) => {
            let last = match last {
                None => DEFAULT_LAST,
                Some(text) => match text.parse::<usize>() {
                    Ok(n) if (1..=MAX_TASKS).contains(&n) => n,
                    _ => return Err(ArgsError::Last(text)),
                },
            };
            Ok(Command::Service { cluster, service, last, format })
        }
    }
}

/// Why there is nothing to explain (exit code 3): ECS answered, without a stopped task to diagnose.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Nothing {
    /// DescribeTasks, "Currently, stopped tasks appear in the returned results for at least one hour"
    /// (<https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTasks.html>); and a
    /// `MISSING` failure is "The specified task wasn't found. Verify the correct cluster or Region is
    /// specified" (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/api_failures_messages.html>).
    #[error(
        "ECS has no task {task} in cluster {cluster} ({reason}): ECS keeps a stopped task for about an hour \
         after it stops (at least one hour, DescribeTasks), so it stopped before that, or the task, cluster \
         or region (AWS_REGION, AWS_PROFILE) is not the one meant; a task-alerts alert or the container's \
         logs still tell why"
    )]
    NoTask { cluster: String, task: String, reason: String },
    #[error(
        "task {task} has not stopped (lastStatus {last_status}, desiredStatus {desired_status}): nothing to explain yet"
    )]
    NotStopped { task: String, last_status: String, desired_status: String },
    #[error(
        "ECS has no service {service} in cluster {cluster} ({reason}): check the names and the region (AWS_REGION, AWS_PROFILE)"
    )]
    NoService { cluster: String, service: String, reason: String },
    /// ListTasks: "Recently stopped tasks might appear in the returned results"; "at least one hour".
    #[error(
        "no stopped task of service {service} in cluster {cluster}: ECS lists stopped tasks for about an \
         hour after they stop (at least one hour, ListTasks), so none stopped since"
    )]
    NoStops { cluster: String, service: String },
}

/// Pure: whether a task ECS returned is one to explain: stopped, or being stopped (its
/// `desiredStatus` is STOPPED and `stoppedReason` already says why).
pub fn not_stopped(task: &TaskDetail, desired_status: Option<&str>, asked: &str) -> Option<Nothing> {
    let last = task.last_status.as_deref();
    if last == Some("STOPPED") || desired_status == Some("STOPPED") {
        return None;
    }
    Some(Nothing::NotStopped {
        task: task.task_arn.clone().unwrap_or_else(|| asked.to_string()),
        last_status: last.unwrap_or("unknown").to_string(),
        desired_status: desired_status.unwrap_or("unknown").to_string(),
    })
}

/// Pure: a failed AWS call as the one line the command prints, with what to do about it.
pub fn aws_error_line(failure: &AwsFailure) -> String {
    let hint = if failure.is_access_denied() {
        format!("allow {} for the credentials in use (AWS_PROFILE or the AWS_ACCESS_KEY_ID set)", failure.action)
    } else if failure.code_is("ClusterNotFoundException") {
        "check --cluster and the region (AWS_REGION, or the profile's region): clusters are per region".into()
    } else if failure.is_throttling() {
        "ECS is limiting this account's request rate: try again in a moment".into()
    } else if ["UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException", "ExpiredToken"]
        .iter()
        .any(|code| failure.code_is(code))
    {
        "check the credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, an expired session)".into()
    } else if failure.code_is("RequestNotSent") {
        "check the credentials and the region (AWS_PROFILE, AWS_REGION)".into()
    } else if failure.code_is("ConnectionError") || failure.code_is("Timeout") {
        "check the network, the region and AWS_ENDPOINT_URL if it is set".into()
    } else {
        "see the message above".into()
    };
    controls_to_spaces(&format!("{failure}; {hint}"))
}

/// A stopped task explained: where it is, what it was, and its diagnosis (the stdin mode's object,
/// whose fields are kept at the top level).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explained {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    pub cluster: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
    #[serde(flatten)]
    pub diagnosis: Diagnosis,
}

/// Pure: a task's diagnosis, and the alert that renders it for people.
pub fn explain(task: &TaskDetail, region: &str) -> (Explained, Alert) {
    let diagnosis = diagnose(task);
    let alert = Alert::new(task, &diagnosis, region, None);
    let explained = Explained {
        title: alert.title(),
        task_arn: alert.task_arn.clone(),
        cluster: alert.cluster.clone(),
        service: alert.service.clone(),
        task_definition: alert.task_definition(),
        last_status: task.last_status.clone(),
        stopped_at: alert.stopped_at.clone(),
        console_url: alert.console_url.clone(),
        diagnosis,
    };
    (explained, alert)
}

/// The text for people: the title, then the alert's body (cause, fix, evidence, details, link).
pub fn task_text(alert: &Alert) -> String {
    format!("{}\n\n{}", alert.title(), alert.plain_text())
}

/// `--service`'s JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceReport {
    pub cluster: String,
    pub service: String,
    /// How many stopped tasks of the service ECS listed; `stoppedTasks` has the newest `--last`.
    pub stopped: usize,
    pub stopped_tasks: Vec<Explained>,
    /// The service's recent events, newest first.
    pub events: Vec<Event>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
}

/// Pure: `--service`'s report, and each task's alert for the text.
pub fn service_report(cluster: &str, service: &str, stops: &ServiceStops, region: &str) -> (ServiceReport, Vec<Alert>) {
    let (stopped_tasks, alerts) = stops.tasks.iter().map(|task| explain(task, region)).unzip();
    let report = ServiceReport {
        cluster: cluster.to_string(),
        service: service.to_string(),
        stopped: stops.listed,
        stopped_tasks,
        events: stops.events.clone(),
        console_url: crate::message::service_console_url(region, cluster, service),
    };
    (report, alerts)
}

/// Pure: `--service`'s text: a heading, each stopped task as `--task` shows it, the service's events.
pub fn service_text(report: &ServiceReport, alerts: &[Alert]) -> String {
    let shown = match (alerts.len(), report.stopped) {
        (n, listed) if n < listed => format!("the newest {n} of {listed} stopped tasks"),
        (1, _) => "1 stopped task".to_string(),
        (n, _) => format!("{n} stopped tasks"),
    };
    let mut parts = vec![format!(
        "Service {} in cluster {}: {shown}, newest first (ECS keeps them about an hour)",
        report.service, report.cluster
    )];
    for (at, alert) in alerts.iter().enumerate() {
        parts.push(format!("{}. {}", at + 1, task_text(alert)));
    }
    if report.events.is_empty() {
        parts.push("No recent service events.".into());
    } else {
        let line =
            |e: &Event| format!("  {} {}", e.created_at.as_deref().unwrap_or("-"), controls_to_spaces(&e.message));
        let lines: Vec<String> = report.events.iter().map(line).collect();
        parts.push(format!("Recent service events, newest first:\n{}", lines.join("\n")));
    }
    if let Some(url) = &report.console_url {
        parts.push(format!("Open the service in the ECS console: {url}"));
    }
    parts.join("\n\n")
}

#[cfg(test)]
#[path = "explain_tests.rs"]
mod tests;
