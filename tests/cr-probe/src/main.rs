//! cr-probe: a test-only custom resource. Its `Behaviour` property tells it to succeed (making
//! one AWS call), fail with an AWS error, panic, hang past the deadline, or fail with a reason
//! too long for CloudFormation. Run through the Lambda emulator it proves the protocol end to end.

use std::time::Duration;

use aws_sdk_sqs::Client as Sqs;
use serde::Deserialize;
use shared::aws::AwsFailure;
use shared::custom_resource::properties::cfn;
use shared::custom_resource::{CustomResource, Outcome, RequestContext};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let http = shared::http::Http::new();
    let config = shared::aws::sdk_config(http.sdk()).await;
    shared::custom_resource::run(Probe { sqs: Sqs::new(&config) }, http).await
}

#[derive(Debug, Clone, Copy, Deserialize)]
enum Behaviour {
    Succeed,
    AwsError,
    Panic,
    Hang,
    LongReason,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct ProbeProperties {
    behaviour: Behaviour,
    /// Length of the reason for `LongReason`.
    #[serde(default, deserialize_with = "cfn::opt_scalar")]
    reason_length: Option<usize>,
    /// Size of the `Blob` attribute returned on success.
    #[serde(default, deserialize_with = "cfn::opt_scalar")]
    data_bytes: Option<usize>,
    /// The queue `AwsError` looks up (it should not exist).
    #[serde(default = "missing_queue")]
    queue_name: String,
}

fn missing_queue() -> String {
    "cr-probe-no-such-queue".into()
}

#[derive(Debug, thiserror::Error)]
enum ProbeError {
    #[error("{0}; the probe was asked to fail with an AWS error")]
    Aws(#[from] AwsFailure),
    #[error("a deliberately long reason: {0}")]
    Long(String),
}

struct Probe {
    sqs: Sqs,
}

impl Probe {
    async fn behave(&self, ctx: &RequestContext, props: &ProbeProperties) -> Result<(), ProbeError> {
        match props.behaviour {
            Behaviour::Succeed => {
                ctx.step("listing queues");
                self.sqs.list_queues().send().await.map_err(|e| AwsFailure::from_sdk("sqs:ListQueues", &e))?;
                Ok(())
            }
            Behaviour::AwsError => {
                ctx.step("looking up a queue that does not exist");
                let queue = &props.queue_name;
                self.sqs
                    .get_queue_url()
                    .queue_name(queue)
                    .send()
                    .await
                    .map_err(|e| AwsFailure::from_sdk("sqs:GetQueueUrl", &e))?;
                Ok(())
            }
            Behaviour::Panic => panic!("the probe was asked to panic"),
            Behaviour::Hang => {
                ctx.step("hanging as asked");
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(())
            }
            Behaviour::LongReason => {
                let len = props.reason_length.unwrap_or(10_000);
                Err(ProbeError::Long("0123456789".chars().cycle().take(len).collect()))
            }
        }
    }

    fn outcome(ctx: &RequestContext, props: &ProbeProperties) -> Outcome {
        let outcome = Outcome::new(format!("probe-{}", ctx.logical_resource_id))
            .with_attribute("Behaviour", format!("{:?}", props.behaviour));
        match props.data_bytes {
            Some(n) => outcome.with_attribute("Blob", "b".repeat(n)),
            None => outcome,
        }
    }
}

impl CustomResource for Probe {
    type Properties = ProbeProperties;
    type Error = ProbeError;

    async fn create(&self, ctx: &RequestContext, props: ProbeProperties) -> Result<Outcome, ProbeError> {
        self.behave(ctx, &props).await?;
        Ok(Self::outcome(ctx, &props))
    }

    async fn update(
        &self,
        ctx: &RequestContext,
        _physical_id: &str,
        props: ProbeProperties,
        _old: Option<ProbeProperties>,
    ) -> Result<Outcome, ProbeError> {
        self.behave(ctx, &props).await?;
        Ok(Self::outcome(ctx, &props))
    }

    async fn delete(&self, ctx: &RequestContext, _physical_id: &str, props: ProbeProperties) -> Result<(), ProbeError> {
        self.behave(ctx, &props).await
    }
}
