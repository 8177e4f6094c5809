//! task-alerts that a team keeps on: duplicates and storms suppressed through DynamoDB (moto), and
//! the failed container's last log lines from CloudWatch Logs (moto), through the emulator.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testbed::alerts::{AlertsRig, event};
use testbed::{Invocation, Lambda, outcome};

const TASK_ID: &str = "5f6c1a2b3d4e4f5a8b9c0d1e2f3a4b5c";

/// The out-of-memory event for task `id` of `service`, stopped at `stopped_at`.
fn oom(service: &str, id: &str, stopped_at: &str) -> Value {
    let mut e = event("stopped-out-of-memory");
    let arn = format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{id}");
    e["detail"]["taskArn"] = json!(arn);
    e["detail"]["group"] = json!(format!("service:{service}"));
    e["detail"]["stoppedAt"] = json!(stopped_at);
    e["resources"] = json!([arn]);
    e
}

/// The `N` of every "line N" in `text`, in order.
fn line_numbers(text: &str) -> Vec<u32> {
    text.match_indices("line ")
        .filter_map(|(at, _)| {
            let digits: String = text[at + 5..].chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

/// ECS's later event for the same stopped task: a higher `detail.version`, a later `updatedAt`
/// (AWS: "each time a resource changes state, this version is incremented").
fn later(mut event: Value) -> Value {
    let version = event["detail"]["version"].as_i64().unwrap_or(0);
    event["detail"]["version"] = json!(version + 1);
    event["detail"]["updatedAt"] = json!("2026-11-22T10:30:00.000Z");
    event["id"] = json!(format!("{}-v{}", event["id"].as_str().unwrap_or_default(), version + 1));
    event
}

fn status(invocation: &Invocation) -> String {
    outcome(invocation)["status"].as_str().unwrap_or_default().to_string()
}

/// A rig with a topic, a Slack webhook and the suppression table, and `env` on top.
fn start(window_secs: u32, env: &[(&str, &str)]) -> (AlertsRig, Vec<(String, String)>) {
    let rig = AlertsRig::start();
    let secret = rig.webhook_secret("slack", "slack");
    let table = rig.suppression_table("ecs-plumbing-alerts");
    let mut all = vec![
        ("ALERT_TOPIC_ARN".to_string(), rig.topic_arn.clone()),
        ("WEBHOOK_SECRET_ARN".to_string(), secret),
        ("SUPPRESSION_TABLE".to_string(), table),
        ("SUPPRESSION_WINDOW_SECONDS".to_string(), window_secs.to_string()),
    ];
    all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    (rig, all)
}

fn lambda(rig: &AlertsRig, env: &[(String, String)]) -> Lambda {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    rig.lambda(30, &env)
}

#[test]
fn the_same_event_twice_or_at_the_same_time_alerts_once() {
    let (rig, env) = start(900, &[]);
    let one = lambda(&rig, &env);
    let event = oom("api", TASK_ID, "2026-11-22T10:00:00Z");
    assert_eq!(status(&one.invoke_json(&event)), "sent");
    assert_eq!(status(&one.invoke_json(&event)), "duplicate");

    // Two execution environments handed the same (new) event at the same moment.
    let two = lambda(&rig, &env);
    let event = oom("billing", "0a1b2c3d4e5f40718293a4b5c6d7e8f9", "2026-11-22T10:05:00Z");
    let mut statuses = std::thread::scope(|s| {
        let runs = [s.spawn(|| status(&one.invoke_json(&event))), s.spawn(|| status(&two.invoke_json(&event)))];
        runs.map(|run| run.join().expect("a run"))
    });
    statuses.sort();
    assert_eq!(statuses, ["duplicate", "sent"]);

    // A task stops once. ECS's first STOPPED event may lack the containers' exit codes and reasons
    // (an app exit); its later one (a higher version) has them, and reads as out of memory, which
    // is another storm: still one alert, the first.
    let full = oom("worker", "6a7b8c9d0e1f42a3b4c5d6e7f8091a2b", "2026-11-22T10:10:00Z");
    let mut first = full.clone();
    for container in first["detail"]["containers"].as_array_mut().into_iter().flatten() {
        let container = container.as_object_mut().expect("a container");
        container.remove("exitCode");
        container.remove("reason");
    }
    let answer = outcome(&two.invoke_json(&first));
    assert_eq!(answer["status"], "sent", "{answer}");
    assert_eq!(answer["category"], "app_exit", "{answer}");
    let filled_in = later(full);
    assert_eq!(status(&one.invoke_json(&filled_in)), "duplicate");
    assert_eq!(rig.sns_messages().len(), 3, "one SNS message per task");
    assert_eq!(rig.posts("slack").len(), 3, "one webhook POST per task");
}

#[test]
fn ten_failures_in_a_window_alert_once_and_the_next_says_how_many_were_held_back() {
    let (rig, env) = start(3, &[]);
    let lambda = lambda(&rig, &env);
    let window_opened = Instant::now();
    let mut statuses = Vec::new();
    for i in 0..10 {
        let event = oom("api", &format!("{i:0>32}"), &format!("2026-11-22T10:00:{i:0>2}Z"));
        statuses.push(status(&lambda.invoke_json(&event)));
    }
    assert_eq!(statuses[0], "sent");
    assert!(statuses[1..].iter().all(|s| s == "suppressed"), "{statuses:?}");
    assert_eq!((rig.sns_messages().len(), rig.posts("slack").len()), (1, 1));
    // ECS's later events for tasks already stopped (the one alerted, three held back) are neither
    // alerts nor held-back stops.
    for i in 0..4 {
        let again = later(oom("api", &format!("{i:0>32}"), &format!("2026-11-22T10:00:{i:0>2}Z")));
        assert_eq!(status(&lambda.invoke_json(&again)), "duplicate", "task {i}");
    }

    // Only the passing of time closes a window.
    std::thread::sleep(Duration::from_millis(3200).saturating_sub(window_opened.elapsed()));
    let next = oom("api", &format!("{:0>32}", 10), "2026-11-22T10:05:00Z");
    assert_eq!(status(&lambda.invoke_json(&next)), "sent");
    let said = "9 suppressed since 2026-11-22T10:00:01Z";
    let messages = rig.sns_messages();
    assert!(messages[1]["Message"].as_str().unwrap_or_default().contains(said), "{}", messages[1]["Message"]);
    let posts = rig.posts("slack");
    assert!(posts[1].body.contains(said), "{}", posts[1].body);
    // In the next window too, a task held back in the last one stays stopped.
    let again = later(oom("api", &format!("{:0>32}", 5), "2026-11-22T10:00:05Z"));
    assert_eq!(status(&lambda.invoke_json(&again)), "duplicate");
    assert_eq!((rig.sns_messages().len(), rig.posts("slack").len()), (2, 2));
    assert_eq!(
        rig.proxy.calls().count("dynamodb:UpdateItem"),
        (11 + 4 + 1) + 11 + 9,
        "a task mark per event; a window claim tried per new stop; a count per held-back stop"
    );
}

#[test]
fn the_failed_containers_last_log_lines_ride_along_when_there_are_any() {
    let rig = AlertsRig::start();
    let secret = rig.webhook_secret("slack", "slack");
    let lambda = rig.lambda(30, &[("ALERT_TOPIC_ARN", &rig.topic_arn), ("WEBHOOK_SECRET_ARN", &secret)]);
    let api = rig.task_definition("api", true);
    let lines: Vec<String> =
        (1..=25).map(|i| format!("2026-11-22T10:00:{i:0>2}Z heap at {}% line {i}", 70 + i)).collect();
    rig.container_output("api", TASK_ID, &lines);

    let mut with_logs = event("stopped-out-of-memory");
    with_logs["detail"]["taskDefinitionArn"] = json!(api);
    rig.proxy.reset();
    assert_eq!(status(&lambda.invoke_json(&with_logs)), "sent");
    let sns = rig.sns_messages()[0]["Message"].as_str().unwrap_or_default().to_string();
    let slack = rig.posts("slack")[0].body.clone();
    for text in [&sns, &slack] {
        assert_eq!(line_numbers(text), (6..=25).collect::<Vec<_>>(), "the last 20 lines, in order:\n{text}");
    }
    assert!(sns.contains("/ecs/api") && sns.contains(&format!("ecs/api/{TASK_ID}")), "{sns}");
    let calls = rig.proxy.calls();
    let added = ["ecs:DescribeTaskDefinition", "logs:GetLogEvents"].map(|a| calls.count(a));
    println!("calls added to one alert: DescribeTaskDefinition {}, GetLogEvents {}", added[0], added[1]);
    assert_eq!(added, [1, 1]);

    // A task definition without awslogs, and a log read that is denied: the alert still goes, without lines.
    let mut without = event("stopped-out-of-memory");
    without["detail"]["taskDefinitionArn"] = json!(rig.task_definition("worker", false));
    without["detail"]["containers"][0]["name"] = json!("worker");
    assert_eq!(status(&lambda.invoke_json(&without)), "sent");
    rig.proxy.add_rule(json!({"action": "logs:GetLogEvents", "status": 400, "code": "AccessDeniedException",
        "message": "User: arn:aws:sts::123456789012:assumed-role/alerts/task-alerts is not authorized to perform: logs:GetLogEvents"}));
    assert_eq!(status(&lambda.invoke_json(&with_logs)), "sent");
    let messages = rig.sns_messages();
    for message in &messages[1..] {
        let text = message["Message"].as_str().unwrap_or_default();
        assert!(!text.contains("log lines") && !text.contains("line 25"), "{text}");
    }
    assert_eq!(rig.posts("slack").len(), 3);
}

#[test]
fn an_unreachable_table_does_not_lose_alerts() {
    let (rig, env) = start(900, &[]);
    rig.proxy
        .add_rule(json!({"action": "dynamodb:UpdateItem", "times": 1000, "status": 500, "code": "InternalServerError",
        "message": "Internal server error"}));
    let lambda = lambda(&rig, &env);
    assert_eq!(status(&lambda.invoke_json(&oom("api", TASK_ID, "2026-11-22T10:00:00Z"))), "sent");
    assert_eq!(rig.sns_messages().len(), 1);
    lambda.settled(1);
    assert!(lambda.function_lines().iter().any(|l| l.contains("suppression skipped")), "{}", lambda.logs());
}

#[test]
fn an_alert_that_could_not_be_delivered_is_not_taken_for_a_duplicate_when_lambda_retries_it() {
    let (rig, env) = start(900, &[]);
    let env: Vec<(&str, &str)> =
        env.iter().filter(|(k, _)| k != "ALERT_TOPIC_ARN").map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let lambda = rig.lambda(4, &env);
    let event = oom("api", TASK_ID, "2026-11-22T10:00:00Z");
    rig.chat.fail_next(1000, 500);
    let failed = outcome(&lambda.invoke_json(&event));
    assert_eq!(failed["errorType"], "AlertNotDelivered", "{failed}");
    rig.chat.fail_next(0, 500);
    // Lambda's retry of the same event.
    assert_eq!(status(&lambda.invoke_json(&event)), "sent");
    assert_eq!(rig.posts("slack").iter().filter(|p| p.status == 200).count(), 1);
}
