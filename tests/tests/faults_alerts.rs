//! task-alerts' fault matrix (#10): every action its stopped-task alerts call, failed in every way
//! of [`testbed::faults::Fault`]; every alert must reach its destination exactly once (the
//! failed invocation, then Lambda's retry). The machinery is in `tests/src/faults.rs`.

use std::time::Duration;

use serde_json::{Value, json};
use testbed::Lambda;
use testbed::alerts::{AlertsRig, event as alert_event};
use testbed::faults::{Case, Fault, Tally, cases, fnv, run_matrix, secrets_in, settle};

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
    match deliveries(world, webhook, &task_id) {
        0 => {
            tally.missing += 1;
            tally.problems.push(format!("{name}: never delivered"));
        }
        n => {
            tally.responses += n;
            tally.duplicates += n - 1;
        }
    }
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
