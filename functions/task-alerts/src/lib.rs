//! Task-state alerts: a stopped ECS task explained in one line, with the fix.
//!
//! - [`diagnosis`]: the pure part. A stopped task (an EventBridge "ECS Task State Change" `detail`, or
//!   one element of `describe-tasks`' `tasks`) in, a category, a one-line summary, the fix hint and the
//!   verbatim evidence out. The precedence is an ordered rule table, table-tested against the real
//!   reasons of the stop-reason corpus kept outside this repo.
//! - [`message`]: the alert rendered for SNS, Amazon Q Developer and each chat webhook (pure).
//! - [`triage`]: which events become alerts (pure): STOPPED tasks of watched clusters, not ignored.
//! - [`accounts`]: events forwarded from other accounts: their names, whether one is another's.
//! - [`config`]: the environment, read once. [`webhook`]: the secret's value and the POST.
//! - [`suppress`]: duplicates and storms, decided by conditional writes to DynamoDB.
//! - [`logs`]: the failed container's last `awslogs` lines.
//! - [`kms`]: the KMS error codes of a publish to an encrypted topic, and their fix.
//! - [`handler`]: the effects: publish and post at once, each retried until shortly before the deadline.
//!
//! The `explain-stop` binary runs [`diagnosis::diagnose`] on one JSON document from stdin, or on the
//! tasks it reads from ECS ([`stopped_tasks`]); its arguments and output are in [`explain`].

// Code that ships never unwraps input or AWS data: a panic would fail a stack or drop an alert.
#![warn(clippy::unwrap_used)]

pub mod accounts;
pub mod agent;
pub mod config;
#[macro_use]
pub mod diagnosis;
pub mod ecs_reads;
pub mod error;
pub mod explain;
pub mod handler;
pub mod kms;
pub mod logs;
pub mod message;
pub mod service_event;
pub mod stopped_tasks;
pub mod suppress;
pub mod triage;
pub mod webhook;

/// The unit tests' one reader of the users' sample events, `events/task-alerts/<file>`.
#[cfg(test)]
pub(crate) fn sample_event(file: &str) -> serde_json::Value {
    let path = format!("{}/../../events/task-alerts/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub use config::Config;
pub use error::AlertError;
pub use handler::{Alerter, handle};
