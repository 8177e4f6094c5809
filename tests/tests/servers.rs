//! The Python servers (tests/servers/), checked directly: the lifecycle actions the moto launcher
//! adds, the proxy's counting and fault rules, and its model of AWS's request-rate buckets. (The
//! Lambda emulator and the receiver are exercised by every protocol test.)

use std::time::Duration;

use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use serde_json::json;
use shared::aws::AwsFailure;
use testbed::{Aws, Moto, Proxy, agent, ec2};

/// The SigV4 header shape the proxy reads the service from; moto does not check signatures.
const SIGV4: &str =
    "AWS4-HMAC-SHA256 Credential=testing/20261122/us-east-1/autoscaling/aws4_request, SignedHeaders=host, Signature=0";
const TOKEN: &str = "bcd2e4b2-4c3b-4e6a-9c62-3a6a6b2e7a11";

/// A raw Auto Scaling query-protocol call, as the SDK sends it (moto does not check signatures).
fn autoscaling(endpoint: &str, action: &str, params: &[(&str, &str)]) -> (u16, String) {
    let mut form = vec![("Action", action), ("Version", "2011-01-01")];
    form.extend_from_slice(params);
    let mut response = agent(Duration::from_secs(20))
        .post(endpoint)
        .header("Authorization", SIGV4)
        .send_form(form)
        .expect("the call reaches the endpoint");
    (response.status().as_u16(), response.body_mut().read_to_string().unwrap_or_default())
}

const ACTION: [(&str, &str); 3] =
    [("AutoScalingGroupName", "ecs-asg"), ("LifecycleHookName", "drain"), ("LifecycleActionToken", TOKEN)];

#[test]
fn lifecycle_actions_are_active_until_completed_and_recorded() {
    let moto = Moto::start();
    moto.seed_lifecycle_action("ecs-asg", "drain", "i-0123456789abcdef0", TOKEN);

    let by_instance =
        [("AutoScalingGroupName", "ecs-asg"), ("LifecycleHookName", "drain"), ("InstanceId", "i-0123456789abcdef0")];
    assert_eq!(autoscaling(&moto.url(), "RecordLifecycleActionHeartbeat", &by_instance).0, 200);
    let complete = [&ACTION[..], &[("LifecycleActionResult", "CONTINUE")]].concat();
    assert_eq!(autoscaling(&moto.url(), "CompleteLifecycleAction", &complete).0, 200);

    // Completed: a second completion is AWS's ValidationError.
    let (status, body) = autoscaling(&moto.url(), "CompleteLifecycleAction", &complete);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("ValidationError") && body.contains("No active Lifecycle Action found with token"), "{body}");
    let (status, _) = autoscaling(&moto.url(), "RecordLifecycleActionHeartbeat", &by_instance);
    assert_eq!(status, 400);

    let actions = moto.lifecycle_actions();
    assert_eq!(actions["active"], json!([]));
    let outcomes: Vec<_> = actions["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{} {}", c["Action"].as_str().unwrap(), c["Outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        [
            "RecordLifecycleActionHeartbeat ok",
            "CompleteLifecycleAction ok",
            "CompleteLifecycleAction ValidationError",
            "RecordLifecycleActionHeartbeat ValidationError"
        ]
    );
    assert_eq!(actions["calls"][1]["LifecycleActionResult"], "CONTINUE");
}

#[test]
fn proxy_counts_calls_and_injects_faults() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto.url());
    moto.seed_lifecycle_action("ecs-asg", "drain", "i-0123456789abcdef0", TOKEN);

    // Twice throttled (query-protocol XML error), then through to moto.
    proxy.add_rule(json!({"action": "autoscaling:RecordLifecycleActionHeartbeat", "times": 2, "status": 400, "code": "Throttling", "message": "Rate exceeded"}));
    for _ in 0..2 {
        let (status, body) = autoscaling(&proxy.url(), "RecordLifecycleActionHeartbeat", &ACTION);
        assert_eq!(status, 400);
        assert!(
            body.contains("<Code>Throttling</Code>") && body.contains("<Message>Rate exceeded</Message>"),
            "{body}"
        );
    }
    assert_eq!(autoscaling(&proxy.url(), "RecordLifecycleActionHeartbeat", &ACTION).0, 200);

    // A dropped connection, once.
    proxy.add_rule(json!({"action": "autoscaling:DescribeAutoScalingGroups", "times": 1, "reset": true}));
    let dropped = agent(Duration::from_secs(20))
        .post(proxy.url())
        .header("Authorization", SIGV4)
        .send_form([("Action", "DescribeAutoScalingGroups"), ("Version", "2011-01-01")]);
    assert!(dropped.is_err(), "the connection is dropped: {dropped:?}");
    assert_eq!(autoscaling(&proxy.url(), "DescribeAutoScalingGroups", &[]).0, 200);

    let calls = proxy.calls();
    assert_eq!(calls.count("autoscaling:RecordLifecycleActionHeartbeat"), 3);
    assert_eq!(calls.count("autoscaling:DescribeAutoScalingGroups"), 2);
    assert_eq!(calls.calls.iter().filter(|c| c.injected).count(), 3);
    assert_eq!(
        moto.lifecycle_actions()["calls"].as_array().unwrap().len(),
        1,
        "only the call let through reached moto"
    );

    proxy.reset();
    assert_eq!(proxy.calls().total(), 0);
}

/// A client of `$client` (an SDK client from [`Aws`]) without retries: the tests see each raw answer.
macro_rules! no_retry {
    ($sdk:ident, $client:expr) => {
        $sdk::Client::from_conf($client.config().to_builder().retry_config(RetryConfig::disabled()).build())
    };
}

/// A call's error as (code, message, HTTP status), or `None` if it succeeded.
fn failure<T, E>(result: Result<T, SdkError<E>>) -> Option<(String, String, u16)>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let err = result.err()?;
    // The pacing in shared/ must know every throttle the proxy answers as one.
    let failure = AwsFailure::from_sdk("test:Call", &err);
    let status = err.raw_response().map_or(0, |r| r.status().as_u16());
    let code = if failure.is_throttling() { failure.code } else { format!("{} (not throttling)", failure.code) };
    Some((code, failure.message, status))
}

const THROTTLED_EC2: (&str, &str, u16) = ("RequestLimitExceeded", "Request limit exceeded.", 503);

fn throttled_ec2(answer: Option<(String, String, u16)>) -> bool {
    answer.is_some_and(|(code, message, status)| (code.as_str(), message.as_str(), status) == THROTTLED_EC2)
}

#[test]
fn rates_meter_each_account_region_and_action_as_ec2_does() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto.url());
    let direct = Aws::new(&moto.url());
    let seed = direct.ec2("us-east-1");
    let vpc = ec2::vpc(&direct, &seed, "10.0.0.0/16", &[], true);
    let table = ec2::table(&direct, &seed, &vpc);
    let igw = ec2::route_to_gateway(&direct, &seed, &vpc, &table, "0.0.0.0/0");

    let aws = Aws::new(&proxy.url());
    let ec2 = no_retry!(aws_sdk_ec2, aws.ec2("us-east-1"));
    let route = |i: u32| {
        let call = ec2.create_route().route_table_id(&table).destination_cidr_block(format!("172.16.{i}.0/24"));
        failure(aws.block_on(call.gateway_id(&igw).send()))
    };

    // The documented burst (50) with another client spending the whole refill (5 a second): the
    // bucket gets nothing back while this test runs, so the count is exact.
    proxy.rates(json!({"busy": {"ec2:CreateRoute": 5}}));
    for i in 0..50 {
        assert_eq!(route(i), None, "CreateRoute {i} is within the burst");
    }
    let answer = route(50);
    assert!(throttled_ec2(answer.clone()), "the 51st: {answer:?}");
    std::thread::sleep(Duration::from_secs(1));
    assert!(throttled_ec2(route(52)), "the busy client took the refill");

    // Another Region, and another account (keys AssumeRole handed out through the proxy), have
    // buckets of their own: moto answers (the table is not theirs).
    let other_region = no_retry!(aws_sdk_ec2, aws.ec2("eu-west-1"));
    let answer = failure(
        aws.block_on(
            other_region
                .create_route()
                .route_table_id(&table)
                .destination_cidr_block("172.17.0.0/24")
                .gateway_id(&igw)
                .send(),
        ),
    );
    assert!(answer.as_ref().is_some_and(|(code, ..)| code.contains("NotFound")), "eu-west-1: {answer:?}");
    let peer = aws.as_account("222222222222");
    let peer_ec2 = no_retry!(aws_sdk_ec2, peer.ec2("us-east-1"));
    let answer = failure(peer.block_on(
        peer_ec2.create_route().route_table_id(&table).destination_cidr_block("172.18.0.0/24").gateway_id(&igw).send(),
    ));
    assert!(answer.as_ref().is_some_and(|(code, ..)| code.contains("NotFound")), "another account: {answer:?}");
    // Other actions have their own buckets.
    assert_eq!(failure(aws.block_on(ec2.describe_route_tables().route_table_ids(&table).send())), None);

    let calls = proxy.calls();
    assert_eq!(calls.throttled("ec2:CreateRoute"), 2, "{:?}", calls.throttled);
    assert_eq!(calls.count("ec2:CreateRoute"), 54);
    assert!(
        calls
            .calls
            .iter()
            .filter(|c| c.rate.is_some())
            .all(|c| c.rate.as_deref() == Some("RequestLimitExceeded") && c.status == 503)
    );
    let made = ec2::routes(&direct, &seed, &table).len();
    assert_eq!(made, 51, "the 50 made and the seeded one: throttled calls never reach moto");

    // A smaller bucket (`buckets`) refilling at 1 a second (5 less the busy 4): after a throttled
    // call, a second's wait gives a token back.
    proxy.rates(json!({"buckets": {"ec2:CreateRoute": [3, 5]}, "busy": {"ec2:CreateRoute": 4}}));
    let first_throttled = (100..130).find(|&i| throttled_ec2(route(i))).expect("throttled within 30 calls");
    assert!(first_throttled >= 103, "at least the burst of 3 went through: {first_throttled}");
    std::thread::sleep(Duration::from_millis(1100));
    assert!(!throttled_ec2(route(200)), "a token came back");

    // Reset turns the model off.
    proxy.rates(json!({"buckets": {"ec2:CreateRoute": [0, 0]}}));
    assert!(throttled_ec2(route(201)));
    proxy.reset();
    assert!(!throttled_ec2(route(202)));
    assert_eq!(proxy.calls().throttled("ec2:CreateRoute"), 0);
}

#[test]
fn rates_answer_each_service_as_its_sdk_reads_a_throttle() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto.url());
    let aws = Aws::new(&proxy.url());
    let empty = [0, 0];
    proxy.rates(json!({"buckets": {
        "ecs:ListClusters": [1, 0], "sqs:ListQueues": empty, "sns:ListTopics": empty,
        "dynamodb:ListTables": empty, "logs:DescribeLogGroups": empty, "secretsmanager:ListSecrets": empty,
    }}));

    let ecs = no_retry!(aws_sdk_ecs, aws.ecs());
    assert_eq!(failure(aws.block_on(ecs.list_clusters().send())), None, "a bucket of one");
    let rate_exceeded = |code: &str, status: u16| Some((code.to_string(), "Rate exceeded".to_string(), status));
    assert_eq!(failure(aws.block_on(ecs.list_clusters().send())), rate_exceeded("ThrottlingException", 400));
    let sqs = no_retry!(aws_sdk_sqs, aws.sqs());
    assert_eq!(failure(aws.block_on(sqs.list_queues().send())), rate_exceeded("RequestThrottled", 400));
    let sns = no_retry!(aws_sdk_sns, aws.sns());
    assert_eq!(failure(aws.block_on(sns.list_topics().send())), rate_exceeded("Throttled", 429));
    let dynamodb = no_retry!(aws_sdk_dynamodb, aws.dynamodb());
    assert_eq!(
        failure(aws.block_on(dynamodb.list_tables().send())),
        Some(("ThrottlingException".into(), "Rate of requests exceeds the allowed throughput.".into(), 400))
    );
    let logs = no_retry!(aws_sdk_cloudwatchlogs, aws.logs());
    assert_eq!(failure(aws.block_on(logs.describe_log_groups().send())), rate_exceeded("ThrottlingException", 400));
    let secrets = no_retry!(aws_sdk_secretsmanager, aws.secrets());
    assert_eq!(failure(aws.block_on(secrets.list_secrets().send())), rate_exceeded("ThrottlingException", 400));

    let calls = proxy.calls();
    assert_eq!(calls.throttled.values().sum::<u64>(), 6, "{:?}", calls.throttled);
    assert_eq!(calls.throttled("ecs:ListClusters"), 1);
}
