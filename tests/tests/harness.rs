//! The harness's own components, checked directly: the lifecycle actions the moto launcher
//! adds, and the proxy's counting and fault rules. (The Lambda emulator and the receiver are
//! exercised by every protocol test.)

use std::time::Duration;

use harness::{Moto, Proxy, agent};
use serde_json::json;

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
