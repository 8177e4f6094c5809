//! The Amazon Chime incoming-webhook payload.

use serde_json::{Value, json};

use super::Alert;

/// Amazon Chime incoming webhooks take "a JSON payload with a single key `Content`" (Chime admin guide,
/// "Creating webhooks for Amazon Chime"). That page gives no length; 4096 characters is what clients enforce
/// (Apache Airflow's `ChimeWebhookHook`). AWS ends support for Amazon Chime on 2026-02-20.
pub(super) const CHIME_CONTENT_MAX: usize = 4096;

impl Alert {
    /// Amazon Chime incoming webhook: `{"Content": ...}`; the evidence is cut first so the links stay.
    pub fn chime(&self) -> Value {
        let head = format!("{}\n{}\nFix: {}\n\nEvidence:\n", self.title(), self.summary_text(), self.hint);
        let tail = format!("\n\n{}\n\n{}", self.details_text(), self.links_text());
        let content =
            self.fit_with_logs(&head, &self.evidence_text(CHIME_CONTENT_MAX), tail.trim_end(), CHIME_CONTENT_MAX);
        json!({"Content": content})
    }
}
