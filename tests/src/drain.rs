//! lifecycle-drain under test: moto (with the lifecycle actions the launcher adds) behind the
//! counting proxy, an EC2 instance registered as an ECS container instance running tasks, the
//! continuation queue, and a pump that plays Lambda's SQS event source mapping.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{Aws, Lambda, Moto, Proxy, agent, binary, sample_event};

pub const CLUSTER: &str = "prod";
pub const GROUP: &str = "ecs-prod-asg";
pub const HOOK: &str = "ecs-drain";

pub struct DrainRig {
    pub moto: Moto,
    pub proxy: Proxy,
    pub aws: Aws,
    pub queue_url: String,
}

/// One EC2 instance, registered in [`CLUSTER`] or not.
pub struct Instance {
    pub id: String,
    pub container_instance: Option<String>,
}

impl DrainRig {
    pub fn start() -> Self {
        let moto = Moto::start();
        let proxy = Proxy::start_for(&moto.url(), "lifecycle-drain");
        let aws = Aws::new(&moto.url());
        // Tasks stay where the test puts them: moto otherwise advances a task one state per describe.
        let pin = json!({"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1_000_000}});
        let response = agent(Duration::from_secs(10))
            .post(&format!("{}/moto-api/state-manager/set-transition", moto.url()))
            .send_json(&pin)
            .expect("set-transition");
        assert!(response.status().is_success(), "set-transition: {}", response.status());
        let ecs = aws.ecs();
        aws.block_on(ecs.create_cluster().cluster_name(CLUSTER).send()).expect("CreateCluster");
        let queue =
            aws.block_on(aws.sqs().create_queue().queue_name("drain-continuation").send()).expect("CreateQueue");
        let queue_url = queue.queue_url().expect("a queue URL").to_string();
        Self { moto, proxy, aws, queue_url }
    }

    /// An EC2 instance; `registered`: also an ECS container instance of [`CLUSTER`].
    pub fn instance(&self, registered: bool) -> Instance {
        let ec2 = self.aws.ec2("us-east-1");
        let run = ec2.run_instances().image_id("ami-12c6146b").min_count(1).max_count(1);
        let out = self.aws.block_on(run.send()).expect("RunInstances");
        let id = out.instances()[0].instance_id().expect("an instance id").to_string();
        let container_instance = registered.then(|| {
            let document = json!({"instanceId": id}).to_string();
            let register =
                self.aws.ecs().register_container_instance().cluster(CLUSTER).instance_identity_document(document);
            let out = self.aws.block_on(register.send()).expect("RegisterContainerInstance");
            out.container_instance().and_then(|c| c.container_instance_arn()).expect("an ARN").to_string()
        });
        Instance { id, container_instance }
    }

    /// Start `count` tasks of `group` (`service:api`, `family:batch`) on the instance; returns their ARNs.
    pub fn tasks(&self, instance: &Instance, group: &str, count: usize) -> Vec<String> {
        let ecs = self.aws.ecs();
        let family = group.split(':').next_back().unwrap_or("app");
        self.task_definition(family);
        let on = instance.container_instance.as_deref().expect("a container instance");
        (0..count)
            .map(|_| {
                let start =
                    ecs.start_task().cluster(CLUSTER).task_definition(family).container_instances(on).group(group);
                let out = self.aws.block_on(start.send()).expect("StartTask");
                out.tasks()[0].task_arn().expect("a task ARN").to_string()
            })
            .collect()
    }

    /// A task definition of one container, both named `family`.
    fn task_definition(&self, family: &str) {
        let container = aws_sdk_ecs::types::ContainerDefinition::builder()
            .name(family)
            .image(format!("{family}:latest"))
            .memory(128)
            .cpu(128)
            .build();
        let register = self.aws.ecs().register_task_definition().family(family).container_definitions(container);
        self.aws.block_on(register.send()).expect("RegisterTaskDefinition");
    }

    /// A daemon service named `name` (its tasks are started with [`tasks`](Self::tasks)).
    pub fn daemon_service(&self, name: &str) {
        self.task_definition(name);
        let ecs = self.aws.ecs();
        let create = ecs
            .create_service()
            .cluster(CLUSTER)
            .service_name(name)
            .task_definition(name)
            .scheduling_strategy(aws_sdk_ecs::types::SchedulingStrategy::Daemon);
        self.aws.block_on(create.send()).expect("CreateService");
    }

    /// Play ECS's part: stop the tasks (moto's DRAINING moves nothing).
    pub fn stop(&self, tasks: &[String]) {
        for task in tasks {
            let stop = self.aws.ecs().stop_task().cluster(CLUSTER).task(task).reason("Task stopped by the test");
            self.aws.block_on(stop.send()).expect("StopTask");
        }
    }

    /// Real ECS's part moto lacks: the instance still REGISTERING (its trunk ENI being attached).
    pub fn set_registering(&self, instance: &Instance) {
        let on = instance.container_instance.as_deref().expect("a container instance");
        self.moto.set_container_instance(on, Some("REGISTERING"), None);
    }

    /// Real ECS's part moto lacks: the instance's agent disconnected (impaired), so the tasks
    /// [`stop`](Self::stop) asks to stop keep their `lastStatus`.
    pub fn disconnect_agent(&self, instance: &Instance) {
        let on = instance.container_instance.as_deref().expect("a container instance");
        self.moto.set_container_instance(on, None, Some(false));
    }

    pub fn instance_status(&self, instance: &Instance) -> String {
        let on = instance.container_instance.as_deref().expect("a container instance");
        let describe = self.aws.ecs().describe_container_instances().cluster(CLUSTER).container_instances(on);
        let out = self.aws.block_on(describe.send()).expect("DescribeContainerInstances");
        out.container_instances()[0].status().unwrap_or_default().to_string()
    }

    /// Auto Scaling's part: an active lifecycle action for `instance`, and the event announcing it.
    pub fn lifecycle_event(&self, instance: &Instance, hook: &str, token: &str) -> Value {
        self.moto.seed_lifecycle_action(GROUP, hook, &instance.id, token);
        let mut event = sample_event("lifecycle-drain", "terminate");
        event["detail"]["EC2InstanceId"] = json!(instance.id);
        event["detail"]["LifecycleActionToken"] = json!(token);
        event["detail"]["LifecycleHookName"] = json!(hook);
        event["detail"]["AutoScalingGroupName"] = json!(GROUP);
        event
    }

    /// lifecycle-drain in the emulator, calling AWS through the proxy: hook [`HOOK`], the queue,
    /// 1 s polls and hand-over delay, and `env` on top.
    pub fn lambda(&self, timeout_secs: u32, env: &[(&str, &str)]) -> Lambda {
        self.lambda_from(&binary("lifecycle-drain"), timeout_secs, env)
    }

    /// The same, running `bootstrap` (e.g. the shipped artifact, for the benchmark).
    pub fn lambda_from(&self, bootstrap: &Path, timeout_secs: u32, env: &[(&str, &str)]) -> Lambda {
        let mut all: Vec<(&str, String)> = vec![
            ("AWS_ENDPOINT_URL", self.proxy.url()),
            ("DRAIN_HOOK_NAME", HOOK.into()),
            ("CONTINUATION_QUEUE_URL", self.queue_url.clone()),
            ("POLL_INTERVAL_SECONDS", "1".into()),
            ("HANDOVER_DELAY_SECONDS", "1".into()),
        ];
        all.extend(env.iter().map(|(k, v)| (*k, v.to_string())));
        let env: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Lambda::start("lifecycle-drain", bootstrap, timeout_secs, &env)
    }

    /// Play the SQS event source mapping once: wait up to `wait` for a message, invoke the function
    /// with it as an SQS event, and delete it if the invocation succeeded. `None`: no message came.
    pub fn pump_once(&self, lambda: &Lambda, wait: Duration) -> Option<Value> {
        let sqs = self.aws.sqs();
        let started = Instant::now();
        while started.elapsed() < wait {
            let receive =
                sqs.receive_message().queue_url(&self.queue_url).max_number_of_messages(1).wait_time_seconds(1);
            let out = self.aws.block_on(receive.send()).expect("ReceiveMessage");
            let Some(message) = out.messages().first() else { continue };
            let event = crate::sqs_event(message, "drain-continuation");
            let invocation = lambda.invoke_json(&event);
            let outcome: Value = serde_json::from_str(&invocation.body).unwrap_or(Value::Null);
            if invocation.status == 200 && outcome.get("errorType").is_none() {
                let handle = message.receipt_handle().unwrap_or_default();
                let delete = sqs.delete_message().queue_url(&self.queue_url).receipt_handle(handle);
                self.aws.block_on(delete.send()).expect("DeleteMessage");
            }
            return Some(outcome);
        }
        None
    }

    /// The launcher's record of CompleteLifecycleAction / RecordLifecycleActionHeartbeat calls.
    pub fn lifecycle_calls(&self) -> Vec<Value> {
        self.moto.lifecycle_actions()["calls"].as_array().cloned().unwrap_or_default()
    }

    /// Successful completions, as `(result, time)`.
    pub fn completions(&self) -> Vec<(String, f64)> {
        self.lifecycle_calls()
            .iter()
            .filter(|c| c["Action"] == "CompleteLifecycleAction" && c["Outcome"] == "ok")
            .map(|c| {
                (c["LifecycleActionResult"].as_str().unwrap_or_default().to_string(), c["Time"].as_f64().unwrap_or(0.0))
            })
            .collect()
    }

    pub fn heartbeats(&self) -> usize {
        self.lifecycle_calls()
            .iter()
            .filter(|c| c["Action"] == "RecordLifecycleActionHeartbeat" && c["Outcome"] == "ok")
            .count()
    }
}
