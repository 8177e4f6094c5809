//! The Microsoft Teams Workflows payload: an Adaptive Card.

use serde_json::{Value, json};

use super::Alert;
use super::text::cut;

/// Teams Workflows ("When a Teams webhook request is received", learn.microsoft.com/microsoftteams/platform/
/// webhooks-and-connectors/how-to/connectors-using) take Adaptive Cards only, in a Bot Framework `message`
/// with one `application/vnd.microsoft.card.adaptive` attachment; Workflows reject card versions above 1.4.
/// (Version cap: reported by users of Workflows, e.g. Skitionek/notify-microsoft-teams#107.) A Teams message
/// is at most ~28 KB, and a body sent without a charset has been seen counted as UTF-16 (about 14 KB of
/// UTF-8): each text block stays small so the whole card does.
pub(super) const TEAMS_TEXT_MAX: usize = 3000;
const TEAMS_FACT_MAX: usize = 500;
/// The log lines' block in a Teams card: smaller than the other text blocks, so that a card with the
/// evidence and the log lines both at their longest stays within the ~14 KB above.
const TEAMS_LOG_MAX: usize = 2000;

impl Alert {
    /// Microsoft Teams Workflows webhook: a `message` with one Adaptive Card (version 1.4) attachment.
    pub fn teams(&self) -> Value {
        let text = |text: &str| json!({"type": "TextBlock", "text": cut(text, TEAMS_TEXT_MAX), "wrap": true});
        let facts: Vec<Value> = self
            .details()
            .into_iter()
            .map(|(label, value)| json!({"title": label, "value": cut(&value, TEAMS_FACT_MAX)}))
            .collect();
        let mut body = vec![
            json!({"type": "TextBlock", "text": cut(&self.title(), TEAMS_FACT_MAX), "weight": "Bolder",
                   "size": "Medium", "wrap": true}),
            text(&self.summary_text()),
            text(&format!("**Fix:** {}", self.hint)),
            json!({"type": "FactSet", "facts": facts}),
            json!({"type": "TextBlock", "text": "Evidence", "weight": "Bolder", "wrap": true}),
            json!({"type": "TextBlock", "text": cut(&self.evidence_text(TEAMS_TEXT_MAX), TEAMS_TEXT_MAX),
                   "wrap": true, "fontType": "Monospace"}),
        ];
        if !self.log_lines.is_empty() {
            body.push(json!({"type": "TextBlock", "text": self.log_heading(), "weight": "Bolder", "wrap": true}));
            body.push(json!({"type": "TextBlock", "text": self.log_text(TEAMS_LOG_MAX, cut), "wrap": true,
                             "fontType": "Monospace"}));
        }
        let actions: Vec<Value> = self
            .links()
            .iter()
            .map(|(label, url)| json!({"type": "Action.OpenUrl", "title": label, "url": url}))
            .collect();
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                    "actions": actions,
                    "msteams": {"width": "Full"},
                },
            }],
        })
    }
}
