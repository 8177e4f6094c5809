//! Which events become alerts: a pure decision from the event and the configuration.

use serde::Deserialize;
use serde_json::Value;
use shared::eventbridge::{self, Unread};

use crate::config::Config;
use crate::diagnosis::{TaskDetail, diagnose};
use crate::message::Alert;

#[derive(Debug, PartialEq)]
pub enum Triage {
    Alert(Box<Alert>),
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
    let alert = Alert::new(&task, &diagnose(&task), region, None);
    if !config.watches(&alert.cluster) {
        return Triage::Ignore(format!("cluster {} is not among the CLUSTERS watched", alert.cluster));
    }
    if config.ignored.contains(&alert.category) {
        return Triage::Ignore(format!("{} stops are not sent (IGNORE_CATEGORIES)", alert.category.id()));
    }
    Triage::Alert(Box::new(alert))
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

    fn event(path: &str) -> Value {
        let path = format!("{}/../../events/task-alerts/{path}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    fn with(mut event: Value, pointer: &str, value: Value) -> Value {
        *event.pointer_mut(pointer).unwrap() = value;
        event
    }

    fn outcome(triage: Triage) -> String {
        match triage {
            Triage::Alert(alert) => format!("alert {}", alert.category.id()),
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
        assert_eq!((alert.region.as_str(), alert.category), ("us-east-1", Category::OutOfMemory));
        let Triage::Alert(alert) = triage(&oom, &config(&[("AWS_REGION", "eu-west-1")])) else { panic!("an alert") };
        assert_eq!(alert.region, "eu-west-1");
    }
}
