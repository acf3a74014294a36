//! The gRPC edge: generated types, the `RegistryGatewayService` service, and the conversion
//! between protobuf and domain types. A handler validates its request, calls a domain trait, and
//! converts the answer; nothing below this module sees a protobuf type. [`http`] serves the
//! same services over HTTP/JSON by transcoding to them.

use std::borrow::Cow;

use tokio::time::Instant;
use tonic::{Request, Response, Status};

use crate::consent::ConsentToken;
use crate::decision::{self, Decider, OwnerCheck, Service, Step};
use crate::error::Error;
use crate::iin::{Holder, Iin};
use crate::registry::{Query, Registries, Registry};

mod admin;
mod admission;
mod call;
mod convert;
mod dwelling;
pub mod http;
mod malformed;

pub use admin::Admin;
pub use admission::Admission;
pub use call::{About, Edge, HttpRoute};
pub use malformed::Checked;

/// Code generated from `proto/registry_gateway/v1/gateway.proto`.
pub mod pb {
    tonic::include_proto!("registry_gateway.v1");

    /// The encoded descriptor set, served by reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("registry_gateway_descriptor");
}

pub use pb::gateway_admin_service_server::GatewayAdminServiceServer;
pub use pb::registry_gateway_service_server::RegistryGatewayServiceServer;

/// The `registry_gateway.v1.RegistryGatewayService` service.
pub struct Gateway {
    registries: Registries,
    decider: Decider,
    edge: Edge,
}

impl Gateway {
    pub fn new(registries: Registries, decider: Decider, edge: Edge) -> Gateway {
        Gateway {
            registries,
            decider,
            edge,
        }
    }
}

/// FLK of an IIN field: 12 digits, valid check digit.
fn parse_iin(field: impl Into<Cow<'static, str>>, value: &str) -> Result<Iin, Error> {
    Iin::parse(value).map_err(|e| Error::invalid(field, e.to_string()))
}

/// A look-up key: the FLK, and a person's IIN (registries hold physical persons).
fn person_query(
    value: &str,
    consent_token: Option<ConsentToken>,
    registry: Registry,
    deadline: Option<Instant>,
) -> Result<Query, Error> {
    let iin = parse_iin("iin", value)?;
    if iin.holder() == Holder::Organisation {
        return Err(Error::invalid(
            "iin",
            format!("is a BIN (5th digit 4-6); {registry} holds physical persons only"),
        ));
    }
    Ok(Query {
        iin,
        // A person's record follows its consent: never from the shared cache (see consent).
        shared_cache: consent_token.is_none() && registry != Registry::GbdFl,
        consent_token,
        deadline,
        budget: deadline,
    })
}

/// The shared fields of CheckOwner and CheckDwelling, validated.
struct Question {
    service: Service,
    applicant: Option<Iin>,
    date: chrono::NaiveDate,
    step: Step,
}

impl Question {
    fn parse(
        service: i32,
        applicant: &str,
        decision_date: &str,
        step: i32,
        max_days_back: u32,
    ) -> Result<Question, Error> {
        Ok(Question {
            service: parse_service(service)?,
            applicant: parse_applicant(applicant)?,
            date: decision::decision_date(decision_date, decision::today(), max_days_back)
                .map_err(|rule| Error::invalid("decision_date", rule))?,
            step: parse_step(step)?,
        })
    }

    /// The question about `owner`, under `consent_token`.
    fn about(
        &self,
        owner: Iin,
        consent_token: Option<ConsentToken>,
        gbd_fl_shared_cache: bool,
        deadline: Option<Instant>,
    ) -> OwnerCheck {
        OwnerCheck {
            owner,
            service: self.service,
            applicant: self.applicant,
            date: self.date,
            consent_token,
            gbd_fl_shared_cache,
            deadline,
            step: self.step,
        }
    }
}

fn parse_service(value: i32) -> Result<Service, Error> {
    let rule = "SERVICE_REGISTRATION_AT_RESIDENCE or SERVICE_TEMPORARY_REGISTRATION";
    match pb::Service::try_from(value) {
        Ok(pb::Service::RegistrationAtResidence) => Ok(Service::RegistrationAtResidence),
        Ok(pb::Service::TemporaryRegistration) => Ok(Service::TemporaryRegistration),
        Ok(pb::Service::Unspecified) => {
            Err(Error::invalid("service", format!("is required: {rule}")))
        }
        Err(_) => Err(Error::invalid(
            "service",
            format!("unknown value {value}: must be {rule}"),
        )),
    }
}

fn parse_step(value: i32) -> Result<Step, Error> {
    match pb::OrderStep::try_from(value) {
        Ok(pb::OrderStep::Unspecified | pb::OrderStep::Reception) => Ok(Step::Reception),
        Ok(pb::OrderStep::HallCheck) => Ok(Step::HallCheck),
        Err(_) => Err(Error::invalid(
            "step",
            format!("unknown value {value}: must be ORDER_STEP_RECEPTION or ORDER_STEP_HALL_CHECK (or left out)"),
        )),
    }
}

fn parse_applicant(value: &str) -> Result<Option<Iin>, Error> {
    if value.is_empty() {
        return Ok(None);
    }
    let applicant = parse_iin("applicant_iin", value)?;
    if applicant.holder() == Holder::Organisation {
        return Err(Error::invalid(
            "applicant_iin",
            "is a BIN (5th digit 4-6); a legal representative is a physical person",
        ));
    }
    Ok(Some(applicant))
}

fn owner_check(
    r: pb::CheckOwnerRequest,
    consent_token: Option<ConsentToken>,
    gbd_fl_shared_cache: bool,
    deadline: Option<Instant>,
    max_days_back: u32,
) -> Result<OwnerCheck, Error> {
    let owner = parse_iin("owner_iin", &r.owner_iin)?;
    let question = Question::parse(
        r.service,
        &r.applicant_iin,
        &r.decision_date,
        r.step,
        max_days_back,
    )?;
    Ok(question.about(owner, consent_token, gbd_fl_shared_cache, deadline))
}

#[tonic::async_trait]
impl pb::registry_gateway_service_server::RegistryGatewayService for Gateway {
    async fn get_person(
        &self,
        request: Request<pb::GetPersonRequest>,
    ) -> Result<Response<pb::GetPersonResponse>, Status> {
        let mut call = self.edge.begin("GetPerson", &request);
        let r = request.into_inner();
        let query = call.consent_token(&r.consent_token).and_then(|token| {
            let query = person_query(&r.iin, token, Registry::GbdFl, call.deadline())?;
            call.require_consent(&query.iin, query.consent_token.as_ref())?;
            Ok(query)
        });
        call.run(&self.edge, Some(About::person(&r.iin)), async {
            let fetched = self.registries.gbd_fl.person(&query?).await?;
            let source = fetched.source.clone();
            let person = fetched.into_value().ok_or(Error::NotFound {
                registry: Registry::GbdFl,
            })?;
            Ok(pb::GetPersonResponse {
                person: Some(convert::person(person)),
                evidence: Some(convert::found(Registry::GbdFl, &source)),
            })
        })
        .await
    }

    async fn get_civil_acts(
        &self,
        request: Request<pb::GetCivilActsRequest>,
    ) -> Result<Response<pb::GetCivilActsResponse>, Status> {
        let call = self.edge.begin("GetCivilActs", &request);
        let iin = request.into_inner().iin;
        let query = person_query(&iin, None, Registry::Zags, call.deadline());
        call.run(&self.edge, Some(About::person(&iin)), async {
            let fetched = self.registries.zags.civil_acts(&query?).await?;
            Ok(convert::civil_acts(fetched))
        })
        .await
    }

    async fn get_social_status(
        &self,
        request: Request<pb::GetSocialStatusRequest>,
    ) -> Result<Response<pb::GetSocialStatusResponse>, Status> {
        let call = self.edge.begin("GetSocialStatus", &request);
        let iin = request.into_inner().iin;
        let query = person_query(&iin, None, Registry::SocialSecurity, call.deadline());
        call.run(&self.edge, Some(About::person(&iin)), async {
            let fetched = self.registries.social.social_status(&query?).await?;
            Ok(convert::social_status(fetched, decision::today()))
        })
        .await
    }

    async fn get_school_enrolment(
        &self,
        request: Request<pb::GetSchoolEnrolmentRequest>,
    ) -> Result<Response<pb::GetSchoolEnrolmentResponse>, Status> {
        let call = self.edge.begin("GetSchoolEnrolment", &request);
        let iin = request.into_inner().iin;
        let query = person_query(&iin, None, Registry::Nobd, call.deadline());
        call.run(&self.edge, Some(About::person(&iin)), async {
            let fetched = self.registries.nobd.enrolments(&query?).await?;
            Ok(convert::school_enrolment(fetched))
        })
        .await
    }

    async fn get_higher_education(
        &self,
        request: Request<pb::GetHigherEducationRequest>,
    ) -> Result<Response<pb::GetHigherEducationResponse>, Status> {
        let call = self.edge.begin("GetHigherEducation", &request);
        let iin = request.into_inner().iin;
        let query = person_query(&iin, None, Registry::Epvo, call.deadline());
        call.run(&self.edge, Some(About::person(&iin)), async {
            let fetched = self.registries.epvo.studies(&query?).await?;
            Ok(convert::higher_education(fetched))
        })
        .await
    }

    async fn check_owner(
        &self,
        request: Request<pb::CheckOwnerRequest>,
    ) -> Result<Response<pb::CheckOwnerResponse>, Status> {
        let mut call = self.edge.begin("CheckOwner", &request);
        let r = request.into_inner();
        let mut about = About::decision(&r.owner_iin, &r.applicant_iin, &r.decision_date);
        let shared_cache = call.consent_settings().check_owner_shared_cache;
        let max_days_back = self.decider.rules().max_days_back;
        let deadline = call.deadline();
        let check = call.consent_token(&r.consent_token).and_then(|token| {
            let check = owner_check(r, token, shared_cache, deadline, max_days_back)?;
            call.require_consent(&check.owner, check.consent_token.as_ref())?;
            Ok(check)
        });
        if let Ok(check) = &check {
            // The date the decision is taken for, also when the caller left it to today.
            about = about.on(check.date);
        }
        call.run(&self.edge, Some(about), async {
            let check = check?;
            let decision = self.decider.check(&check).await?;
            tracing::debug!(outcome = ?decision.outcome, decision_id = %decision.id, "decided");
            Ok(convert::decision(&check, decision))
        })
        .await
    }

    async fn check_dwelling(
        &self,
        request: Request<pb::CheckDwellingRequest>,
    ) -> Result<Response<pb::CheckDwellingResponse>, Status> {
        dwelling::check(self, request).await
    }
}
