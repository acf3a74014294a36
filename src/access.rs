//! Who is calling, and may they call this RPC.
//!
//! Over mutual TLS the caller is the client system whose configured names include the
//! certificate's subject CN or one of its DNS SANs. On a plaintext listener (loopback demo, or
//! an explicitly insecure one) the caller is `access.plaintext_client`. Without an `[access]`
//! section every caller may call every RPC (the embedded demo); with one, each client system
//! may call only the RPCs listed for it, and anyone else nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::consent::{ConsentConfig, ConsentToken};

/// Every RPC of the gateway, by the name used in access rules.
pub const RPCS: [&str; 9] = [
    "GetPerson",
    "GetCivilActs",
    "GetSocialStatus",
    "GetSchoolEnrolment",
    "GetHigherEducation",
    "CheckOwner",
    "CheckDwelling",
    "InvalidatePerson",
    "GetRegistryStatus",
];

/// Metadata key of the purpose of access.
pub const PURPOSE_KEY: &str = "x-purpose";
/// Metadata key of the caller's request id.
pub const REQUEST_ID_KEY: &str = "x-request-id";
/// Longest purpose or request id accepted.
pub const MAX_METADATA_LEN: usize = 256;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessConfig {
    /// Personal-data RPCs must carry `x-purpose`.
    pub require_purpose: bool,
    /// Personal-data RPCs must carry `x-request-id` (else the gateway makes one).
    pub require_request_id: bool,
    /// The client system that plaintext callers are taken to be; none: they may call nothing.
    pub plaintext_client: Option<String>,
    /// Client systems by name.
    pub clients: BTreeMap<String, ClientRights>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientRights {
    /// Certificate subject CNs or DNS SANs that identify this system.
    #[serde(default)]
    pub names: Vec<String>,
    /// RPCs it may call, by name (see [`RPCS`]).
    pub rpcs: Vec<String>,
    /// RPCs it may call only with the person's consent token (`GetPerson`, `CheckOwner`,
    /// `CheckDwelling`: each owner's).
    #[serde(default)]
    pub consent_required: Vec<String>,
}

impl AccessConfig {
    /// The first rule broken, as (key, rule).
    pub fn check(&self) -> Result<(), (String, String)> {
        let mut seen = BTreeMap::new();
        for (client, rights) in &self.clients {
            let key = format!("access.clients.{client}");
            for rpc in &rights.rpcs {
                if !RPCS.contains(&rpc.as_str()) {
                    return Err((
                        format!("{key}.rpcs"),
                        format!("unknown RPC {rpc:?}; known: {}", RPCS.join(", ")),
                    ));
                }
            }
            crate::consent::check_rpcs(
                &format!("{key}.consent_required"),
                &rights.consent_required,
            )?;
            for name in &rights.names {
                if let Some(other) = seen.insert(name.as_str(), client.as_str()) {
                    return Err((
                        format!("{key}.names"),
                        format!("{name:?} already identifies client {other:?}"),
                    ));
                }
            }
        }
        if let Some(p) = &self.plaintext_client {
            if !self.clients.contains_key(p) {
                return Err((
                    "access.plaintext_client".into(),
                    format!("{p:?} is not a client in [access.clients]"),
                ));
            }
        }
        Ok(())
    }
}

/// The calling system, as far as the gateway can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A configured client system.
    Client(String),
    /// A certificate that no client system claims, by its subject CN.
    Unknown(String),
    /// No certificate, no plaintext client configured.
    Anonymous,
}

impl Caller {
    pub fn name(&self) -> String {
        match self {
            Caller::Client(name) => name.clone(),
            Caller::Unknown(cn) => format!("unknown certificate CN={cn}"),
            Caller::Anonymous => "anonymous".into(),
        }
    }
}

/// Decides callers, rights and the need for consent from configuration.
#[derive(Debug, Clone, Default)]
pub struct Access {
    config: Option<AccessConfig>,
    consent: ConsentConfig,
    /// The key of consent references in force.
    consent_key: Vec<u8>,
}

impl Access {
    pub fn new(config: Option<AccessConfig>, consent: ConsentConfig) -> Access {
        Access {
            config,
            consent_key: consent.key(),
            consent,
        }
    }

    pub fn consent_config(&self) -> &ConsentConfig {
        &self.consent
    }

    /// Whether `caller` needs a consent token to call `rpc`.
    pub fn consent_required(&self, caller: &Caller, rpc: &str) -> bool {
        let listed = |rpcs: &[String]| rpcs.iter().any(|r| r == rpc);
        match (&self.config, caller) {
            (None, _) => listed(&self.consent.required_without_access),
            (Some(config), Caller::Client(name)) => config
                .clients
                .get(name)
                .is_some_and(|rights| listed(&rights.consent_required)),
            // Callers that no client system claims may call nothing anyway.
            (Some(_), _) => true,
        }
    }

    /// `token` with its audit reference under the key in force.
    pub fn consent_token(&self, token: String) -> ConsentToken {
        ConsentToken::new(token, &self.consent_key)
    }

    pub fn config(&self) -> Option<&AccessConfig> {
        self.config.as_ref()
    }

    /// The caller presenting `cert` (DER, the leaf), or a plaintext caller when `None`.
    pub fn caller(&self, cert: Option<&[u8]>) -> Caller {
        let Some(der) = cert else {
            return match self
                .config
                .as_ref()
                .and_then(|c| c.plaintext_client.clone())
            {
                Some(name) => Caller::Client(name),
                None => Caller::Anonymous,
            };
        };
        let names = certificate_names(der);
        let claimed = self.config.as_ref().and_then(|c| {
            c.clients
                .iter()
                .find(|(_, rights)| rights.names.iter().any(|n| names.contains(n)))
                .map(|(client, _)| client.clone())
        });
        match claimed {
            Some(client) => Caller::Client(client),
            None => Caller::Unknown(names.into_iter().next().unwrap_or_default()),
        }
    }

    /// Whether `caller` may call `rpc`.
    pub fn allows(&self, caller: &Caller, rpc: &str) -> bool {
        let Some(config) = &self.config else {
            return true;
        };
        match caller {
            Caller::Client(name) => config
                .clients
                .get(name)
                .is_some_and(|rights| rights.rpcs.iter().any(|r| r == rpc)),
            _ => false,
        }
    }
}

/// Subject CN first, then DNS SANs; empty for a certificate that does not parse.
fn certificate_names(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Vec::new();
    };
    let mut names: Vec<String> = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_owned))
        .collect();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let GeneralName::DNSName(dns) = name {
                names.push((*dns).to_owned());
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AccessConfig {
        let mut clients = BTreeMap::new();
        clients.insert(
            "iis-tson".to_owned(),
            ClientRights {
                names: vec!["tson.example.kz".into()],
                rpcs: vec!["CheckOwner".into(), "GetPerson".into()],
                consent_required: vec!["GetPerson".into()],
            },
        );
        clients.insert(
            "edu".to_owned(),
            ClientRights {
                names: vec!["edu.example.kz".into()],
                rpcs: vec!["GetSchoolEnrolment".into(), "GetHigherEducation".into()],
                consent_required: vec![],
            },
        );
        AccessConfig {
            clients,
            ..AccessConfig::default()
        }
    }

    fn cert(cn: &str, sans: &[&str]) -> Vec<u8> {
        let mut params =
            rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn callers_are_named_by_cn_or_san_and_rights_are_per_rpc() {
        let access = Access::new(Some(config()), ConsentConfig::default());
        let tson = access.caller(Some(&cert("tson.example.kz", &[])));
        assert_eq!(tson, Caller::Client("iis-tson".into()));
        assert!(access.allows(&tson, "CheckOwner"));
        assert!(!access.allows(&tson, "GetSchoolEnrolment"));
        let edu = access.caller(Some(&cert("something", &["edu.example.kz"])));
        assert_eq!(edu, Caller::Client("edu".into()));
        assert!(access.allows(&edu, "GetHigherEducation"));
        assert!(!access.allows(&edu, "CheckOwner"));
        let stranger = access.caller(Some(&cert("stranger.example.kz", &[])));
        assert_eq!(stranger, Caller::Unknown("stranger.example.kz".into()));
        assert!(!access.allows(&stranger, "GetPerson"));
        assert!(!access.allows(&access.caller(None), "GetPerson"));
    }

    #[test]
    fn consent_is_required_per_client_and_rpc() {
        let access = Access::new(Some(config()), ConsentConfig::default());
        let tson = Caller::Client("iis-tson".into());
        assert!(access.consent_required(&tson, "GetPerson"));
        assert!(!access.consent_required(&tson, "CheckOwner"));
        assert!(!access.consent_required(&Caller::Client("edu".into()), "GetPerson"));
        // Without [access]: consent.required_without_access (GetPerson by default).
        let open = Access::new(None, ConsentConfig::default());
        assert!(open.consent_required(&Caller::Anonymous, "GetPerson"));
        assert!(!open.consent_required(&Caller::Anonymous, "CheckOwner"));
        let none = Access::new(
            None,
            ConsentConfig {
                required_without_access: vec![],
                ..ConsentConfig::default()
            },
        );
        assert!(!none.consent_required(&Caller::Anonymous, "GetPerson"));
    }

    #[test]
    fn consent_required_names_only_rpcs_with_a_token() {
        let mut c = config();
        c.clients
            .get_mut("edu")
            .unwrap()
            .consent_required
            .push("GetSchoolEnrolment".into());
        let (key, rule) = c.check().unwrap_err();
        assert_eq!(key, "access.clients.edu.consent_required");
        assert!(rule.contains("GetSchoolEnrolment"), "{rule}");
    }

    #[test]
    fn without_access_config_everything_is_open() {
        let access = Access::new(None, ConsentConfig::default());
        assert!(access.allows(&access.caller(None), "CheckOwner"));
    }

    #[test]
    fn config_names_unknown_rpcs_and_duplicate_names() {
        let mut c = config();
        c.clients
            .get_mut("edu")
            .unwrap()
            .rpcs
            .push("GetEverything".into());
        assert_eq!(c.check().unwrap_err().0, "access.clients.edu.rpcs");
        let mut c = config();
        c.clients
            .get_mut("edu")
            .unwrap()
            .names
            .push("tson.example.kz".into());
        assert!(c
            .check()
            .unwrap_err()
            .1
            .contains("\"tson.example.kz\" already identifies"));
        let mut c = config();
        c.plaintext_client = Some("nobody".into());
        assert_eq!(c.check().unwrap_err().0, "access.plaintext_client");
    }
}
