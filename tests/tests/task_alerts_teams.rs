//! The Microsoft Teams payload against the Adaptive Card schema 1.4: the cards task-alerts renders for
//! the sample events and for the extremes (huge reasons, twenty long log lines, no links) are written
//! to files and checked by `tests/checks/check_adaptive_card.py` (Python `jsonschema`, in the tests'
//! venv) against Microsoft's published schema, kept in `tests/fixtures/task-alerts/`. No emulator.
//!
//! Python, not a Rust validator: `jsonschema` is already in the venv every testbed test needs, while
//! a Rust JSON Schema crate would add a dozen crates to the workspace's one feature set for one test.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use task_alerts::diagnosis::{TaskDetail, diagnose};
use task_alerts::message::{Alert, LogStream};
use testbed::{repo_root, sample_event, venv};

/// Where the payloads are written: one folder per test and process, removed when the check passes.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("task-alerts-teams-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

/// Runs the check on `payloads`: whether it passed, and what it printed.
fn check(dir: &Path, payloads: &[(String, Value)]) -> (bool, String) {
    let mut files = Vec::new();
    for (name, payload) in payloads {
        let file = dir.join(format!("{name}.json"));
        std::fs::write(&file, serde_json::to_vec_pretty(payload).expect("JSON")).expect("write a payload");
        files.push(file);
    }
    let root = repo_root();
    let out = Command::new(venv().join("bin/python"))
        .arg(root.join("tests/checks/check_adaptive_card.py"))
        .arg(root.join("tests/fixtures/task-alerts/adaptive-card-1.4.json"))
        .args(&files)
        .output()
        .expect("run check_adaptive_card.py");
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), printed)
}

fn alert(event: &Value, region: &str) -> Alert {
    let task = TaskDetail::from_json(&event.to_string()).expect("a task");
    Alert::new(&task, &diagnose(&task), region, None)
}

/// A task whose reasons are `reason` repeated to 100,000 characters, with a log stream and a
/// suppressed count: every text block at its limit.
fn huge(reason: &str) -> Alert {
    let long = reason.repeat(100_000 / reason.chars().count());
    let event = json!({
        "clusterArn": "arn:aws:ecs:eu-west-1:111122223333:cluster/prod",
        "taskArn": "arn:aws:ecs:eu-west-1:111122223333:task/prod/0123456789abcdef0123456789abcdef",
        "group": "service:web",
        "taskDefinitionArn": "arn:aws:ecs:eu-west-1:111122223333:task-definition/web:42",
        "stopCode": "TaskFailedToStart", "stoppedReason": long,
        "containers": [{"name": "app", "reason": format!("CannotPullContainerError: {long}")},
                       {"name": "sidecar", "exitCode": 1, "reason": long}]
    });
    let logs = LogStream::awslogs("/ecs/web", "ecs", "app", "0123456789abcdef0123456789abcdef");
    let task = TaskDetail::from_json(&event.to_string()).expect("a task");
    Alert::new(&task, &diagnose(&task), "eu-west-1", Some(logs)).with_suppressed(3, Some("2023-11-14T21:58:07Z".into()))
}

/// Twenty log lines: 2,000-character lines, control characters and line separators, fences and
/// backticks, `<` and `&`, emoji.
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

/// The Teams payload of every kind of alert.
fn payloads() -> Vec<(String, Value)> {
    let mut alerts: Vec<(String, Alert)> = Vec::new();
    for name in ["stopped-out-of-memory", "stopped-image-pull", "stopped-by-user", "stopped-scale-in"] {
        alerts.push((name.to_string(), alert(&sample_event("task-alerts", name), "us-east-1")));
    }
    let logs = LogStream::awslogs("/ecs/api", "ecs", "api", "5f6c1a2b3d4e4f5a8b9c0d1e2f3a4b5c");
    let oom = alert(&sample_event("task-alerts", "stopped-out-of-memory"), "us-east-1");
    alerts.push(("with-logs".into(), oom.clone().with_log_tail(logs.clone(), log_lines())));
    alerts.push(("huge-ascii".into(), huge("x")));
    alerts.push(("huge-non-ascii-with-logs".into(), huge("é😀").with_log_tail(logs, log_lines())));
    let no_links = alert(&json!({"clusterArn": "prod", "taskArn": "nope", "containers": []}), "");
    alerts.push(("no-links".into(), no_links));
    alerts.into_iter().map(|(name, alert)| (name, alert.teams())).collect()
}

#[test]
fn every_teams_card_is_a_valid_adaptive_card_1_4() {
    let payloads = payloads();
    let no_links = &payloads.last().expect("payloads").1;
    assert_eq!(no_links["attachments"][0]["content"]["actions"], json!([]), "the no-links case has no actions");
    let dir = scratch("valid");
    let (passed, printed) = check(&dir, &payloads);
    assert!(passed, "{printed}");
    assert!(printed.contains(&format!("{} Teams payloads valid", payloads.len())), "{printed}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The check fails on a card that breaks the schema, naming where: the test above proves something.
#[test]
fn a_card_that_breaks_the_schema_fails_the_check() {
    let valid = payloads().swap_remove(0).1;
    #[rustfmt::skip]
    let breaks: [(&str, &str, Value, &str); 6] = [
        ("weight", "/body/0/weight", json!("Heavy"), "content.body[0].weight: 'Heavy' is not one of"),
        ("fact", "/body/3/facts/0/value", Value::Null, "content.body[3].facts[0]: 'value' is a required property"),
        ("element", "/body/1/type", json!("Marquee"), "content.body[1]: "),
        ("url", "/actions/0/url", json!(42), "content.actions[0].url: 42 is not of type 'string'"),
        ("version", "/version", json!("1.5"), "content.version: must be \"1.4\""),
        ("width", "/msteams/width", json!("Wide"), "content.msteams: must be {\"width\": \"Full\"}"),
    ];
    let dir = scratch("broken");
    for (name, pointer, value, expected) in breaks {
        let mut broken = valid.clone();
        let card = &mut broken["attachments"][0]["content"];
        let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
        let parent = card.pointer_mut(parent).expect("the broken part exists");
        match (value, parent) {
            (Value::Null, Value::Object(map)) => assert!(map.remove(key).is_some(), "{name}: nothing to remove"),
            (value, Value::Object(map)) => {
                assert!(map.insert(key.into(), value).is_some(), "{name}: nothing to replace")
            }
            (_, other) => panic!("{name}: {other}"),
        }
        let (passed, printed) = check(&dir, &[(name.to_string(), broken)]);
        assert!(!passed, "{name}: the check passed a broken card");
        assert!(printed.contains(expected), "{name}: expected {expected:?} in\n{printed}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
