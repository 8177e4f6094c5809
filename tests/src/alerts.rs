//! task-alerts under test: moto behind the counting proxy, an SNS topic whose HTTP subscription
//! lands on one receiver (moto really POSTs each notification), and a second receiver standing in
//! for the chat webhooks, with secrets in moto's Secrets Manager pointing at it.

use std::path::Path;

use serde_json::{Value, json};

use crate::{Aws, Lambda, Moto, Proxy, Received, Receiver, binary, sample_event};

/// A webhook token distinctive enough to grep every log line and error for.
pub const WEBHOOK_TOKEN: &str = "T0SECRET/B0SECRET/xoxb-DO-NOT-LOG-4c1d5e0f";

pub struct AlertsRig {
    pub moto: Moto,
    pub proxy: Proxy,
    pub aws: Aws,
    /// Where moto delivers the topic's notifications (path `/sns`).
    pub sns_inbox: Receiver,
    /// The chat webhooks (path `/hook/<name>`).
    pub chat: Receiver,
    pub topic_arn: String,
}

impl AlertsRig {
    pub fn start() -> Self {
        let moto = Moto::start();
        let proxy = Proxy::start_for(&moto.url(), "task-alerts");
        let aws = Aws::new(&moto.url());
        let (sns_inbox, chat) = (Receiver::start(), Receiver::start());
        let sns = aws.sns();
        let topic = aws.block_on(sns.create_topic().name("ecs-task-alerts").send()).expect("CreateTopic");
        let topic_arn = topic.topic_arn().expect("a topic ARN").to_string();
        let subscribe = sns.subscribe().topic_arn(&topic_arn).protocol("http").endpoint(sns_inbox.url("/sns"));
        aws.block_on(subscribe.send()).expect("Subscribe");
        Self { moto, proxy, aws, sns_inbox, chat, topic_arn }
    }

    /// The chat receiver's URL for webhook `name`, carrying [`WEBHOOK_TOKEN`] as a real webhook would.
    pub fn webhook_url(&self, name: &str) -> String {
        self.chat.url(&format!("/hook/{name}?token={WEBHOOK_TOKEN}"))
    }

    /// A secret holding `value`; returns its ARN.
    pub fn secret(&self, name: &str, value: &str) -> String {
        let create = self.aws.secrets().create_secret().name(name).secret_string(value);
        let out = self.aws.block_on(create.send()).expect("CreateSecret");
        out.arn().expect("a secret ARN").to_string()
    }

    /// A secret `{"url": <webhook name>, "format": format}`; returns its ARN.
    pub fn webhook_secret(&self, name: &str, format: &str) -> String {
        self.secret(
            &format!("ecs-alerts/{name}"),
            &json!({"url": self.webhook_url(name), "format": format}).to_string(),
        )
    }

    /// task-alerts in the emulator, calling AWS through the proxy, with `env` added.
    pub fn lambda(&self, timeout_secs: u32, env: &[(&str, &str)]) -> Lambda {
        self.lambda_from(&binary("task-alerts"), timeout_secs, env)
    }

    /// The same, running `bootstrap` (e.g. the shipped artifact, for the benchmark).
    pub fn lambda_from(&self, bootstrap: &Path, timeout_secs: u32, env: &[(&str, &str)]) -> Lambda {
        let mut all = vec![("AWS_ENDPOINT_URL", self.proxy.url())];
        all.extend(env.iter().map(|(k, v)| (*k, v.to_string())));
        let env: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Lambda::start("task-alerts", bootstrap, timeout_secs, &env)
    }

    /// Subscribe `endpoint` to the topic with `protocol` (moto confirms it at once).
    pub fn subscribe(&self, protocol: &str, endpoint: &str) {
        let subscribe = self.aws.sns().subscribe().topic_arn(&self.topic_arn).protocol(protocol).endpoint(endpoint);
        self.aws.block_on(subscribe.send()).expect("Subscribe");
    }

    /// The notifications moto delivered: each `{"Subject", "Message", …}`.
    pub fn sns_messages(&self) -> Vec<Value> {
        self.sns_inbox.received_at("/sns").iter().map(Received::json).collect()
    }

    /// The POSTs webhook `name` got (any status).
    pub fn posts(&self, name: &str) -> Vec<Received> {
        self.chat.received_at(&format!("/hook/{name}"))
    }
}

impl AlertsRig {
    /// The suppression table as the stack makes it: key `pk`, TTL on `expires_at`.
    pub fn suppression_table(&self, name: &str) -> String {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        let dynamodb = self.aws.dynamodb();
        let key = KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().expect("key");
        let attribute = AttributeDefinition::builder()
            .attribute_name("pk")
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute");
        let create = dynamodb
            .create_table()
            .table_name(name)
            .key_schema(key)
            .attribute_definitions(attribute)
            .billing_mode(BillingMode::PayPerRequest);
        self.aws.block_on(create.send()).expect("CreateTable");
        let ttl = aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name("expires_at")
            .build()
            .expect("ttl");
        self.aws
            .block_on(dynamodb.update_time_to_live().table_name(name).time_to_live_specification(ttl).send())
            .expect("TTL");
        name.to_string()
    }

    /// A task definition `family` with one container of that name; with `awslogs`, its output goes
    /// to log group `/ecs/<family>` under stream prefix `ecs`. Returns the task definition ARN.
    pub fn task_definition(&self, family: &str, awslogs: bool) -> String {
        use aws_sdk_ecs::types::{ContainerDefinition, LogConfiguration, LogDriver};
        let mut container = ContainerDefinition::builder().name(family).image(format!("{family}:latest")).memory(512);
        if awslogs {
            let logs = LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", format!("/ecs/{family}"))
                .options("awslogs-region", "us-east-1")
                .options("awslogs-stream-prefix", "ecs")
                .build()
                .expect("a log configuration");
            container = container.log_configuration(logs);
        }
        let register =
            self.aws.ecs().register_task_definition().family(family).container_definitions(container.build());
        let out = self.aws.block_on(register.send()).expect("RegisterTaskDefinition");
        out.task_definition().and_then(|t| t.task_definition_arn()).expect("an ARN").to_string()
    }

    /// What a container wrote: `lines` in stream `ecs/<container>/<task id>` of `/ecs/<container>`.
    pub fn container_output(&self, container: &str, task_id: &str, lines: &[String]) {
        use aws_sdk_cloudwatchlogs::types::InputLogEvent;
        let logs = self.aws.logs();
        let (group, stream) = (format!("/ecs/{container}"), format!("ecs/{container}/{task_id}"));
        let _ = self.aws.block_on(logs.create_log_group().log_group_name(&group).send());
        self.aws
            .block_on(logs.create_log_stream().log_group_name(&group).log_stream_name(&stream).send())
            .expect("CreateLogStream");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
        let events: Vec<InputLogEvent> = lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                InputLogEvent::builder().timestamp(now - 60_000 + i as i64).message(line).build().expect("an event")
            })
            .collect();
        let put = logs.put_log_events().log_group_name(&group).log_stream_name(&stream).set_log_events(Some(events));
        self.aws.block_on(put.send()).expect("PutLogEvents");
    }
}

/// What every message about the sample event `stopped-out-of-memory` must say.
pub const OOM_FACTS: &[(&str, &str)] = &[
    ("cluster", "prod"),
    ("service", "api"),
    ("category", "Out of memory"),
    ("summary", "Out of memory: OutOfMemoryError: Container killed due to memory usage"),
    ("fix hint", "used more memory than the task definition allows"),
    ("verbatim reason", "OutOfMemoryError: Container killed due to memory usage"),
    ("stop code", "EssentialContainerExited"),
    ("exit code of api", "137"),
    ("exit code of log-router", "143"),
    (
        "console link",
        "https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/tasks/5f6c1a2b3d4e4f5a8b9c0d1e2f3a4b5c",
    ),
];

/// Every string in a JSON document, joined: what a reader of the message sees, escapes undone.
pub fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join("\n"),
        Value::Object(map) => map.values().map(text_of).collect::<Vec<_>>().join("\n"),
        other => other.to_string(),
    }
}

pub fn assert_says_all(what: &str, text: &str) {
    for (fact, needle) in OOM_FACTS {
        assert!(text.contains(needle), "{what} lacks the {fact} ({needle:?}):\n{text}");
    }
}

/// task-alerts' sample event `name` (`events/task-alerts/<name>.json`).
pub fn event(name: &str) -> Value {
    sample_event("task-alerts", name)
}
