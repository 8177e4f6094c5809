//! The Amazon Q Developer custom notification, published on the SNS topic it watches.

use serde_json::{Value, json};

use super::Alert;

/// Amazon Q Developer custom notifications document no length limit; the description is kept within one
/// Slack section so it renders in Slack as well as Teams.
pub(super) const Q_DESCRIPTION_MAX: usize = 3000;

impl Alert {
    /// The custom-notification JSON of Amazon Q Developer in chat applications (formerly AWS Chatbot), to
    /// publish on the SNS topic it watches. Schema (docs.aws.amazon.com/chatbot/latest/adminguide/
    /// custom-notifs.html): `version` must be "1.0", `source` must be "custom", `content.textType` only
    /// "client-markdown" (rendered in the chat's own markdown), `content.description` (markdown),
    /// optional `title`, `nextSteps`, `keywords`; `metadata.threadId` threads updates, `summary`,
    /// `relatedResources`. Plain text, line breaks and URLs render the same in Slack and Teams.
    pub fn amazon_q_notification(&self, thread_id: &str) -> Value {
        let head = format!("{}\n\nEvidence:\n", self.summary_text());
        let tail = format!("\n\n{}", self.details_text());
        let description = self.fit_with_logs(&head, &self.evidence_text(Q_DESCRIPTION_MAX), &tail, Q_DESCRIPTION_MAX);
        let mut next_steps = vec![format!("Fix: {}", self.hint)];
        next_steps.extend(self.links().iter().map(|(label, url)| format!("{label}: {url}")));
        let keywords = [self.category_id(), self.cluster.clone(), self.service_or_family().to_string()];
        let related: Vec<&String> = [&self.task_arn, &self.task_definition_arn].into_iter().flatten().collect();
        json!({
            "version": "1.0",
            "source": "custom",
            "content": {
                "textType": "client-markdown",
                "title": self.title(),
                "description": description,
                "nextSteps": next_steps,
                "keywords": keywords,
            },
            "metadata": {
                "threadId": thread_id,
                "summary": self.title(),
                "relatedResources": related,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::fixtures::{TASK, alert_of, huge, service_oom, text_at, with_logs, within};

    #[test]
    fn amazon_q_notification_follows_the_custom_schema() {
        let [logs, huge_logs] = with_logs();
        for alert in [alert_of(&service_oom()), huge("é😀"), logs, huge_logs] {
            let q = alert.amazon_q_notification(&alert.thread_id());
            assert_eq!((q["version"].as_str(), q["source"].as_str()), (Some("1.0"), Some("custom")));
            assert_eq!(text_at(&q, "/content/textType"), "client-markdown");
            assert_eq!(text_at(&q, "/content/title"), alert.title());
            within(text_at(&q, "/content/description"), Q_DESCRIPTION_MAX, "q description");
            assert!(text_at(&q, "/content/description").contains("Service: web"));
            let steps = q["content"]["nextSteps"].as_array().expect("nextSteps");
            assert_eq!(steps[0], json!(format!("Fix: {}", alert.hint)));
            assert!(steps[1].as_str().is_some_and(|step| step.contains("/ecs/v2/clusters/prod/tasks/")));
            assert_eq!(text_at(&q, "/metadata/threadId"), "prod/web");
            assert_eq!(text_at(&q, "/metadata/relatedResources/0"), TASK);
            assert_eq!(q["content"]["keywords"][0], json!(alert.category_id()));
        }
    }
}
