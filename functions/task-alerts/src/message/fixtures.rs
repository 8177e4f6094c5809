//! The tasks and alerts the message tests share, and their checks.

use serde_json::{Value, json};

use super::text::units;
use super::{Alert, LogStream};
use crate::diagnosis::{TaskDetail, diagnose};

pub(super) const USER_STOPPED: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/task-alerts/stopped-by-user.json"));
pub(super) const SPOT_NOTICE: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/task-alerts/spot-interruption-notice.json"));

pub(super) const CLUSTER: &str = "arn:aws:ecs:eu-west-1:111122223333:cluster/prod";
pub(super) const TASK: &str = "arn:aws:ecs:eu-west-1:111122223333:task/prod/0123456789abcdef0123456789abcdef";
pub(super) const OOM: &str = "OutOfMemoryError: Container killed due to memory usage";
pub(super) const SINCE: &str = "2023-11-14T21:58:07Z";

pub(super) fn task(value: Value) -> TaskDetail {
    TaskDetail::from_json(&value.to_string()).expect("a task")
}

pub(super) fn alert_of(task: &TaskDetail) -> Alert {
    Alert::new(task, &diagnose(task), "eu-west-1", None)
}

pub(super) fn service_oom() -> TaskDetail {
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
pub(super) fn huge(reason: &str) -> Alert {
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

pub(super) fn app_logs() -> LogStream {
    LogStream::awslogs("/ecs/web", "ecs", "app", "0123456789abcdef0123456789abcdef")
}

/// 20 log lines, oldest first, `line NN` at the start of each: 2,000-character lines, control
/// characters and line separators, fences and backticks, `<` and `&`, emoji.
pub(super) fn log_lines() -> Vec<String> {
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
pub(super) fn with_logs() -> [Alert; 2] {
    [alert_of(&service_oom()), huge("é😀")].map(|alert| alert.with_log_tail(app_logs(), log_lines()))
}

/// The string at `pointer`; the test fails when there is none.
pub(super) fn text_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("no string at {pointer} in {value}"))
}

/// `text` is not empty and within `max` UTF-16 units.
pub(super) fn within(text: &str, max: usize, what: &str) {
    assert!(units(text) <= max, "{what}: {} UTF-16 units > {max}", units(text));
    assert!(!text.is_empty(), "{what} is empty");
}
