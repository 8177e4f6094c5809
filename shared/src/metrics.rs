//! CloudWatch metrics as embedded metric format (EMF) lines: one JSON object on a line of its own
//! on stdout, which CloudWatch Logs turns into metrics as it ingests the function's log ("Using
//! the embedded metric format with Lambda",
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Lambda.html>):
//! no `PutMetricData` call, no permission, no time taken from the invocation.
//!
//! The shape is the specification's
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>):
//! `_aws.Timestamp` (ms since the epoch), `_aws.CloudWatchMetrics`, one directive with the
//! namespace, its dimension sets (at most 30 keys each) and its metric definitions (at most 100),
//! and every dimension (a string) and metric (a number) named there as a member of the root.
//!
//! The line is printed as is, not through `tracing`: a tracing JSON record would wrap it in a
//! field, and CloudWatch only reads an EMF document that is the whole log event. Lambda's JSON log
//! format (the template's `LoggingConfig`) does not re-encode a line that is already JSON
//! ("Configuring JSON and plain text log formats": Lambda does not double-encode logs that are
//! already JSON-encoded,
//! <https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html>), and for
//! a custom runtime it relays stdout line by line.
//!
//! Not a crate: `metrics_cloudwatch_embedded` brings the `metrics` facade and its registry,
//! `metrique-writer-format-emf` a writer framework; both add dependencies to the one feature set
//! every function builds with, and bytes to every zip, for the few lines here that serde_json
//! already writes.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// The CloudWatch namespace of every metric: the dashboard and the alarms read it.
pub const NAMESPACE: &str = "ecs-plumbing";
/// The specification's limits: a `DimensionSet` holds at most 30 keys, a directive's `Metrics` at
/// most 100 definitions.
pub const MAX_DIMENSIONS: usize = 30;
pub const MAX_METRICS: usize = 100;
/// CloudWatch's limit on a dimension value ("Dimension", CloudWatch API reference,
/// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Dimension.html>).
const MAX_DIMENSION_VALUE: usize = 1024;

/// The dimension every metric has: the Lambda function's name.
pub const FUNCTION: &str = "Function";

/// The CloudWatch units used here (the specification's `Unit` takes CloudWatch's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
    Milliseconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One EMF record: dimensions, the sets they are published under, and the metrics' values.
#[derive(Debug, Clone, PartialEq)]
pub struct Emf {
    dimensions: Vec<(&'static str, String)>,
    /// Extra sets besides the one of every dimension, each `Function` plus some of the others:
    /// a sum across the ones left out (alerts by outcome, whatever their kind).
    rollups: Vec<Vec<&'static str>>,
    metrics: Vec<(&'static str, Unit, f64)>,
}

impl Emf {
    /// A record of this function (`AWS_LAMBDA_FUNCTION_NAME`), its first dimension.
    pub fn new() -> Self {
        Self::for_function(function_name())
    }

    pub fn for_function(function: &str) -> Self {
        Self { dimensions: vec![(FUNCTION, dimension_value(function))], rollups: Vec::new(), metrics: Vec::new() }
    }

    /// Add a dimension (a later one of the same name replaces it; past 30, ignored).
    pub fn dimension(mut self, name: &'static str, value: &str) -> Self {
        let value = dimension_value(value);
        if let Some(existing) = self.dimensions.iter_mut().find(|(n, _)| *n == name) {
            existing.1 = value;
        } else if self.dimensions.len() < MAX_DIMENSIONS {
            self.dimensions.push((name, value));
        }
        self
    }

    /// Publish the metrics under `Function` and `names` as well (names not added are left out).
    pub fn rollup(mut self, names: &[&'static str]) -> Self {
        self.rollups.push(names.to_vec());
        self
    }

    /// Add a metric; one that is not a finite number (JSON has none) or past 100 is left out.
    pub fn metric(mut self, name: &'static str, unit: Unit, value: f64) -> Self {
        let taken = name == "_aws" || self.dimensions.iter().any(|(n, _)| *n == name);
        if value.is_finite() && !taken {
            self.metrics.retain(|(n, _, _)| *n != name);
            if self.metrics.len() < MAX_METRICS {
                self.metrics.push((name, unit, value));
            }
        }
        self
    }

    /// The dimension sets: every dimension first, then each rollup (without duplicates).
    fn dimension_sets(&self) -> Vec<Vec<&'static str>> {
        let all: Vec<&'static str> = self.dimensions.iter().map(|(name, _)| *name).collect();
        let mut sets = vec![all.clone()];
        for rollup in &self.rollups {
            let set: Vec<&'static str> =
                all.iter().copied().filter(|name| *name == FUNCTION || rollup.contains(name)).collect();
            if !sets.contains(&set) {
                sets.push(set);
            }
        }
        sets
    }

    /// The EMF document at `timestamp_ms`.
    pub fn to_json(&self, timestamp_ms: u64) -> Value {
        let metrics: Vec<Value> =
            self.metrics.iter().map(|(name, unit, _)| json!({"Name": name, "Unit": unit.as_str()})).collect();
        let directive = json!({"Namespace": NAMESPACE, "Dimensions": self.dimension_sets(), "Metrics": metrics});
        let mut root = Map::new();
        root.insert("_aws".into(), json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": [directive]}));
        for (name, value) in &self.dimensions {
            root.insert((*name).into(), json!(value));
        }
        for (name, _, value) in &self.metrics {
            root.insert((*name).into(), json!(value));
        }
        Value::Object(root)
    }

    /// Print the record as one line of stdout, now. A record without metrics prints nothing; a
    /// failed write is dropped (a metric never fails an invocation).
    pub fn emit(&self) {
        if self.metrics.is_empty() {
            return;
        }
        let line = self.to_json(now_ms()).to_string();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    }
}

impl Default for Emf {
    fn default() -> Self {
        Self::new()
    }
}

/// A dimension value CloudWatch accepts: ASCII without control characters, 1 to 1,024 of them
/// (anything else becomes `?`; an empty value `none`).
fn dimension_value(value: &str) -> String {
    let value: String = value
        .trim()
        .chars()
        .take(MAX_DIMENSION_VALUE)
        .map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '?' })
        .collect();
    if value.trim().is_empty() { "none".into() } else { value }
}

fn function_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        crate::env::Env::new(crate::env::process).optional("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "local".into())
    })
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// The AWS calls answered "throttled" since the last [`flush_throttled`], by action.
static THROTTLED: Mutex<BTreeMap<&'static str, u32>> = Mutex::new(BTreeMap::new());

/// Count one call of `action` that AWS answered "throttled" (after the SDK's own retries):
/// [`crate::aws::AwsFailure::from_sdk`] calls it, where every failed call gets its meaning.
pub fn count_throttled(action: &'static str) {
    let mut counts = THROTTLED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    *counts.entry(action).or_default() += 1;
}

/// `ThrottledCalls` of the invocation that ends: one line per action throttled, by `Function`
/// and `Action` and by `Function` alone; nothing when no call was throttled. The invocation
/// wrappers call it (`shared::eventbridge::Configured`, the custom-resource runner).
pub fn flush_throttled() {
    for record in throttled_records(function_name()) {
        record.emit();
    }
}

fn throttled_records(function: &str) -> Vec<Emf> {
    let counts = std::mem::take(&mut *THROTTLED.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
    counts
        .into_iter()
        .map(|(action, n)| {
            Emf::for_function(function).dimension("Action", action).rollup(&[]).metric(
                "ThrottledCalls",
                Unit::Count,
                f64::from(n),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's example document, as this builder writes it.
    #[test]
    fn the_document_has_the_specifications_shape() {
        let emf = Emf::for_function("stack-TaskAlertsFunction-1A2B3C")
            .dimension("Kind", "out-of-memory")
            .dimension("Outcome", "sent")
            .rollup(&["Outcome"])
            .metric("Alerts", Unit::Count, 1.0);
        let expected = json!({
            "_aws": {
                "Timestamp": 1_574_109_732_004_u64,
                "CloudWatchMetrics": [{
                    "Namespace": "ecs-plumbing",
                    "Dimensions": [["Function", "Kind", "Outcome"], ["Function", "Outcome"]],
                    "Metrics": [{"Name": "Alerts", "Unit": "Count"}],
                }],
            },
            "Function": "stack-TaskAlertsFunction-1A2B3C",
            "Kind": "out-of-memory",
            "Outcome": "sent",
            "Alerts": 1.0,
        });
        assert_eq!(emf.to_json(1_574_109_732_004), expected);
    }

    #[test]
    fn one_line_of_json() {
        let emf = Emf::for_function("f").dimension("Outcome", "line\nbreak").metric("Drains", Unit::Count, 1.0);
        let line = emf.to_json(1).to_string();
        assert!(!line.contains('\n'), "{line}");
        assert_eq!(serde_json::from_str::<Value>(&line).ok(), Some(emf.to_json(1)));
    }

    #[test]
    fn dimension_values_are_what_cloudwatch_accepts() {
        let cases = [
            ("sent", "sent"),
            ("  padded ", "padded"),
            ("", "none"),
            ("   ", "none"),
            ("caf\u{e9}", "caf?"),
            ("tab\there", "tab?here"),
            ("\u{7}", "?"),
        ];
        for (value, expected) in cases {
            assert_eq!(dimension_value(value), expected, "{value:?}");
        }
        assert_eq!(dimension_value(&"x".repeat(2000)).len(), MAX_DIMENSION_VALUE);
    }

    #[test]
    fn the_limits_hold() {
        let leak = |name: String| -> &'static str { Box::leak(name.into_boxed_str()) };
        let dims: Vec<&'static str> = (0..40).map(|i| leak(format!("D{i}"))).collect();
        let names: Vec<&'static str> = (0..120).map(|i| leak(format!("M{i}"))).collect();
        let emf = dims.iter().fold(Emf::for_function("f"), |e, d| e.dimension(d, "v"));
        let emf = names.iter().fold(emf, |e, m| e.metric(m, Unit::Count, 1.0)).rollup(&["D1"]);
        let doc = emf.to_json(1);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Metrics"].as_array().map(Vec::len), Some(MAX_METRICS));
        for set in directive["Dimensions"].as_array().into_iter().flatten() {
            assert!(set.as_array().is_some_and(|s| !s.is_empty() && s.len() <= MAX_DIMENSIONS), "{set}");
        }
        assert_eq!(directive["Dimensions"][1], json!(["Function", "D1"]));
    }

    #[test]
    fn what_json_cannot_hold_or_would_clash_is_left_out() {
        let emf = Emf::for_function("f")
            .dimension("Outcome", "sent")
            .metric("NaN", Unit::Count, f64::NAN)
            .metric("Infinite", Unit::Seconds, f64::INFINITY)
            .metric("Outcome", Unit::Count, 1.0)
            .metric("_aws", Unit::Count, 1.0)
            .metric("Drains", Unit::Count, 1.0)
            .metric("Drains", Unit::Count, 2.0);
        let doc = emf.to_json(1);
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Metrics"], json!([{"Name": "Drains", "Unit": "Count"}]));
        assert_eq!((doc["Drains"].as_f64(), doc["Outcome"].as_str()), (Some(2.0), Some("sent")));
        // A later value of a dimension replaces the first; a rollup of an unknown name is `Function` alone.
        let emf = Emf::for_function("f").dimension("Kind", "a").dimension("Kind", "b").rollup(&["Nope"]);
        let doc = emf.metric("Alerts", Unit::Count, 1.0).to_json(1);
        assert_eq!(doc["Kind"], "b");
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["Function", "Kind"], ["Function"]]));
    }

    #[test]
    fn throttled_calls_are_counted_by_action_and_taken_once() {
        // Actions of their own: other tests of this crate may count throttles at the same time.
        let (a, b) = ("test:MetricsThrottledA", "test:MetricsThrottledB");
        count_throttled(a);
        count_throttled(a);
        count_throttled(b);
        let of = |records: &[Emf]| -> Vec<(String, f64)> {
            let docs = records.iter().map(|r| r.to_json(1));
            docs.filter(|d| d["Action"] == a || d["Action"] == b)
                .map(|d| {
                    (
                        d["Action"].as_str().unwrap_or_default().to_string(),
                        d["ThrottledCalls"].as_f64().unwrap_or_default(),
                    )
                })
                .collect()
        };
        let records = throttled_records("f");
        assert_eq!(of(&records), vec![(a.to_string(), 2.0), (b.to_string(), 1.0)]);
        let doc = records[0].to_json(1);
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["Function", "Action"], ["Function"]]));
        assert!(of(&throttled_records("f")).is_empty(), "taken by the first flush");
    }
}
