use serde_json::json;

use super::*;

use crate::sample_event as event;

/// One line per outcome: `problem <kind> <subject> [<fact>]`, `recovery <subject> of <kinds>`, …
fn outcome(read: Read) -> String {
    match read {
        Read::Event(ServiceEvent::Problem(p)) => {
            format!("problem {} {} [{}]", p.kind.id(), p.subject.label(), p.fact.unwrap_or_default())
        }
        Read::Event(ServiceEvent::Recovery { subject, ends, .. }) => {
            let ends: Vec<&str> = ends.iter().map(|k| k.id()).collect();
            format!("recovery {} of {}", subject.label(), ends.join(","))
        }
        Read::Event(ServiceEvent::AgentDisconnected(p)) => {
            format!("disconnected {} [{}]", p.subject.label(), p.fact.unwrap_or_default())
        }
        Read::Ignore(why) => format!("ignore: {why}"),
        Read::Reject(why) => format!("reject: {why}"),
    }
}

#[test]
fn every_sample_event_reads_as_aws_documents_it() {
    let steady = STEADY_STATE_ENDS.iter().map(|k| k.id()).collect::<Vec<_>>().join(",");
    let cases: Vec<(&str, String)> = vec![
        ("deployment-failed.json", "problem deployment_failed web [ecs-svc/5720129318403772843]".into()),
        (
            "deployment-in-progress.rollback.json",
            "ignore: ECS Deployment State Change SERVICE_DEPLOYMENT_IN_PROGRESS is not alerted on".into(),
        ),
        ("deployment-completed.json", "recovery web of deployment_failed".into()),
        ("service-task-start-impaired.json", "problem task_start_impaired web []".into()),
        ("service-task-placement-failure.memory.json", "problem task_placement_failure web [RESOURCE:MEMORY]".into()),
        (
            "service-task-placement-failure.fargate-spot.json",
            "problem task_placement_failure web [RESOURCE:FARGATE]".into(),
        ),
        ("service-discovery-instance-unhealthy.json", "problem service_discovery_unhealthy web []".into()),
        ("vpc-lattice-target-unhealthy.json", "problem vpc_lattice_target_unhealthy web []".into()),
        (
            "service-daemon-placement-constraint-violated.json",
            "problem daemon_placement_constraint_violated log-agent []".into(),
        ),
        ("service-steady-state.json", format!("recovery web of {steady}")),
        (
            "daemon-task-start-impaired.task-failed-to-run.json",
            "problem daemon_task_start_impaired daemon log-agent [TASK_FAILED_TO_RUN]".into(),
        ),
        (
            "daemon-task-start-impaired.task-creation-failed.json",
            "problem daemon_task_start_impaired daemon log-agent [TASK_CREATION_FAILED]".into(),
        ),
        (
            "container-instance-agent-disconnected.json",
            "disconnected instance 0f1e2d3c4b5a49687766554433221100 [i-0a1b2c3d4e5f60718]".into(),
        ),
        (
            "container-instance-agent-reconnected.json",
            "recovery instance 0f1e2d3c4b5a49687766554433221100 of agent_disconnected".into(),
        ),
    ];
    for (file, want) in cases {
        let got = outcome(read(&event(file), ""));
        assert!(got.starts_with(&want), "{file}: {got}");
    }
    let configuration = outcome(read(&event("service-task-configuration-failure.json"), ""));
    assert!(configuration.starts_with("problem task_configuration_failure web"), "{configuration}");
}

#[test]
fn malformed_events_are_refused_with_the_field_named() {
    let placement = event("service-task-placement-failure.memory.json");
    let mut no_name = placement.clone();
    no_name["detail"]["eventName"] = json!(null);
    let mut no_service = placement.clone();
    no_service["resources"] = json!([]);
    let mut instance = event("container-instance-agent-disconnected.json");
    instance["detail"]["agentConnected"] = json!("no");
    let mut draining = event("container-instance-agent-disconnected.json");
    draining["detail"]["status"] = json!("DRAINING");
    let cases = [
        (no_name, "reject: the event's detail has no `eventName`"),
        (no_service, "reject: the SERVICE_TASK_PLACEMENT_FAILURE event names no service in `resources`"),
        (instance, "reject: the event's detail has no boolean `agentConnected`"),
        (draining, "ignore: the agent disconnected on a DRAINING instance, not an ACTIVE one"),
    ];
    for (event, want) in cases {
        assert_eq!(outcome(read(&event, "")), want);
    }
}

#[test]
fn a_placement_reason_is_explained_with_its_fix() {
    #[rustfmt::skip]
    let cases = [
        ("RESOURCE:MEMORY", "enough free memory"),
        ("resource:cpu", "enough free CPU"),
        ("RESOURCE:PORTS_TCP", "host port"),
        ("RESOURCE:ENI", "network interface"),
        ("RESOURCE:FARGATE", "Fargate had no capacity"),
        ("AGENT", "agent"),
        ("ATTRIBUTE", "attribute"),
        ("LOCATION", "Availability Zones"),
        ("MemberOf placement constraint unsatisfied.", "placement constraints"),
        ("NO ACTIVE INSTANCES", "no container instance is available"),
        ("EMPTY CAPACITY PROVIDER", "no container instance is available"),
        ("SOMETHING:NEW", "a reason of its own"),
    ];
    for (reason, words) in cases {
        let (said, hint) = placement_reason(reason);
        assert!(said.contains(words), "{reason}: {said}");
        assert!(!hint.is_empty(), "{reason}");
    }
}

#[test]
fn a_stranded_instance_is_still_active_disconnected_and_busy() {
    let state = |status: &str, connected: bool, tasks: Option<i64>| InstanceState {
        status: status.into(),
        agent_connected: connected,
        running_tasks: tasks,
        ec2_instance_id: None,
        agent_version: None,
    };
    assert_eq!(state("ACTIVE", false, Some(3)).still_stranded(), Ok(()));
    assert_eq!(state("ACTIVE", false, None).still_stranded(), Ok(()));
    assert!(state("ACTIVE", true, Some(3)).still_stranded().unwrap_err().contains("reconnected"));
    assert!(state("DRAINING", false, Some(3)).still_stranded().unwrap_err().contains("DRAINING"));
    assert!(state("ACTIVE", false, Some(0)).still_stranded().unwrap_err().contains("no task"));
}

#[test]
fn kinds_have_distinct_ids_that_parse_back() {
    for kind in Kind::ALL {
        assert_eq!(Kind::from_id(&kind.id().to_uppercase()), Some(kind));
        assert!(!kind.words().is_empty() && !kind.hint().is_empty());
        assert!(crate::diagnosis::Category::from_id(kind.id()).is_none(), "{} is also a stop category", kind.id());
    }
}
