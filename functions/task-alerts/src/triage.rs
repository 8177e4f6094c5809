//! Which events become alerts: a pure decision from the event and the configuration.
//!
//! A stopped task is diagnosed into an alert at once. A service-level event (see [`service_event`])
//! is a problem to alert on, a recovery that is a resolution only if its problem was alerted (the
//! handler asks the suppression table), or an agent that disconnected: looked at again after the
//! grace period (`AGENT_DISCONNECT_GRACE_SECONDS`), through a delayed message on the stack's queue.

use serde::Deserialize;
use serde_json::Value;
use shared::eventbridge::{self, Unread};

use crate::agent::LookAgain;
use crate::config::Config;
use crate::diagnosis::{TaskDetail, diagnose};
use crate::message::{Alert, AlertKind};
use crate::service_event::{self, Kind, Problem, Read, ServiceEvent, Subject};

#[derive(Debug, PartialEq)]
pub enum Triage {
    /// A stopped task's alert.
    Alert(Box<Alert>),
    /// A service-level problem to alert on.
    Problem(Box<Problem>),
    /// Ends the problems `ends` of `subject`: a resolution for those that were alerted.
    Recovery { subject: Subject, ends: Vec<Kind>, event_name: String, at: Option<String> },
    /// An agent disconnected: look again after the grace period.
    LookLater(Box<LookAgain>),
    /// The grace period is over: look again now (one per SQS record).
    LookNow(Vec<LookAgain>),
    /// A well-formed event this function is not meant to alert on; says why.
    Ignore(String),
    /// Not an event this function can read; says what is wrong.
    Reject(String),
}

const SOURCE: &str = "aws.ecs";
const DETAIL_TYPE: &str = "ECS Task State Change";

pub fn triage(event: &Value, config: &Config) -> Triage {
    if !event.is_object() {
        return Triage::Reject("not an EventBridge event: expected a JSON object".into());
    }
    if let Some(records) = event.get("Records").and_then(Value::as_array) {
        return LookAgain::from_records(records).map_or_else(Triage::Reject, Triage::LookNow);
    }
    if service_event::is_service_level(event) {
        return service_level(event, config);
    }
    let detail = match eventbridge::detail(event, SOURCE, DETAIL_TYPE) {
        Ok(detail) => detail,
        Err(Unread::Ignore(why)) => return Triage::Ignore(why),
        Err(Unread::Reject(why)) => return Triage::Reject(why),
    };
    let task = match TaskDetail::deserialize(detail) {
        Ok(task) => task,
        Err(e) => return Triage::Reject(format!("the event's detail has a field of the wrong type: {e}")),
    };
    match task.last_status.as_deref() {
        Some("STOPPED") => {}
        Some(status) => return Triage::Ignore(format!("the task is {status}, not STOPPED")),
        None => return Triage::Reject("the event's detail has no `lastStatus`".into()),
    }
    let region = if config.region.is_empty() { eventbridge::field(event, "region") } else { &config.region };
    let mut alert = Alert::new(&task, &diagnose(&task), region, None);
    alert.account = Some(eventbridge::field(event, "account").to_string()).filter(|a| !a.is_empty());
    if let Some(why) = unwatched(config, &alert.cluster, alert.kind) {
        return Triage::Ignore(why);
    }
    Triage::Alert(Box::new(alert))
}

fn service_level(event: &Value, config: &Config) -> Triage {
    let service_event = match service_event::read(event, &config.region) {
        Read::Event(service_event) => service_event,
        Read::Ignore(why) => return Triage::Ignore(why),
        Read::Reject(why) => return Triage::Reject(why),
    };
    match service_event {
        ServiceEvent::Problem(problem) => {
            match unwatched(config, &problem.subject.cluster, AlertKind::Service(problem.kind)) {
                Some(why) => Triage::Ignore(why),
                None => Triage::Problem(problem),
            }
        }
        ServiceEvent::Recovery { subject, ends, event_name, at } => {
            let ends: Vec<Kind> =
                ends.iter().copied().filter(|k| !config.ignored.contains(&AlertKind::Service(*k))).collect();
            if !config.watches(&subject.cluster) || ends.is_empty() {
                return Triage::Ignore(format!("{event_name} ends nothing that is alerted on here"));
            }
            Triage::Recovery { subject, ends, event_name, at }
        }
        ServiceEvent::AgentDisconnected(problem) => {
            if let Some(why) = unwatched(config, &problem.subject.cluster, AlertKind::Service(problem.kind)) {
                return Triage::Ignore(why);
            }
            if config.agent_grace.is_zero() {
                return Triage::Problem(problem);
            }
            match LookAgain::after(&problem, config.agent_grace) {
                Some(look) => Triage::LookLater(Box::new(look)),
                None => Triage::Reject("the disconnected agent's event names no container instance".into()),
            }
        }
    }
}

/// Why an alert of `kind` in `cluster` is not sent, if it is not.
fn unwatched(config: &Config, cluster: &str, kind: AlertKind) -> Option<String> {
    if !config.watches(cluster) {
        return Some(format!("cluster {cluster} is not among the CLUSTERS watched"));
    }
    match kind {
        _ if !config.ignored.contains(&kind) => None,
        AlertKind::Stop(category) => Some(format!("{} stops are not sent (IGNORE_CATEGORIES)", category.id())),
        AlertKind::Service(kind) => Some(format!("{} alerts are not sent (IGNORE_CATEGORIES)", kind.id())),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::{CLUSTERS, IGNORE_CATEGORIES, TOPIC_ARN};
    use crate::diagnosis::Category;

    fn config(vars: &[(&str, &str)]) -> Config {
        let mut vars = vars.to_vec();
        vars.push((TOPIC_ARN, "arn:aws:sns:us-east-1:123456789012:ecs-alerts"));
        Config::from_lookup(shared::env::pairs(&vars)).unwrap()
    }

    use crate::sample_event as event;

    fn with(mut event: Value, pointer: &str, value: Value) -> Value {
        *event.pointer_mut(pointer).unwrap() = value;
        event
    }

    fn outcome(triage: Triage) -> String {
        match triage {
            Triage::Alert(alert) => format!("alert {}", alert.kind.id()),
            Triage::Problem(problem) => format!("problem {}", problem.kind.id()),
            Triage::Recovery { ends, .. } => format!("recovery of {}", ends[0].id()),
            Triage::LookLater(_) => "look later".to_string(),
            Triage::LookNow(looks) => format!("look now at {}", looks.len()),
            Triage::Ignore(why) => format!("ignore: {why}"),
            Triage::Reject(why) => format!("reject: {why}"),
        }
    }

    #[test]
    fn table() {
        let oom = event("stopped-out-of-memory.json");
        let scale_in = event("stopped-scale-in.json");
        let defaults = config(&[]);
        let cases: Vec<(&str, Value, Config, &str)> = vec![
            ("a stopped service task", oom.clone(), defaults.clone(), "alert out_of_memory"),
            ("image pull", event("stopped-image-pull.json"), defaults.clone(), "alert image_pull"),
            ("running", event("running.json"), defaults.clone(), "ignore: the task is RUNNING, not STOPPED"),
            (
                "spot notice",
                event("spot-interruption-notice.json"),
                defaults.clone(),
                "ignore: the task is RUNNING, not STOPPED",
            ),
            ("benign", scale_in.clone(), defaults.clone(), "ignore: scaling_or_deployment stops are not sent"),
            ("benign, wanted", scale_in, config(&[(IGNORE_CATEGORIES, "none")]), "alert scaling_or_deployment"),
            ("another cluster", oom.clone(), config(&[(CLUSTERS, "batch")]), "ignore: cluster prod is not among"),
            ("a watched cluster", oom.clone(), config(&[(CLUSTERS, "batch,prod")]), "alert out_of_memory"),
            (
                "other source",
                with(oom.clone(), "/source", json!("aws.ec2")),
                defaults.clone(),
                "ignore: not an ECS Task",
            ),
            (
                "no detail",
                with(oom.clone(), "/detail", json!(null)),
                defaults.clone(),
                "reject: the event has no `detail`",
            ),
            (
                "no status",
                with(oom.clone(), "/detail/lastStatus", json!(null)),
                defaults.clone(),
                "reject: the event's detail has no `lastStatus`",
            ),
            (
                "wrong type",
                with(oom.clone(), "/detail/containers", json!("x")),
                defaults.clone(),
                "reject: the event's detail has a field of the wrong type",
            ),
            ("not an object", json!([1, 2]), defaults.clone(), "reject: not an EventBridge event"),
        ];
        for (name, event, config, expected) in cases {
            let got = outcome(triage(&event, &config));
            assert!(got.starts_with(expected), "{name}: {got}");
        }
    }

    #[test]
    fn links_use_the_configured_region_else_the_events() {
        let oom = event("stopped-out-of-memory.json");
        let Triage::Alert(alert) = triage(&oom, &config(&[])) else { panic!("an alert") };
        assert_eq!((alert.region.as_str(), alert.kind), ("us-east-1", AlertKind::Stop(Category::OutOfMemory)));
        let Triage::Alert(alert) = triage(&oom, &config(&[("AWS_REGION", "eu-west-1")])) else { panic!("an alert") };
        assert_eq!(alert.region, "eu-west-1");
    }

    #[test]
    fn service_level_events_by_configuration() {
        use crate::config::{AGENT_DISCONNECT_GRACE_SECONDS, LOOK_AGAIN_QUEUE_URL};
        let queue = (LOOK_AGAIN_QUEUE_URL, "https://sqs.us-east-1.amazonaws.com/123456789012/look-again");
        let defaults = config(&[queue]);
        let at_once = config(&[(AGENT_DISCONNECT_GRACE_SECONDS, "0")]);
        let no_placement = config(&[(IGNORE_CATEGORIES, "task_placement_failure, scaling_or_deployment")]);
        let cases: Vec<(&str, &str, Config, &str)> = vec![
            ("deployment failed", "deployment-failed.json", defaults.clone(), "problem deployment_failed"),
            (
                "placement",
                "service-task-placement-failure.memory.json",
                defaults.clone(),
                "problem task_placement_failure",
            ),
            (
                "placement, ignored",
                "service-task-placement-failure.memory.json",
                no_placement.clone(),
                "ignore: task_placement_failure alerts are not sent (IGNORE_CATEGORIES)",
            ),
            ("steady state", "service-steady-state.json", defaults.clone(), "recovery of task_start_impaired"),
            (
                "steady state, placement ignored",
                "service-steady-state.json",
                no_placement,
                "recovery of task_start_impaired",
            ),
            (
                "another cluster",
                "service-task-start-impaired.json",
                config(&[(CLUSTERS, "batch")]),
                "ignore: cluster prod is not among",
            ),
            ("disconnected", "container-instance-agent-disconnected.json", defaults.clone(), "look later"),
            (
                "disconnected, no grace",
                "container-instance-agent-disconnected.json",
                at_once,
                "problem agent_disconnected",
            ),
            (
                "reconnected",
                "container-instance-agent-reconnected.json",
                defaults.clone(),
                "recovery of agent_disconnected",
            ),
            (
                "rollback starting",
                "deployment-in-progress.rollback.json",
                defaults.clone(),
                "ignore: ECS Deployment State Change SERVICE_DEPLOYMENT_IN_PROGRESS",
            ),
            ("forwarded stop", "forwarded-from-another-account.json", defaults.clone(), "alert "),
        ];
        for (name, file, config, expected) in cases {
            let got = outcome(triage(&event(file), &config));
            assert!(got.starts_with(expected), "{name}: {got}");
        }
        let Triage::LookLater(look) = triage(&event("container-instance-agent-disconnected.json"), &defaults) else {
            panic!("a look later")
        };
        assert_eq!(look.grace_seconds, 300);
        let record = json!({"Records": [{"body": serde_json::to_string(&look).unwrap()}]});
        assert_eq!(outcome(triage(&record, &defaults)), "look now at 1");
        let Triage::Alert(forwarded) = triage(&event("forwarded-from-another-account.json"), &defaults) else {
            panic!()
        };
        assert_eq!(forwarded.account.as_deref(), Some("210987654321"));
    }
}
