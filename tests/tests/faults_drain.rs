//! lifecycle-drain's fault matrix (#10): every action a drain calls, failed in every way of
//! [`testbed::faults::Fault`]; the drain must complete once or say why it cannot. The machinery is
//! in `tests/src/faults.rs`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testbed::Lambda;
use testbed::drain::{DrainRig, HOOK};
use testbed::faults::{Case, Fault, Tally, cases, fnv, run_matrix, settle};

// ---- Lifecycle draining --------------------------------------------------------------------

/// Runs of 7 s: room for the SDK's own retries (about 3 s) before the run's 1 s guard; a drain
/// that waits hands over after its first poll (5 s are kept for that); a slow answer (8 s)
/// outlasts a run.
const DRAIN_TIMEOUT: u32 = 7;
const DRAIN_SLOW: Duration = Duration::from_secs(8);

struct DrainWorld {
    rig: DrainRig,
    lambda: Lambda,
}

/// No cluster named (the drain searches), standalone tasks stopped at once.
fn drain_world() -> DrainWorld {
    let rig = DrainRig::start();
    let lambda = rig.lambda(DRAIN_TIMEOUT, &[("STANDALONE_TASKS", "stop"), ("STANDALONE_GRACE_SECONDS", "0")]);
    DrainWorld { rig, lambda }
}

/// The drain's two scenarios, on a fresh instance whose lifecycle event has no cluster in its
/// metadata:
/// - "quick": a standalone task only; the drain stops it and completes in one run;
/// - "hand-over": also a service task; the first run hands over, the test plays ECS and stops the
///   service task, and the run from the queue completes.
///
/// `rule` is injected at the start. A run that fails is run again after the fault cleared, as Lambda's retry of the event or the
/// queue's redelivery would. Returns each run's answer and the action's token.
fn drain_scenario(world: &DrainWorld, name: &str, phase: &str, rule: Option<Value>) -> (Vec<Value>, String) {
    let rig = &world.rig;
    let instance = rig.instance(true);
    rig.tasks(&instance, "family:batch", 1);
    let service = if phase == "hand-over" { rig.tasks(&instance, "service:api", 1) } else { Vec::new() };
    let hex = format!("{:032x}", fnv(name));
    let token = format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]);
    let mut event = rig.lifecycle_event(&instance, HOOK, &token);
    event["detail"].as_object_mut().map(|d| d.remove("NotificationMetadata"));
    rig.proxy.reset();
    if let Some(rule) = rule {
        rig.proxy.add_rule(rule);
    }
    let mut answers = vec![outcome_of(&world.lambda.invoke_json(&event))];
    if answers[0].get("errorType").is_some() {
        settle(&rig.proxy);
        rig.proxy.reset();
        answers.push(outcome_of(&world.lambda.invoke_json(&event)));
    }
    if answers.last().is_some_and(|a| a["status"] == "handed-over") {
        // A run that AWS kept throttling hands the drain over: the fault then clears, as after a
        // failed run.
        if answers.last().is_some_and(stalled) {
            settle(&rig.proxy);
            rig.proxy.reset();
        }
        rig.stop(&service);
        for _ in 0..3 {
            let Some(answer) = pump(world) else { break };
            let again = stalled(&answer);
            answers.push(answer);
            if !again {
                break;
            }
            settle(&rig.proxy);
            rig.proxy.reset();
        }
    }
    settle(&rig.proxy);
    (answers, token)
}

/// A run that did not get on with the drain: it failed, or AWS kept throttling it and it handed
/// the drain over saying so.
fn stalled(answer: &Value) -> bool {
    answer.get("errorType").is_some() || (answer["status"] == "handed-over" && answer.get("reason").is_some())
}

fn outcome_of(invocation: &testbed::Invocation) -> Value {
    serde_json::from_str(&invocation.body).unwrap_or_else(|_| json!({"errorType": "NotJson", "body": invocation.body}))
}

/// Play the SQS event source mapping once: a message in, the function on it; deleted on success,
/// else visible again at once (as after its visibility timeout).
fn pump(world: &DrainWorld) -> Option<Value> {
    let (rig, sqs) = (&world.rig, world.rig.aws.sqs());
    let until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < until {
        let receive = sqs.receive_message().queue_url(&rig.queue_url).max_number_of_messages(1).wait_time_seconds(1);
        let out = rig.aws.block_on(receive.send()).expect("ReceiveMessage");
        let Some(message) = out.messages().first() else { continue };
        let event = json!({"Records": [{
            "messageId": message.message_id(), "receiptHandle": message.receipt_handle(), "body": message.body(),
            "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": message.md5_of_body(),
            "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:drain-continuation",
            "awsRegion": "us-east-1",
        }]});
        let answer = outcome_of(&world.lambda.invoke_json(&event));
        let handle = message.receipt_handle().unwrap_or_default();
        if answer.get("errorType").is_none() {
            let delete = sqs.delete_message().queue_url(&rig.queue_url).receipt_handle(handle);
            rig.aws.block_on(delete.send()).expect("DeleteMessage");
        } else {
            let again =
                sqs.change_message_visibility().queue_url(&rig.queue_url).receipt_handle(handle).visibility_timeout(0);
            rig.aws.block_on(again.send()).expect("ChangeMessageVisibility");
        }
        return Some(answer);
    }
    None
}

/// Successful CompleteLifecycleAction calls for `token`.
fn completions(rig: &DrainRig, token: &str) -> usize {
    let calls = rig.lifecycle_calls();
    let done = |c: &&Value| {
        c["Action"] == "CompleteLifecycleAction" && c["Outcome"] == "ok" && c["LifecycleActionToken"] == token
    };
    calls.iter().filter(done).count()
}

/// A drain case: the drain completes exactly once, or says why it cannot (a missing permission:
/// the hook's DefaultResult decides); a run that fails (or, throttled, hands over) names the
/// action and the code.
fn drain_case(world: &DrainWorld, case: &Case, tally: &mut Tally) {
    let name = case.name();
    let rule = case.fault.rule(&case.action, case.skip, DRAIN_SLOW);
    let runs_before = world.lambda.durations_ms().len();
    let (answers, token) = drain_scenario(world, &name, case.phase, Some(rule));
    world.lambda.settled(runs_before + answers.len());
    let timed_out =
        world.lambda.durations_ms().iter().skip(runs_before).any(|ms| *ms >= f64::from(DRAIN_TIMEOUT) * 1000.0);
    if timed_out {
        tally.hangs += 1;
        tally.problems.push(format!("{name}: a run reached the Lambda timeout"));
    }
    let code = case.fault.code(&case.action);
    let says = |a: &Value| {
        let text = a.to_string();
        text.contains(&case.action) && text.contains(code)
    };
    let done = completions(&world.rig, &token);
    match case.fault {
        Fault::ThrottleClears => {}
        Fault::Denied => {
            let why = answers.iter().find(|a| a["status"] == "failed");
            let named = why.is_some_and(|a| says(a) && a.to_string().contains("allow"));
            tally.expect(named, || format!("{name}: expected a reason naming {} and {code}: {answers:?}", case.action));
        }
        // A throttle that outlasts a run's retries hands the drain over, naming it (a failed
        // run for the hand-over's own SendMessage).
        _ => {
            let failed = answers.iter().find(|a| stalled(a));
            tally.expect(failed.is_some_and(says), || {
                format!("{name}: expected a failed or handed-over run naming {} and {code}: {answers:?}", case.action)
            });
        }
    }
    let last = answers.last().and_then(|a| a["status"].as_str()).unwrap_or_default();
    // A missing permission ends the drain without completing it, as it says.
    if done == 0 && case.fault == Fault::Denied && last == "failed" {
        return;
    }
    tally.delivered(done, || format!("{name}: never completed: {answers:?}"));
    if done > 0 {
        let finished = ["completed", "already-completed"].contains(&last);
        tally.expect(finished, || format!("{name}: completed, but the last run said: {answers:?}"));
    }
}

#[test]
fn lifecycle_drain_completes_once_or_says_why_through_every_fault() {
    let phases = {
        let world = drain_world();
        ["quick", "hand-over"].map(|phase| {
            let (answers, token) = drain_scenario(&world, &format!("baseline-{phase}"), phase, None);
            let calls = world.rig.proxy.calls();
            assert_eq!(completions(&world.rig, &token), 1, "{phase}: {answers:?}");
            assert_eq!(answers.len(), if phase == "quick" { 1 } else { 2 }, "{phase}: {answers:?}");
            (phase, calls)
        })
    };
    let expected = [
        "autoscaling:CompleteLifecycleAction",
        "autoscaling:RecordLifecycleActionHeartbeat",
        "ecs:DescribeContainerInstances",
        "ecs:DescribeServices",
        "ecs:DescribeTasks",
        "ecs:ListClusters",
        "ecs:ListContainerInstances",
        "ecs:ListTasks",
        "ecs:StopTask",
        "ecs:UpdateContainerInstancesState",
        "sqs:SendMessage",
    ];
    let tally = run_matrix(cases(&phases, &expected), 3, drain_world, drain_case, |w| w.lambda.logs());
    tally.finish("lifecycle-drain", "completions");
}
