//! A custom-resource function under test, with everything around it: moto behind the counting
//! proxy, the receiver standing in for CloudFormation, the function in the emulator, and SDK
//! clients straight to moto for seeding and reading back.

use serde_json::{Value, json};

use crate::{Aws, CfnRequest, Lambda, Moto, Proxy, Receiver, binary, response_url};

pub struct Rig {
    pub function: String,
    pub lambda: Lambda,
    pub receiver: Receiver,
    pub proxy: Proxy,
    pub aws: Aws,
    pub moto: Moto,
}

impl Rig {
    pub fn start(function: &str, timeout_secs: u32) -> Self {
        Self::start_with(function, timeout_secs, &[])
    }

    /// The same, with `env` added to the function's environment.
    pub fn start_with(function: &str, timeout_secs: u32, env: &[(&str, &str)]) -> Self {
        let moto = Moto::start();
        let proxy = Proxy::start_for(&moto.url(), function);
        let receiver = Receiver::start();
        let endpoint = proxy.url();
        let mut all = vec![("AWS_ENDPOINT_URL", endpoint.as_str())];
        all.extend_from_slice(env);
        let lambda = Lambda::start(function, &binary(function), timeout_secs, &all);
        let aws = Aws::new(&moto.url());
        Self { function: function.into(), lambda, receiver, proxy, aws, moto }
    }

    /// Send the function's sample request `event` from the tests' stack with these properties
    /// (and, for Update and Delete, the physical id; for Update, the old properties), and return
    /// the one response CloudFormation got, checking that there is exactly one, with a one-line
    /// reason, and that Lambda was told success.
    pub fn send(
        &self,
        name: &str,
        event: &str,
        properties: &Value,
        physical_id: Option<&str>,
        old: Option<&Value>,
    ) -> Value {
        let url = response_url(&self.receiver, name);
        let request = CfnRequest::sample(&self.function, event, &url)
            .in_test_stack()
            .properties(properties)
            .old_properties(old)
            .physical_id(physical_id)
            .build();
        self.send_request(name, request)
    }

    /// Send `request` (answered at [`response_url`]`(name)`) as request `name`, checked as [`Rig::send`].
    pub fn send_request(&self, name: &str, mut request: Value) -> Value {
        request["RequestId"] = json!(format!("{name}-0000-4000-8000-000000000000"));
        let invocation = self.lambda.invoke_json(&request);
        assert_eq!(
            (invocation.status, invocation.body.trim()),
            (200, "null"),
            "{invocation:?}\n{}",
            self.lambda.logs()
        );
        let answers: Vec<_> = self
            .receiver
            .received_at(&format!("/cloudformation-custom-resource-response/{name}"))
            .into_iter()
            .filter(|r| r.status == 200)
            .collect();
        assert_eq!(answers.len(), 1, "{name}: one response");
        let body = answers[0].json();
        assert!(!body["Reason"].as_str().unwrap_or_default().contains('\n'), "{name}: one line");
        body
    }

    /// The write calls the function made since the proxy was last reset (anything not a read).
    pub fn writes(&self) -> Vec<String> {
        let read = |a: &str| a.contains(":Describe") || a.contains(":Get") || a.contains(":List");
        self.proxy.calls().calls.into_iter().map(|c| c.action).filter(|a| !read(a)).collect()
    }
}
