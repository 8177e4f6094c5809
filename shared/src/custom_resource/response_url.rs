//! Where an answer may go. CloudFormation's `ResponseURL` is a presigned https URL on one of
//! AWS's S3 hosts; anything else (a forged event, a URL aimed at the instance metadata service
//! or an internal host) is refused before any work is done, and nothing is sent there.

use std::net::IpAddr;

use crate::http::absolute_url;
use crate::text::is_region_code;

/// Which response URLs are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseUrls {
    /// https on AWS's S3 hosts: all CloudFormation sends.
    #[default]
    AwsS3,
    /// Also http(s) to the loopback interface, where the test harness's receiver listens.
    /// Test-only: set by [`ResponseUrls::TEST_VAR`]`=1`, which the stack never sets.
    AwsS3OrLoopback,
}

impl ResponseUrls {
    pub const TEST_VAR: &'static str = "TEST_ONLY_LOOPBACK_RESPONSE_URL";

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        match lookup(Self::TEST_VAR).as_deref() {
            Some("1") => Self::AwsS3OrLoopback,
            _ => Self::AwsS3,
        }
    }

    /// `Ok` when an answer may be PUT to `url`; else why not, naming the host but never the
    /// URL's path or query (the presigned signature).
    pub fn check(self, url: &str) -> Result<(), String> {
        let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme).to_ascii_lowercase();
        let Some(url) = absolute_url(url) else {
            return Err(match scheme.as_str() {
                "" | "http" | "https" => "is not a URL".to_string(),
                other => format!("uses {other}, not https"),
            });
        };
        let authority = url.authority().map_or("", |a| a.as_str());
        let host = url.host().unwrap_or_default().trim_matches(['[', ']']).to_ascii_lowercase();
        let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if self == Self::AwsS3OrLoopback && loopback && matches!(scheme.as_str(), "http" | "https") {
            return Ok(());
        }
        if scheme != "https" {
            return Err(format!("uses {scheme}, not https"));
        }
        if authority.contains('@') {
            return Err("carries credentials".into());
        }
        if let Some(port) = url.port_u16().filter(|p| *p != 443) {
            return Err(format!("names port {port} on host `{host}`"));
        }
        if !is_aws_s3_host(&host) {
            return Err(format!("is on host `{host}`, not an AWS S3 host"));
        }
        Ok(())
    }
}

/// `[bucket.]s3[-region | .region | .dualstack.region].amazonaws.com[.cn]`: an `s3` label followed
/// only by region-like or `dualstack`/`fips` labels. A user-named label such as a load balancer's
/// `s3-x-123.us-east-1.elb.amazonaws.com` does not pass: `elb` is not a region.
fn is_aws_s3_host(host: &str) -> bool {
    let Some(rest) = host.strip_suffix(".amazonaws.com").or_else(|| host.strip_suffix(".amazonaws.com.cn")) else {
        return false;
    };
    let labels: Vec<&str> = rest.split('.').collect();
    let Some(s3) = labels.iter().rposition(|l| *l == "s3" || l.strip_prefix("s3-").is_some_and(is_region_or_legacy))
    else {
        return false;
    };
    labels[s3 + 1..].iter().all(|l| matches!(*l, "dualstack" | "fips") || is_region_code(l))
}

/// The region in `s3-<region>`, or S3's legacy `s3-external-1`.
fn is_region_or_legacy(label: &str) -> bool {
    label == "external-1" || is_region_code(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_on_aws_s3_hosts_unless_loopback_is_allowed_for_tests() {
        let signed = "?X-Amz-Signature=0123abcd";
        let cases: &[(&str, ResponseUrls, Result<(), &str>)] = &[
            ("https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/a", ResponseUrls::AwsS3, Ok(())),
            (
                "https://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/a",
                ResponseUrls::AwsS3,
                Ok(()),
            ),
            (
                "https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/a",
                ResponseUrls::AwsS3,
                Ok(()),
            ),
            ("https://bucket.s3.dualstack.us-east-1.amazonaws.com/a", ResponseUrls::AwsS3, Ok(())),
            (
                "https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/a",
                ResponseUrls::AwsS3,
                Ok(()),
            ),
            ("https://b.s3-us-gov-west-1.amazonaws.com/a", ResponseUrls::AwsS3, Ok(())),
            ("https://s3.amazonaws.com/cloudformation-custom-resource-response-useast1/a", ResponseUrls::AwsS3, Ok(())),
            ("https://b.s3.amazonaws.com:443/a", ResponseUrls::AwsS3, Ok(())),
            ("http://b.s3.amazonaws.com/a", ResponseUrls::AwsS3, Err("uses http, not https")),
            (
                "https://b.s3.amazonaws.com:8443/a",
                ResponseUrls::AwsS3,
                Err("names port 8443 on host `b.s3.amazonaws.com`"),
            ),
            ("https://user:pw@b.s3.amazonaws.com/a", ResponseUrls::AwsS3, Err("carries credentials")),
            (
                "https://b.s3.amazonaws.com.evil.example/a",
                ResponseUrls::AwsS3,
                Err("is on host `b.s3.amazonaws.com.evil.example`, not an AWS S3 host"),
            ),
            (
                "https://s3-x-123.us-east-1.elb.amazonaws.com/a",
                ResponseUrls::AwsS3,
                Err("is on host `s3-x-123.us-east-1.elb.amazonaws.com`, not an AWS S3 host"),
            ),
            (
                "https://abc.execute-api.us-east-1.amazonaws.com/s3",
                ResponseUrls::AwsS3,
                Err("is on host `abc.execute-api.us-east-1.amazonaws.com`, not an AWS S3 host"),
            ),
            (
                "https://169.254.169.254/latest/meta-data/",
                ResponseUrls::AwsS3,
                Err("is on host `169.254.169.254`, not an AWS S3 host"),
            ),
            ("http://169.254.169.254/latest/meta-data/", ResponseUrls::AwsS3OrLoopback, Err("uses http, not https")),
            ("file:///etc/passwd", ResponseUrls::AwsS3, Err("uses file, not https")),
            ("not a url", ResponseUrls::AwsS3, Err("is not a URL")),
            ("http://127.0.0.1:8080/r", ResponseUrls::AwsS3, Err("uses http, not https")),
            ("https://127.0.0.1:8080/r", ResponseUrls::AwsS3, Err("names port 8080 on host `127.0.0.1`")),
            ("http://127.0.0.1:8080/r", ResponseUrls::AwsS3OrLoopback, Ok(())),
            ("http://localhost:8080/r", ResponseUrls::AwsS3OrLoopback, Ok(())),
            ("http://[::1]:8080/r", ResponseUrls::AwsS3OrLoopback, Ok(())),
            ("http://10.0.0.5/r", ResponseUrls::AwsS3OrLoopback, Err("uses http, not https")),
        ];
        for (url, policy, expected) in cases {
            let got = policy.check(&format!("{url}{signed}"));
            assert_eq!(got, (*expected).map_err(String::from), "{url}");
            if let Err(why) = got {
                assert!(!why.contains("Signature"), "the reason never holds the query: {why}");
            }
        }
    }
}
