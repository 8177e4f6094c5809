//! The custom-resource protocol end to end: the cr-probe function, built, run by the Lambda
//! emulator, calling moto through the counting proxy, answering the receiver.

use std::path::PathBuf;

use serde_json::{Value, json};
use testbed::{CfnRequest, Lambda, Moto, Proxy, Receiver, binary, lambda_artifact, response_url};

/// Short, so the hang test reaches the deadline quickly; the guard's margin is set to match.
const TIMEOUT_SECS: u32 = 4;
const MARGIN_MS: &str = "1500";
const LOG_STREAM: &str = "2026/11/22/[$LATEST]0123456789abcdef0123456789abcdef";

struct Setup {
    lambda: Lambda,
    proxy: Proxy,
    receiver: Receiver,
    _moto: Moto,
}

fn start(bootstrap: PathBuf) -> Setup {
    start_with(bootstrap, &[])
}

fn start_with(bootstrap: PathBuf, env: &[(&str, &str)]) -> Setup {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto.url());
    let receiver = Receiver::start();
    let lambda = Lambda::start(
        "cr-probe",
        &bootstrap,
        TIMEOUT_SECS,
        &[
            &[("AWS_ENDPOINT_URL", proxy.url().as_str()), ("DEADLINE_MARGIN_MS", MARGIN_MS), ("AWS_MAX_ATTEMPTS", "1")],
            env,
        ]
        .concat(),
    );
    Setup { lambda, proxy, receiver, _moto: moto }
}

fn probe() -> Setup {
    start(binary("cr-probe"))
}

/// The one response CloudFormation got for `name`, checked for the protocol's invariants.
fn only_response(setup: &Setup, name: &str, sent_at: f64) -> Value {
    let path = format!("/cloudformation-custom-resource-response/{name}");
    let delivered: Vec<_> = setup.receiver.received_at(&path).into_iter().filter(|r| r.status == 200).collect();
    assert_eq!(delivered.len(), 1, "{name}: exactly one response lands; got {delivered:#?}");
    let put = &delivered[0];
    assert_eq!(put.method, "PUT");
    assert_eq!(put.header("Content-Type"), Some(""), "{name}: empty Content-Type (the URL is signed without one)");
    assert_eq!(put.header("Content-Length").map(str::to_string), Some(put.body.len().to_string()));
    assert!(put.body.len() <= 4096, "{name}: {} bytes", put.body.len());
    assert!(put.time < sent_at + f64::from(TIMEOUT_SECS), "{name}: answered after the deadline");
    let body = put.json();
    let reason = body["Reason"].as_str().unwrap_or_default();
    assert!(!reason.contains('\n'), "{name}: one line: {reason}");
    assert!(
        reason.ends_with(&format!("(log stream {LOG_STREAM})")),
        "{name}: reason ends with the log stream: {reason}"
    );
    body
}

/// Invoke and check that Lambda was told success (CloudFormation has its answer).
fn invoke_ok(setup: &Setup, request: &Value) -> f64 {
    let invocation = setup.lambda.invoke_json(request);
    assert_eq!(invocation.status, 200, "{invocation:?}");
    assert_eq!(invocation.body.trim(), "null", "the invoke returns success after responding: {invocation:?}");
    invocation.sent_at
}

fn assert_logs_clean(setup: &Setup) {
    let logs = setup.lambda.logs();
    assert!(!logs.contains(testbed::SIGNATURE), "a presigned URL reached the logs:\n{logs}");
}

#[test]
fn success_answers_success_once_with_data() {
    let s = probe();
    let url = response_url(&s.receiver, "ok");
    let sent = invoke_ok(&s, &CfnRequest::sample("cr-probe", "create", &url).build());
    let body = only_response(&s, "ok", sent);
    assert_eq!(body["Status"], "SUCCESS");
    assert_eq!(body["PhysicalResourceId"], "probe-Probe");
    assert_eq!(body["Data"]["Behaviour"], "Succeed");
    assert_eq!(body["RequestId"], "1b0a5f7e-9a1d-4c51-8f3e-2d6c7b8a9e10");
    assert_eq!(body["LogicalResourceId"], "Probe");
    assert!(body["StackId"].as_str().unwrap().starts_with("arn:aws:cloudformation:"));
    assert_eq!(s.proxy.calls().count("sqs:ListQueues"), 1, "the work reached moto through the proxy");

    for kind in ["update", "delete"] {
        let url = response_url(&s.receiver, kind);
        let sent = invoke_ok(&s, &CfnRequest::sample("cr-probe", kind, &url).build());
        let body = only_response(&s, kind, sent);
        assert_eq!(body["Status"], "SUCCESS", "{kind}");
        assert_eq!(body["PhysicalResourceId"], "probe-Probe", "{kind}");
    }
    assert_logs_clean(&s);
}

#[test]
fn a_bad_deadline_margin_falls_back_to_the_default_and_answers_as_usual() {
    // Before #19 the cold start failed on it, and CloudFormation waited its full timeout.
    let s = start_with(binary("cr-probe"), &[("DEADLINE_MARGIN_MS", "five seconds")]);
    let url = response_url(&s.receiver, "bad-margin");
    let sent = invoke_ok(&s, &CfnRequest::sample("cr-probe", "create", &url).build());
    let body = only_response(&s, "bad-margin", sent);
    assert_eq!(body["Status"], "SUCCESS");
    s.lambda.settled(1);
    let warnings: Vec<String> =
        s.lambda.function_lines().into_iter().filter(|line| line.contains("DEADLINE_MARGIN_MS")).collect();
    assert_eq!(warnings.len(), 1, "one warning names the variable: {warnings:#?}");
    assert!(warnings[0].contains("five seconds") && warnings[0].contains("WARN"), "{}", warnings[0]);
}

#[test]
fn aws_error_fails_create_and_its_rollback_delete_touches_nothing() {
    let s = probe();
    let url = response_url(&s.receiver, "create");
    let sent = invoke_ok(
        &s,
        &CfnRequest::sample("cr-probe", "create", &url).patch_properties(json!({"Behaviour": "AwsError"})).build(),
    );
    let body = only_response(&s, "create", sent);
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(reason.starts_with("sqs:GetQueueUrl failed with "), "names the action: {reason}");
    assert!(reason.contains("NonExistentQueue") || reason.contains("QueueDoesNotExist"), "names the code: {reason}");
    let placeholder = body["PhysicalResourceId"].as_str().unwrap().to_string();
    assert!(placeholder.starts_with("FAILED CREATE "), "placeholder id: {placeholder}");
    assert_eq!(s.proxy.calls().count("sqs:GetQueueUrl"), 1);

    // CloudFormation's rollback: Delete with the placeholder. SUCCESS, and no AWS call at all,
    // even though the probe's Delete would call ListQueues.
    s.proxy.reset();
    let url = response_url(&s.receiver, "rollback");
    let mut delete =
        CfnRequest::sample("cr-probe", "delete", &url).patch_properties(json!({"Behaviour": "Succeed"})).build();
    delete["PhysicalResourceId"] = json!(placeholder);
    let sent = invoke_ok(&s, &delete);
    let body = only_response(&s, "rollback", sent);
    assert_eq!(body["Status"], "SUCCESS");
    assert_eq!(body["PhysicalResourceId"], json!(placeholder));
    let calls = s.proxy.calls();
    assert_eq!(calls.total(), 0, "no AWS call for the placeholder: {:?}", calls.counts);
    assert_logs_clean(&s);
}

#[test]
fn bad_properties_fail_with_one_clear_line() {
    let s = probe();
    let cases = [
        (
            "unknown",
            "create",
            json!({"Behavior": "Succeed", "Behaviour": "Succeed"}),
            "invalid properties: unknown property `Behavior`; did you mean `Behaviour`?",
        ),
        (
            "wrong-type",
            "create",
            json!({"ReasonLength": "lots"}),
            "invalid properties: property `ReasonLength`: expected a whole number (0 or more), got `lots`",
        ),
        ("missing", "create", json!({"Behaviour": null}), "invalid properties: missing required property `Behaviour`"),
        (
            "bad-enum",
            "update",
            json!({"Behaviour": "Explode"}),
            "invalid properties: property `Behaviour`: unknown variant `Explode`",
        ),
    ];
    for (name, kind, props, expected) in cases {
        let url = response_url(&s.receiver, name);
        let sent = invoke_ok(&s, &CfnRequest::sample("cr-probe", kind, &url).patch_properties(props).build());
        let body = only_response(&s, name, sent);
        assert_eq!(body["Status"], "FAILED", "{name}");
        let reason = body["Reason"].as_str().unwrap();
        assert!(reason.starts_with(expected), "{name}: {reason}");
        let physical = body["PhysicalResourceId"].as_str().unwrap();
        if kind == "create" {
            assert!(physical.starts_with("FAILED CREATE "), "{name}: {physical}");
        } else {
            assert_eq!(physical, "probe-Probe", "{name}: a failed Update keeps its id");
        }
    }
    assert_eq!(s.proxy.calls().total(), 0, "nothing ran on bad properties");
}

fn panic_is_answered(s: &Setup) {
    let url = response_url(&s.receiver, "panic");
    let sent = invoke_ok(
        s,
        &CfnRequest::sample("cr-probe", "create", &url).patch_properties(json!({"Behaviour": "Panic"})).build(),
    );
    let body = only_response(s, "panic", sent);
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(reason.starts_with("internal error: the probe was asked to panic"), "{reason}");

    // The process survived: the next request is served by the same runtime.
    let url = response_url(&s.receiver, "after-panic");
    let sent = invoke_ok(s, &CfnRequest::sample("cr-probe", "create", &url).build());
    assert_eq!(only_response(s, "after-panic", sent)["Status"], "SUCCESS");
    let logs = s.lambda.logs();
    assert!(!logs.contains("Runtime.ExitError"), "the runtime exited:\n{logs}");
    assert_eq!(logs.matches("INIT_START").count().max(1), 1, "one init only:\n{logs}");
}

#[test]
fn panic_is_answered_failed() {
    panic_is_answered(&probe());
}

#[test]
fn panic_is_answered_failed_by_the_shipped_artifact() {
    // Built by `cargo lambda build --release`, as `sam build` builds what ships.
    panic_is_answered(&start(lambda_artifact("cr-probe")));
}

#[test]
fn hang_is_answered_before_the_deadline() {
    let s = probe();
    let url = response_url(&s.receiver, "hang");
    let invocation = s.lambda.invoke_json(
        &CfnRequest::sample("cr-probe", "create", &url).patch_properties(json!({"Behaviour": "Hang"})).build(),
    );
    assert_eq!(invocation.status, 200);
    assert_eq!(invocation.body.trim(), "null", "answered, not killed by the timeout: {invocation:?}");
    let body = only_response(&s, "hang", invocation.sent_at);
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    // The guard fires 1.5 s before the 4 s deadline; whole seconds are reported.
    assert!(reason.starts_with("timed out after 2 s while hanging as asked; raise the function's Timeout"), "{reason}");
    assert!(body["PhysicalResourceId"].as_str().unwrap().starts_with("FAILED CREATE "));
}

#[test]
fn response_put_is_retried_until_it_lands() {
    let s = probe();
    s.receiver.fail_next(2, 500);
    let url = response_url(&s.receiver, "retried");
    let sent = invoke_ok(&s, &CfnRequest::sample("cr-probe", "create", &url).build());
    let all = s.receiver.received_at("/cloudformation-custom-resource-response/retried");
    let statuses: Vec<u16> = all.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 500, 200], "two failures, then it lands");
    assert!(all.windows(2).all(|w| w[0].body == w[1].body), "the same body each time");
    assert_eq!(only_response(&s, "retried", sent)["Status"], "SUCCESS");
    assert_logs_clean(&s);
}

#[test]
fn oversized_responses_are_cut_to_fit() {
    let s = probe();
    // A reason of 10,000 characters: cut, still valid JSON, still ending with the log stream.
    let url = response_url(&s.receiver, "long-reason");
    let sent = invoke_ok(
        &s,
        &CfnRequest::sample("cr-probe", "create", &url)
            .patch_properties(json!({"Behaviour": "LongReason", "ReasonLength": "10000"}))
            .build(),
    );
    let body = only_response(&s, "long-reason", sent);
    assert_eq!(body["Status"], "FAILED");
    assert!(body["Reason"].as_str().unwrap().starts_with("a deliberately long reason: 0123456789"));
    assert!(body["Reason"].as_str().unwrap().contains('…'));

    // Attributes too big for the body: dropped, and the reason says so.
    let url = response_url(&s.receiver, "big-data");
    let sent = invoke_ok(
        &s,
        &CfnRequest::sample("cr-probe", "create", &url).patch_properties(json!({"DataBytes": 5000})).build(),
    );
    let body = only_response(&s, "big-data", sent);
    assert_eq!(body["Status"], "SUCCESS");
    assert!(body.get("Data").is_none());
    assert!(
        body["Reason"].as_str().unwrap().starts_with("attributes (Data) dropped: the response would exceed 4096 bytes")
    );
}

#[test]
fn bad_envelopes_never_panic() {
    let s = probe();
    // No ResponseURL: nobody to answer; one log line and an error result.
    let mut no_url = CfnRequest::sample("cr-probe", "create", "http://unused.invalid/").build();
    no_url.as_object_mut().unwrap().remove("ResponseURL");
    let invocation = s.lambda.invoke_json(&no_url);
    assert_eq!(invocation.status, 200);
    assert!(invocation.is_error(), "{invocation:?}");
    assert!(invocation.body.contains("InvalidRequest") && invocation.body.contains("ResponseURL"), "{invocation:?}");
    let logs = s.lambda.logs();
    assert_eq!(logs.matches("request ignored").count(), 1, "one log line:\n{logs}");

    // Not JSON at all: the runtime rejects it before our handler.
    let invocation = s.lambda.invoke(b"{this is not json");
    assert_eq!(invocation.status, 200);
    assert!(invocation.is_error(), "{invocation:?}");

    // A ResponseURL but an unusable envelope: answered FAILED there.
    let url = response_url(&s.receiver, "bad-type");
    let mut bad_type = CfnRequest::sample("cr-probe", "create", &url).build();
    bad_type["RequestType"] = json!("Upsert");
    let sent = invoke_ok(&s, &bad_type);
    let body = only_response(&s, "bad-type", sent);
    assert_eq!(body["Status"], "FAILED");
    assert!(body["Reason"].as_str().unwrap().starts_with("invalid request: `RequestType` is `Upsert`"));

    let logs = s.lambda.logs();
    assert!(!logs.contains("panicked"), "no panic:\n{logs}");
    assert!(!logs.contains("Runtime.ExitError"), "no crash:\n{logs}");
    assert_eq!(s.proxy.calls().total(), 0);
    assert_logs_clean(&s);
}

/// Invoke with a response URL the function must refuse: an `InvalidRequest` error for Lambda,
/// nothing done (no AWS call) and nothing sent anywhere.
fn assert_refused(s: &Setup, request: &Value, why: &str) {
    let invocation = s.lambda.invoke_json(request);
    assert_eq!(invocation.status, 200, "{invocation:?}");
    assert!(invocation.body.contains("InvalidRequest") && invocation.body.contains(why), "{why}: {invocation:?}");
    assert!(!invocation.body.contains(testbed::SIGNATURE), "the URL's signature is not in the error");
}

#[test]
fn response_urls_off_aws_s3_are_refused_with_one_line_and_nothing_is_sent_or_done() {
    // Without the test-only setting, even the receiver on 127.0.0.1 is refused.
    let strict = start_with(binary("cr-probe"), &[("TEST_ONLY_LOOPBACK_RESPONSE_URL", "0")]);
    let url = response_url(&strict.receiver, "loopback");
    assert_refused(
        &strict,
        &CfnRequest::sample("cr-probe", "create", &url).build(),
        "ResponseURL uses http, not https",
    );
    strict.lambda.settled(1);
    let lines = strict.lambda.function_lines();
    assert_eq!(lines.len(), 1, "one log line: {lines:#?}");
    assert!(lines[0].contains("request ignored") && lines[0].contains("not https"), "{}", lines[0]);
    assert!(strict.receiver.received().is_empty(), "nothing was PUT");
    assert_eq!(strict.proxy.calls().total(), 0, "nothing was done");
    assert_logs_clean(&strict);

    // With it, only loopback is added: the metadata service, a look-alike host and plain http
    // to S3 are refused, and so is an unusable envelope's URL (no FAILED is sent there).
    let s = probe();
    let signed = |url: &str| format!("{url}?X-Amz-Signature={}", testbed::SIGNATURE);
    let s3 = "cloudformation-custom-resource-response-useast1.s3.amazonaws.com";
    let cases = [
        (signed("https://169.254.169.254/latest/meta-data/iam/security-credentials/"), "not an AWS S3 host"),
        (signed(&format!("https://{s3}.evil.example/x")), "not an AWS S3 host"),
        (signed(&format!("http://{s3}/x")), "uses http, not https"),
    ];
    for (url, why) in &cases {
        assert_refused(&s, &CfnRequest::sample("cr-probe", "create", url).build(), why);
    }
    let mut unusable = CfnRequest::sample("cr-probe", "create", &cases[0].0).build();
    unusable["RequestType"] = json!("Upsert");
    assert_refused(&s, &unusable, "not an AWS S3 host");
    s.lambda.settled(cases.len() + 1);
    let lines = s.lambda.function_lines();
    assert_eq!(lines.len(), cases.len() + 1, "one line each: {lines:#?}");
    assert!(lines.iter().all(|l| l.contains("request ignored")), "{lines:#?}");
    assert_eq!(s.proxy.calls().total(), 0, "nothing was done");
    assert_logs_clean(&s);
}

#[test]
fn injected_aws_faults_are_answered_with_action_and_code() {
    let s = probe();
    // The JSON protocol's error shape (SQS), once; the retry of the stack would then succeed.
    s.proxy.add_rule(json!({"action": "sqs:ListQueues", "times": 1, "status": 400, "code": "AccessDenied", "message": "User is not authorized to perform: sqs:ListQueues"}));
    let url = response_url(&s.receiver, "denied");
    let sent = invoke_ok(&s, &CfnRequest::sample("cr-probe", "create", &url).build());
    let body = only_response(&s, "denied", sent);
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(reason.starts_with("sqs:ListQueues failed with AccessDenied: User is not authorized"), "{reason}");

    // An AWS call slower than the time left: the guard answers, naming the step.
    s.proxy.add_rule(json!({"action": "sqs:ListQueues", "times": 1, "delay_ms": 6000}));
    let url = response_url(&s.receiver, "slow");
    let sent = invoke_ok(&s, &CfnRequest::sample("cr-probe", "create", &url).build());
    let body = only_response(&s, "slow", sent);
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(reason.starts_with("timed out after 2 s while listing queues;"), "{reason}");
    assert_eq!(s.proxy.calls().count("sqs:ListQueues"), 2);
}

#[test]
fn logs_are_json_lines_with_the_request() {
    // As in Lambda: LOG_FORMAT unset means JSON.
    let s = start_with(binary("cr-probe"), &[("LOG_FORMAT", "json")]);
    let url = response_url(&s.receiver, "json");
    invoke_ok(&s, &CfnRequest::sample("cr-probe", "create", &url).build());
    let logs = s.lambda.logs();
    let delivered: Vec<Value> = logs
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .filter(|l: &Value| l["message"] == "response delivered")
        .collect();
    assert_eq!(delivered.len(), 1, "{logs}");
    let line = &delivered[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["status"], "Success");
    assert_eq!(line["span"]["request_id"], "1b0a5f7e-9a1d-4c51-8f3e-2d6c7b8a9e10");
    assert_eq!(line["span"]["logical_resource_id"], "Probe");
    assert_eq!(line["span"]["request_type"], "Create");
    assert_logs_clean(&s);
}
