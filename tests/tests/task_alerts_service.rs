//! Service-level alerts through the Lambda emulator against moto: every kind and its resolution in
//! every chat format and on SNS, repeats held back, a failed deployment's task definitions, and the
//! second look at a disconnected agent through a delayed message on the queue.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testbed::alerts::{AlertsRig, event, text_of};
use testbed::{Lambda, outcome, sqs_event};

const FORMATS: [&str; 4] = ["slack", "teams", "discord", "generic"];
const INSTANCE: &str = "0f1e2d3c4b5a49687766554433221100";

/// One sample event of each kind, and how its alert's title starts.
const PROBLEMS: &[(&str, &str)] = &[
    ("deployment-failed", "[prod] web: Deployment failed"),
    ("service-task-start-impaired", "[prod] web: Tasks keep failing to start"),
    ("service-task-placement-failure.memory", "[prod] web: Tasks cannot be placed (RESOURCE:MEMORY)"),
    ("service-task-configuration-failure", "[prod] web: Task configuration rejected"),
    ("service-discovery-instance-unhealthy", "[prod] web: Service discovery reports an unhealthy task"),
    ("vpc-lattice-target-unhealthy", "[prod] web: VPC Lattice target unhealthy"),
    ("service-daemon-placement-constraint-violated", "[prod] log-agent: Daemon task breaks the placement constraints"),
    (
        "daemon-task-start-impaired.task-creation-failed",
        "[prod] daemon log-agent: Daemon task cannot start (TASK_CREATION_FAILED)",
    ),
    (
        "container-instance-agent-disconnected",
        "[prod] instance 0f1e2d3c4b5a49687766554433221100: ECS agent disconnected",
    ),
];

/// The events that end them, and how the resolution's title starts.
const RECOVERIES: &[(&str, &str)] = &[
    ("deployment-completed", "[prod] web: Resolved: Deployment failed"),
    ("service-steady-state", "[prod] web: Resolved: Tasks keep failing to start"),
    (
        "container-instance-agent-reconnected",
        "[prod] instance 0f1e2d3c4b5a49687766554433221100: Resolved: ECS agent disconnected",
    ),
];

fn env_of(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// task-alerts with the topic, webhook `format` and suppression table `table`, and `extra` on top.
fn lambda(rig: &AlertsRig, format: &str, table: &str, extra: &[(&str, &str)]) -> Lambda {
    let secret = rig.webhook_secret(format, format);
    let mut env = vec![
        ("ALERT_TOPIC_ARN".to_string(), rig.topic_arn.clone()),
        ("WEBHOOK_SECRET_ARN".to_string(), secret),
        ("SUPPRESSION_TABLE".to_string(), rig.suppression_table(table)),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    rig.lambda(30, &env_of(&env))
}

fn invoke(lambda: &Lambda, event: &Value) -> Value {
    let answer = outcome(&lambda.invoke_json(event));
    assert!(answer.get("errorType").is_none(), "{answer}\n{}", lambda.logs());
    answer
}

fn with_id(mut event: Value, id: &str) -> Value {
    event["id"] = json!(id);
    event
}

#[test]
fn every_kind_alerts_in_every_format_and_each_resolution_follows_once() {
    let rig = AlertsRig::start();
    for format in FORMATS {
        let table = format!("alerts-{format}");
        let lambda = lambda(&rig, format, &table, &[("AGENT_DISCONNECT_GRACE_SECONDS", "0")]);
        let mut sent = 0;
        for (name, title) in PROBLEMS {
            let answer = invoke(&lambda, &event(name));
            assert_eq!(answer["status"], "sent", "{format} {name}: {answer}");
            assert!(answer["title"].as_str().unwrap_or_default().starts_with(title), "{format} {name}: {answer}");
            sent += 1;
            let posts = rig.posts(format);
            assert_eq!(posts.len(), sent, "{format} {name}: one POST per alert");
            let text = text_of(&posts[sent - 1].json());
            assert!(text.contains(title.split(": ").nth(1).unwrap_or(title)), "{format} {name}: {text}");
            assert!(text.contains("https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/"), "{format} {name}");
        }
        for (name, title) in RECOVERIES {
            let answer = invoke(&lambda, &event(name));
            assert_eq!(answer["status"], "sent", "{format} {name}: {answer}");
            assert!(answer["title"].as_str().unwrap_or_default().starts_with(title), "{format} {name}: {answer}");
            sent += 1;
            let text = text_of(&rig.posts(format)[sent - 1].json());
            assert!(text.contains("Resolved"), "{format} {name}: {text}");
            let again = invoke(&lambda, &with_id(event(name), "a-later-report-of-the-same-state"));
            assert_eq!(again["status"], "ignored", "{format} {name}: the resolution is sent once: {again}");
        }
        assert_eq!(rig.posts(format).len(), sent, "{format}");
    }
    // SNS got each alert of each format once, under its title.
    let subjects: Vec<String> =
        rig.sns_messages().iter().map(|m| m["Subject"].as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(subjects.len(), FORMATS.len() * (PROBLEMS.len() + RECOVERIES.len()));
    for (_, title) in PROBLEMS.iter().chain(RECOVERIES) {
        let count = subjects.iter().filter(|s| s.starts_with(title)).count();
        assert_eq!(count, FORMATS.len(), "{title}: {subjects:?}");
    }
}

#[test]
fn repeats_alert_once_per_service_and_kind_and_a_recovery_without_an_alert_sends_nothing() {
    let rig = AlertsRig::start();
    let lambda = lambda(&rig, "slack", "alerts", &[]);
    let quiet = invoke(&lambda, &event("service-steady-state"));
    assert_eq!(quiet["status"], "ignored", "nothing was alerted yet: {quiet}");
    let statuses: Vec<Value> = (0..3)
        .map(|i| {
            invoke(&lambda, &with_id(event("service-task-placement-failure.memory"), &format!("repeat-{i}")))["status"]
                .clone()
        })
        .collect();
    assert_eq!(statuses, [json!("sent"), json!("suppressed"), json!("suppressed")]);
    // Another kind of the same service is another alert.
    assert_eq!(invoke(&lambda, &event("service-task-start-impaired"))["status"], "sent");
    // EventBridge delivering the same event twice: the second is a duplicate.
    assert_eq!(invoke(&lambda, &event("service-task-start-impaired"))["status"], "duplicate");
    let resolved = invoke(&lambda, &event("service-steady-state"));
    assert_eq!(resolved["status"], "sent", "{resolved}");
    assert_eq!(resolved["title"], "[prod] web: Resolved: Tasks keep failing to start");
    let text = text_of(&rig.posts("slack").last().expect("a post").json());
    assert!(text.contains("tasks keep failing to start; tasks cannot be placed"), "one resolution for both: {text}");
    assert_eq!(invoke(&lambda, &with_id(event("service-steady-state"), "periodic"))["status"], "ignored");
    assert_eq!(rig.posts("slack").len(), 3);
}

#[test]
fn a_failed_deployment_names_the_failed_and_the_rolled_back_task_definitions() {
    let rig = AlertsRig::start();
    let ecs = rig.aws.ecs();
    rig.aws.block_on(ecs.create_cluster().cluster_name("prod").send()).expect("CreateCluster");
    let (good, bad) = (rig.task_definition("web", false), rig.task_definition("web", false));
    let create = ecs.create_service().cluster("prod").service_name("web").task_definition(&good).desired_count(2);
    rig.aws.block_on(create.send()).expect("CreateService");
    // As ECS lists them once the circuit breaker rolled back: the rollback PRIMARY, the failed one ACTIVE.
    let failed_id = event("deployment-failed")["detail"]["deploymentId"].clone();
    rig.moto.set_service_deployments(
        "prod",
        "web",
        json!([
            {"id": "ecs-svc/8312084752911084411", "status": "PRIMARY", "taskDefinition": good,
             "rolloutState": "IN_PROGRESS", "rolloutStateReason": "ECS deployment circuit breaker: rolling back."},
            {"id": failed_id, "status": "ACTIVE", "taskDefinition": bad, "rolloutState": "FAILED",
             "rolloutStateReason": "ECS deployment circuit breaker: task failed to start."},
        ]),
    );
    let lambda = lambda(&rig, "generic", "alerts", &[]);
    let answer = invoke(&lambda, &event("deployment-failed"));
    assert_eq!(answer["title"], "[prod] web: Deployment failed (rolled back to web:1)", "{answer}");
    let post = rig.posts("generic")[0].json();
    assert_eq!(post["details"]["Failed task definition"], "web:2", "{post}");
    assert_eq!(post["details"]["Rolled back to"], "web:1", "{post}");
    assert!(post["summary"].as_str().unwrap_or_default().contains("task failed to start"), "{post}");
    assert_eq!(rig.proxy.calls().count("ecs:DescribeServices"), 1);
}

#[test]
fn a_disconnected_agent_alerts_only_if_it_stays_disconnected_past_the_grace_period() {
    let rig = AlertsRig::start();
    let (ecs, sqs) = (rig.aws.ecs(), rig.aws.sqs());
    rig.aws.block_on(ecs.create_cluster().cluster_name("prod").send()).expect("CreateCluster");
    let run = rig.aws.ec2("us-east-1").run_instances().image_id("ami-12c6146b").min_count(1).max_count(1);
    let ec2_id =
        rig.aws.block_on(run.send()).expect("RunInstances").instances()[0].instance_id().expect("id").to_string();
    let register = ecs
        .register_container_instance()
        .cluster("prod")
        .instance_identity_document(json!({"instanceId": ec2_id}).to_string());
    let registered = rig.aws.block_on(register.send()).expect("RegisterContainerInstance");
    let arn = registered.container_instance().and_then(|c| c.container_instance_arn()).expect("an ARN").to_string();
    let queue = rig.aws.block_on(sqs.create_queue().queue_name("look-again").send()).expect("CreateQueue");
    let queue_url = queue.queue_url().expect("a URL").to_string();
    let lambda = lambda(
        &rig,
        "slack",
        "alerts",
        &[("AGENT_DISCONNECT_GRACE_SECONDS", "1"), ("LOOK_AGAIN_QUEUE_URL", queue_url.as_str())],
    );
    let disconnected = {
        let mut event = event("container-instance-agent-disconnected");
        event["detail"]["containerInstanceArn"] = json!(arn);
        event["resources"] = json!([arn]);
        event
    };

    // The disconnect waits on the queue for the grace period; nothing is sent yet.
    let queued_at = Instant::now();
    let answer = invoke(&lambda, &disconnected);
    assert_eq!(
        (answer["status"].clone(), answer["delaySeconds"].clone()),
        (json!("looking-again"), json!(1)),
        "{answer}"
    );
    let receive = || {
        let receive = sqs.receive_message().queue_url(&queue_url).max_number_of_messages(1).wait_time_seconds(1);
        rig.aws.block_on(receive.send()).expect("ReceiveMessage").messages().first().cloned()
    };
    let message = loop {
        if let Some(message) = receive() {
            break message;
        }
        assert!(queued_at.elapsed() < Duration::from_secs(10), "the look never came back");
    };
    assert!(queued_at.elapsed() >= Duration::from_millis(900), "SQS delays the look by the grace period");
    let look = sqs_event(&message, "look-again");

    // Moto's agent is connected: it reconnected within the grace period.
    let answer = invoke(&lambda, &look);
    assert_eq!(answer["status"], "ignored", "{answer}");
    assert_eq!(answer["reason"], "the agent reconnected within the grace period");
    // Still disconnected, but nothing runs there: nothing to alert about.
    rig.moto.set_container_instance(&arn, None, Some(false));
    assert_eq!(invoke(&lambda, &look)["reason"], "no task runs on the instance");
    // Still disconnected with a task on it: the alert.
    let family = rig.task_definition("web", false);
    let start =
        ecs.start_task().cluster("prod").task_definition(&family).container_instances(&arn).group("service:web");
    rig.aws.block_on(start.send()).expect("StartTask");
    let answer = invoke(&lambda, &look);
    assert_eq!(answer["status"], "sent", "{answer}");
    let id = arn.rsplit('/').next().unwrap_or_default();
    assert_eq!(answer["title"], format!("[prod] instance {id}: ECS agent disconnected ({ec2_id})"));
    let text = text_of(&rig.posts("slack")[0].json());
    assert!(text.contains("disconnected and was still disconnected 1 s later while 1 task runs there"), "{text}");
    assert_eq!(rig.proxy.calls().count("ecs:DescribeContainerInstances"), 3);

    // Its reconnection is the resolution, once.
    let mut reconnected = event("container-instance-agent-reconnected");
    reconnected["detail"]["containerInstanceArn"] = json!(arn);
    let answer = invoke(&lambda, &reconnected);
    assert_eq!(answer["title"], format!("[prod] instance {id}: Resolved: ECS agent disconnected"), "{answer}");
    assert_eq!(rig.posts("slack").len(), 2);
    assert_ne!(INSTANCE, id, "the test's instance is moto's, not the sample's");
}

#[test]
fn amazon_q_threads_a_failure_and_its_resolution_per_service() {
    let rig = AlertsRig::start();
    let lambda = lambda(&rig, "slack", "alerts", &[("SNS_MESSAGE_FORMAT", "amazon-q")]);
    assert_eq!(invoke(&lambda, &event("deployment-failed"))["status"], "sent");
    assert_eq!(invoke(&lambda, &event("deployment-completed"))["status"], "sent");
    let notifications: Vec<Value> = rig
        .sns_messages()
        .iter()
        .map(|m| serde_json::from_str(m["Message"].as_str().unwrap_or_default()).expect("JSON"))
        .collect();
    assert_eq!(notifications.len(), 2);
    for notification in &notifications {
        assert_eq!(notification["metadata"]["threadId"], "prod/web", "{notification}");
    }
    assert_eq!(notifications[1]["content"]["title"], "[prod] web: Resolved: Deployment failed");
}
