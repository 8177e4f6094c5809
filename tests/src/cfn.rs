//! CloudFormation requests as the tests send them: a function's sample request, answered at the
//! test's response URL, with the changes the test names. Every request to a custom resource is
//! built here, so a test shows only what it changes.

use serde_json::{Value, json};

use crate::{Receiver, sample_event};

/// The stack the tests' requests to the shipped functions come from (moto's default account).
pub const STACK_ID: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/app-network/8d2f6a10-1f3e-11f1-9c4b-0e7a5c3b2d11";

/// The signature in [`response_url`]s: never to be seen in a log.
pub const SIGNATURE: &str = "5ec7e7516a7a7e0000feedfacecafebeef0123456789abcdef0123456789abcd";

/// A presigned-looking response URL on the receiver, unique per call so tests can tell
/// responses apart. Its signature is what the no-URL-in-logs checks look for.
pub fn response_url(receiver: &Receiver, name: &str) -> String {
    receiver.url(&format!(
        "/cloudformation-custom-resource-response/{name}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=7200&X-Amz-Signature={SIGNATURE}"
    ))
}

/// A CloudFormation request being built: [`CfnRequest::sample`], the changes, then
/// [`CfnRequest::build`].
pub struct CfnRequest(Value);

impl CfnRequest {
    /// `function`'s sample request `event` (see [`sample_event`]), answered at `response_url`.
    pub fn sample(function: &str, event: &str, response_url: &str) -> Self {
        let mut request = sample_event(function, event);
        request["ResponseURL"] = json!(response_url);
        Self(request)
    }

    /// From the tests' stack, [`STACK_ID`], whatever stack (and account) the sample names.
    pub fn in_test_stack(mut self) -> Self {
        self.0["StackId"] = json!(STACK_ID);
        self
    }

    /// With `properties` in place of the sample's, and without the sample's old properties (they
    /// belong to the sample's resource). The sample's `ServiceToken` is added, as CloudFormation adds it.
    pub fn properties(mut self, properties: &Value) -> Self {
        self.0["ResourceProperties"] = self.with_service_token(properties);
        if let Some(request) = self.0.as_object_mut() {
            request.remove("OldResourceProperties");
        }
        self
    }

    /// With `changes` made to the sample's properties: each one set, or removed where it is `null`.
    pub fn patch_properties(mut self, changes: Value) -> Self {
        let properties = self.0["ResourceProperties"].as_object_mut().expect("the sample has ResourceProperties");
        for (key, value) in changes.as_object().cloned().unwrap_or_default() {
            if value.is_null() {
                properties.remove(&key);
            } else {
                properties.insert(key, value);
            }
        }
        self
    }

    /// With `old` as the old properties (an Update's; `ServiceToken` added as for
    /// [`CfnRequest::properties`]), if there are any.
    pub fn old_properties(mut self, old: Option<&Value>) -> Self {
        if let Some(old) = old {
            self.0["OldResourceProperties"] = self.with_service_token(old);
        }
        self
    }

    /// With `id` as the physical resource id (an Update's or a Delete's), if there is one.
    pub fn physical_id(mut self, id: Option<&str>) -> Self {
        if let Some(id) = id {
            self.0["PhysicalResourceId"] = json!(id);
        }
        self
    }

    pub fn build(self) -> Value {
        self.0
    }

    fn with_service_token(&self, properties: &Value) -> Value {
        let mut properties = properties.clone();
        properties["ServiceToken"] = self.0["ServiceToken"].clone();
        properties
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_replace_the_samples_keeping_its_service_token_and_dropping_its_old_ones() {
        let sample = sample_event("endpoint-access", "update");
        let request = CfnRequest::sample("endpoint-access", "update", "http://127.0.0.1:9/r")
            .in_test_stack()
            .properties(&json!({"VpcId": "vpc-1"}))
            .physical_id(Some("vpc-1/Access"))
            .build();
        assert_eq!(request["ResponseURL"], "http://127.0.0.1:9/r");
        assert_eq!(request["StackId"], STACK_ID);
        assert_eq!(request["ResourceProperties"], json!({"VpcId": "vpc-1", "ServiceToken": sample["ServiceToken"]}));
        assert!(request.get("OldResourceProperties").is_none());
        assert_eq!(request["PhysicalResourceId"], "vpc-1/Access");

        let old = json!({"VpcId": "vpc-0"});
        let update = CfnRequest::sample("endpoint-access", "update", "").properties(&old).old_properties(Some(&old));
        assert_eq!(update.build()["OldResourceProperties"]["ServiceToken"], sample["ServiceToken"]);
    }

    #[test]
    fn patched_properties_change_the_samples_and_null_removes_one() {
        let sample = sample_event("cr-probe", "create");
        let request = CfnRequest::sample("cr-probe", "create", "")
            .patch_properties(json!({"Behaviour": null, "DataBytes": 5000}))
            .build();
        let mut expected = sample["ResourceProperties"].clone();
        expected.as_object_mut().expect("an object").remove("Behaviour");
        expected["DataBytes"] = json!(5000);
        assert_eq!(request["ResourceProperties"], expected);
        assert_eq!(request["StackId"], sample["StackId"], "the sample's stack unless asked");
    }
}
