//! `make demo`: every function against the local AWS emulator, printing what it did.
//! Starts moto (behind the counting proxy), a receiver standing in for CloudFormation, and the
//! Lambda emulator for each function; stops them all on exit.

use harness::{Lambda, Moto, Proxy, Receiver, binary, cfn_request, response_url};
use serde_json::{Value, json};

fn main() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto.url());
    let receiver = Receiver::start();
    println!("moto on {}, counting proxy on {}, CloudFormation receiver on {}", moto.url(), proxy.url(), receiver.url(""));

    protocol_probe(&proxy, &receiver);
}

/// The custom-resource protocol through its test function: success, an AWS error and the
/// rollback of that failed Create, a panic, and a hang past the deadline.
fn protocol_probe(proxy: &Proxy, receiver: &Receiver) {
    println!("\n== cr-probe: the custom-resource protocol (function timeout 4 s)");
    let lambda = Lambda::start("cr-probe", &binary("cr-probe"), 4, &[("AWS_ENDPOINT_URL", &proxy.url()), ("DEADLINE_MARGIN_MS", "1500")]);
    let steps: [(&str, &str, Value); 5] = [
        ("succeed", "create", json!({"Behaviour": "Succeed"})),
        ("aws-error", "create", json!({"Behaviour": "AwsError"})),
        ("rollback", "delete", json!({"Behaviour": "Succeed"})),
        ("panic", "create", json!({"Behaviour": "Panic"})),
        ("hang", "create", json!({"Behaviour": "Hang"})),
    ];
    let mut placeholder = String::new();
    for (name, kind, props) in steps {
        proxy.reset();
        let mut request = cfn_request(kind, &response_url(receiver, name), props.clone());
        if name == "rollback" {
            request["PhysicalResourceId"] = json!(placeholder);
        }
        let invocation = lambda.invoke_json(&request);
        let answer = receiver
            .received_at(&format!("/cloudformation-custom-resource-response/{name}"))
            .pop()
            .map(|r| r.json())
            .unwrap_or(Value::Null);
        if name == "aws-error" {
            placeholder = answer["PhysicalResourceId"].as_str().unwrap_or_default().to_string();
        }
        let calls = proxy.calls();
        let calls = if calls.counts.is_empty() { "none".to_string() } else { format!("{:?}", calls.counts) };
        println!(
            "{:<7} {:<28} -> {} in {:.1} s, PhysicalResourceId {}\n        Reason: {}\n        AWS calls: {calls}",
            kind,
            props["Behaviour"].as_str().map(|b| format!("Behaviour={b}")).unwrap_or_default() + if name == "rollback" { " (rollback)" } else { "" },
            answer["Status"].as_str().unwrap_or("NO RESPONSE"),
            invocation.elapsed.as_secs_f64(),
            answer["PhysicalResourceId"],
            answer["Reason"].as_str().unwrap_or_default(),
        );
    }
}
