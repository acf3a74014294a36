//! Every RPC of the gateway, one enum: what access rules, consent, metrics, spans and the
//! audit log name, and which gRPC service it belongs to. A leaf module.

use std::fmt;
use std::str::FromStr;

/// The gateway's RPCs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rpc {
    GetPerson,
    GetCivilActs,
    GetSocialStatus,
    GetSchoolEnrolment,
    GetHigherEducation,
    CheckOwner,
    CheckDwelling,
    InvalidatePerson,
    GetRegistryStatus,
    ExplainDecision,
}

/// The service of the look-ups and the decision.
pub const GATEWAY_SERVICE: &str = "registry_gateway.v1.RegistryGatewayService";
/// The operators' service.
pub const ADMIN_SERVICE: &str = "registry_gateway.v1.GatewayAdminService";

impl Rpc {
    pub const ALL: [Rpc; 10] = [
        Rpc::GetPerson,
        Rpc::GetCivilActs,
        Rpc::GetSocialStatus,
        Rpc::GetSchoolEnrolment,
        Rpc::GetHigherEducation,
        Rpc::CheckOwner,
        Rpc::CheckDwelling,
        Rpc::InvalidatePerson,
        Rpc::GetRegistryStatus,
        Rpc::ExplainDecision,
    ];

    /// The method name in the contract, as access rules, metrics and the audit log give it.
    pub const fn name(self) -> &'static str {
        match self {
            Rpc::GetPerson => "GetPerson",
            Rpc::GetCivilActs => "GetCivilActs",
            Rpc::GetSocialStatus => "GetSocialStatus",
            Rpc::GetSchoolEnrolment => "GetSchoolEnrolment",
            Rpc::GetHigherEducation => "GetHigherEducation",
            Rpc::CheckOwner => "CheckOwner",
            Rpc::CheckDwelling => "CheckDwelling",
            Rpc::InvalidatePerson => "InvalidatePerson",
            Rpc::GetRegistryStatus => "GetRegistryStatus",
            Rpc::ExplainDecision => "ExplainDecision",
        }
    }

    /// The full name of its gRPC service.
    pub const fn service(self) -> &'static str {
        match self {
            Rpc::InvalidatePerson | Rpc::GetRegistryStatus | Rpc::ExplainDecision => ADMIN_SERVICE,
            _ => GATEWAY_SERVICE,
        }
    }

    /// Whether its request carries a person's consent token (CheckDwelling: each owner's),
    /// and so a caller may be required to bring one.
    pub const fn takes_consent_token(self) -> bool {
        matches!(self, Rpc::GetPerson | Rpc::CheckOwner | Rpc::CheckDwelling)
    }

    /// Whether a call is about a person (audited as access to personal data): all but the
    /// status query.
    pub const fn is_about_a_person(self) -> bool {
        !matches!(self, Rpc::GetRegistryStatus)
    }

    /// The RPC of a gRPC request path (`/registry_gateway.v1.RegistryGatewayService/GetPerson`).
    pub fn from_path(path: &str) -> Option<Rpc> {
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        Rpc::ALL
            .into_iter()
            .find(|rpc| rpc.service() == service && rpc.name() == method)
    }

    /// The names of `rpcs`, joined.
    pub fn names(rpcs: impl IntoIterator<Item = Rpc>, separator: &str) -> String {
        rpcs.into_iter()
            .map(Rpc::name)
            .collect::<Vec<_>>()
            .join(separator)
    }
}

impl fmt::Display for Rpc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// From the method name.
impl FromStr for Rpc {
    type Err = ();

    fn from_str(name: &str) -> Result<Rpc, ()> {
        Rpc::ALL
            .into_iter()
            .find(|rpc| rpc.name() == name)
            .ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_paths_and_consent() {
        for rpc in Rpc::ALL {
            assert_eq!(rpc.name().parse(), Ok(rpc));
            let path = format!("/{}/{}", rpc.service(), rpc.name());
            assert_eq!(Rpc::from_path(&path), Some(rpc), "{path}");
        }
        assert_eq!(
            Rpc::from_path("/registry_gateway.v1.RegistryGatewayService/CheckOwner"),
            Some(Rpc::CheckOwner)
        );
        assert_eq!(
            Rpc::from_path("/registry_gateway.v1.GatewayAdminService/CheckOwner"),
            None
        );
        assert_eq!(
            Rpc::from_path("/registry_gateway.v1.RegistryGatewayService/Nope"),
            None
        );
        assert_eq!("GetAll".parse::<Rpc>(), Err(()));
        let consent: Vec<_> = Rpc::ALL
            .into_iter()
            .filter(|r| r.takes_consent_token())
            .collect();
        assert_eq!(
            consent,
            [Rpc::GetPerson, Rpc::CheckOwner, Rpc::CheckDwelling]
        );
    }
}
