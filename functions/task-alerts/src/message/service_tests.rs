//! Service-level alerts and their resolutions, in every format.

use super::{Alert, AlertKind};
use crate::service_event::{Kind, Read, ServiceEvent, read};
use crate::webhook::WebhookFormat;

use crate::sample_event as event;

fn alert(name: &str) -> Alert {
    match read(&event(name), "") {
        Read::Event(ServiceEvent::Problem(problem) | ServiceEvent::AgentDisconnected(problem)) => {
            Alert::for_problem(&problem)
        }
        other => panic!("{name}: {other:?}"),
    }
}

fn resolution(name: &str) -> Alert {
    match read(&event(name), "") {
        Read::Event(ServiceEvent::Recovery { subject, ends, event_name, at }) => {
            Alert::resolution(&subject, &ends[..1], &event_name, at)
        }
        other => panic!("{name}: {other:?}"),
    }
}

const FORMATS: [WebhookFormat; 4] =
    [WebhookFormat::Slack, WebhookFormat::Teams, WebhookFormat::Discord, WebhookFormat::Generic];

#[test]
fn titles_name_the_service_the_problem_and_its_fact() {
    let deployment = alert("deployment-failed.json").with_rollback(
        Some("arn:aws:ecs:us-east-1:123456789012:task-definition/web:42".into()),
        Some("arn:aws:ecs:us-east-1:123456789012:task-definition/web:41".into()),
    );
    #[rustfmt::skip]
    let cases = [
        (deployment, "[prod] web: Deployment failed (rolled back to web:41)"),
        (alert("service-task-placement-failure.memory.json"), "[prod] web: Tasks cannot be placed (RESOURCE:MEMORY)"),
        (alert("service-task-start-impaired.json"), "[prod] web: Tasks keep failing to start"),
        (alert("daemon-task-start-impaired.task-creation-failed.json"),
         "[prod] daemon log-agent: Daemon task cannot start (TASK_CREATION_FAILED)"),
        (alert("container-instance-agent-disconnected.json"),
         "[prod] instance 0f1e2d3c4b5a49687766554433221100: ECS agent disconnected (i-0a1b2c3d4e5f60718)"),
        (resolution("deployment-completed.json"), "[prod] web: Resolved: Deployment failed"),
        (resolution("container-instance-agent-reconnected.json"),
         "[prod] instance 0f1e2d3c4b5a49687766554433221100: Resolved: ECS agent disconnected"),
    ];
    for (alert, title) in cases {
        assert_eq!(alert.title(), title);
    }
}

#[test]
fn a_failed_deployment_names_its_task_definitions_and_the_reason() {
    let alert = alert("deployment-failed.json").with_rollback(
        Some("arn:aws:ecs:us-east-1:123456789012:task-definition/web:42".into()),
        Some("arn:aws:ecs:us-east-1:123456789012:task-definition/web:41".into()),
    );
    assert_eq!(
        alert.summary,
        "Deployment ecs-svc/5720129318403772843 failed: ECS deployment circuit breaker: task failed to start. \
         Failed task definition: web:42. Rolled back to web:41."
    );
    let text = alert.plain_text();
    for want in ["Failed task definition: web:42", "Rolled back to: web:41", "eventName: SERVICE_DEPLOYMENT_FAILED"] {
        assert!(text.contains(want), "{want} in {text}");
    }
}

#[test]
fn every_kind_and_resolution_renders_in_every_format_with_its_link() {
    let mut alerts: Vec<Alert> = [
        "deployment-failed.json",
        "service-task-start-impaired.json",
        "service-task-placement-failure.memory.json",
        "service-task-placement-failure.fargate-spot.json",
        "service-task-configuration-failure.json",
        "service-discovery-instance-unhealthy.json",
        "vpc-lattice-target-unhealthy.json",
        "service-daemon-placement-constraint-violated.json",
        "daemon-task-start-impaired.task-failed-to-run.json",
        "daemon-task-start-impaired.task-creation-failed.json",
        "container-instance-agent-disconnected.json",
    ]
    .into_iter()
    .map(alert)
    .collect();
    let kinds: Vec<Kind> = alerts
        .iter()
        .filter_map(|a| match a.kind {
            AlertKind::Service(k) => Some(k),
            _ => None,
        })
        .collect();
    for kind in Kind::ALL {
        assert!(kinds.contains(&kind), "no sample event for {}", kind.id());
    }
    alerts.extend(
        ["deployment-completed.json", "service-steady-state.json", "container-instance-agent-reconnected.json"]
            .map(resolution),
    );
    for alert in &alerts {
        let title = alert.title();
        let console = alert.console_url.as_deref().expect("a console link");
        assert!(console.starts_with("https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/"), "{console}");
        for format in FORMATS {
            let text = alert.webhook_payload(format).to_string();
            assert!(text.contains(console), "{format:?} of {title} lost the console link");
            assert!(text.contains(alert.hint.split(' ').next().unwrap_or("")), "{format:?} of {title} lost the hint");
        }
        let q = alert.amazon_q_notification(&alert.thread_id());
        assert_eq!(q["metadata"]["threadId"], alert.thread_id());
        let plain = alert.plain_text();
        assert!(plain.contains(&alert.summary) && plain.contains("Account: 123456789012"), "{plain}");
        assert_eq!(alert.webhook_payload(WebhookFormat::Generic)["resolved"], alert.resolved, "{title}");
    }
}

#[test]
fn a_failure_and_its_resolution_share_a_thread() {
    let failure = alert("deployment-failed.json");
    let resolved = resolution("deployment-completed.json");
    assert_eq!((failure.thread_id().as_str(), resolved.thread_id().as_str()), ("prod/web", "prod/web"));
    let disconnected = alert("container-instance-agent-disconnected.json");
    let reconnected = resolution("container-instance-agent-reconnected.json");
    assert_eq!(disconnected.thread_id(), reconnected.thread_id());
}
