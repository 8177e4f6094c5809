//! The resource's properties, as a user writes them in a template, and their validation.

use ipnet::IpNet;
use serde::Deserialize;
use shared::custom_resource::properties::cfn;

use crate::error::{PeeringError, parse_cidr};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct PeeringProperties {
    pub vpc_id: String,
    pub peer_vpc_id: String,
    #[serde(default)]
    pub peer_owner_id: Option<String>,
    #[serde(default)]
    pub peer_region: Option<String>,
    #[serde(default)]
    pub peer_role_arn: Option<String>,
    #[serde(default)]
    pub peer_role_external_id: Option<String>,
    /// Accept mode: accept this connection (requested by the other side) instead of creating one.
    #[serde(default)]
    pub peering_connection_id: Option<String>,
    #[serde(default)]
    pub route_table_ids: Vec<String>,
    #[serde(default)]
    pub peer_route_table_ids: Vec<String>,
    #[serde(default = "yes", deserialize_with = "cfn::scalar")]
    pub allow_dns_resolution: bool,
    #[serde(default)]
    pub exclude_cidrs: Vec<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

fn yes() -> bool {
    true
}

impl PeeringProperties {
    /// What a Delete knows when the request's properties no longer parse: nothing but the
    /// physical id (an empty `VpcId` says so).
    pub fn unknown() -> Self {
        Self {
            vpc_id: String::new(),
            peer_vpc_id: String::new(),
            peer_owner_id: None,
            peer_region: None,
            peer_role_arn: None,
            peer_role_external_id: None,
            peering_connection_id: None,
            route_table_ids: Vec::new(),
            peer_route_table_ids: Vec::new(),
            allow_dns_resolution: true,
            exclude_cidrs: Vec::new(),
            tags: Vec::new(),
        }
    }

    /// Check every value before anything is called, so a typo fails in one clear line.
    pub fn validate(&self) -> Result<(), PeeringError> {
        let invalid = |name: &'static str, problem: String| Err(PeeringError::InvalidProperty { name, problem });
        check_id("VpcId", &self.vpc_id, "vpc-")?;
        check_id("PeerVpcId", &self.peer_vpc_id, "vpc-")?;
        if self.vpc_id == self.peer_vpc_id && self.peer_region.is_none() && self.peer_owner_id.is_none() {
            return invalid("PeerVpcId", "is the same VPC as VpcId".into());
        }
        if let Some(owner) = &self.peer_owner_id
            && (owner.len() != 12 || !owner.bytes().all(|b| b.is_ascii_digit()))
        {
            return invalid("PeerOwnerId", format!("`{owner}` is not a 12-digit AWS account id"));
        }
        if let Some(region) = &self.peer_region {
            let ok = region.split('-').count() >= 3
                && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return invalid("PeerRegion", format!("`{region}` is not a region name such as eu-west-1"));
            }
        }
        if let Some(arn) = &self.peer_role_arn
            && !(arn.starts_with("arn:aws") && arn.contains(":iam::") && arn.contains(":role/"))
        {
            return invalid(
                "PeerRoleArn",
                format!("`{arn}` is not an IAM role ARN such as arn:aws:iam::222222222222:role/peering"),
            );
        }
        if self.peer_role_external_id.is_some() && self.peer_role_arn.is_none() {
            return invalid("PeerRoleExternalId", "is set without PeerRoleArn".into());
        }
        if let Some(id) = &self.peering_connection_id {
            check_id("PeeringConnectionId", id, "pcx-")?;
            if !self.peer_route_table_ids.is_empty() {
                return invalid(
                    "PeerRouteTableIds",
                    "is not used in accept mode (PeeringConnectionId): the requester's stack routes its own side"
                        .into(),
                );
            }
        }
        for id in &self.route_table_ids {
            check_id("RouteTableIds", id, "rtb-")?;
        }
        for id in &self.peer_route_table_ids {
            check_id("PeerRouteTableIds", id, "rtb-")?;
        }
        for cidr in &self.exclude_cidrs {
            parse_cidr(cidr).map_err(|problem| PeeringError::InvalidProperty { name: "ExcludeCidrs", problem })?;
        }
        for tag in &self.tags {
            if tag.key.is_empty() || tag.key.len() > 128 || tag.key.starts_with("aws:") {
                return invalid(
                    "Tags",
                    format!("`{}` is not a usable tag key (1 to 128 characters, not starting with aws:)", tag.key),
                );
            }
        }
        Ok(())
    }

    pub fn excluded(&self) -> Vec<IpNet> {
        self.exclude_cidrs.iter().filter_map(|c| parse_cidr(c).ok()).collect()
    }

    /// A change of any of these means a new connection (a new physical id).
    pub fn same_connection(&self, other: &Self) -> bool {
        (&self.vpc_id, &self.peer_vpc_id, &self.peer_owner_id, &self.peer_region, &self.peering_connection_id)
            == (
                &other.vpc_id,
                &other.peer_vpc_id,
                &other.peer_owner_id,
                &other.peer_region,
                &other.peering_connection_id,
            )
    }
}

fn check_id(name: &'static str, id: &str, prefix: &str) -> Result<(), PeeringError> {
    if shared::aws::is_id(id, prefix) {
        return Ok(());
    }
    Err(PeeringError::InvalidProperty {
        name,
        problem: format!("`{id}` is not an id such as {prefix}0123456789abcdef0"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn props(extra: Value) -> Result<PeeringProperties, String> {
        let mut raw = json!({"ServiceToken": "arn:aws:lambda:us-east-1:111111111111:function:f", "VpcId": "vpc-0a1b2c3d4e5f60718", "PeerVpcId": "vpc-0f1e2d3c4b5a69788"});
        for (k, v) in extra.as_object().unwrap() {
            raw[k] = v.clone();
        }
        let parsed: PeeringProperties = shared::custom_resource::properties::parse(&raw).map_err(|e| e.to_string())?;
        parsed.validate().map_err(|e| e.to_string())?;
        Ok(parsed)
    }

    #[test]
    fn validation_table() {
        let cases: Vec<(&str, Value, Result<(), &str>)> = vec![
            ("minimal", json!({}), Ok(())),
            (
                "everything",
                json!({"PeerOwnerId": "222222222222", "PeerRegion": "eu-west-1", "PeerRoleArn": "arn:aws:iam::222222222222:role/peering", "PeerRoleExternalId": "x", "RouteTableIds": ["rtb-0123456789abcdef0"], "PeerRouteTableIds": ["rtb-0fedcba9876543210"], "AllowDnsResolution": "false", "ExcludeCidrs": ["100.64.0.0/16"], "Tags": [{"Key": "team", "Value": "platform"}]}),
                Ok(()),
            ),
            (
                "typo",
                json!({"RouteTableId": ["rtb-0123456789abcdef0"]}),
                Err("unknown property `RouteTableId`; did you mean `RouteTableIds`?"),
            ),
            (
                "bad vpc id",
                json!({"VpcId": "vpc-xyz"}),
                Err("property `VpcId`: `vpc-xyz` is not an id such as vpc-0123456789abcdef0"),
            ),
            (
                "same vpc",
                json!({"PeerVpcId": "vpc-0a1b2c3d4e5f60718"}),
                Err("property `PeerVpcId`: is the same VPC as VpcId"),
            ),
            (
                "bad owner",
                json!({"PeerOwnerId": "2222"}),
                Err("property `PeerOwnerId`: `2222` is not a 12-digit AWS account id"),
            ),
            (
                "bad region",
                json!({"PeerRegion": "Ireland"}),
                Err("property `PeerRegion`: `Ireland` is not a region name such as eu-west-1"),
            ),
            (
                "bad role",
                json!({"PeerRoleArn": "peering"}),
                Err("property `PeerRoleArn`: `peering` is not an IAM role ARN"),
            ),
            (
                "external id alone",
                json!({"PeerRoleExternalId": "x"}),
                Err("property `PeerRoleExternalId`: is set without PeerRoleArn"),
            ),
            ("bad table", json!({"RouteTableIds": ["rtb-1"]}), Err("property `RouteTableIds`: `rtb-1` is not an id")),
            (
                "bad cidr",
                json!({"ExcludeCidrs": ["10.0.0.0/33"]}),
                Err("property `ExcludeCidrs`: `10.0.0.0/33` is not a CIDR block"),
            ),
            (
                "accept mode with peer tables",
                json!({"PeeringConnectionId": "pcx-0123456789abcdef0", "PeerRouteTableIds": ["rtb-0fedcba9876543210"]}),
                Err("property `PeerRouteTableIds`: is not used in accept mode"),
            ),
            (
                "dns as a word",
                json!({"AllowDnsResolution": "yes"}),
                Err("property `AllowDnsResolution`: expected true or false, got `yes`"),
            ),
        ];
        for (case, extra, expected) in cases {
            match (props(extra), expected) {
                (Ok(_), Ok(())) => {}
                (Err(got), Err(want)) => assert!(got.starts_with(want), "{case}: {got}"),
                (got, want) => panic!("{case}: got {got:?}, expected {want:?}"),
            }
        }
    }

    #[test]
    fn defaults_and_identity() {
        let p = props(json!({})).unwrap();
        assert!(p.allow_dns_resolution, "DNS resolution is on by default");
        let mut other = p.clone();
        other.route_table_ids.push("rtb-0123456789abcdef0".into());
        assert!(p.same_connection(&other), "route tables change in place");
        other.peer_vpc_id = "vpc-0123456789abcdef0".into();
        assert!(!p.same_connection(&other), "a new peer is a new connection");
    }
}
