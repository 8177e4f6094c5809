//! `explain-stop`'s arguments, by table; the shape of what it prints; its one-line errors.

use serde_json::{Value, json};

use super::*;
use crate::stopped_tasks::Event;

fn args(line: &str) -> Result<Command, ArgsError> {
    parse_args(line.split_whitespace().map(str::to_string))
}

fn task(cluster: &str, task: &str, format: Format) -> Result<Command, ArgsError> {
    Ok(Command::Task { cluster: cluster.into(), task: task.into(), format })
}

fn service(cluster: &str, service: &str, last: usize, format: Format) -> Result<Command, ArgsError> {
    Ok(Command::Service { cluster: cluster.into(), service: service.into(), last, format })
}

#[test]
fn the_command_line() {
    use ArgsError::{Both, ClusterAlone, Empty, LastWithoutService, NoCluster, NoValue, Twice, Unknown};
    use Format::{Json, Text};
    let arn = "arn:aws:ecs:us-east-1:123456789012:task/prod/5f6c1a2b3d4e4f5a8b9c0d1e2f3a4b5c";
    let with_arn = format!("--cluster prod --task {arn}");
    let cases: Vec<(&str, Result<Command, ArgsError>)> = vec![
        ("", Ok(Command::Stdin { format: Json })),
        ("--format text", Ok(Command::Stdin { format: Text })),
        ("--help", Ok(Command::Help)),
        ("--cluster prod -h", Ok(Command::Help)),
        ("--cluster prod --task 5f6c1a2b", task("prod", "5f6c1a2b", Json)),
        (&with_arn, task("prod", arn, Json)),
        ("--task=5f6c1a2b --cluster=prod --format=text", task("prod", "5f6c1a2b", Text)),
        ("--cluster prod --service api", service("prod", "api", DEFAULT_LAST, Json)),
        ("--cluster prod --service api --last 2 --format text", service("prod", "api", 2, Text)),
        ("--cluster prod --service api --last 100", service("prod", "api", 100, Json)),
        ("--cluster prod --service api --last 0", Err(ArgsError::Last("0".into()))),
        ("--cluster prod --service api --last 101", Err(ArgsError::Last("101".into()))),
        ("--cluster prod --service api --last two", Err(ArgsError::Last("two".into()))),
        ("--cluster prod --service api --last -1", Err(ArgsError::Last("-1".into()))),
        ("--cluster prod --task a --last 2", Err(LastWithoutService)),
        ("--cluster prod --task a --service api", Err(Both)),
        ("--task a", Err(NoCluster("--task"))),
        ("--service api", Err(NoCluster("--service"))),
        ("--cluster prod", Err(ClusterAlone)),
        ("--cluster prod --task", Err(NoValue("--task"))),
        ("--cluster --task a", Err(NoValue("--cluster"))),
        ("--cluster= --task a", Err(Empty("--cluster"))),
        ("--cluster prod --cluster dev --task a", Err(Twice("--cluster"))),
        ("--cluster prod --task a --format yaml", Err(ArgsError::Format("yaml".into()))),
        ("--cluster prod --tasks a", Err(Unknown("--tasks".into()))),
        ("prod a", Err(Unknown("prod".into()))),
    ];
    for (line, want) in cases {
        assert_eq!(args(line), want, "{line:?}");
    }
}

/// Every refusal is one line that names what to change.
#[test]
fn argument_errors_are_one_line() {
    for line in ["--cluster prod", "--task a", "--cluster prod --service api --last 0", "--bogus", "--format"] {
        let message = args(line).unwrap_err().to_string();
        assert!(!message.contains('\n') && !message.is_empty(), "{line:?}: {message}");
    }
}

/// A task stopped as the DescribeTasks example of the API reference shows one
/// (<https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTasks.html>).
fn stopped_task() -> TaskDetail {
    let json = json!({
        "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
        "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/prod/5f6c1a2b3d4e4f5a8b9c0d1e2f3a4b5c",
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/api:7",
        "group": "service:api",
        "lastStatus": "STOPPED",
        "desiredStatus": "STOPPED",
        "stopCode": "EssentialContainerExited",
        "stoppedReason": "Essential container in task exited",
        "stoppedAt": "2024-05-01T10:00:00Z",
        "containers": [{"name": "api", "lastStatus": "STOPPED", "exitCode": 137,
                        "reason": "OutOfMemoryError: Container killed due to memory usage"}],
    });
    TaskDetail::from_json(&json.to_string()).expect("a task")
}

#[test]
fn a_task_explained_keeps_the_diagnosis_fields_at_the_top() {
    let (explained, alert) = explain(&stopped_task(), "us-east-1");
    let value = serde_json::to_value(&explained).expect("JSON");
    let diagnosis = serde_json::to_value(diagnose(&stopped_task())).expect("JSON");
    for (key, want) in diagnosis.as_object().expect("an object") {
        assert_eq!(&value[key], want, "{key}");
    }
    assert_eq!(value["category"], "out_of_memory");
    assert_eq!(value["cluster"], "prod");
    assert_eq!(value["service"], "api");
    assert_eq!(value["taskDefinition"], "api:7");
    assert_eq!(value["stoppedAt"], "2024-05-01T10:00:00Z");
    assert_eq!(value["title"], alert.title());
    let url = value["consoleUrl"].as_str().unwrap_or_default();
    assert!(url.starts_with("https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/tasks/5f6c"), "{url}");
    let text = task_text(&alert);
    assert!(text.starts_with("[prod] api: Out of memory (api, exit 137)\n\n"), "{text}");
    for part in ["Fix: ", "Evidence:\n", "OutOfMemoryError", "Open the task in the ECS console: https://"] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
}

#[test]
fn a_service_report_lists_its_stops_and_events() {
    let events = vec![Event {
        created_at: Some("2024-05-01T10:01:00Z".into()),
        message: "(service api) has started 1 tasks: (task 0e1f).".into(),
    }];
    let stops = ServiceStops { tasks: vec![stopped_task()], listed: 3, events };
    let (report, alerts) = service_report("prod", "api", &stops, "us-east-1");
    let value: Value = serde_json::to_value(&report).expect("JSON");
    assert_eq!(value["stopped"], 3);
    assert_eq!(value["stoppedTasks"].as_array().map(Vec::len), Some(1));
    assert_eq!(value["stoppedTasks"][0]["category"], "out_of_memory");
    assert_eq!(value["events"][0], json!({"createdAt": "2024-05-01T10:01:00Z", "message": stops.events[0].message}));
    let url = "https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/services/api/health?region=us-east-1";
    assert_eq!(value["consoleUrl"], url);
    let text = service_text(&report, &alerts);
    assert!(text.starts_with("Service api in cluster prod: the newest 1 of 3 stopped tasks, newest first"), "{text}");
    assert!(text.contains("\n\n1. [prod] api: Out of memory"), "{text}");
    assert!(text.contains("Recent service events, newest first:\n  2024-05-01T10:01:00Z (service api) has started"));
    let (empty, none) = service_report("prod", "api", &ServiceStops { tasks: vec![], listed: 0, events: vec![] }, "");
    assert_eq!(serde_json::to_value(&empty).expect("JSON")["stoppedTasks"], json!([]));
    assert!(service_text(&empty, &none).contains("No recent service events."));
}

#[test]
fn only_a_stopped_or_stopping_task_is_explained() {
    let mut task = stopped_task();
    assert_eq!(not_stopped(&task, Some("STOPPED"), "a"), None);
    task.last_status = Some("DEACTIVATING".into());
    assert_eq!(not_stopped(&task, Some("STOPPED"), "a"), None, "being stopped");
    task.last_status = Some("RUNNING".into());
    let why = not_stopped(&task, Some("RUNNING"), "a").expect("running").to_string();
    assert!(why.contains("has not stopped (lastStatus RUNNING, desiredStatus RUNNING)"), "{why}");
}

#[test]
fn nothing_to_explain_says_why_in_one_line() {
    let gone = Nothing::NoTask { cluster: "prod".into(), task: "5f6c".into(), reason: "MISSING".into() };
    let line = gone.to_string();
    assert!(line.starts_with("ECS has no task 5f6c in cluster prod (MISSING): ECS keeps a stopped task"), "{line}");
    assert!(line.contains("at least one hour") && !line.contains('\n'), "{line}");
    let none = Nothing::NoStops { cluster: "prod".into(), service: "api".into() }.to_string();
    assert!(none.contains("about an hour") && !none.contains('\n'), "{none}");
}

#[test]
fn aws_errors_name_the_fix() {
    let failure = |action: &'static str, code: &str| AwsFailure { action, code: code.into(), message: "m\nore".into() };
    let cases = [
        ("ecs:ListTasks", "AccessDeniedException", "allow ecs:ListTasks for the credentials in use"),
        ("ecs:DescribeTasks", "ClusterNotFoundException", "check --cluster and the region"),
        ("ecs:DescribeServices", "ThrottlingException", "try again in a moment"),
        ("ecs:DescribeTasks", "UnrecognizedClientException", "check the credentials"),
        ("ecs:DescribeTasks", "ExpiredTokenException", "an expired session"),
        ("ecs:DescribeTasks", "ConnectionError", "AWS_ENDPOINT_URL"),
        ("ecs:DescribeTasks", "RequestNotSent", "AWS_PROFILE, AWS_REGION"),
        ("ecs:DescribeTasks", "ServerException", "see the message above"),
    ];
    for (action, code, fix) in cases {
        let line = aws_error_line(&failure(action, code));
        assert!(line.starts_with(&format!("{action} failed with {code}: m ore; ")), "{line}");
        assert!(line.contains(fix) && !line.contains('\n'), "{code}: {line}");
    }
}
