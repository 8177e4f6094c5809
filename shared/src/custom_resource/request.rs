//! Step 1 of parsing: the envelope CloudFormation sends, before the resource's own properties.

use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

/// Where and how to answer. Readable even when the rest of the request is not.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ResponseTarget {
    /// The presigned S3 URL: never logged, never in a reason (Debug hides it).
    pub url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub physical_resource_id: Option<String>,
}

impl std::fmt::Debug for ResponseTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseTarget")
            .field("url", &"<presigned, hidden>")
            .field("stack_id", &self.stack_id)
            .field("request_id", &self.request_id)
            .field("logical_resource_id", &self.logical_resource_id)
            .field("physical_resource_id", &self.physical_resource_id)
            .finish()
    }
}

/// A custom-resource request whose envelope is valid; its properties are still raw JSON.
#[derive(Debug, Clone)]
pub struct Request {
    pub target: ResponseTarget,
    pub request_type: RequestType,
    pub resource_type: String,
    pub properties: Value,
    pub old_properties: Option<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// Nobody waits for an answer: log and return an error.
    #[error("the request has no usable ResponseURL ({0}); it is not a CloudFormation custom-resource request")]
    NoResponseUrl(&'static str),
    /// The `ResponseURL` is not where CloudFormation sends answers from: nothing is sent there.
    #[error("the request's ResponseURL {0}; refused, nothing was done or sent")]
    ResponseUrlRefused(String),
    /// Answer FAILED at `target.url`.
    #[error("the request is not a valid custom-resource request: {problem}")]
    Unusable { target: Box<ResponseTarget>, problem: String },
}

impl Request {
    pub fn parse(payload: &Value) -> Result<Self, EnvelopeError> {
        let Some(obj) = payload.as_object() else {
            return Err(EnvelopeError::NoResponseUrl("the payload is not a JSON object"));
        };
        let url = match obj.get("ResponseURL") {
            None | Some(Value::Null) => return Err(EnvelopeError::NoResponseUrl("missing")),
            Some(Value::String(s)) if s.parse::<crate::http::Uri>().is_ok_and(|u| u.scheme().is_some()) => s.clone(),
            Some(_) => return Err(EnvelopeError::NoResponseUrl("not a URL")),
        };
        let mut target = ResponseTarget {
            url,
            stack_id: text(obj, "StackId").unwrap_or_default(),
            request_id: text(obj, "RequestId").unwrap_or_default(),
            logical_resource_id: text(obj, "LogicalResourceId").unwrap_or_default(),
            physical_resource_id: text(obj, "PhysicalResourceId"),
        };
        // The answer repeats these: longer than CloudFormation makes them, they would not fit its
        // 4,096 bytes. Such a request is not CloudFormation's; it is answered FAILED with them cut.
        let too_long = [
            ("StackId", &mut target.stack_id, 1024),
            ("RequestId", &mut target.request_id, 256),
            ("LogicalResourceId", &mut target.logical_resource_id, 255),
        ]
        .into_iter()
        .chain(target.physical_resource_id.as_mut().map(|id| ("PhysicalResourceId", id, 1024)))
        .filter_map(|(field, value, limit)| cut_to(value, limit).map(|len| (field, len, limit)))
        .collect::<Vec<_>>();
        let unusable = |problem: String| EnvelopeError::Unusable { target: Box::new(target.clone()), problem };
        if let Some((field, len, limit)) = too_long.first() {
            return Err(unusable(format!("`{field}` is {len} bytes; CloudFormation's are at most {limit}")));
        }

        for field in ["StackId", "RequestId", "LogicalResourceId", "ResourceType"] {
            if text(obj, field).is_none() {
                return Err(unusable(format!("`{field}` is missing or not a string")));
            }
        }
        let request_type = match obj.get("RequestType").and_then(Value::as_str) {
            Some("Create") => RequestType::Create,
            Some("Update") => RequestType::Update,
            Some("Delete") => RequestType::Delete,
            Some(other) => {
                return Err(unusable(format!(
                    "`RequestType` is `{}`; expected Create, Update or Delete",
                    crate::text::collapse_whitespace(other)
                )));
            }
            None => return Err(unusable("`RequestType` is missing or not a string".into())),
        };
        if request_type != RequestType::Create && target.physical_resource_id.is_none() {
            return Err(unusable(format!("`PhysicalResourceId` is missing from a {request_type:?} request")));
        }
        let properties = object_or_empty(obj, "ResourceProperties").map_err(unusable)?;
        let old_properties = match request_type {
            RequestType::Update => Some(object_or_empty(obj, "OldResourceProperties").map_err(unusable)?),
            _ => None,
        };
        Ok(Self {
            resource_type: text(obj, "ResourceType").unwrap_or_default(),
            target,
            request_type,
            properties,
            old_properties,
        })
    }
}

/// Cut `value` to at most `limit` bytes as JSON (escapes counted); its length before, if cut.
fn cut_to(value: &mut String, limit: usize) -> Option<usize> {
    let json_len = |s: &str| serde_json::to_string(s).map(|j| j.len() - 2).unwrap_or(usize::MAX);
    let before = json_len(value);
    if before <= limit {
        return None;
    }
    let mut end = limit.min(value.len());
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value.truncate(end);
    // Escapes (`\u0000` for a NUL) take more than their bytes: drop characters until it fits.
    while json_len(value) > limit {
        value.pop();
    }
    Some(before)
}

fn text(obj: &Map<String, Value>, field: &str) -> Option<String> {
    obj.get(field).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn object_or_empty(obj: &Map<String, Value>, field: &str) -> Result<Value, String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(v @ Value::Object(_)) => Ok(v.clone()),
        Some(_) => Err(format!("`{field}` is not a JSON object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create() -> Value {
        json!({
            "RequestType": "Create",
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:probe",
            "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?X-Amz-Signature=abc",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/guid",
            "RequestId": "req-1",
            "LogicalResourceId": "Probe",
            "ResourceType": "Custom::Probe",
            "ResourceProperties": {"ServiceToken": "arn", "Behaviour": "Succeed"}
        })
    }

    fn with(mut v: Value, key: &str, value: Value) -> Value {
        v[key] = value;
        v
    }

    fn without(mut v: Value, key: &str) -> Value {
        v.as_object_mut().unwrap().remove(key);
        v
    }

    #[test]
    fn envelope_table() {
        // (case, payload, Ok(type) | Err("no-url" | "unusable: <fragment>"))
        let cases: Vec<(&str, Value, Result<RequestType, &str>)> = vec![
            ("create", create(), Ok(RequestType::Create)),
            (
                "update",
                with(with(create(), "RequestType", json!("Update")), "PhysicalResourceId", json!("p-1")),
                Ok(RequestType::Update),
            ),
            (
                "delete",
                with(with(create(), "RequestType", json!("Delete")), "PhysicalResourceId", json!("p-1")),
                Ok(RequestType::Delete),
            ),
            ("not an object", json!([1, 2]), Err("no-url")),
            ("no ResponseURL", without(create(), "ResponseURL"), Err("no-url")),
            ("ResponseURL not a URL", with(create(), "ResponseURL", json!("nope")), Err("no-url")),
            ("ResponseURL a number", with(create(), "ResponseURL", json!(7)), Err("no-url")),
            ("unknown RequestType", with(create(), "RequestType", json!("Upsert")), Err("unusable: `Upsert`")),
            ("RequestType missing", without(create(), "RequestType"), Err("unusable: `RequestType` is missing")),
            ("StackId missing", without(create(), "StackId"), Err("unusable: `StackId`")),
            (
                "Delete without physical id",
                with(create(), "RequestType", json!("Delete")),
                Err("unusable: `PhysicalResourceId`"),
            ),
            (
                "properties a list",
                with(create(), "ResourceProperties", json!([])),
                Err("unusable: `ResourceProperties`"),
            ),
            ("properties missing", without(create(), "ResourceProperties"), Ok(RequestType::Create)),
            (
                "physical id longer than CloudFormation's",
                with(with(create(), "RequestType", json!("Delete")), "PhysicalResourceId", json!("p".repeat(5000))),
                Err("unusable: `PhysicalResourceId` is 5000 bytes; CloudFormation's are at most 1024"),
            ),
            (
                "logical id of escapes",
                with(create(), "LogicalResourceId", json!("\u{0}".repeat(100))),
                Err("unusable: `LogicalResourceId` is 600 bytes"),
            ),
        ];
        for (case, payload, expected) in cases {
            let got = Request::parse(&payload);
            match (got, expected) {
                (Ok(r), Ok(t)) => assert_eq!(r.request_type, t, "{case}"),
                (Err(EnvelopeError::NoResponseUrl(_)), Err("no-url")) => {}
                (Err(EnvelopeError::Unusable { target, problem }), Err(e)) if e.starts_with("unusable: ") => {
                    assert!(problem.contains(&e["unusable: ".len()..]), "{case}: {problem}");
                    assert!(target.url.starts_with("https://"), "{case}: the target keeps the URL");
                    let answer = crate::custom_resource::Response {
                        status: crate::custom_resource::Status::Failed,
                        message: problem.repeat(50),
                        physical_resource_id: target.physical_resource_id.clone().unwrap_or_default(),
                        data: Default::default(),
                        no_echo: false,
                    };
                    let body = answer.to_body(&target, Some("2026/11/22/[$LATEST]0123456789abcdef"));
                    assert!(body.len() <= crate::custom_resource::MAX_BODY_BYTES, "{case}: {} bytes", body.len());
                }
                (got, expected) => panic!("{case}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn debug_never_shows_the_presigned_url() {
        let request = Request::parse(&create()).unwrap();
        let shown = format!("{request:?}");
        assert!(!shown.contains("X-Amz-Signature"), "{shown}");
        assert!(shown.contains("req-1"));
    }
}
