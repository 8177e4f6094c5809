//! The metrics each function writes (`shared::metrics`): embedded metric format lines read back
//! from the emulator's output, checked against the specification
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>)
//! and for the values the run should give.

use serde_json::{Value, json};
use testbed::alerts::{AlertsRig, event};
use testbed::drain::{DrainRig, HOOK};
use testbed::ec2::endpoint_site;
use testbed::{Lambda, Rig, outcome};

const TOKEN: &str = "c2f1a9e0-7b3d-4c5e-8f6a-1b2c3d4e5f60";

/// The specification's rules for one document, as CloudWatch Logs applies them: the line is one
/// JSON object and nothing else; `_aws` holds an integer `Timestamp` (ms) and `CloudWatchMetrics`,
/// an array of directives, each with a `Namespace` (1 to 255 characters), `Dimensions` (an array
/// of dimension sets, each 1 to 30 names of string members of the root) and `Metrics` (at most
/// 100 definitions, each a `Name` whose member is a number, or an array of numbers, and an
/// optional `Unit` of CloudWatch's). Returns the document.
fn checked(line: &str) -> Value {
    const UNITS: &[&str] = &[
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ];
    assert!(!line.contains('\n'), "one line: {line}");
    let doc: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    let root = doc.as_object().unwrap_or_else(|| panic!("not an object: {line}"));
    let aws = root["_aws"].as_object().unwrap_or_else(|| panic!("_aws is not an object: {line}"));
    let timestamp = aws["Timestamp"].as_u64().unwrap_or_else(|| panic!("Timestamp is not whole ms: {line}"));
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64;
    assert!(timestamp <= now_ms && now_ms - timestamp < 600_000, "Timestamp {timestamp} is not ms of this run");
    let directives = aws["CloudWatchMetrics"].as_array().unwrap_or_else(|| panic!("no CloudWatchMetrics: {line}"));
    assert!(!directives.is_empty(), "{line}");
    for directive in directives {
        let namespace = directive["Namespace"].as_str().unwrap_or_default();
        assert!((1..=255).contains(&namespace.len()), "Namespace: {line}");
        let sets = directive["Dimensions"].as_array().unwrap_or_else(|| panic!("Dimensions: {line}"));
        for set in sets {
            let names = set.as_array().unwrap_or_else(|| panic!("a dimension set is not an array: {line}"));
            assert!((1..=30).contains(&names.len()), "1 to 30 dimensions per set: {line}");
            for name in names {
                let name = name.as_str().unwrap_or_else(|| panic!("a dimension name is not a string: {line}"));
                let value =
                    root.get(name).and_then(Value::as_str).unwrap_or_else(|| panic!("no string {name}: {line}"));
                assert!((1..=1024).contains(&value.len()) && value.is_ascii(), "{name}={value:?}: {line}");
            }
        }
        let metrics = directive["Metrics"].as_array().unwrap_or_else(|| panic!("Metrics: {line}"));
        assert!((1..=100).contains(&metrics.len()), "1 to 100 metrics per directive: {line}");
        for metric in metrics {
            let name = metric["Name"].as_str().unwrap_or_else(|| panic!("a metric without Name: {line}"));
            let value = &root[name];
            let numbers = value.is_number() || value.as_array().is_some_and(|v| v.iter().all(Value::is_number));
            assert!(numbers, "{name} is not a number: {line}");
            if let Some(unit) = metric.get("Unit") {
                assert!(unit.as_str().is_some_and(|u| UNITS.contains(&u)), "{name}'s unit {unit}: {line}");
            }
        }
    }
    doc
}

/// Every metric line of `lambda` so far, checked; the ones that carry `metric`.
fn metrics(lambda: &Lambda, invocations: usize, metric: &str) -> Vec<Value> {
    lambda.settled(invocations);
    let docs: Vec<Value> = lambda.metric_lines().iter().map(|line| checked(line)).collect();
    for doc in &docs {
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "ecs-plumbing");
        assert!(doc["Function"].is_string(), "{doc}");
    }
    docs.into_iter().filter(|d| d.get(metric).is_some()).collect()
}

/// The dimension sets of the document's one directive.
fn sets(doc: &Value) -> &Value {
    &doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
}

#[test]
fn task_alerts_counts_alerts_by_kind_and_outcome_and_the_calls_aws_throttled() {
    let rig = AlertsRig::start();
    let lambda = rig.lambda(30, &[("ALERT_TOPIC_ARN", rig.topic_arn.as_str())]);
    // SNS's throttle once: counted, and the publish retried.
    rig.proxy.add_rule(
        json!({"action": "sns:Publish", "times": 1, "status": 400, "code": "Throttling", "message": "Rate exceeded"}),
    );
    let sent = outcome(&lambda.invoke_json(&event("stopped-out-of-memory")));
    assert_eq!(sent["status"], "sent", "{sent}\n{}", lambda.logs());
    let ignored = outcome(&lambda.invoke_json(&event("running")));
    assert_eq!(ignored["status"], "ignored", "{ignored}");

    let alerts = metrics(&lambda, 2, "Alerts");
    let seen: Vec<(&str, &str, f64)> = alerts
        .iter()
        .map(|d| {
            (d["Kind"].as_str().unwrap_or(""), d["Outcome"].as_str().unwrap_or(""), d["Alerts"].as_f64().unwrap_or(0.0))
        })
        .collect();
    assert_eq!(seen, [("out_of_memory", "sent", 1.0), ("none", "ignored", 1.0)], "{alerts:#?}");
    assert_eq!(alerts[0]["Function"], "task-alerts");
    assert_eq!(sets(&alerts[0]), &json!([["Function", "Kind", "Outcome"], ["Function", "Outcome"]]));
    assert_eq!(alerts[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"], json!([{"Name": "Alerts", "Unit": "Count"}]));

    let throttled = metrics(&lambda, 2, "ThrottledCalls");
    assert_eq!(throttled.len(), 1, "one action throttled, in the first invocation: {throttled:#?}");
    assert_eq!(
        (throttled[0]["Action"].as_str(), throttled[0]["ThrottledCalls"].as_f64()),
        (Some("sns:Publish"), Some(1.0))
    );
    assert_eq!(sets(&throttled[0]), &json!([["Function", "Action"], ["Function"]]));
    // Metrics are not log lines: the invocation's own lines are still one per action.
    assert!(lambda.function_lines().iter().all(|l| !l.contains("_aws")));
}

#[test]
fn lifecycle_drain_counts_drains_by_outcome_with_their_time_rounds_and_maximum() {
    let rig = DrainRig::start();
    let lambda = rig.lambda(10, &[("MAX_DRAIN_SECONDS", "2"), ("ON_MAX_DRAIN", "ABANDON")]);
    // An instance without tasks: completed at once.
    let bare = rig.instance(true);
    let done = outcome(&lambda.invoke_json(&rig.lifecycle_event(&bare, HOOK, TOKEN)));
    assert_eq!(done["status"], "completed", "{done}\n{}", lambda.logs());
    // A task that never stops: the maximum ends the drain.
    let busy = rig.instance(true);
    rig.tasks(&busy, "service:api", 1);
    let other = "0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b";
    let given_up = outcome(&lambda.invoke_json(&rig.lifecycle_event(&busy, HOOK, other)));
    assert_eq!(
        (given_up["status"].as_str(), given_up["atMaximum"].as_bool()),
        (Some("completed"), Some(true)),
        "{given_up}"
    );

    let drains = metrics(&lambda, 2, "Drains");
    assert_eq!(drains.len(), 2, "{drains:#?}");
    for (doc, at_maximum) in drains.iter().zip([0.0, 1.0]) {
        assert_eq!((doc["Outcome"].as_str(), doc["Drains"].as_f64()), (Some("completed"), Some(1.0)), "{doc}");
        assert_eq!((doc["DrainsAtMaximum"].as_f64(), doc["DrainRounds"].as_f64()), (Some(at_maximum), Some(1.0)));
        assert_eq!(sets(doc), &json!([["Function", "Outcome"], ["Function"]]));
    }
    let seconds = drains[1]["DrainSeconds"].as_f64().unwrap_or_default();
    assert!((2.0..10.0).contains(&seconds), "the maximum is 2 s: {seconds}");
    let units: Vec<&str> = drains[1]["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["Unit"].as_str())
        .collect();
    assert_eq!(units, ["Count", "Count", "Seconds", "Count"]);
}

#[test]
fn a_custom_resource_counts_each_answer_once_with_its_time_and_the_throttled_calls() {
    let w = Rig::start("endpoint-access", 30);
    let site = endpoint_site(&w.aws);
    // Throttled through the SDK's three attempts: one throttled answer reaches the function,
    // which waits for its bucket and tries again.
    w.proxy.add_rule(json!({"action": "ec2:AuthorizeSecurityGroupIngress", "times": 3, "status": 503,
        "code": "RequestLimitExceeded", "message": "Request limit exceeded."}));
    let properties = json!({"VpcId": site.vpc.id, "TaskSecurityGroupIds": site.tasks});
    let created = w.send("create", "create", &properties, None, None);
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    let physical_id = created["PhysicalResourceId"].as_str().unwrap_or_default().to_string();
    // A property it does not know: FAILED.
    let wrong = json!({"VpcId": site.vpc.id, "TaskSecurityGroupIds": site.tasks, "Colour": "blue"});
    let failed = w.send("update", "update", &wrong, Some(&physical_id), Some(&properties));
    assert_eq!(failed["Status"], "FAILED", "{failed}");

    let requests = metrics(&w.lambda, 2, "Requests");
    let seen: Vec<(&str, &str)> = requests
        .iter()
        .map(|d| (d["RequestType"].as_str().unwrap_or(""), d["Outcome"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(seen, [("Create", "SUCCESS"), ("Update", "FAILED")], "{requests:#?}");
    for doc in &requests {
        assert_eq!((doc["Function"].as_str(), doc["Requests"].as_f64()), (Some("endpoint-access"), Some(1.0)));
        assert!(doc["RequestMilliseconds"].as_f64().is_some_and(|ms| ms > 0.0 && ms < 30_000.0), "{doc}");
        assert_eq!(sets(doc), &json!([["Function", "RequestType", "Outcome"], ["Function", "Outcome"]]));
    }
    let throttled = metrics(&w.lambda, 2, "ThrottledCalls");
    let counted: Vec<(&str, f64)> = throttled
        .iter()
        .map(|d| (d["Action"].as_str().unwrap_or(""), d["ThrottledCalls"].as_f64().unwrap_or(0.0)))
        .collect();
    assert_eq!(counted, [("ec2:AuthorizeSecurityGroupIngress", 1.0)], "{throttled:#?}");
}
