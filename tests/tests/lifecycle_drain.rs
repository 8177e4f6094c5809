//! lifecycle-drain through the Lambda emulator against moto: the launcher keeps the lifecycle
//! actions and records every completion and heartbeat, the proxy counts and injects faults, and
//! the test plays ECS (stopping tasks) and the SQS event source mapping (the pump).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testbed::drain::{CLUSTER, DrainRig, HOOK};
use testbed::outcome;

const TOKEN: &str = "c2f1a9e0-7b3d-4c5e-8f6a-1b2c3d4e5f60";
const OTHER_TOKEN: &str = "0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b";

#[test]
fn a_drain_outlives_the_function_timeout_and_completes_once_after_the_last_task_stopped() {
    let rig = DrainRig::start();
    let instance = rig.instance(true);
    let api = rig.tasks(&instance, "service:api", 2);
    rig.daemon_service("agent");
    let agent = rig.tasks(&instance, "service:agent", 1);
    let lambda = rig.lambda(4, &[]);
    let started = Instant::now();

    let first = outcome(&lambda.invoke_json(&rig.lifecycle_event(&instance, HOOK, TOKEN)));
    assert_eq!(first, json!({"status": "handed-over", "round": 1}), "{}", lambda.logs());
    assert_eq!(rig.instance_status(&instance), "DRAINING");
    let second = rig.pump_once(&lambda, Duration::from_secs(10)).expect("the drain came back through the queue");
    assert_eq!(second, json!({"status": "handed-over", "round": 2}));

    // ECS moves the tasks only after longer than one run of the function.
    std::thread::sleep(Duration::from_secs(5).saturating_sub(started.elapsed()));
    rig.stop(&api);
    let last_stopped = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs_f64();
    let mut outcomes = Vec::new();
    while let Some(o) = rig.pump_once(&lambda, Duration::from_secs(10)) {
        outcomes.push(o);
        if outcomes.last().is_some_and(|o| o["status"] == "completed") {
            break;
        }
    }
    let done = outcomes.last().expect("a later run");
    assert_eq!(done["status"], "completed", "{outcomes:?}\n{}", lambda.logs());
    assert!(done["reason"].as_str().unwrap_or_default().contains("1 daemon task"), "{done}");

    assert!(rig.heartbeats() >= 2, "a heartbeat per hand-over: {:?}", rig.lifecycle_calls());
    let completions = rig.completions();
    assert_eq!(completions.len(), 1, "{:?}", rig.lifecycle_calls());
    assert_eq!(completions[0].0, "CONTINUE");
    assert!(completions[0].1 >= last_stopped, "completed after the last task stopped");
    assert!(rig.moto.lifecycle_actions()["active"].as_array().is_some_and(Vec::is_empty));
    assert_eq!(rig.proxy.calls().count("ecs:StopTask"), 0, "service and daemon tasks are ECS's to move");
    let _ = agent;
}

#[test]
fn an_instance_outside_ecs_or_still_registering_completes_at_once_and_another_hook_is_left_alone() {
    let rig = DrainRig::start();
    let bare = rig.instance(false);
    let lambda = rig.lambda(10, &[("DRAIN_CLUSTER", CLUSTER)]);
    let done = outcome(&lambda.invoke_json(&rig.lifecycle_event(&bare, HOOK, TOKEN)));
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["reason"], "not an ECS container instance");
    assert_eq!(rig.completions().len(), 1);

    // REGISTERING (its trunk ENI being attached): ECS refuses DRAINING and has placed no task on it.
    rig.proxy.reset();
    let registering = rig.instance(true);
    rig.set_registering(&registering);
    lambda.settled(1);
    let before = lambda.function_lines().len();
    let done = outcome(&lambda.invoke_json(&rig.lifecycle_event(&registering, HOOK, TOKEN)));
    assert_eq!((done["status"].as_str(), done["result"].as_str()), (Some("completed"), Some("CONTINUE")), "{done}");
    assert!(done["reason"].as_str().unwrap_or_default().starts_with("container instance is REGISTERING"), "{done}");
    assert_eq!(rig.proxy.calls().count("ecs:UpdateContainerInstancesState"), 0, "DRAINING is refused until ACTIVE");
    assert_eq!(rig.instance_status(&registering), "REGISTERING");
    lambda.settled(2);
    let lines = lambda.function_lines();
    assert_eq!(lines.len() - before, 1, "one line:\n{}", lines[before..].join("\n"));
    assert!(lines[before].contains("completed the lifecycle action") && lines[before].contains("REGISTERING"));
    assert_eq!(rig.completions().len(), 2);

    rig.proxy.reset();
    let registered = rig.instance(true);
    rig.tasks(&registered, "service:api", 1);
    let ecs_hook = "ecs-managed-draining-termination-hook";
    let ignored = outcome(&lambda.invoke_json(&rig.lifecycle_event(&registered, ecs_hook, OTHER_TOKEN)));
    assert_eq!(ignored["status"], "ignored", "{ignored}");
    assert_eq!(rig.proxy.calls().total(), 0, "no ECS, Auto Scaling or SQS call: {:?}", rig.proxy.calls().counts);
    assert_eq!(rig.instance_status(&registered), "ACTIVE");
    assert_eq!(rig.completions().len(), 2, "the other hook's action is not completed");
}

#[test]
fn the_same_event_twice_and_overlapping_runs_complete_once() {
    let rig = DrainRig::start();
    let instance = rig.instance(true);
    let api = rig.tasks(&instance, "service:api", 1);

    // Delivered twice while the task still runs: two hand-overs, then both come back.
    let lambda = rig.lambda(4, &[]);
    let event = rig.lifecycle_event(&instance, HOOK, TOKEN);
    assert_eq!(outcome(&lambda.invoke_json(&event))["status"], "handed-over");
    assert_eq!(outcome(&lambda.invoke_json(&event))["status"], "handed-over");
    rig.stop(&api);
    let first = rig.pump_once(&lambda, Duration::from_secs(10)).expect("a continuation");
    let second = rig.pump_once(&lambda, Duration::from_secs(10)).expect("the duplicate's continuation");
    assert_eq!((first["status"].as_str(), second["status"].as_str()), (Some("completed"), Some("already-completed")));
    assert_eq!(rig.completions().len(), 1, "{:?}", rig.lifecycle_calls());

    // Two runs at the same time (two execution environments), the task stopping while both wait.
    let instance = rig.instance(true);
    let api = rig.tasks(&instance, "service:api", 1);
    let event = rig.lifecycle_event(&instance, HOOK, OTHER_TOKEN);
    let (one, two) = (rig.lambda(10, &[]), rig.lambda(10, &[]));
    let outcomes = std::thread::scope(|s| {
        let runs = [s.spawn(|| one.invoke_json(&event)), s.spawn(|| two.invoke_json(&event))];
        std::thread::sleep(Duration::from_millis(2500));
        rig.stop(&api);
        runs.map(|run| outcome(&run.join().expect("a run")))
    });
    let mut statuses: Vec<&str> = outcomes.iter().filter_map(|o| o["status"].as_str()).collect();
    statuses.sort();
    assert_eq!(statuses, ["already-completed", "completed"], "{outcomes:?}");
    let for_this = |c: &&Value| c["LifecycleActionToken"] == OTHER_TOKEN && c["Action"] == "CompleteLifecycleAction";
    let calls = rig.lifecycle_calls();
    assert_eq!(calls.iter().filter(for_this).filter(|c| c["Outcome"] == "ok").count(), 1, "{calls:?}");
}

#[test]
fn a_drain_past_the_maximum_completes_with_the_configured_result_and_names_what_still_runs() {
    let rig = DrainRig::start();
    let instance = rig.instance(true);
    let api = rig.tasks(&instance, "service:api", 1);
    let lambda = rig.lambda(10, &[("MAX_DRAIN_SECONDS", "2"), ("ON_MAX_DRAIN", "ABANDON")]);
    let done = outcome(&lambda.invoke_json(&rig.lifecycle_event(&instance, HOOK, TOKEN)));
    assert_eq!((done["status"].as_str(), done["result"].as_str()), (Some("completed"), Some("ABANDON")), "{done}");
    assert_eq!(rig.completions(), vec![("ABANDON".to_string(), rig.completions()[0].1)]);
    lambda.settled(1);
    let warned = lambda.function_lines().into_iter().find(|l| l.contains("giving up the wait")).expect("a warning");
    assert!(warned.contains("maximum drain time (2 s)") && warned.contains(&api[0]), "{warned}");
}

#[test]
fn no_active_action_at_completion_means_done() {
    let rig = DrainRig::start();
    let bare = rig.instance(false);
    rig.proxy
        .add_rule(json!({"action": "autoscaling:CompleteLifecycleAction", "status": 400, "code": "ValidationError",
        "message": format!("No active Lifecycle Action found with instance ID {}", bare.id)}));
    let lambda = rig.lambda(10, &[("DRAIN_CLUSTER", CLUSTER)]);
    let done = outcome(&lambda.invoke_json(&rig.lifecycle_event(&bare, HOOK, TOKEN)));
    assert_eq!(done["status"], "already-completed", "{done}");
    assert!(!lambda.logs().contains("ERROR"), "{}", lambda.logs());
}

#[test]
fn throttled_reads_are_retried_and_a_missing_permission_ends_with_one_line() {
    let rig = DrainRig::start();
    let instance = rig.instance(true);
    let lambda = rig.lambda(10, &[]);
    rig.proxy.add_rule(json!({"action": "ecs:ListTasks", "times": 2, "status": 400, "code": "ThrottlingException",
        "message": "Rate exceeded"}));
    let done = outcome(&lambda.invoke_json(&rig.lifecycle_event(&instance, HOOK, TOKEN)));
    assert_eq!(done["status"], "completed", "{done}\n{}", lambda.logs());
    let list_tasks: Vec<bool> =
        rig.proxy.calls().calls.iter().filter(|c| c.action == "ecs:ListTasks").map(|c| c.injected).collect();
    assert_eq!(&list_tasks[..3], [true, true, false], "two throttled, then retried");

    let role = "arn:aws:sts::123456789012:assumed-role/ecs-plumbing-LifecycleDrainFunctionRole-1A2B3C/lifecycle-drain";
    rig.proxy.add_rule(json!({"action": "ecs:ListContainerInstances", "times": 100, "status": 400,
        "code": "AccessDeniedException",
        "message": format!("User: {role} is not authorized to perform: ecs:ListContainerInstances on resource: arn:aws:ecs:us-east-1:123456789012:cluster/prod because no identity-based policy allows the ecs:ListContainerInstances action")}));
    let other = rig.instance(true);
    let before = lambda.function_lines().len();
    let failed = outcome(&lambda.invoke_json(&rig.lifecycle_event(&other, HOOK, OTHER_TOKEN)));
    assert_eq!(failed["status"], "failed", "{failed}");
    lambda.settled(2);
    let lines = lambda.function_lines();
    assert_eq!(lines.len() - before, 1, "one line:\n{}", lines[before..].join("\n"));
    let line = &lines[before];
    assert!(
        line.contains("ecs:ListContainerInstances failed with AccessDeniedException") && line.contains(role),
        "{line}"
    );
    assert!(line.contains("allow ecs:ListContainerInstances for this function's role"), "{line}");
    assert_eq!(rig.completions().len(), 1, "the denied drain completes nothing: the hook's DefaultResult will");
}

#[test]
fn standalone_tasks_are_stopped_after_the_grace_period_and_a_disconnected_agent_holds_nothing_asked_to_stop() {
    let rig = DrainRig::start();
    let instance = rig.instance(true);
    let batch = rig.tasks(&instance, "family:batch", 1);
    let lambda = rig.lambda(10, &[("STANDALONE_TASKS", "stop"), ("STANDALONE_GRACE_SECONDS", "1")]);
    let mut event = rig.lifecycle_event(&instance, HOOK, TOKEN);
    event["detail"]["NotificationMetadata"] = json!("additional-info");
    let done = outcome(&lambda.invoke_json(&event));
    assert_eq!(done["status"], "completed", "{done}\n{}", lambda.logs());
    let calls = rig.proxy.calls();
    assert_eq!(calls.count("ecs:ListClusters"), 1, "no cluster named: searched");
    assert_eq!(calls.count("ecs:StopTask"), 1);
    lambda.settled(1);
    assert!(lambda.function_lines().iter().any(|l| l.contains("stopped a standalone task") && l.contains(&batch[0])));
    assert_eq!(rig.completions().len(), 1);

    // An impaired instance: ECS has asked its tasks to stop, and its disconnected agent will never
    // report them STOPPED. Waiting for them would only end in a hand-over, run after run.
    rig.proxy.reset();
    let impaired = rig.instance(true);
    let asked = rig.tasks(&impaired, "service:api", 2);
    rig.disconnect_agent(&impaired);
    rig.stop(&asked);
    let done = outcome(&lambda.invoke_json(&rig.lifecycle_event(&impaired, HOOK, OTHER_TOKEN)));
    assert_eq!((done["status"].as_str(), done["result"].as_str()), (Some("completed"), Some("CONTINUE")), "{done}");
    let reason = done["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("the agent is disconnected, so 2 task(s)"), "{reason}");
    assert!(asked.iter().all(|arn| reason.contains(arn.as_str())), "{reason}");
    // One look reads it disconnected, a second one a poll later confirms it.
    assert_eq!(rig.proxy.calls().count("ecs:DescribeContainerInstances"), 2);
    assert_eq!(rig.instance_status(&impaired), "DRAINING", "set DRAINING all the same: ECS replaces its tasks");
    lambda.settled(2);
    let lines = lambda.function_lines();
    let warned: Vec<&String> =
        lines.iter().filter(|l| l.contains("container instance's agent is disconnected")).collect();
    assert_eq!(warned.len(), 1, "{}", lines.join("\n"));
}

/// An instance running 500 tasks, 50 of each of 10 services; with their ARNs.
fn big_instance(rig: &DrainRig) -> (testbed::drain::Instance, Vec<String>) {
    let instance = rig.instance(true);
    let tasks = (0..10).flat_map(|i| rig.tasks(&instance, &format!("service:svc-{i}"), 50)).collect();
    (instance, tasks)
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(action, n)| (action.to_string(), *n)).collect()
}

/// A look at 500 tasks reads them within the API's limits: at AWS, `ListTasks` in pages of 100
/// (moto answers in one page whatever `maxResults` says, so one call per desired status here), a
/// `DescribeTasks` per 100 tasks, one `DescribeServices` for the 10 services.
#[test]
fn a_look_at_500_tasks_of_10_services_makes_5_describe_tasks_and_1_describe_services() {
    let rig = DrainRig::start();
    let (instance, running) = big_instance(&rig);
    rig.proxy.reset();
    // 5 s: time for one look only, then the hand-over.
    let lambda = rig.lambda(5, &[]);
    let first = outcome(&lambda.invoke_json(&rig.lifecycle_event(&instance, HOOK, TOKEN)));
    assert_eq!(first, json!({"status": "handed-over", "round": 1}), "{}", lambda.logs());
    let looked = [("ecs:ListTasks", 2), ("ecs:DescribeTasks", 5), ("ecs:DescribeServices", 1)];
    let found = [("ecs:ListContainerInstances", 1), ("ecs:DescribeContainerInstances", 1)];
    let mut expected = counts(&[
        ("ecs:UpdateContainerInstancesState", 1),
        ("autoscaling:RecordLifecycleActionHeartbeat", 1),
        ("sqs:SendMessage", 1),
    ]);
    expected.extend(counts(&looked));
    expected.extend(counts(&found));
    assert_eq!(rig.proxy.calls().counts, expected, "the first run");

    rig.stop(&running);
    rig.proxy.reset();
    let done = rig.pump_once(&lambda, Duration::from_secs(10)).expect("the drain came back through the queue");
    assert_eq!(done["status"], "completed", "{done}\n{}", lambda.logs());
    let mut expected = counts(&[("autoscaling:CompleteLifecycleAction", 1)]);
    expected.extend(counts(&looked));
    expected.extend(counts(&found));
    assert_eq!(rig.proxy.calls().counts, expected, "the run that completes");
}

/// ECS throttles three `DescribeTasks` of a look at 500 tasks: the SDK's retries, then the run's
/// own pacing, try it again, and the run ends as the same look without the throttling did, one
/// `DescribeTasks` per 100 tasks once answered.
#[test]
fn a_look_throttled_a_few_times_ends_as_it_would_have_without() {
    let rig = DrainRig::start();
    let (instance, tasks) = big_instance(&rig);
    rig.stop(&tasks);
    let lambda = rig.lambda(15, &[]);
    rig.proxy.reset();
    let plain = outcome(&lambda.invoke_json(&rig.lifecycle_event(&instance, HOOK, TOKEN)));
    assert_eq!(plain["status"], "completed", "{plain}\n{}", lambda.logs());
    let plain_calls = rig.proxy.calls();

    // The same drain again (a second hook's action on the instance, now DRAINING), throttled.
    rig.proxy.reset();
    rig.proxy.add_rule(json!({"action": "ecs:DescribeTasks", "times": 3, "status": 400,
        "code": "ThrottlingException", "message": "Rate exceeded"}));
    let throttled = outcome(&lambda.invoke_json(&rig.lifecycle_event(&instance, HOOK, OTHER_TOKEN)));
    assert_eq!(throttled, plain, "{}", lambda.logs());
    let calls = rig.proxy.calls();
    let describes: Vec<bool> =
        calls.calls.iter().filter(|c| c.action == "ecs:DescribeTasks").map(|c| c.injected).collect();
    assert_eq!(describes, [true, true, true, false, false, false, false, false], "three throttled, then retried");
    let mut expected = plain_calls.counts.clone();
    expected.remove("ecs:UpdateContainerInstancesState");
    *expected.entry("ecs:DescribeTasks".into()).or_default() += 3;
    assert_eq!(calls.counts, expected, "the same calls, less setting DRAINING again, plus the three throttled");
    assert_eq!(rig.completions().len(), 2);
}

/// ECS throttles every `DescribeTasks`: the SDK's attempts, then the run's own retries until
/// the time it keeps for the hand-over. The run does not fail: it hands the drain over as a drain
/// that must wait longer does (a heartbeat, then the queue), and a later run completes it.
#[test]
fn a_throttle_that_outlasts_the_runs_retries_hands_the_drain_over_instead_of_failing() {
    let rig = DrainRig::start();
    let instance = rig.instance(true);
    let tasks = rig.tasks(&instance, "service:api", 2);
    rig.stop(&tasks);
    let lambda = rig.lambda(10, &[]);
    rig.proxy.add_rule(json!({"action": "ecs:DescribeTasks", "status": 400, "code": "ThrottlingException",
        "message": "Rate exceeded"}));
    let first = outcome(&lambda.invoke_json(&rig.lifecycle_event(&instance, HOOK, TOKEN)));
    assert_eq!((&first["status"], &first["round"]), (&json!("handed-over"), &json!(1)), "{}", lambda.logs());
    let reason = first["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("ecs:DescribeTasks failed with ThrottlingException"), "it says why: {first}");
    let calls = rig.proxy.calls();
    assert!(calls.count("ecs:DescribeTasks") >= 3, "at least the SDK's attempts: {:?}", calls.counts);
    assert_eq!(calls.count("sqs:SendMessage"), 1);
    assert_eq!((rig.heartbeats(), rig.completions().len()), (1, 0));
    lambda.settled(1);
    let warned = lambda.function_lines().into_iter().find(|l| l.contains("kept throttling")).expect("a warning");
    assert!(warned.contains("ecs:DescribeTasks failed with ThrottlingException"), "{warned}");

    rig.proxy.reset();
    let done = rig.pump_once(&lambda, Duration::from_secs(10)).expect("the drain came back through the queue");
    assert_eq!(done["status"], "completed", "{done}\n{}", lambda.logs());
    assert_eq!(rig.completions().len(), 1);
}
