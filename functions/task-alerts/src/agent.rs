//! The second look at a disconnected agent. ECS's agent "disconnects and reconnects several times per
//! hour as a part of its normal operation" (Amazon ECS Developer Guide, "Amazon ECS container instance
//! state change events", <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_container_instance_events.html>),
//! so a disconnect becomes an alert only when it lasts: the function puts a [`LookAgain`] on the
//! stack's queue, delayed by the grace period (SQS delays a message by at most 900 s:
//! <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-timers.html>),
//! and when it comes back asks ECS whether the instance is still ACTIVE, still disconnected and still
//! runs tasks ([`crate::service_event::InstanceState::still_stranded`]).

use std::time::Duration;

use aws_sdk_sqs::Client as SqsClient;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::aws::AwsFailure;

use crate::service_event::{Problem, Subject, SubjectName};

/// The message on the queue: enough to look at the instance again and to name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LookAgain {
    /// Says what the message is, so that nothing else on the queue is taken for one.
    pub look_again: String,
    pub account: String,
    pub region: String,
    pub cluster: String,
    pub container_instance_arn: String,
    /// When the agent disconnected, as the event said.
    pub disconnected_at: Option<String>,
    pub grace_seconds: u64,
}

const WHAT: &str = "agent-disconnected";

impl LookAgain {
    /// The look to take `grace` after `problem`'s disconnect; `None` without its container instance.
    pub fn after(problem: &Problem, grace: Duration) -> Option<LookAgain> {
        Some(LookAgain {
            look_again: WHAT.to_string(),
            account: problem.subject.account.clone(),
            region: problem.subject.region.clone(),
            cluster: problem.subject.cluster.clone(),
            container_instance_arn: problem.container_instance_arn.clone()?,
            disconnected_at: problem.at.clone(),
            grace_seconds: grace.as_secs(),
        })
    }

    /// The looks an SQS event carries, one per record; `Err` names the first record that is not one.
    pub fn from_records(records: &[Value]) -> Result<Vec<LookAgain>, String> {
        records
            .iter()
            .enumerate()
            .map(|(i, record)| {
                let body = record.get("body").and_then(Value::as_str).unwrap_or("");
                match serde_json::from_str::<LookAgain>(body) {
                    Ok(look) if look.look_again == WHAT => Ok(look),
                    Ok(look) => Err(format!("SQS record {i} is a look at {:?}, not at an agent", look.look_again)),
                    Err(e) => Err(format!("SQS record {i} is not a look at a disconnected agent: {e}")),
                }
            })
            .collect()
    }

    /// What the alert is about: the instance, by the id in its ARN.
    pub fn subject(&self) -> Subject {
        let arn = &self.container_instance_arn;
        let id = arn.rsplit('/').next().filter(|id| !id.is_empty()).unwrap_or(arn);
        Subject {
            account: self.account.clone(),
            region: self.region.clone(),
            cluster: self.cluster.clone(),
            name: SubjectName::Instance(id.to_string()),
        }
    }
}

/// Puts a look on the queue, delayed.
pub struct Queue {
    sqs: SqsClient,
    url: String,
}

impl Queue {
    pub fn new(sqs: SqsClient, url: String) -> Self {
        Queue { sqs, url }
    }

    /// Queue `look` for `look.grace_seconds` from now (SQS caps a delay at 900 s; the configuration
    /// allows no more).
    pub async fn send(&self, look: &LookAgain) -> Result<String, AwsFailure> {
        let delay = i32::try_from(look.grace_seconds.min(900)).unwrap_or(900);
        let body = serde_json::to_string(look).unwrap_or_default();
        let sent = self
            .sqs
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(delay)
            .send()
            .await
            .map_err(AwsFailure::of("sqs:SendMessage"))?;
        Ok(sent.message_id.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::service_event::{Read, ServiceEvent, read};

    fn disconnected() -> Problem {
        let event = crate::sample_event("container-instance-agent-disconnected.json");
        let Read::Event(ServiceEvent::AgentDisconnected(problem)) = read(&event, "") else { panic!("a disconnect") };
        *problem
    }

    #[test]
    fn a_look_goes_through_the_queue_and_back_whole() {
        let look = LookAgain::after(&disconnected(), Duration::from_secs(300)).unwrap();
        assert_eq!((look.grace_seconds, look.look_again.as_str()), (300, WHAT));
        let record =
            json!({"messageId": "m-1", "eventSource": "aws:sqs", "body": serde_json::to_string(&look).unwrap()});
        assert_eq!(LookAgain::from_records(&[record]), Ok(vec![look.clone()]));
        assert_eq!(look.subject(), disconnected().subject);
    }

    #[test]
    fn other_messages_are_refused_by_record() {
        let other = json!({"body": "{\"lookAgain\": \"drain\", \"account\": \"1\", \"region\": \"r\", \"cluster\": \"c\", \"containerInstanceArn\": \"a\", \"disconnectedAt\": null, \"graceSeconds\": 1}"});
        let cases = [
            (json!({"body": "{}"}), "SQS record 0 is not a look at a disconnected agent"),
            (json!({}), "SQS record 0 is not a look at a disconnected agent"),
            (other, "SQS record 0 is a look at \"drain\", not at an agent"),
        ];
        for (record, want) in cases {
            let got = LookAgain::from_records(&[record]).unwrap_err();
            assert!(got.starts_with(want), "{got}");
        }
    }
}
