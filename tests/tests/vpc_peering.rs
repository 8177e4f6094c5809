//! `Custom::VpcPeering` end to end: the built function in the Lambda emulator, moto behind the
//! counting proxy, the responses at the receiver. Tests seed and read moto directly.

use aws_sdk_ec2::Client as Ec2;
use aws_sdk_ec2::types::{AttributeBooleanValue, Route};
use harness::{Aws, Lambda, Moto, Proxy, Receiver, binary, load_event, response_url};
use serde_json::{Value, json};

const PEER_ACCOUNT: &str = "222222222222";
const STACK_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/app-network/8d2f6a10-1f3e-11f1-9c4b-0e7a5c3b2d11";

struct World {
    lambda: Lambda,
    receiver: Receiver,
    proxy: Proxy,
    aws: Aws,
    _moto: Moto,
}

fn world() -> World {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto.url());
    let receiver = Receiver::start();
    let lambda = Lambda::start("vpc-peering", &binary("vpc-peering"), 30, &[("AWS_ENDPOINT_URL", &proxy.url())]);
    let aws = Aws::new(&moto.url());
    World { lambda, receiver, proxy, aws, _moto: moto }
}

/// A CIDR block as AWS spells it (moto keeps leading zeros in IPv6 blocks).
fn canonical(cidr: &str) -> String {
    cidr.parse::<ipnet::IpNet>().map(|n| n.to_string()).unwrap_or_else(|_| cidr.to_string())
}

/// A VPC with DNS support and hostnames on (or off), secondary blocks, and an IPv6 block.
struct Vpc {
    id: String,
    cidrs: Vec<String>,
}

fn vpc(aws: &Aws, ec2: &Ec2, primary: &str, secondary: &[&str], dns: bool) -> Vpc {
    let created = aws.block_on(ec2.create_vpc().cidr_block(primary).amazon_provided_ipv6_cidr_block(true).send()).unwrap();
    let id = created.vpc().unwrap().vpc_id().unwrap().to_string();
    for block in secondary {
        aws.block_on(ec2.associate_vpc_cidr_block().vpc_id(&id).cidr_block(*block).send()).unwrap();
    }
    let flag = AttributeBooleanValue::builder().value(dns).build();
    aws.block_on(ec2.modify_vpc_attribute().vpc_id(&id).enable_dns_support(flag.clone()).send()).unwrap();
    aws.block_on(ec2.modify_vpc_attribute().vpc_id(&id).enable_dns_hostnames(flag).send()).unwrap();
    let described = aws.block_on(ec2.describe_vpcs().vpc_ids(&id).send()).unwrap();
    let v = &described.vpcs()[0];
    let mut cidrs: Vec<String> = v.cidr_block_association_set().iter().filter_map(|a| a.cidr_block()).map(canonical).collect();
    cidrs.extend(v.ipv6_cidr_block_association_set().iter().filter_map(|a| a.ipv6_cidr_block()).map(canonical));
    Vpc { id, cidrs }
}

fn table(aws: &Aws, ec2: &Ec2, vpc: &Vpc) -> String {
    aws.block_on(ec2.create_route_table().vpc_id(&vpc.id).send()).unwrap().route_table().unwrap().route_table_id().unwrap().to_string()
}

/// An internet gateway on `vpc`, sending `destination` there from `table` (someone else's route).
fn route_to_gateway(aws: &Aws, ec2: &Ec2, vpc: &Vpc, table: &str, destination: &str) -> String {
    let igw = aws.block_on(ec2.create_internet_gateway().send()).unwrap().internet_gateway().unwrap().internet_gateway_id().unwrap().to_string();
    aws.block_on(ec2.attach_internet_gateway().internet_gateway_id(&igw).vpc_id(&vpc.id).send()).unwrap();
    aws.block_on(ec2.create_route().route_table_id(table).destination_cidr_block(destination).gateway_id(&igw).send()).unwrap();
    igw
}

/// The routes of `table` as (destination, target), the local ones left out.
fn routes(aws: &Aws, ec2: &Ec2, table: &str) -> Vec<(String, String)> {
    let out = aws.block_on(ec2.describe_route_tables().route_table_ids(table).send()).unwrap();
    let target = |r: &Route| r.vpc_peering_connection_id().or(r.gateway_id()).unwrap_or("?").to_string();
    let mut all: Vec<(String, String)> = out.route_tables()[0]
        .routes()
        .iter()
        .filter(|r| r.gateway_id() != Some("local"))
        .map(|r| (canonical(r.destination_cidr_block().or(r.destination_ipv6_cidr_block()).unwrap_or("?")), target(r)))
        .collect();
    all.sort();
    all
}

/// (status, requester DNS, accepter DNS) of a connection, as `ec2` sees it.
fn connection(aws: &Aws, ec2: &Ec2, id: &str) -> (String, bool, bool) {
    let out = aws.block_on(ec2.describe_vpc_peering_connections().vpc_peering_connection_ids(id).send()).unwrap();
    let p = out.vpc_peering_connections().iter().find(|p| p.vpc_peering_connection_id() == Some(id)).expect("the connection");
    let dns = |i: Option<&aws_sdk_ec2::types::VpcPeeringConnectionVpcInfo>| {
        i.and_then(|i| i.peering_options()).and_then(|o| o.allow_dns_resolution_from_remote_vpc()).unwrap_or(false)
    };
    (p.status().unwrap().code().unwrap().as_str().to_string(), dns(p.requester_vpc_info()), dns(p.accepter_vpc_info()))
}

fn via(cidrs: &[&str], target: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = cidrs.iter().map(|c| (c.to_string(), target.to_string())).collect();
    v.sort();
    v
}

/// Send a request built from an `events/vpc-peering` file and return the one response.
fn send(w: &World, name: &str, event: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let url = response_url(&w.receiver, name);
    let mut request = load_event(&format!("events/vpc-peering/{event}.json"), &url);
    request["StackId"] = json!(STACK_ID);
    request["RequestId"] = json!(format!("{name}-0000-4000-8000-000000000000"));
    edit(&mut request);
    let invocation = w.lambda.invoke_json(&request);
    assert_eq!((invocation.status, invocation.body.trim()), (200, "null"), "{invocation:?}\n{}", w.lambda.logs());
    let answers: Vec<_> = w.receiver.received_at(&format!("/cloudformation-custom-resource-response/{name}")).into_iter().filter(|r| r.status == 200).collect();
    assert_eq!(answers.len(), 1, "{name}: one response");
    let body = answers[0].json();
    let reason = body["Reason"].as_str().unwrap_or_default();
    assert!(!reason.contains('\n'), "{name}: one line");
    body
}

fn props(v: Value) -> impl FnOnce(&mut Value) {
    move |r: &mut Value| {
        let mut p = v;
        p["ServiceToken"] = r["ResourceProperties"]["ServiceToken"].clone();
        r["ResourceProperties"] = p;
    }
}

/// Write calls the function made since the last reset (anything not a Describe/Get).
fn writes(proxy: &Proxy) -> Vec<String> {
    proxy
        .calls()
        .calls
        .into_iter()
        .map(|c| c.action)
        .filter(|a| !a.contains(":Describe") && !a.contains(":Get"))
        .collect()
}

#[test]
fn same_account_same_region_create_update_delete() {
    let w = world();
    let ec2 = w.aws.ec2("us-east-1");
    let local = vpc(&w.aws, &ec2, "10.0.0.0/16", &["10.1.0.0/16"], true);
    let peer = vpc(&w.aws, &ec2, "10.2.0.0/16", &["100.64.0.0/16"], true);
    let (a, b, p) = (table(&w.aws, &ec2, &local), table(&w.aws, &ec2, &local), table(&w.aws, &ec2, &peer));
    let igw = route_to_gateway(&w.aws, &ec2, &local, &a, "0.0.0.0/0");
    let properties = json!({
        "VpcId": local.id, "PeerVpcId": peer.id, "RouteTableIds": [a, b], "PeerRouteTableIds": [p],
        "AllowDnsResolution": "true", "ExcludeCidrs": ["100.64.0.0/16"],
    });

    let body = send(&w, "create", "create.same-account", props(properties.clone()));
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let pcx = body["PhysicalResourceId"].as_str().unwrap().to_string();
    assert!(pcx.starts_with("pcx-"));
    assert_eq!(body["Data"]["PeeringConnectionId"], json!(pcx));
    assert_eq!(body["Data"]["Status"], "active");
    assert_eq!(connection(&w.aws, &ec2, &pcx), ("active".into(), true, true), "active, DNS on both sides");
    // Exactly one route per (table, CIDR), IPv6 and secondary included, the excluded block absent.
    let peer_routed = [peer.cidrs[0].as_str(), peer.cidrs[2].as_str()];
    let mut with_igw = via(&peer_routed, &pcx);
    with_igw.push(("0.0.0.0/0".into(), igw.clone()));
    with_igw.sort();
    assert_eq!(routes(&w.aws, &ec2, &a), with_igw);
    assert_eq!(routes(&w.aws, &ec2, &b), via(&peer_routed, &pcx));
    let local_cidrs: Vec<&str> = local.cidrs.iter().map(String::as_str).collect();
    assert_eq!(routes(&w.aws, &ec2, &p), via(&local_cidrs, &pcx));

    // The same Create again (a retried deployment): the same answer, reads only.
    w.proxy.reset();
    let again = send(&w, "create-again", "create.same-account", props(properties.clone()));
    assert_eq!((again["Status"].as_str(), again["PhysicalResourceId"].as_str()), (Some("SUCCESS"), Some(pcx.as_str())));
    assert_eq!(writes(&w.proxy), Vec::<String>::new(), "a repeated Create changes nothing");

    // Update that drops table b: only our routes there go.
    w.proxy.reset();
    let mut fewer = properties.clone();
    fewer["RouteTableIds"] = json!([a]);
    let old = properties.clone();
    let pcx_id = pcx.clone();
    let body = send(&w, "drop-table", "update.add-table", move |r| {
        props(fewer)(r);
        let mut o = old;
        o["ServiceToken"] = r["ResourceProperties"]["ServiceToken"].clone();
        r["OldResourceProperties"] = o;
        r["PhysicalResourceId"] = json!(pcx_id);
    });
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["PhysicalResourceId"], json!(pcx));
    assert_eq!(routes(&w.aws, &ec2, &b), vec![]);
    assert_eq!(routes(&w.aws, &ec2, &a), with_igw);
    assert_eq!(writes(&w.proxy), ["ec2:DeleteRoute", "ec2:DeleteRoute"]);

    // Delete: our routes and the connection go; the gateway route someone else added stays.
    let mut remaining = properties.clone();
    remaining["RouteTableIds"] = json!([a]);
    for name in ["delete", "delete-again"] {
        let (remaining, pcx_id) = (remaining.clone(), pcx.clone());
        let body = send(&w, name, "delete", move |r| {
            props(remaining)(r);
            r["PhysicalResourceId"] = json!(pcx_id);
        });
        assert_eq!(body["Status"], "SUCCESS", "{name}: {body}");
        assert_eq!(routes(&w.aws, &ec2, &a), vec![("0.0.0.0/0".to_string(), igw.clone())], "{name}");
        assert_eq!(routes(&w.aws, &ec2, &p), vec![], "{name}");
        assert_eq!(connection(&w.aws, &ec2, &pcx).0, "deleted", "{name}");
    }
}

#[test]
fn a_route_in_the_way_fails_create_and_stays() {
    let w = world();
    let ec2 = w.aws.ec2("us-east-1");
    let local = vpc(&w.aws, &ec2, "10.0.0.0/16", &[], true);
    let peer = vpc(&w.aws, &ec2, "10.2.0.0/16", &[], true);
    let a = table(&w.aws, &ec2, &local);
    let igw = route_to_gateway(&w.aws, &ec2, &local, &a, "10.2.0.0/16");
    let before = routes(&w.aws, &ec2, &a);

    let body = send(&w, "conflict", "create.same-account", props(json!({"VpcId": local.id, "PeerVpcId": peer.id, "RouteTableIds": [a]})));
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(reason.starts_with(&format!("route conflict: {a} already sends 10.2.0.0/16 to gateway {igw};")), "{reason}");
    assert_eq!(routes(&w.aws, &ec2, &a), before, "the route in the way is unchanged");
    assert_eq!(writes(&w.proxy), Vec::<String>::new(), "nothing was created");
}

#[test]
fn overlapping_cidrs_fail_before_anything_is_created() {
    let w = world();
    let ec2 = w.aws.ec2("us-east-1");
    let local = vpc(&w.aws, &ec2, "10.0.0.0/16", &[], true);
    let peer = vpc(&w.aws, &ec2, "10.0.128.0/17", &[], true);
    let body = send(&w, "overlap", "create.same-account", props(json!({"VpcId": local.id, "PeerVpcId": peer.id})));
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(reason.starts_with(&format!("overlapping CIDR blocks: 10.0.0.0/16 ({}) and 10.0.128.0/17 ({})", local.id, peer.id)), "{reason}");
    assert_eq!(w.proxy.calls().count("ec2:CreateVpcPeeringConnection"), 0);
    assert_eq!(writes(&w.proxy), Vec::<String>::new());
}
