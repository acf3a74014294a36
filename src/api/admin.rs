//! The `registry_gateway.v1.GatewayAdminService` service: cache invalidation and resilience state.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::call::{Audited, CallPolicy, Decided, SubjectOutcomes};
use super::{convert, parse_iin, pb};
use crate::audit::{CallOutcome, DecisionRef, RegistryUse};
use crate::error::Error;
use crate::explain::{Explanation, Remote};
use crate::registry::PerRegistry;
use crate::resilience::{BreakerState, GuardAdmin};
use crate::rpc::Rpc;

pub struct AdminService {
    guards: PerRegistry<Arc<dyn GuardAdmin>>,
    edge: CallPolicy,
    /// ExplainDecision's store and keys (`None`: not configured).
    explain: Option<Arc<Remote>>,
}

impl AdminService {
    pub fn new(guards: PerRegistry<Arc<dyn GuardAdmin>>, edge: CallPolicy) -> AdminService {
        AdminService {
            guards,
            edge,
            explain: None,
        }
    }

    /// ExplainDecision reads `[audit.postgres]` with `[audit.evidence]`'s keys (see
    /// [`Remote::of`]); a configuration it cannot use leaves it answering UNAVAILABLE.
    pub fn with_explainer(
        mut self,
        config: &crate::Config,
        rules: Arc<arc_swap::ArcSwap<crate::decision::DecisionConfig>>,
    ) -> AdminService {
        match Remote::of(config, rules) {
            Ok(remote) => self.explain = remote.map(Arc::new),
            Err(e) => tracing::error!(error = %e, "ExplainDecision disabled"),
        }
        self
    }
}

impl Audited for pb::ExplainDecisionResponse {
    fn outcome(&self) -> CallOutcome {
        CallOutcome::Explained
    }
    fn registries(&self) -> Vec<RegistryUse> {
        Vec::new()
    }
}

impl Audited for pb::InvalidatePersonResponse {
    fn outcome(&self) -> CallOutcome {
        CallOutcome::Invalidated
    }
    fn registries(&self) -> Vec<RegistryUse> {
        Vec::new()
    }
}

impl Audited for pb::GetRegistryStatusResponse {
    fn outcome(&self) -> CallOutcome {
        CallOutcome::Ok
    }
    fn registries(&self) -> Vec<RegistryUse> {
        Vec::new()
    }
}

#[tonic::async_trait]
impl pb::gateway_admin_service_server::GatewayAdminService for AdminService {
    async fn invalidate_person(
        &self,
        request: Request<pb::InvalidatePersonRequest>,
    ) -> Result<Response<pb::InvalidatePersonResponse>, Status> {
        let call = self.edge.begin(Rpc::InvalidatePerson, &request);
        let subject = request.into_inner().iin;
        call.run(
            &self.edge,
            Some(super::AuditSubject::person(&subject)),
            async {
                let iin = parse_iin("iin", &subject)?;
                let invalidated = self
                    .guards
                    .iter()
                    .filter(|(_, guard)| guard.invalidate(&iin))
                    .map(|(registry, _)| convert::registry_value(registry))
                    .collect();
                tracing::info!("cache entries invalidated");
                Ok(pb::InvalidatePersonResponse { invalidated })
            },
        )
        .await
    }

    async fn explain_decision(
        &self,
        request: Request<pb::ExplainDecisionRequest>,
    ) -> Result<Response<pb::ExplainDecisionResponse>, Status> {
        let call = self.edge.begin(Rpc::ExplainDecision, &request);
        let id = request.into_inner().decision_id;
        // Whose decision it is is known once it is read: the record names the subject then.
        let ledger = SubjectOutcomes::new(1);
        let about = vec![super::AuditSubject::default()];
        call.run_each(&self.edge, about, ledger.clone(), async {
            let remote = self.explain.as_ref().ok_or(Error::NoEvidenceArchive)?;
            if uuid::Uuid::try_parse(&id).is_err() {
                return Err(Error::invalid(
                    "decision_id",
                    "must be a decision id (a UUID)",
                ));
            }
            let explained = remote.explain(&id).await.map_err(|e| {
                if e.starts_with("no such decision") {
                    Error::invalid("decision_id", "no such decision in the audit store")
                } else {
                    Error::Evidence(crate::iin::scrub(&e).into_owned())
                }
            })?;
            ledger.record(0, explained_record(&id, &explained));
            Ok(pb::ExplainDecisionResponse {
                same_outcome: explained.same_outcome(),
                recorded_outcome: explained.recorded.clone(),
                rederived_outcome: explained.rederived.clone().unwrap_or_default(),
                text: explained.text,
            })
        })
        .await
    }

    async fn get_registry_status(
        &self,
        request: Request<pb::GetRegistryStatusRequest>,
    ) -> Result<Response<pb::GetRegistryStatusResponse>, Status> {
        let call = self.edge.begin(Rpc::GetRegistryStatus, &request);
        call.run(&self.edge, None, async { Ok(self.status()) })
            .await
    }
}

/// The record of an explanation: whose decision, which one.
fn explained_record(id: &str, explained: &Explanation) -> Decided {
    Decided {
        subject: Some(explained.subject.clone()),
        decision: Some(DecisionRef {
            id: id.to_owned(),
            service: String::new(),
            step: String::new(),
            rules: crate::decision::rules::VERSION.into(),
            notes: Vec::new(),
        }),
        ..Decided::new(CallOutcome::Explained, Vec::new())
    }
}

impl AdminService {
    fn status(&self) -> pb::GetRegistryStatusResponse {
        let registries = self
            .guards
            .values()
            .map(|g| {
                let s = g.status();
                pb::RegistryStatus {
                    registry: convert::registry_value(s.registry),
                    breaker: match s.breaker {
                        BreakerState::Closed => pb::BreakerState::Closed,
                        BreakerState::Open => pb::BreakerState::Open,
                        BreakerState::HalfOpen => pb::BreakerState::HalfOpen,
                    }
                    .into(),
                    cache_entries: s.cache_entries,
                    calls_in_flight: s.calls_in_flight,
                }
            })
            .collect();
        pb::GetRegistryStatusResponse { registries }
    }
}
