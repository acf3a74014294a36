//! The `registry_gateway.v1.GatewayAdminService` service: cache invalidation and resilience state.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::call::{Audited, Edge};
use super::{convert, parse_iin, pb};
use crate::audit::RegistryUse;
use crate::resilience::{BreakerState, GuardAdmin};

pub struct Admin {
    guards: Vec<Arc<dyn GuardAdmin>>,
    edge: Edge,
}

impl Admin {
    pub fn new(guards: Vec<Arc<dyn GuardAdmin>>, edge: Edge) -> Admin {
        Admin { guards, edge }
    }
}

impl Audited for pb::InvalidatePersonResponse {
    fn outcome(&self) -> String {
        "INVALIDATED".into()
    }
    fn registries(&self) -> Vec<RegistryUse> {
        Vec::new()
    }
}

impl Audited for pb::GetRegistryStatusResponse {
    fn outcome(&self) -> String {
        "OK".into()
    }
    fn registries(&self) -> Vec<RegistryUse> {
        Vec::new()
    }
}

#[tonic::async_trait]
impl pb::gateway_admin_service_server::GatewayAdminService for Admin {
    async fn invalidate_person(
        &self,
        request: Request<pb::InvalidatePersonRequest>,
    ) -> Result<Response<pb::InvalidatePersonResponse>, Status> {
        let call = self.edge.begin("InvalidatePerson", &request);
        let subject = request.into_inner().iin;
        call.run(&self.edge, Some(super::About::person(&subject)), async {
            let iin = parse_iin("iin", &subject)?;
            let invalidated = self
                .guards
                .iter()
                .filter(|g| g.invalidate(&iin))
                .map(|g| convert::registry(g.status().registry))
                .collect();
            tracing::info!("cache entries invalidated");
            Ok(pb::InvalidatePersonResponse { invalidated })
        })
        .await
    }

    async fn get_registry_status(
        &self,
        request: Request<pb::GetRegistryStatusRequest>,
    ) -> Result<Response<pb::GetRegistryStatusResponse>, Status> {
        let call = self.edge.begin("GetRegistryStatus", &request);
        call.run(&self.edge, None, async { Ok(self.status()) })
            .await
    }
}

impl Admin {
    fn status(&self) -> pb::GetRegistryStatusResponse {
        let registries = self
            .guards
            .iter()
            .map(|g| {
                let s = g.status();
                pb::RegistryStatus {
                    registry: convert::registry(s.registry),
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
