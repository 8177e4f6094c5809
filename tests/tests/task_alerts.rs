//! task-alerts through the Lambda emulator against moto: SNS notifications read back from moto's
//! HTTP delivery, webhook POSTs at the receiver, calls counted by the proxy.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testbed::alerts::{AlertsRig, WEBHOOK_TOKEN, assert_says_all, event, text_of};
use testbed::free_port;
use testbed::outcome;

/// Amazon Chime ended on 2026-02-20: a secret asking for it is refused (see the secrets test below).
const FORMATS: [&str; 4] = ["slack", "teams", "discord", "generic"];

fn assert_no_secret(what: &str, text: &str) {
    for needle in [WEBHOOK_TOKEN, "T0SECRET", "/hook/"] {
        assert!(!text.contains(needle), "{what} shows {needle:?}:\n{text}");
    }
}

#[test]
fn one_sns_message_and_one_webhook_post_per_format() {
    let rig = AlertsRig::start();
    let mut logs = String::new();
    for format in FORMATS {
        let secret = rig.webhook_secret(format, format);
        let lambda =
            rig.lambda(30, &[("ALERT_TOPIC_ARN", rig.topic_arn.as_str()), ("WEBHOOK_SECRET_ARN", secret.as_str())]);
        let sent = outcome(&lambda.invoke_json(&event("stopped-out-of-memory")));
        assert_eq!(sent["status"], "sent", "{format}: {sent}\n{}", lambda.logs());
        assert_eq!(
            sent["destinations"],
            json!([{"destination": "SNS", "attempts": 1}, {"destination": "webhook", "attempts": 1}])
        );
        let posts = rig.posts(format);
        assert_eq!(posts.len(), 1, "{format}: one POST");
        assert_eq!(posts[0].header("Content-Type"), Some("application/json"));
        assert_says_all(&format!("the {format} POST"), &text_of(&posts[0].json()));
        logs += &lambda.logs();
    }

    let messages = rig.sns_messages();
    assert_eq!(messages.len(), FORMATS.len(), "one SNS message per invocation");
    for message in &messages {
        let subject = message["Subject"].as_str().unwrap_or_default();
        assert!(subject.len() < 100 && subject.starts_with("[prod] api: Out of memory"), "{subject}");
        assert_says_all("the SNS message", message["Message"].as_str().unwrap_or_default());
    }
    assert_eq!(rig.proxy.calls().count("sns:Publish"), FORMATS.len() as u64);
    assert_no_secret("the logs", &logs);
}

#[test]
fn amazon_q_notifications_on_the_topic_thread_per_service() {
    let rig = AlertsRig::start();
    let lambda = rig.lambda(30, &[("ALERT_TOPIC_ARN", rig.topic_arn.as_str()), ("SNS_MESSAGE_FORMAT", "amazon-q")]);
    let sent = outcome(&lambda.invoke_json(&event("stopped-out-of-memory")));
    assert_eq!(sent["destinations"], json!([{"destination": "SNS", "attempts": 1}]), "{sent}");
    let messages = rig.sns_messages();
    assert_eq!(messages.len(), 1);
    let notification: Value = serde_json::from_str(messages[0]["Message"].as_str().unwrap_or_default()).expect("JSON");
    assert_eq!((&notification["version"], &notification["source"]), (&json!("1.0"), &json!("custom")));
    assert_eq!(notification["metadata"]["threadId"], "prod/api");
    assert_says_all("the Amazon Q notification", &text_of(&notification));
}

#[test]
fn the_secret_is_read_once_per_ttl() {
    let rig = AlertsRig::start();
    let secret = rig.webhook_secret("cached", "slack");
    let lambda = rig.lambda(30, &[("WEBHOOK_SECRET_ARN", secret.as_str()), ("SECRET_TTL_SECONDS", "2")]);
    let mut read_by = None;
    for _ in 0..3 {
        assert_eq!(outcome(&lambda.invoke_json(&event("stopped-out-of-memory")))["status"], "sent");
        // The first invocation read the secret before it returned.
        read_by.get_or_insert_with(Instant::now);
    }
    assert_eq!(rig.proxy.calls().count("secretsmanager:GetSecretValue"), 1, "three alerts, one read");
    assert_eq!(rig.posts("cached").len(), 3);

    // Only the passing of time makes a TTL expire.
    let read_by = read_by.expect("a first invocation");
    std::thread::sleep(Duration::from_millis(2200).saturating_sub(read_by.elapsed()));
    assert_eq!(outcome(&lambda.invoke_json(&event("stopped-image-pull")))["status"], "sent");
    assert_eq!(rig.proxy.calls().count("secretsmanager:GetSecretValue"), 2, "read again after the TTL");
    assert_eq!(rig.proxy.calls().count("sns:Publish"), 0, "no topic configured");
}

#[test]
fn a_failing_webhook_is_retried_then_fails_the_invocation_and_sns_still_gets_the_alert() {
    let rig = AlertsRig::start();
    let secret = rig.webhook_secret("flaky", "slack");
    let lambda = rig.lambda(6, &[("ALERT_TOPIC_ARN", rig.topic_arn.as_str()), ("WEBHOOK_SECRET_ARN", secret.as_str())]);

    rig.chat.fail_next(2, 500);
    let sent = outcome(&lambda.invoke_json(&event("stopped-out-of-memory")));
    assert_eq!(sent["destinations"][1], json!({"destination": "webhook", "attempts": 3}), "{sent}");
    let statuses: Vec<u16> = rig.posts("flaky").iter().map(|p| p.status).collect();
    assert_eq!(statuses, [500, 500, 200]);

    rig.chat.fail_next(1000, 500);
    let failed = lambda.invoke_json(&event("stopped-out-of-memory"));
    let error = outcome(&failed);
    assert_eq!(error["errorType"], "AlertNotDelivered", "{failed:?}");
    let message = error["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains("not delivered: webhook: the webhook answered HTTP 500") && message.ends_with("(SNS got it)"),
        "{message}"
    );
    assert!(failed.elapsed < Duration::from_secs(6), "it fails before Lambda's deadline");
    assert!(rig.posts("flaky").len() > 5, "retried with backoff until the deadline");
    assert_eq!(rig.sns_messages().len(), 2, "SNS got both alerts");
    assert_no_secret("the error", message);
    assert_no_secret("the logs", &lambda.logs());
}

#[test]
fn sns_failing_does_not_stop_the_webhook() {
    let rig = AlertsRig::start();
    let secret = rig.webhook_secret("steady", "generic");
    let lambda = rig.lambda(6, &[("ALERT_TOPIC_ARN", rig.topic_arn.as_str()), ("WEBHOOK_SECRET_ARN", secret.as_str())]);
    rig.proxy.add_rule(json!({"action": "sns:Publish", "status": 403, "code": "AuthorizationError",
        "message": "User is not authorized to perform: SNS:Publish"}));
    let error = outcome(&lambda.invoke_json(&event("stopped-out-of-memory")));
    let message = error["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("SNS: sns:Publish failed with AuthorizationError"), "{message}");
    assert!(message.contains("allow sns:Publish on the topic") && message.ends_with("(webhook got it)"), "{message}");
    assert_eq!(rig.posts("steady").len(), 1);

    // A topic encrypted with a customer-managed key: SNS's KMS codes name the key and the fix.
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let denied = format!(
        "User: arn:aws:sts::123456789012:assumed-role/ecs-plumbing-TaskAlertsFunctionRole-1A2B3C/ecs-plumbing-TaskAlertsFunction-4D5E6F is not authorized to perform: kms:GenerateDataKey on resource: {key} because no identity-based policy allows the kms:GenerateDataKey action (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; Request ID: 11e6d3bc-dcab-4eb7-906f-290af35a4f1d; Proxy: null)"
    );
    let cases = [
        (None, "KMSAccessDenied", denied.clone(), format!("set the stack parameter AlertTopicKmsKeyArn to {key}")),
        (
            Some(key),
            "KMSAccessDenied",
            denied,
            format!("AlertTopicKmsKeyArn grants this function's role kms:GenerateDataKey* and kms:Decrypt on {key}"),
        ),
        (None, "KMSDisabled", format!("{key} is disabled."), format!("KMS key {key} is disabled: enable it")),
    ];
    for (granted, code, said, fix) in cases {
        rig.proxy.reset();
        rig.proxy.add_rule(json!({"action": "sns:Publish", "status": 400, "code": code, "message": said}));
        let mut env = vec![("ALERT_TOPIC_ARN", rig.topic_arn.as_str())];
        env.extend(granted.map(|key| ("ALERT_TOPIC_KMS_KEY_ARN", key)));
        let error = outcome(&rig.lambda(6, &env).invoke_json(&event("stopped-out-of-memory")));
        assert_eq!(error["errorType"], "AlertNotDelivered", "{error}");
        let message = error["errorMessage"].as_str().unwrap_or_default();
        assert!(message.contains(&format!("SNS: sns:Publish failed with {code}: ")), "{message}");
        assert!(message.contains(&fix) && message.ends_with("(1 attempt)"), "{granted:?} {code}: {message}");
        assert!(!message.contains("allow sns:Publish") && !message.contains('\n'), "{message}");
    }
    assert_eq!(rig.proxy.calls().count("sns:Publish"), 1, "a key's refusal is not retried");
}

#[test]
fn webhook_secrets_never_reach_a_log_line_or_an_error() {
    let rig = AlertsRig::start();
    let closed = format!("http://127.0.0.1:{}/hook/closed?token={WEBHOOK_TOKEN}", free_port());
    let cases = [
        ("not-a-url", format!("hooks.slack.com/services/{WEBHOOK_TOKEN}"), "the secret's URL does not parse as a URL"),
        ("plain-http", format!("http://hooks.slack.com/services/{WEBHOOK_TOKEN}"), "must use https"),
        ("bad-json", format!("{{\"url\": \"https://hooks.slack.com/services/{WEBHOOK_TOKEN}\""), "has no string `url`"),
        (
            "bad-format",
            json!({"url": rig.webhook_url("x"), "format": WEBHOOK_TOKEN}).to_string(),
            "unknown webhook format",
        ),
        ("closed-port", json!({"url": closed, "format": "slack"}).to_string(), "the webhook could not be reached"),
        (
            "chime-url",
            format!("https://hooks.chime.aws/incomingwebhooks/a1b2?token={WEBHOOK_TOKEN}"),
            "the secret's URL is an Amazon Chime webhook: Amazon Chime ended on 2026-02-20",
        ),
        (
            "chime-format",
            json!({"url": rig.webhook_url("x"), "format": "chime"}).to_string(),
            "Amazon Chime ended on 2026-02-20 (AWS ended the service); use slack, teams, discord or generic instead",
        ),
    ];
    for (name, value, expected) in cases {
        let secret = rig.secret(&format!("ecs-alerts/{name}"), &value);
        let lambda = rig.lambda(4, &[("WEBHOOK_SECRET_ARN", secret.as_str())]);
        let error = outcome(&lambda.invoke_json(&event("stopped-out-of-memory")));
        let message = error["errorMessage"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{name}: {message}");
        assert!(name == "closed-port" || message.contains(&secret), "{name} names the secret: {message}");
        assert_no_secret(name, message);
        assert_no_secret(&format!("{name}: the logs"), &lambda.logs());
    }
}

#[test]
fn events_that_are_not_a_stopped_task_send_nothing_and_log_one_line() {
    let rig = AlertsRig::start();
    let secret = rig.webhook_secret("quiet", "slack");
    let lambda =
        rig.lambda(10, &[("ALERT_TOPIC_ARN", rig.topic_arn.as_str()), ("WEBHOOK_SECRET_ARN", secret.as_str())]);
    let mut malformed = event("stopped-out-of-memory");
    malformed["detail"]["containers"] = json!("api");
    let cases = [
        ("RUNNING", event("running"), "ignored", "the task is RUNNING, not STOPPED"),
        ("Spot notice", event("spot-interruption-notice"), "ignored", "the task is RUNNING, not STOPPED"),
        ("scale-in", event("stopped-scale-in"), "ignored", "scaling_or_deployment stops are not sent"),
        ("another event", event("other-event.lifecycle-action"), "ignored", "not an ECS Task State Change event"),
        ("malformed", malformed, "rejected", "has a field of the wrong type"),
    ];
    let mut invocations = 0;
    for (name, event, status, reason) in cases {
        let before = lambda.function_lines().len();
        let answer = outcome(&lambda.invoke_json(&event));
        assert_eq!(answer["status"], status, "{name}: {answer}");
        assert!(answer["reason"].as_str().unwrap_or_default().contains(reason), "{name}: {answer}");
        invocations += 1;
        lambda.settled(invocations);
        let lines = lambda.function_lines();
        assert_eq!(lines.len() - before, 1, "{name}: one log line:\n{}", lines[before..].join("\n"));
        assert!(lines[before].contains(status) && lines[before].contains(reason), "{name}: {}", lines[before]);
    }
    let calls = rig.proxy.calls();
    assert_eq!((calls.count("sns:Publish"), calls.count("secretsmanager:GetSecretValue")), (0, 0));
    assert!(rig.posts("quiet").is_empty() && rig.sns_messages().is_empty());
}

#[test]
fn a_bad_configuration_fails_every_invocation_naming_the_variable() {
    let rig = AlertsRig::start();
    let lambda = rig.lambda(10, &[("ALERT_TOPIC_ARN", rig.topic_arn.as_str()), ("IGNORE_CATEGORIES", "oom")]);
    for _ in 0..2 {
        let error = outcome(&lambda.invoke_json(&event("stopped-out-of-memory")));
        assert_eq!(error["errorType"], "BadConfiguration");
        let message = error["errorMessage"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("bad configuration: IGNORE_CATEGORIES names an unknown category `oom`"),
            "{message}"
        );
    }
    assert!(rig.sns_messages().is_empty());
    let lambda = rig.lambda(10, &[]);
    let error = outcome(&lambda.invoke_json(&event("stopped-out-of-memory")));
    assert!(error["errorMessage"].as_str().unwrap_or_default().contains("set ALERT_TOPIC_ARN"), "{error}");
}
