//! task-alerts' fault matrices (#10): every action its stopped-task alerts call, then every action
//! of its service-level events (a failed deployment, its recovery, a disconnected agent and the
//! second look at it), failed in every way of [`testbed::faults::Fault`]; every alert and
//! resolution must reach its destination exactly once (the failed invocation, then Lambda's retry).
//! The machinery is in `tests/src/faults.rs`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testbed::alerts::{AlertsRig, event as alert_event};
use testbed::faults::{Case, Fault, Tally, cases, fnv, run_matrix, secrets_in, settle};
use testbed::{Calls, Lambda, sqs_event};

// ---- Task alerts ---------------------------------------------------------------------------

/// Long enough for the extras' own 3 s limit plus a send; a slow answer (9 s) outlasts it.
const ALERTS_TIMEOUT: u32 = 8;
const ALERTS_SLOW: Duration = Duration::from_secs(9);

/// task-alerts with suppression and log lines, once per destination (a case fails one, and
/// counts what that one delivered), the webhook secret read on every invocation.
struct AlertsWorld {
    rig: AlertsRig,
    task_definition: String,
    sns: Lambda,
    webhook: Lambda,
}

fn alerts_world() -> AlertsWorld {
    let rig = AlertsRig::start();
    let secret = rig.webhook_secret("slack", "slack");
    let table = rig.suppression_table("ecs-plumbing-alerts");
    let task_definition = rig.task_definition("api", true);
    let common = [("SUPPRESSION_TABLE", table.as_str()), ("SECRET_TTL_SECONDS", "0")];
    let with = |extra: (&'static str, &str)| {
        let mut env = common.to_vec();
        env.push(extra);
        rig.lambda(ALERTS_TIMEOUT, &env)
    };
    let sns = with(("ALERT_TOPIC_ARN", rig.topic_arn.as_str()));
    let webhook = with(("WEBHOOK_SECRET_ARN", secret.as_str()));
    AlertsWorld { rig, task_definition, sns, webhook }
}

/// An out-of-memory stop of a task of its own (so no case is another's duplicate or storm), with
/// log lines in CloudWatch Logs.
fn alert_for(world: &AlertsWorld, name: &str) -> (Value, String) {
    let task_id = format!("{:032x}", fnv(name));
    world.rig.container_output("api", &task_id, &["starting".to_string(), "heap at 99%".to_string()]);
    let mut event = alert_event("stopped-out-of-memory");
    let arn = format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{task_id}");
    event["detail"]["taskArn"] = json!(arn);
    event["detail"]["group"] = json!(format!("service:{name}"));
    event["detail"]["taskDefinitionArn"] = json!(world.task_definition);
    event["resources"] = json!([arn]);
    (event, task_id)
}

/// How many times the alert about `task_id` reached the destination `lambda` sends to.
fn deliveries(world: &AlertsWorld, webhook: bool, task_id: &str) -> usize {
    if webhook {
        world.rig.posts("slack").iter().filter(|p| p.body.contains(task_id)).count()
    } else {
        world.rig.sns_messages().iter().filter(|m| m["Message"].as_str().unwrap_or_default().contains(task_id)).count()
    }
}

/// An alerts case: the event meets the fault. A failed delivery must end the invocation with an
/// error naming the action and code, which makes Lambda retry it (and, when every retry has failed,
/// hand it to the on-failure destination); the test plays the retry once the fault has cleared.
/// Either way the destination must get the alert exactly once.
fn alerts_case(world: &AlertsWorld, case: &Case, tally: &mut Tally) {
    let name = case.name();
    let (event, task_id) = alert_for(world, &name);
    let webhook = case.action == "secretsmanager:GetSecretValue";
    let lambda = if webhook { &world.webhook } else { &world.sns };
    let delivers = ["sns:Publish", "secretsmanager:GetSecretValue"].contains(&case.action.as_str());
    world.rig.proxy.reset();
    // A slow answer to a delivery is dropped, not forwarded: had AWS taken it after the function gave
    // up, the retry would rightly send it again (at least once), and the count would say nothing.
    let mut rule = case.fault.rule(&case.action, case.skip, ALERTS_SLOW);
    if case.fault == Fault::Slow && delivers {
        rule["reset"] = json!(true);
    }
    world.rig.proxy.add_rule(rule);
    let first = lambda.invoke_json(&event);
    tally.secrets += secrets_in(&first.body);
    if first.elapsed >= Duration::from_secs(ALERTS_TIMEOUT.into()) {
        tally.hangs += 1;
        tally.problems.push(format!("{name}: ran into the Lambda timeout ({:?})", first.elapsed));
    }
    let outcome: Value = serde_json::from_str(&first.body).unwrap_or_default();
    if !delivers || case.fault == Fault::ThrottleClears {
        tally.expect(outcome["status"] == "sent", || format!("{name}: expected sent despite the fault: {outcome}"));
    } else {
        let message = outcome["errorMessage"].as_str().unwrap_or_default();
        let code = case.fault.code(&case.action);
        let named = message.contains(&case.action) && message.contains(code);
        tally.expect(named, || format!("{name}: expected an error naming {} and {code}: {outcome}", case.action));
        settle(&world.rig.proxy);
        world.rig.proxy.reset();
        let retry = lambda.invoke_json(&event);
        tally.secrets += secrets_in(&retry.body);
        let retry: Value = serde_json::from_str(&retry.body).unwrap_or_default();
        tally.expect(retry["status"] == "sent", || format!("{name}: Lambda's retry: {retry}"));
    }
    settle(&world.rig.proxy);
    tally.delivered(deliveries(world, webhook, &task_id), || format!("{name}: never delivered"));
}

#[test]
fn task_alerts_deliver_every_alert_once_through_every_fault() {
    let phases = {
        let world = alerts_world();
        let mut phases = Vec::new();
        for (phase, lambda) in [("SNS", &world.sns), ("webhook", &world.webhook)] {
            world.rig.proxy.reset();
            let (event, _) = alert_for(&world, &format!("baseline-{phase}"));
            let sent: Value = serde_json::from_str(&lambda.invoke_json(&event).body).unwrap_or_default();
            assert_eq!(sent["status"], "sent", "{sent}");
            phases.push((phase, world.rig.proxy.calls()));
        }
        phases
    };
    let expected = [
        "dynamodb:UpdateItem",
        "ecs:DescribeTaskDefinition",
        "logs:GetLogEvents",
        "secretsmanager:GetSecretValue",
        "sns:Publish",
    ];
    let tally = run_matrix(cases(&phases, &expected), 2, alerts_world, alerts_case, |w| {
        let bodies: Vec<String> = w.rig.sns_inbox.received().into_iter().map(|r| r.body).collect();
        format!("{}\n{}\n{}", w.sns.logs(), w.webhook.logs(), bodies.join("\n"))
    });
    tally.finish("task-alerts", "alerts");
}

// ---- Service-level events ------------------------------------------------------------------

/// The service-level scenarios, one phase each, on a subject of the case's own (a service, or a
/// container instance running a task of `web`):
/// - "deployment": a failed deployment (DescribeServices names its task definitions, best effort),
///   alerted once and remembered as open;
/// - "recovery": that alert sent fault-free first, then its `deployment-completed`: the resolution;
/// - "disconnect": an agent disconnected, its second look queued for the grace period (the looks on
///   the queue are then played fault-free: one alert);
/// - "look": the disconnect queued fault-free first, then its look as Lambda's SQS event source
///   hands it over: the instance is still disconnected with its task on it, so the alert.
const SERVICE_PHASES: [&str; 4] = ["deployment", "recovery", "disconnect", "look"];

/// task-alerts with the topic, the suppression table, the look-again queue and a grace period of
/// 1 s, in a cluster `prod` with two revisions of the task definition `web`.
struct ServiceWorld {
    rig: AlertsRig,
    queue_url: String,
    /// `web`'s revisions: the one a failed deployment is rolled back to, and the failed one.
    good: String,
    bad: String,
    lambda: Lambda,
}

fn service_world() -> ServiceWorld {
    let rig = AlertsRig::start();
    let table = rig.suppression_table("ecs-plumbing-alerts");
    let queue = rig.aws.block_on(rig.aws.sqs().create_queue().queue_name(LOOK_AGAIN).send()).expect("CreateQueue");
    let queue_url = queue.queue_url().expect("a queue URL").to_string();
    rig.aws.block_on(rig.aws.ecs().create_cluster().cluster_name("prod").send()).expect("CreateCluster");
    let (good, bad) = (rig.task_definition("web", false), rig.task_definition("web", false));
    let env = [
        ("ALERT_TOPIC_ARN", rig.topic_arn.as_str()),
        ("SUPPRESSION_TABLE", table.as_str()),
        ("LOOK_AGAIN_QUEUE_URL", queue_url.as_str()),
        ("AGENT_DISCONNECT_GRACE_SECONDS", "1"),
    ];
    let lambda = rig.lambda(ALERTS_TIMEOUT, &env);
    ServiceWorld { rig, queue_url, good, bad, lambda }
}

const LOOK_AGAIN: &str = "look-again";

/// What a service scenario did: the calls of the invocation that met the fault (not of its set-up
/// or retry), every answer in order (that invocation's, its retry's, then the looks played after a
/// disconnect), and how the SNS subjects about the case's subject start.
struct ServiceRun {
    calls: Calls,
    answers: Vec<Value>,
    first: testbed::Invocation,
    label: String,
}

/// One scenario for the case `name`; `rule` is injected after its set-up. An invocation that fails
/// is run again once the fault has cleared, as Lambda retries an event and SQS brings back a message.
fn service_scenario(world: &ServiceWorld, name: &str, phase: &str, rule: Option<Value>) -> ServiceRun {
    let (rig, lambda) = (&world.rig, &world.lambda);
    let hex = format!("{:032x}", fnv(name));
    let setup = |event: &Value, status: &str| {
        let answer = outcome_of(&lambda.invoke_json(event));
        assert_eq!(answer["status"], status, "{name}: the fault-free set-up: {answer}");
    };
    let (event, label, instance) = if phase == "deployment" || phase == "recovery" {
        let service = format!("web-{}", &hex[..8]);
        let failed = deployment_failed(world, &service, &hex);
        let event = if phase == "deployment" {
            failed
        } else {
            setup(&failed, "sent");
            let mut completed = alert_event("deployment-completed");
            completed["id"] = json!(format!("{}-c", &hex[..8]));
            completed["resources"] = json!([format!("arn:aws:ecs:us-east-1:123456789012:service/prod/{service}")]);
            completed
        };
        (event, format!("[prod] {service}: "), None)
    } else {
        let (arn, id) = stranded_instance(world);
        let mut disconnected = alert_event("container-instance-agent-disconnected");
        disconnected["id"] = json!(hex);
        disconnected["detail"]["containerInstanceArn"] = json!(arn);
        disconnected["resources"] = json!([arn]);
        let event = if phase == "disconnect" {
            disconnected
        } else {
            setup(&disconnected, "looking-again");
            let mut looks = looks(world, &arn);
            assert_eq!(looks.len(), 1, "{name}: the look queued in the set-up");
            looks.remove(0)
        };
        (event, format!("[prod] instance {id}: "), Some(arn))
    };
    rig.proxy.reset();
    if let Some(rule) = rule {
        rig.proxy.add_rule(rule);
    }
    let first = lambda.invoke_json(&event);
    let calls = rig.proxy.calls();
    let mut answers = vec![outcome_of(&first)];
    if answers[0].get("errorType").is_some() {
        settle(&rig.proxy);
        rig.proxy.reset();
        answers.push(outcome_of(&lambda.invoke_json(&event)));
    }
    settle(&rig.proxy);
    rig.proxy.reset();
    if let (Some(arn), "disconnect") = (&instance, phase) {
        for look in looks(world, arn) {
            answers.push(outcome_of(&lambda.invoke_json(&look)));
        }
    }
    ServiceRun { calls, answers, first, label }
}

/// `service` in `prod` with its deployments as ECS lists them once the circuit breaker rolled back
/// (as in `task_alerts_service.rs`), and the `deployment-failed` event about it, of id `id`.
fn deployment_failed(world: &ServiceWorld, service: &str, id: &str) -> Value {
    let (rig, ecs) = (&world.rig, world.rig.aws.ecs());
    let create =
        ecs.create_service().cluster("prod").service_name(service).task_definition(&world.good).desired_count(1);
    rig.aws.block_on(create.send()).expect("CreateService");
    let mut event = alert_event("deployment-failed");
    event["id"] = json!(id);
    event["resources"] = json!([format!("arn:aws:ecs:us-east-1:123456789012:service/prod/{service}")]);
    let deployments = json!([
        {"id": "ecs-svc/8312084752911084411", "status": "PRIMARY", "taskDefinition": world.good,
         "rolloutState": "IN_PROGRESS", "rolloutStateReason": "ECS deployment circuit breaker: rolling back."},
        {"id": event["detail"]["deploymentId"], "status": "ACTIVE", "taskDefinition": world.bad,
         "rolloutState": "FAILED", "rolloutStateReason": "ECS deployment circuit breaker: task failed to start."},
    ]);
    rig.moto.set_service_deployments("prod", service, deployments);
    event
}

/// An EC2 instance registered in `prod`, a task of `web` started on it, its agent disconnected (as
/// in `task_alerts_service.rs`); its container instance ARN and id.
fn stranded_instance(world: &ServiceWorld) -> (String, String) {
    let (rig, ecs) = (&world.rig, world.rig.aws.ecs());
    let run = rig.aws.ec2("us-east-1").run_instances().image_id("ami-12c6146b").min_count(1).max_count(1);
    let ran = rig.aws.block_on(run.send()).expect("RunInstances");
    let ec2_id = ran.instances()[0].instance_id().expect("an instance id").to_string();
    let document = json!({"instanceId": ec2_id}).to_string();
    let register = ecs.register_container_instance().cluster("prod").instance_identity_document(document);
    let registered = rig.aws.block_on(register.send()).expect("RegisterContainerInstance");
    let arn = registered.container_instance().and_then(|c| c.container_instance_arn()).expect("an ARN").to_string();
    let start =
        ecs.start_task().cluster("prod").task_definition(&world.good).container_instances(&arn).group("service:web");
    rig.aws.block_on(start.send()).expect("StartTask");
    rig.moto.set_container_instance(&arn, None, Some(false));
    let id = arn.rsplit('/').next().unwrap_or_default().to_string();
    (arn, id)
}

/// The looks queued about `arn`, each as Lambda's SQS event source hands it over (the test plays
/// the mapping: each message received is deleted; others on the queue are dropped). Waits out the
/// grace period's delay, and for every message sent so far.
fn looks(world: &ServiceWorld, arn: &str) -> Vec<Value> {
    let (rig, sqs) = (&world.rig, world.rig.aws.sqs());
    let (start, mut found) = (Instant::now(), Vec::new());
    while start.elapsed() < Duration::from_secs(10) {
        let receive = sqs.receive_message().queue_url(&world.queue_url).max_number_of_messages(10).wait_time_seconds(1);
        let out = rig.aws.block_on(receive.send()).expect("ReceiveMessage");
        for message in out.messages() {
            let delete = sqs
                .delete_message()
                .queue_url(&world.queue_url)
                .receipt_handle(message.receipt_handle().unwrap_or_default());
            rig.aws.block_on(delete.send()).expect("DeleteMessage");
            if message.body().unwrap_or_default().contains(arn) {
                found.push(sqs_event(message, LOOK_AGAIN));
            }
        }
        // The delay is 1 s: past 2.5 s, a quiet queue holds nothing more.
        if out.messages().is_empty() && start.elapsed() > Duration::from_millis(2500) {
            break;
        }
    }
    found
}

fn outcome_of(invocation: &testbed::Invocation) -> Value {
    serde_json::from_str(&invocation.body).unwrap_or_else(|_| json!({"errorType": "NotJson", "body": invocation.body}))
}

/// The SNS subjects starting with `label`: (alerts, resolutions).
fn service_deliveries(world: &ServiceWorld, label: &str) -> (usize, usize) {
    let messages = world.rig.sns_messages();
    let subjects: Vec<&str> =
        messages.iter().filter_map(|m| m["Subject"].as_str()).filter(|s| s.starts_with(label)).collect();
    let resolutions = subjects.iter().filter(|s| s[label.len()..].starts_with("Resolved: ")).count();
    (subjects.len() - resolutions, resolutions)
}

/// A service case. What must hold:
/// - no invocation runs into the Lambda timeout;
/// - a failed delivery (sns:Publish), an unreadable suppression table in a recovery (its claim:
///   without it the resolution would be lost), an unqueued look (sqs:SendMessage) and an unread
///   instance in the look (ecs:DescribeContainerInstances) fail the invocation naming the action and
///   the code, and its one retry (Lambda's, or SQS bringing the message back) succeeds;
/// - any other fault is outlived: DescribeServices is best effort (the alert goes without the task
///   definitions), the suppression table's mark, storm window and `open` are skipped with a log line;
/// - the phase's alert (the recovery's resolution) is delivered exactly once.
fn service_case(world: &ServiceWorld, case: &Case, tally: &mut Tally) {
    let name = case.name();
    let action = case.action.as_str();
    // A recovery writes twice, its claim and then, once the resolution is out, its finish (a failed
    // finish is only logged). The claim is the write whose lost answer could lose a resolution, so
    // the fault goes there rather than on the middle call.
    let skip = if (case.phase, action) == ("recovery", "dynamodb:UpdateItem") { 0 } else { case.skip };
    let mut rule = case.fault.rule(action, skip, ALERTS_SLOW);
    // As for stopped tasks: a slow delivery is dropped, not forwarded (see `alerts_case`). Any other
    // slow call is forwarded: AWS may apply a write whose answer the function never got (a recovery's
    // claim, a queued look), and the retry must still deliver exactly once.
    if case.fault == Fault::Slow && action == "sns:Publish" {
        rule["reset"] = json!(true);
    }
    let run = service_scenario(world, &name, case.phase, Some(rule));
    tally.secrets += secrets_in(&run.first.body);
    if run.first.elapsed >= Duration::from_secs(ALERTS_TIMEOUT.into()) {
        tally.hangs += 1;
        tally.problems.push(format!("{name}: ran into the Lambda timeout ({:?})", run.first.elapsed));
    }
    let fails = matches!(
        (case.phase, action),
        (_, "sns:Publish")
            | ("recovery", "dynamodb:UpdateItem")
            | ("disconnect", "sqs:SendMessage")
            | ("look", "ecs:DescribeContainerInstances")
    );
    let must_fail = fails && case.fault != Fault::ThrottleClears;
    let answers = &run.answers;
    let want = if case.phase == "disconnect" { "looking-again" } else { "sent" };
    if must_fail {
        let message = answers[0]["errorMessage"].as_str().unwrap_or_default();
        let code = case.fault.code(action);
        let named = message.contains(action) && message.contains(code);
        tally.expect(named, || format!("{name}: expected an error naming {action} and {code}: {answers:?}"));
        let retried = answers.get(1).is_some_and(|a| a["status"] == want);
        tally.expect(retried, || format!("{name}: the retry: expected {want}: {answers:?}"));
    } else {
        tally
            .expect(answers[0]["status"] == want, || format!("{name}: expected {want} despite the fault: {answers:?}"));
    }
    if case.phase == "deployment" && action != "ecs:DescribeServices" {
        let title = answers.last().and_then(|a| a["title"].as_str()).unwrap_or_default();
        tally.expect(title.contains("(rolled back to web:"), || format!("{name}: no task definitions: {title}"));
    }
    let (alerts, resolutions) = service_deliveries(world, &run.label);
    let delivered = if case.phase == "recovery" {
        tally.expect(alerts == 1, || format!("{name}: {alerts} alerts before the recovery"));
        resolutions
    } else {
        tally.expect(resolutions == 0, || format!("{name}: {resolutions} resolutions"));
        alerts
    };
    tally.delivered(delivered, || format!("{name}: never delivered: {answers:?}"));
}

#[test]
fn task_alerts_service_events_deliver_every_alert_and_resolution_once_through_every_fault() {
    let expected: [&[&str]; 4] = [
        &["dynamodb:UpdateItem", "ecs:DescribeServices", "sns:Publish"],
        &["dynamodb:UpdateItem", "sns:Publish"],
        &["sqs:SendMessage"],
        &["dynamodb:UpdateItem", "ecs:DescribeContainerInstances", "sns:Publish"],
    ];
    let all = {
        let world = service_world();
        let mut all = Vec::new();
        for (phase, expected) in SERVICE_PHASES.into_iter().zip(expected) {
            let run = service_scenario(&world, &format!("baseline-{phase}"), phase, None);
            let want = if phase == "disconnect" { "looking-again" } else { "sent" };
            assert_eq!(run.answers[0]["status"], want, "{phase}: {:?}", run.answers);
            all.extend(cases(&[(phase, run.calls)], expected));
        }
        all
    };
    let tally = run_matrix(all, 2, service_world, service_case, |w| {
        let bodies: Vec<String> = w.rig.sns_inbox.received().into_iter().map(|r| r.body).collect();
        format!("{}\n{}", w.lambda.logs(), bodies.join("\n"))
    });
    tally.finish("task-alerts service events", "alerts and resolutions");
}
