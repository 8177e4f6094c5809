//! AWS SDK clients for tests to seed moto and read back what a function did, straight to
//! moto (not through the proxy, so the proxy counts only the function's calls).

use std::future::Future;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::config::Credentials;

pub struct Aws {
    runtime: tokio::runtime::Runtime,
    config: SdkConfig,
}

impl Aws {
    /// moto's default account (123456789012), as the functions see it in tests.
    pub fn new(endpoint: &str) -> Self {
        Self::with_credentials(endpoint, Credentials::new("testing", "testing", None, None, "tests"))
    }

    fn with_credentials(endpoint: &str, credentials: Credentials) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let config = runtime.block_on(
            aws_config::defaults(BehaviorVersion::latest())
                .http_client(aws_smithy_http_client::Builder::new().build_http())
                .region(Region::new("us-east-1"))
                .endpoint_url(endpoint)
                .credentials_provider(credentials)
                .load(),
        );
        Self { runtime, config }
    }

    /// Act as another account: moto's STS hands out credentials that act as the role's account.
    pub fn as_account(&self, account: &str) -> Self {
        let role = format!("arn:aws:iam::{account}:role/tests");
        let out = self
            .block_on(
                aws_sdk_sts::Client::new(&self.config).assume_role().role_arn(role).role_session_name("tests").send(),
            )
            .expect("AssumeRole in moto");
        let c = out.credentials().expect("credentials");
        let credentials =
            Credentials::new(c.access_key_id(), c.secret_access_key(), Some(c.session_token().into()), None, "tests");
        let endpoint = self.config.endpoint_url().expect("endpoint").to_string();
        Self::with_credentials(&endpoint, credentials)
    }

    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::from(&self.config).region(Region::new(region.to_string())).build(),
        )
    }

    pub fn ecs(&self) -> aws_sdk_ecs::Client {
        aws_sdk_ecs::Client::new(&self.config)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.config)
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.config)
    }

    pub fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&self.config)
    }

    pub fn sns(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(&self.config)
    }

    pub fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.config)
    }

    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

/// `message` of the queue `queue` (its name) as Lambda's SQS event source hands it to a function:
/// an event of one record (the shape of AWS's "Using Lambda with Amazon SQS" example event).
pub fn sqs_event(message: &aws_sdk_sqs::types::Message, queue: &str) -> serde_json::Value {
    serde_json::json!({"Records": [{
        "messageId": message.message_id(),
        "receiptHandle": message.receipt_handle(),
        "body": message.body(),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": message.md5_of_body(),
        "eventSource": "aws:sqs",
        "eventSourceARN": format!("arn:aws:sqs:us-east-1:123456789012:{queue}"),
        "awsRegion": "us-east-1",
    }]})
}
