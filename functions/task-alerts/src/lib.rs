//! Task-state alerts: a stopped ECS task explained in one line, with the fix.
//!
//! - [`diagnosis`]: the pure part. A stopped task (an EventBridge "ECS Task State Change" `detail`, or
//!   one element of `describe-tasks`' `tasks`) in, a category, a one-line summary, the fix hint and the
//!   verbatim evidence out. The precedence is an ordered rule table, table-tested against the real
//!   reasons in `shared/stopped-reasons/`.
//!
//! The `explain-stop` binary runs [`diagnosis::diagnose`] on one JSON document from stdin.

pub mod diagnosis;
pub mod message;
