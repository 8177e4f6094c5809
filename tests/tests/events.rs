//! Every sample request in `events/` (what users pass to `sam local invoke -e`) parses as its
//! function's input: the envelope, then properties that pass the function's validation.

use serde_json::Value;
use shared::custom_resource::{Request, properties};
use testbed::repo_root;

fn check_dir(dir: &str, resource_type: &str, check: impl Fn(&Value) -> Result<(), String>) -> usize {
    let path = repo_root().join("events").join(dir);
    let mut seen = 0;
    for entry in std::fs::read_dir(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
        let file = entry.unwrap().path();
        let payload: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let request = Request::parse(&payload).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(request.resource_type, resource_type, "{}", file.display());
        for raw in std::iter::once(&request.properties).chain(request.old_properties.as_ref()) {
            check(raw).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        }
        seen += 1;
    }
    seen
}

#[test]
fn every_sample_event_parses() {
    let peering = check_dir("vpc-peering", "Custom::VpcPeering", |raw| {
        let p: vpc_peering::properties::PeeringProperties = properties::parse(raw).map_err(|e| e.to_string())?;
        p.validate().map_err(|e| e.to_string())
    });
    assert_eq!(peering, 6);
    let access = check_dir("endpoint-access", "Custom::EndpointAccess", |raw| {
        let p: endpoint_access::properties::AccessProperties = properties::parse(raw).map_err(|e| e.to_string())?;
        p.validate().map_err(|e| e.to_string())
    });
    assert_eq!(access, 3);
}

/// Every sample EventBridge event for task-alerts is read as the function reads it, with the
/// outcome its name promises (default configuration: benign stops are not sent).
#[test]
fn every_task_alerts_event_triages_as_named() {
    use task_alerts::triage::{Triage, triage};
    let config = task_alerts::Config::from_lookup(|name| {
        (name == "ALERT_TOPIC_ARN").then(|| "arn:aws:sns:us-east-1:123456789012:ecs-alerts".to_string())
    })
    .expect("a configuration");
    let events = sample_events("task-alerts");
    for (name, event) in &events {
        let outcome = match triage(event, &config) {
            Triage::Alert(alert) => format!("alert {}", alert.category.id()),
            Triage::Ignore(_) => "ignored".to_string(),
            Triage::Reject(why) => panic!("{name}: rejected: {why}"),
        };
        let expected = match name.as_str() {
            "stopped-out-of-memory" => "alert out_of_memory",
            "stopped-image-pull" => "alert image_pull",
            "stopped-scale-in" | "stopped-by-user" | "running" | "spot-interruption-notice" => "ignored",
            "other-event.lifecycle-action" => "ignored",
            other => panic!("{other}: a new sample event: say here what it must give"),
        };
        assert_eq!(outcome, expected, "{name}");
    }
    assert_eq!(events.len(), 7);
}

/// Every sample event for lifecycle-drain is read as the function reads it, with the outcome its
/// name promises: a job (the hook is checked later, against the configuration) or ignored.
#[test]
fn every_lifecycle_drain_event_parses_as_named() {
    use lifecycle_drain::job::Input;
    let events = sample_events("lifecycle-drain");
    for (name, event) in &events {
        let hooks = match Input::parse(event, 0) {
            Input::Jobs(jobs) => jobs.into_iter().map(|j| j.hook).collect::<Vec<_>>().join(","),
            Input::Ignore(why) | Input::Reject(why) => panic!("{name}: {why}"),
        };
        let expected = match name.as_str() {
            "terminate" | "continuation.sqs" => "ecs-drain",
            "other-hook.ecs-managed-draining" => "ecs-managed-draining-termination-hook",
            "other-hook.warm-pool" => "my-termination-lifecycle-hook",
            other => panic!("{other}: a new sample event: say here what it must give"),
        };
        assert_eq!(hooks, expected, "{name}");
    }
    assert_eq!(events.len(), 4);
}

/// `(file stem, JSON)` of every file in `events/<dir>`.
fn sample_events(dir: &str) -> Vec<(String, Value)> {
    let path = repo_root().join("events").join(dir);
    let entries = std::fs::read_dir(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    entries
        .map(|entry| {
            let file = entry.unwrap().path();
            let name = file.file_stem().unwrap().to_string_lossy().to_string();
            let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            (name, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display())))
        })
        .collect()
}
