//! task-alerts under test: moto behind the counting proxy, an SNS topic whose HTTP subscription
//! lands on one receiver (moto really POSTs each notification), and a second receiver standing in
//! for the chat webhooks, with secrets in moto's Secrets Manager pointing at it.

use serde_json::{Value, json};

use crate::{Aws, Invocation, Lambda, Moto, Proxy, Received, Receiver, binary, repo_root};

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
        let proxy = Proxy::start(&moto.url());
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
        let mut all = vec![("AWS_ENDPOINT_URL", self.proxy.url())];
        all.extend(env.iter().map(|(k, v)| (*k, v.to_string())));
        let env: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Lambda::start("task-alerts", &binary("task-alerts"), timeout_secs, &env)
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

/// `events/task-alerts/<name>.json`.
pub fn event(name: &str) -> Value {
    let path = repo_root().join("events/task-alerts").join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What the handler returned: `{"status": "sent" | "ignored" | "rejected", …}`, or its error.
pub fn outcome(invocation: &Invocation) -> Value {
    assert_eq!(invocation.status, 200, "{invocation:?}");
    serde_json::from_str(&invocation.body).unwrap_or_else(|e| panic!("not JSON ({e}): {invocation:?}"))
}
