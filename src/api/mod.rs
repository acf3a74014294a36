//! The gRPC edge: generated types, the `RegistryGatewayService` service, and the conversion between
//! protobuf and domain types. A handler validates its request, calls a domain look-up or the
//! decider, and converts the answer; nothing below this module sees a protobuf type. Every
//! look-up RPC is the one generic `GatewayService::look_up`. [`http`] serves the same
//! services over HTTP/JSON by transcoding to them.

use std::borrow::Cow;

use tokio::time::Instant;
use tonic::{Request, Response, Status};

use crate::consent::ConsentToken;
use crate::decision::{self, Decider, OwnerQuestion, StateService, Step};
use crate::error::Error;
use crate::iin::{Holder, Iin};
use crate::registry::{Fetched, Payload, Query, Registries};
use crate::rpc::Rpc;

mod admin;
mod admission;
mod call;
mod convert;
mod dwelling;
pub mod http;
mod malformed;

pub use admin::AdminService;
pub use admission::Admission;
use call::SubjectOutcomes;
pub use call::{AuditSubject, CallPolicy, HttpRoute};
pub use malformed::RefuseMalformed;

/// Code generated from `proto/registry_gateway/v1/gateway.proto`.
pub mod pb {
    tonic::include_proto!("registry_gateway.v1");

    /// The encoded descriptor set, served by reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("registry_gateway_descriptor");
}

pub use pb::gateway_admin_service_server::GatewayAdminServiceServer;
pub use pb::registry_gateway_service_server::RegistryGatewayServiceServer;

/// The `registry_gateway.v1.RegistryGatewayService` service: the look-ups and CheckOwner.
pub struct GatewayService {
    registries: Registries,
    decider: Decider,
    edge: CallPolicy,
}

impl GatewayService {
    pub fn new(registries: Registries, decider: Decider, edge: CallPolicy) -> GatewayService {
        GatewayService {
            registries,
            decider,
            edge,
        }
    }

    /// A look-up RPC: the FLK of the IIN (a person's), the consent token where the RPC takes
    /// one, the registry of `T` through its guard, the answer converted.
    async fn look_up<T: Payload, R: Send>(
        &self,
        request: Request<impl LookUpRequest>,
        convert: impl FnOnce(Fetched<T>) -> Result<R, Error> + Send,
    ) -> Result<Response<R>, Status> {
        let mut call = self.edge.begin(request.get_ref().rpc(), &request);
        let r = request.into_inner();
        let query = look_up_query::<T>(&mut call, &r);
        call.run(&self.edge, Some(AuditSubject::person(r.iin())), async {
            let fetched = self.registries.get::<T>().fetch(&query?).await?;
            let used = convert::found_in(T::REGISTRY, &fetched.source);
            Ok(convert::FoundAnswer {
                answer: convert(fetched)?,
                used,
            })
        })
        .await
        .map(|found| found.map(|found| found.answer))
    }
}

/// The request of a look-up RPC: whose records, and the consent token if the RPC takes one.
trait LookUpRequest: Send {
    fn rpc(&self) -> Rpc;
    fn iin(&self) -> &str;
    /// `Some` (perhaps empty) for an RPC that takes a consent token.
    fn consent_token(&self) -> Option<&str> {
        None
    }
}

/// Each look-up request: its RPC, and the field of its consent token if it takes one.
macro_rules! look_up_requests {
    ($($request:ident => $rpc:ident $(, consent in $token:ident)?;)+) => {
        $(impl LookUpRequest for pb::$request {
            fn rpc(&self) -> Rpc {
                Rpc::$rpc
            }
            fn iin(&self) -> &str {
                &self.iin
            }
            $(fn consent_token(&self) -> Option<&str> {
                Some(&self.$token)
            })?
        })+
    };
}

look_up_requests! {
    GetPersonRequest => GetPerson, consent in consent_token;
    GetCivilActsRequest => GetCivilActs;
    GetSocialStatusRequest => GetSocialStatus;
    GetSchoolEnrolmentRequest => GetSchoolEnrolment;
    GetHigherEducationRequest => GetHigherEducation;
}

/// FLK of an IIN field: 12 digits, valid check digit.
fn parse_iin(field: impl Into<Cow<'static, str>>, value: &str) -> Result<Iin, Error> {
    Iin::parse(value).map_err(|e| Error::invalid(field, e.to_string()))
}

/// The query of a look-up in `T`'s registry: the consent token's limits first, then the FLK
/// (a person's IIN: registries hold physical persons), then whether the caller needs a
/// consent. A look-up that takes a consent token follows it: never from the shared cache
/// (see [`crate::consent`]).
fn look_up_query<T: Payload>(
    call: &mut call::IncomingCall,
    r: &impl LookUpRequest,
) -> Result<Query, Error> {
    let consent_token = match r.consent_token() {
        Some(token) => call.consent_token(token)?,
        None => None,
    };
    let iin = parse_iin("iin", r.iin())?;
    if iin.holder() == Holder::Organisation {
        return Err(Error::invalid(
            "iin",
            format!(
                "is a BIN (5th digit 4-6); {} holds physical persons only",
                T::REGISTRY
            ),
        ));
    }
    if r.consent_token().is_some() {
        call.require_consent(&iin, consent_token.as_ref())?;
    }
    Ok(Query {
        shared_cache: r.consent_token().is_none(),
        consent_token,
        callers_deadline: call.deadline(),
        ..Query::new(iin)
    })
}

/// The shared fields of CheckOwner and CheckDwelling, validated.
struct Question {
    service: StateService,
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
            date: decision::decision_date(decision_date, crate::clock::today(), max_days_back)
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
    ) -> OwnerQuestion {
        OwnerQuestion {
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

fn parse_service(value: i32) -> Result<StateService, Error> {
    let rule = "SERVICE_REGISTRATION_AT_RESIDENCE or SERVICE_TEMPORARY_REGISTRATION";
    match pb::Service::try_from(value) {
        Ok(pb::Service::RegistrationAtResidence) => Ok(StateService::RegistrationAtResidence),
        Ok(pb::Service::TemporaryRegistration) => Ok(StateService::TemporaryRegistration),
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

fn owner_question(
    r: pb::CheckOwnerRequest,
    consent_token: Option<ConsentToken>,
    gbd_fl_shared_cache: bool,
    deadline: Option<Instant>,
    max_days_back: u32,
) -> Result<OwnerQuestion, Error> {
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

/// The language of the answer to `request`: its `accept-language` (gRPC metadata; over
/// HTTP/JSON the header, passed on as metadata), else `default`.
pub(crate) fn language<T>(request: &Request<T>, default: crate::i18n::Lang) -> crate::i18n::Lang {
    let header = request
        .metadata()
        .get("accept-language")
        .and_then(|v| v.to_str().ok());
    crate::i18n::negotiate(header, default)
}

#[tonic::async_trait]
impl pb::registry_gateway_service_server::RegistryGatewayService for GatewayService {
    async fn get_person(
        &self,
        request: Request<pb::GetPersonRequest>,
    ) -> Result<Response<pb::GetPersonResponse>, Status> {
        self.look_up(request, convert::person_response).await
    }

    async fn get_civil_acts(
        &self,
        request: Request<pb::GetCivilActsRequest>,
    ) -> Result<Response<pb::GetCivilActsResponse>, Status> {
        self.look_up(request, |f| Ok(convert::civil_acts(f))).await
    }

    async fn get_social_status(
        &self,
        request: Request<pb::GetSocialStatusRequest>,
    ) -> Result<Response<pb::GetSocialStatusResponse>, Status> {
        let today = crate::clock::today();
        self.look_up(request, |f| Ok(convert::social_status(f, today)))
            .await
    }

    async fn get_school_enrolment(
        &self,
        request: Request<pb::GetSchoolEnrolmentRequest>,
    ) -> Result<Response<pb::GetSchoolEnrolmentResponse>, Status> {
        self.look_up(request, |f| Ok(convert::school_enrolment(f)))
            .await
    }

    async fn get_higher_education(
        &self,
        request: Request<pb::GetHigherEducationRequest>,
    ) -> Result<Response<pb::GetHigherEducationResponse>, Status> {
        self.look_up(request, |f| Ok(convert::higher_education(f)))
            .await
    }

    async fn check_owner(
        &self,
        request: Request<pb::CheckOwnerRequest>,
    ) -> Result<Response<pb::CheckOwnerResponse>, Status> {
        let mut call = self.edge.begin(Rpc::CheckOwner, &request);
        let rules = self.decider.rules();
        let lang = language(&request, rules.default_language);
        let r = request.into_inner();
        let mut about = AuditSubject::decision(&r.owner_iin, &r.applicant_iin, &r.decision_date);
        let shared_cache = call.consent_settings().check_owner_shared_cache;
        let max_days_back = rules.max_days_back;
        let deadline = call.deadline();
        let question = call.consent_token(&r.consent_token).and_then(|token| {
            let question = owner_question(r, token, shared_cache, deadline, max_days_back)?;
            call.require_consent(&question.owner, question.consent_token.as_ref())?;
            Ok(question)
        });
        if let Ok(question) = &question {
            // The date the decision is taken for, also when the caller left it to today.
            about = about.on(question.date);
        }
        // The record names the decision and the answers it rested on (the evidence).
        let ledger = SubjectOutcomes::new(1);
        call.run_each(&self.edge, vec![about], ledger.clone(), async {
            let question = question?;
            let decided = self.decider.decide(&question).await;
            ledger.record(0, convert::owner_audit(&question, &decided));
            let decision = decided?;
            tracing::debug!(outcome = ?decision.outcome, decision_id = %decision.id, "decided");
            let wording = convert::Wording::new(&rules, question.date, lang);
            Ok(convert::decision(&question, decision, &wording))
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
