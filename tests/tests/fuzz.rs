//! Bad input (#10): property-based tests that feed every function its real-shaped sample events,
//! mutated (fields removed, wrong types, huge strings, odd characters, unknown fields) and
//! corrupted as bytes (non-UTF-8, lone surrogate escapes, cut short).
//!
//! Each input type gets at least 256 cases with a fixed seed, printed with the failing input:
//! - through the built function in the Lambda emulator: no panic, no hang, and exactly one
//!   CloudFormation response wherever the request carries a usable `ResponseURL` (none otherwise);
//! - straight into each function's pure parser (more cases, as they are cheap): no panic.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};
use testbed::alerts::AlertsRig;
use testbed::drain::DrainRig;
use testbed::{Lambda, Rig, response_url};

const SEED: u64 = 0x0ec5_f1a5_2026_1122;

/// Run `cases` of `strategy` with the fixed seed; on failure, name the seed and the input.
fn check<S: Strategy>(what: &str, cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(SEED),
        failure_persistence: None,
        // Each shrinking step may be an emulator invocation: enough to shorten, not to wander.
        max_shrink_iters: 200,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{what}: proptest failed with seed {SEED:#x} ({cases} cases): {e}");
    }
}

// ---- Inputs --------------------------------------------------------------------------------

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        "(vpc|sg|rtb|pcx|i)-[0-9a-f]{8,17}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// One change to a value somewhere in the document (`at` picks the place).
#[derive(Debug, Clone)]
enum Mutation {
    Remove { at: usize },
    Replace { at: usize, with: Value },
    Huge { at: usize, unit: &'static str, times: usize },
    Add { at: usize, key: String, value: Value },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let unit = prop_oneof![Just("a"), Just("é"), Just("🦀"), Just("\u{202e}"), Just("\u{0}"), Just("\n")];
    prop_oneof![
        any::<usize>().prop_map(|at| Mutation::Remove { at }),
        (any::<usize>(), any_json()).prop_map(|(at, with)| Mutation::Replace { at, with }),
        (any::<usize>(), unit, 1_000usize..100_000).prop_map(|(at, unit, times)| Mutation::Huge { at, unit, times }),
        (any::<usize>(), any::<String>(), any_json()).prop_map(|(at, key, value)| Mutation::Add { at, key, value }),
    ]
}

/// A change to the serialized bytes.
#[derive(Debug, Clone)]
enum Corruption {
    None,
    /// `\udc80` inside a string: valid JSON syntax, but no Unicode scalar value.
    LoneSurrogate {
        at: usize,
    },
    /// Bytes that are not UTF-8, inside a string.
    NotUtf8 {
        at: usize,
    },
    /// The text cut short.
    Truncate {
        at: usize,
    },
}

fn corruption() -> impl Strategy<Value = Corruption> {
    prop_oneof![
        6 => Just(Corruption::None),
        1 => any::<usize>().prop_map(|at| Corruption::LoneSurrogate { at }),
        1 => any::<usize>().prop_map(|at| Corruption::NotUtf8 { at }),
        1 => any::<usize>().prop_map(|at| Corruption::Truncate { at }),
    ]
}

/// A sample event (by index), up to four mutations, and a corruption.
fn input(events: usize) -> impl Strategy<Value = (usize, Vec<Mutation>, Corruption)> {
    (0..events, prop::collection::vec(mutation(), 0..4), corruption())
}

/// The JSON pointers of every value in `doc`, the root first.
fn pointers(doc: &Value) -> Vec<String> {
    let mut all = vec![String::new()];
    let mut i = 0;
    while i < all.len() {
        let here = all[i].clone();
        let escape = |k: &str| k.replace('~', "~0").replace('/', "~1");
        match doc.pointer(&here) {
            Some(Value::Object(map)) => all.extend(map.keys().map(|k| format!("{here}/{}", escape(k)))),
            Some(Value::Array(items)) => all.extend((0..items.len()).map(|n| format!("{here}/{n}"))),
            _ => {}
        }
        i += 1;
    }
    all
}

fn apply(mut doc: Value, mutations: &[Mutation]) -> Value {
    for m in mutations {
        let places = pointers(&doc);
        let pick = |at: usize| places[at % places.len()].clone();
        match m {
            Mutation::Remove { at } => {
                let path = pick(*at);
                if let Some((parent, key)) = path.rsplit_once('/') {
                    match doc.pointer_mut(parent) {
                        Some(Value::Object(map)) => {
                            map.remove(&key.replace("~1", "/").replace("~0", "~"));
                        }
                        Some(Value::Array(items)) => {
                            if let Ok(n) = key.parse::<usize>() {
                                items.remove(n);
                            }
                        }
                        _ => {}
                    }
                }
            }
            Mutation::Replace { at, with } => {
                if let Some(v) = doc.pointer_mut(&pick(*at)) {
                    *v = with.clone();
                }
            }
            Mutation::Huge { at, unit, times } => {
                if let Some(v) = doc.pointer_mut(&pick(*at)) {
                    *v = Value::String(unit.repeat(*times));
                }
            }
            Mutation::Add { at, key, value } => {
                if let Some(Value::Object(map)) = doc.pointer_mut(&pick(*at)) {
                    map.insert(key.clone(), value.clone());
                }
            }
        }
    }
    doc
}

fn corrupt(mut bytes: Vec<u8>, corruption: &Corruption) -> Vec<u8> {
    // Just after an opening quote of some string: inside a key or a value.
    let inside = |at: usize| {
        let quotes: Vec<usize> = bytes.iter().enumerate().filter(|(_, b)| **b == b'"').map(|(i, _)| i + 1).collect();
        quotes.get(at % quotes.len().max(1)).copied().unwrap_or(0)
    };
    match corruption {
        Corruption::None => {}
        Corruption::LoneSurrogate { at } => {
            let i = inside(*at);
            bytes.splice(i..i, b"\\udc80".iter().copied());
        }
        Corruption::NotUtf8 { at } => {
            let i = inside(*at);
            bytes.splice(i..i, [0xc3, 0x28, 0xff]);
        }
        Corruption::Truncate { at } => bytes.truncate(at % bytes.len().max(1)),
    }
    bytes
}

fn samples(function: &str) -> Vec<Value> {
    testbed::sample_events(function).into_iter().map(|(_, event)| event).collect()
}

// ---- Through the emulator -------------------------------------------------------------------

const TIMEOUT: u32 = 10;

/// One invocation with `bytes`: it ends before the timeout, and not in a panic (the runtime
/// names a caught panic's payload type, `Box<dyn Any + Send>`, as the error type).
fn invoke_once(lambda: &Lambda, bytes: &[u8]) -> Result<testbed::Invocation, TestCaseError> {
    let invocation = lambda.invoke(bytes);
    prop_assert!(invocation.elapsed < Duration::from_secs(TIMEOUT.into()), "a hang: {:?}", invocation.elapsed);
    prop_assert!(!invocation.body.contains("core::any::Any"), "a panic: {}", invocation.body);
    Ok(invocation)
}

/// After a run: no panic printed anywhere in the function's output.
fn assert_no_panic(lambda: &Lambda) {
    let logs = lambda.logs();
    let panics: Vec<&str> = logs.lines().filter(|l| l.contains("panicked")).collect();
    assert!(panics.is_empty(), "panics: {panics:?}");
}

fn custom_resource(function: &str) {
    let rig = Rig::start(function, TIMEOUT);
    let events = samples(function);
    let counter = AtomicUsize::new(0);
    check(function, 256, input(events.len()), |(event, mutations, corruption)| {
        let name = format!("fuzz-{}", counter.fetch_add(1, Ordering::Relaxed));
        let url = response_url(&rig.receiver, &name);
        let mut doc = events[event].clone();
        doc["ResponseURL"] = json!(url);
        let bytes = corrupt(apply(doc, &mutations).to_string().into_bytes(), &corruption);
        invoke_once(&rig.lambda, &bytes)?;
        // What the function can read is what serde_json reads; CloudFormation sends nothing else.
        let sent: Option<Value> = serde_json::from_slice(&bytes).ok();
        let answerable = sent.as_ref().and_then(|v| v.get("ResponseURL")).and_then(Value::as_str) == Some(url.as_str());
        let answers = rig.receiver.received_at(&format!("/cloudformation-custom-resource-response/{name}"));
        prop_assert_eq!(answers.len(), usize::from(answerable), "responses to {}", name);
        if let Some(answer) = answers.first() {
            let body = answer.json();
            let reason = body["Reason"].as_str().unwrap_or_default();
            prop_assert!(["SUCCESS", "FAILED"].contains(&body["Status"].as_str().unwrap_or_default()), "{}", body);
            prop_assert!(!reason.contains('\n') && !reason.contains("internal error"), "{}", reason);
            prop_assert!(answer.body.len() <= shared::custom_resource::MAX_BODY_BYTES, "{} bytes", answer.body.len());
        }
        Ok(())
    });
    assert_no_panic(&rig.lambda);
}

#[test]
fn vpc_peering_answers_any_request_once_without_panic_or_hang() {
    custom_resource("vpc-peering");
}

#[test]
fn endpoint_access_answers_any_request_once_without_panic_or_hang() {
    custom_resource("endpoint-access");
}

/// An EventBridge function: any input ends in a result or an error, before the timeout, without
/// a panic.
fn event_function(function: &str, lambda: &Lambda) {
    let events = samples(function);
    check(function, 256, input(events.len()), |(event, mutations, corruption)| {
        let bytes = corrupt(apply(events[event].clone(), &mutations).to_string().into_bytes(), &corruption);
        let invocation = invoke_once(lambda, &bytes)?;
        prop_assert_eq!(invocation.status, 200);
        Ok(())
    });
    assert_no_panic(lambda);
}

#[test]
fn task_alerts_handle_any_event_without_panic_or_hang() {
    let rig = AlertsRig::start();
    let secret = rig.webhook_secret("slack", "slack");
    let lambda = rig.lambda(TIMEOUT, &[("ALERT_TOPIC_ARN", &rig.topic_arn), ("WEBHOOK_SECRET_ARN", &secret)]);
    event_function("task-alerts", &lambda);
}

#[test]
fn lifecycle_drain_handles_any_event_without_panic_or_hang() {
    let rig = DrainRig::start();
    let lambda = rig.lambda(TIMEOUT, &[]);
    event_function("lifecycle-drain", &lambda);
}

// ---- The pure parsers --------------------------------------------------------------------------

#[test]
fn the_parsers_take_any_input_without_panic() {
    let peering = samples("vpc-peering");
    check("custom-resource envelope and peering properties", 1024, input(peering.len()), |(event, mutations, _)| {
        let doc = apply(peering[event].clone(), &mutations);
        if let Ok(request) = shared::custom_resource::Request::parse(&doc) {
            let props = shared::custom_resource::properties::parse::<vpc_peering::properties::PeeringProperties>(
                &request.properties,
            );
            if let Ok(props) = props {
                let _ = props.validate();
            }
        }
        Ok(())
    });
    let access = samples("endpoint-access");
    check("endpoint-access properties", 1024, input(access.len()), |(event, mutations, _)| {
        let doc = apply(access[event].clone(), &mutations);
        let props = shared::custom_resource::properties::parse::<endpoint_access::properties::AccessProperties>(
            &doc["ResourceProperties"],
        );
        if let Ok(props) = props {
            let _ = props.validate();
        }
        Ok(())
    });
    let alerts = samples("task-alerts");
    let config = task_alerts::Config::from_lookup(|k| {
        (k == "ALERT_TOPIC_ARN").then(|| "arn:aws:sns:us-east-1:123456789012:alerts".into())
    })
    .expect("a configuration");
    check("task-alerts triage", 1024, input(alerts.len()), |(event, mutations, _)| {
        let _ = task_alerts::triage::triage(&apply(alerts[event].clone(), &mutations), &config);
        Ok(())
    });
    let drain = samples("lifecycle-drain");
    check("lifecycle-drain input", 1024, input(drain.len()), |(event, mutations, _)| {
        let _ = lifecycle_drain::job::Input::parse(&apply(drain[event].clone(), &mutations), 1_795_000_000_000);
        Ok(())
    });
}
