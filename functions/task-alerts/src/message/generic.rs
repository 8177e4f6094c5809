//! A flat JSON object for any other webhook receiver.

use serde_json::{Value, json};

use super::Alert;
use super::parts::{LOG_TEXT_MAX, REASON_MAX};
use super::text::cut;

impl Alert {
    /// A flat JSON object for any other receiver.
    pub fn generic(&self) -> Value {
        let containers: Vec<Value> = self
            .containers
            .iter()
            .map(|c| {
                let reason = c.reason.as_deref().map(|r| cut(r, REASON_MAX));
                json!({"name": c.name, "exit_code": c.exit_code, "reason": reason})
            })
            .collect();
        let stopped_reason = self.stopped_reason.as_deref().map(|r| cut(r, REASON_MAX));
        let mut generic = json!({
            "title": self.title(),
            "category": self.category_id(),
            "summary": self.summary,
            "hint": self.hint,
            "account": self.account,
            "account_name": self.account_name,
            "cluster": self.cluster,
            "service": self.service,
            "group": self.group,
            "task_arn": self.task_arn,
            "task_id": self.task_id,
            "task_definition": self.task_definition(),
            "task_definition_arn": self.task_definition_arn,
            "launch_type": self.launch_type,
            "capacity_provider": self.capacity_provider,
            "availability_zone": self.availability_zone,
            "region": self.region,
            "container": self.container,
            "evidence": {"stop_code": self.stop_code, "stopped_reason": stopped_reason, "containers": containers},
            "console_url": self.console_url,
            "logs_url": self.logs_url,
            "stopped_at": self.stopped_at,
            "suppressed": self.suppressed,
            "suppressed_since": self.suppressed_since,
            "suppressed_note": self.suppressed_note(),
        });
        if !self.event_evidence.is_empty() || self.resolved {
            // A service-level alert: whether it resolves an earlier one, what it is about, its facts.
            generic["resolved"] = json!(self.resolved);
            generic["subject"] = json!(self.service_or_family());
            let details: serde_json::Map<String, Value> =
                self.event_details.iter().map(|(label, value)| (label.to_string(), json!(value))).collect();
            generic["details"] = Value::Object(details);
            generic["evidence"]["event"] = json!(self.event_evidence);
        }
        if !self.log_lines.is_empty() {
            let (lines, left_out) = self.log_tail(LOG_TEXT_MAX, cut);
            generic["log_group"] = json!(self.logs.as_ref().map(|logs| &logs.group));
            generic["log_stream"] = json!(self.logs.as_ref().map(|logs| &logs.stream));
            generic["log_lines"] = json!(lines);
            generic["log_lines_left_out"] = json!(left_out);
        }
        generic
    }
}
