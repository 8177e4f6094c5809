//! Every sample request in `events/` (what users pass to `sam local invoke -e`) parses as its
//! function's input: the envelope, then properties that pass the function's validation.

use serde_json::Value;
use shared::custom_resource::{Request, properties};
use testbed::sample_events;

fn check_dir(dir: &str, resource_type: &str, check: impl Fn(&Value) -> Result<(), String>) -> usize {
    let events = sample_events(dir);
    for (name, payload) in &events {
        let request = Request::parse(payload).unwrap_or_else(|e| panic!("{dir}/{name}: {e}"));
        assert_eq!(request.resource_type, resource_type, "{dir}/{name}");
        for raw in std::iter::once(&request.properties).chain(request.old_properties.as_ref()) {
            check(raw).unwrap_or_else(|e| panic!("{dir}/{name}: {e}"));
        }
    }
    events.len()
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
            Triage::Alert(alert) => format!("alert {}", alert.kind.id()),
            Triage::Problem(problem) => format!("alert {}", problem.kind.id()),
            Triage::Recovery { ends, .. } => format!("resolves {}", ends[0].id()),
            Triage::LookLater(_) => "look again later".to_string(),
            Triage::LookNow(_) => "look again now".to_string(),
            Triage::Ignore(_) => "ignored".to_string(),
            Triage::Reject(why) => panic!("{name}: rejected: {why}"),
        };
        let expected = match name.as_str() {
            "stopped-out-of-memory" => "alert out_of_memory",
            "stopped-image-pull" => "alert image_pull",
            "forwarded-from-another-account" => "alert out_of_memory",
            "stopped-scale-in" | "stopped-by-user" | "running" | "spot-interruption-notice" => "ignored",
            "other-event.lifecycle-action" | "deployment-in-progress.rollback" => "ignored",
            "deployment-failed" => "alert deployment_failed",
            "deployment-completed" => "resolves deployment_failed",
            "service-task-start-impaired" => "alert task_start_impaired",
            "service-task-placement-failure.memory" | "service-task-placement-failure.fargate-spot" => {
                "alert task_placement_failure"
            }
            "service-task-configuration-failure" => "alert task_configuration_failure",
            "service-discovery-instance-unhealthy" => "alert service_discovery_unhealthy",
            "vpc-lattice-target-unhealthy" => "alert vpc_lattice_target_unhealthy",
            "service-daemon-placement-constraint-violated" => "alert daemon_placement_constraint_violated",
            "service-steady-state" => "resolves task_start_impaired",
            "daemon-task-start-impaired.task-failed-to-run" | "daemon-task-start-impaired.task-creation-failed" => {
                "alert daemon_task_start_impaired"
            }
            // Without LOOK_AGAIN_QUEUE_URL the function would ignore it; the triage still says "later".
            "container-instance-agent-disconnected" => "look again later",
            "container-instance-agent-reconnected" => "resolves agent_disconnected",
            other => panic!("{other}: a new sample event: say here what it must give"),
        };
        assert_eq!(outcome, expected, "{name}");
    }
    assert_eq!(events.len(), 23);
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
