//! A drain in progress: what the lifecycle event said, plus what earlier runs learned. The same
//! struct is the body of the continuation message, so a drain that outlives one run carries its
//! own completion step (group, hook, token) to the next.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::eventbridge::{self, Unread};

pub const SOURCE: &str = "aws.autoscaling";
pub const DETAIL_TYPE: &str = "EC2 Instance-terminate Lifecycle Action";
const TERMINATING: &str = "autoscaling:EC2_INSTANCE_TERMINATING";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DrainJob {
    pub auto_scaling_group: String,
    pub hook: String,
    pub instance_id: String,
    pub token: String,
    /// `{"cluster": "…"}` in the hook's `NotificationMetadata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_cluster: Option<String>,
    /// The event's `account`: with the Region, it keys AWS's request-rate buckets ([`crate::pacing`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Where the container instance was found (saves the search in later runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<Found>,
    /// When the first run started, in ms since the epoch: the maximum drain time counts from here.
    pub started_at_ms: u64,
    /// 0 for the run the event started, then one more per hand-over.
    pub round: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Found {
    pub cluster: String,
    pub container_instance_arn: String,
}

/// What an invocation carries.
#[derive(Debug, PartialEq)]
pub enum Input {
    /// A lifecycle event, or a drain handed over through the queue (one per SQS record).
    Jobs(Vec<DrainJob>),
    /// Something this function does not act on; says why.
    Ignore(String),
    /// Something malformed; says what is wrong.
    Reject(String),
}

impl Input {
    pub fn parse(payload: &Value, now_ms: u64) -> Input {
        if let Some(records) = payload.get("Records").and_then(Value::as_array) {
            return Self::records(records);
        }
        let detail = match eventbridge::detail(payload, SOURCE, DETAIL_TYPE) {
            Ok(detail) => detail,
            Err(Unread::Ignore(why)) => return Input::Ignore(why),
            Err(Unread::Reject(why)) => return Input::Reject(why),
        };
        let text = |name: &str| detail.get(name).and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty());
        let transition = text("LifecycleTransition").unwrap_or("");
        if transition != TERMINATING {
            return Input::Ignore(format!("lifecycle transition {transition:?}, not {TERMINATING}"));
        }
        let mut missing = Vec::new();
        let mut need = |name: &'static str| {
            text(name).map(str::to_string).unwrap_or_else(|| {
                missing.push(name);
                String::new()
            })
        };
        let job = DrainJob {
            auto_scaling_group: need("AutoScalingGroupName"),
            hook: need("LifecycleHookName"),
            instance_id: need("EC2InstanceId"),
            token: need("LifecycleActionToken"),
            metadata_cluster: text("NotificationMetadata").and_then(metadata_cluster),
            account: Some(eventbridge::field(payload, "account").trim()).filter(|a| !a.is_empty()).map(str::to_string),
            found: None,
            started_at_ms: now_ms,
            round: 0,
        };
        if !missing.is_empty() {
            return Input::Reject(format!("the event's detail lacks {}", missing.join(", ")));
        }
        Input::Jobs(vec![job])
    }

    /// SQS records whose bodies are handed-over drains.
    fn records(records: &[Value]) -> Input {
        let mut jobs = Vec::new();
        for (i, record) in records.iter().enumerate() {
            let body = record.get("body").and_then(Value::as_str).unwrap_or("");
            match serde_json::from_str::<DrainJob>(body) {
                Ok(job) => jobs.push(job),
                Err(e) => return Input::Reject(format!("SQS record {i} is not a handed-over drain: {e}")),
            }
        }
        Input::Jobs(jobs)
    }
}

/// `{"cluster": "prod"}`; anything else (plain text, other keys) names no cluster.
fn metadata_cluster(metadata: &str) -> Option<String> {
    let value: Value = serde_json::from_str(metadata).ok()?;
    value.get("cluster").and_then(Value::as_str).map(str::trim).filter(|c| !c.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/lifecycle-drain/terminate.json");
        serde_json::from_str(&std::fs::read_to_string(path).expect("the sample event")).expect("JSON")
    }

    fn with(mut event: Value, pointer: &str, value: Value) -> Value {
        *event.pointer_mut(pointer).expect("the field") = value;
        event
    }

    #[test]
    fn a_lifecycle_event_becomes_a_job() {
        let Input::Jobs(jobs) = Input::parse(&event(), 1_000) else { panic!("a job") };
        assert_eq!(jobs.len(), 1);
        let job = &jobs[0];
        assert_eq!((job.auto_scaling_group.as_str(), job.hook.as_str()), ("ecs-prod-asg", "ecs-drain"));
        assert_eq!((job.instance_id.as_str(), job.metadata_cluster.as_deref()), ("i-0a1b2c3d4e5f60718", Some("prod")));
        assert_eq!((job.started_at_ms, job.round, job.found.as_ref()), (1_000, 0, None));
        assert_eq!(job.account.as_deref(), Some("123456789012"));
    }

    #[test]
    fn table() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("plain metadata", with(event(), "/detail/NotificationMetadata", json!("additional-info")), "job"),
            ("no metadata", with(event(), "/detail/NotificationMetadata", json!(null)), "job"),
            (
                "launching",
                with(event(), "/detail/LifecycleTransition", json!("autoscaling:EC2_INSTANCE_LAUNCHING")),
                "ignore: lifecycle transition",
            ),
            ("another event", with(event(), "/source", json!("aws.ecs")), "ignore: not an EC2 Instance-terminate"),
            (
                "no token",
                with(event(), "/detail/LifecycleActionToken", json!(null)),
                "reject: the event's detail lacks LifecycleActionToken",
            ),
            ("no detail", with(event(), "/detail", json!("x")), "reject: the event has no `detail`"),
            ("a bad record", json!({"Records": [{"body": "{}"}]}), "reject: SQS record 0 is not a handed-over drain"),
        ];
        for (name, payload, expected) in cases {
            let got = match Input::parse(&payload, 0) {
                Input::Jobs(jobs) => format!("job{}", if jobs.len() == 1 { "" } else { "s" }),
                Input::Ignore(why) => format!("ignore: {why}"),
                Input::Reject(why) => format!("reject: {why}"),
            };
            assert!(got.starts_with(expected), "{name}: {got}");
        }
        let Input::Jobs(jobs) =
            Input::parse(&with(event(), "/detail/NotificationMetadata", json!("additional-info")), 0)
        else {
            panic!()
        };
        assert_eq!(jobs[0].metadata_cluster, None);
    }

    #[test]
    fn a_job_survives_the_queue() {
        let Input::Jobs(mut jobs) = Input::parse(&event(), 5) else { panic!("a job") };
        jobs[0].found = Some(Found {
            cluster: "prod".into(),
            container_instance_arn: "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/0f1e".into(),
        });
        jobs[0].round = 3;
        let record = json!({"Records": [{"messageId": "m-1", "eventSource": "aws:sqs", "body": serde_json::to_string(&jobs[0]).unwrap()}]});
        assert_eq!(Input::parse(&record, 99), Input::Jobs(jobs));
    }
}
