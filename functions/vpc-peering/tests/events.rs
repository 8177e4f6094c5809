//! Every sample request in `events/vpc-peering/` (what users pass to `sam local invoke -e`)
//! parses as this function's input: the envelope, then valid properties.

use std::path::PathBuf;

use shared::custom_resource::{Request, properties};
use vpc_peering::properties::PeeringProperties;

#[test]
fn every_sample_event_parses() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events/vpc-peering");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("events/vpc-peering exists") {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let payload: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let request = Request::parse(&payload).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(request.resource_type, "Custom::VpcPeering", "{}", path.display());
        for raw in std::iter::once(&request.properties).chain(request.old_properties.as_ref()) {
            let props: PeeringProperties = properties::parse(raw).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            props.validate().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        seen += 1;
    }
    assert!(seen >= 6, "expected the six sample requests, saw {seen}");
}
