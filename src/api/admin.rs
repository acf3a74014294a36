//! The `registry_gateway.v1.GatewayAdmin` service: cache invalidation and resilience state.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::{convert, parse_iin, pb};
use crate::resilience::{BreakerState, GuardAdmin};

pub struct Admin {
    guards: Vec<Arc<dyn GuardAdmin>>,
}

impl Admin {
    pub fn new(guards: Vec<Arc<dyn GuardAdmin>>) -> Admin {
        Admin { guards }
    }
}

#[tonic::async_trait]
impl pb::gateway_admin_server::GatewayAdmin for Admin {
    async fn invalidate_person(
        &self,
        request: Request<pb::InvalidatePersonRequest>,
    ) -> Result<Response<pb::InvalidatePersonResponse>, Status> {
        let iin = parse_iin("iin", &request.into_inner().iin)?;
        let invalidated = self
            .guards
            .iter()
            .filter(|g| g.invalidate(&iin))
            .map(|g| convert::registry(g.status().registry))
            .collect();
        tracing::info!(subject = %iin.masked(), "cache entries invalidated");
        Ok(Response::new(pb::InvalidatePersonResponse { invalidated }))
    }

    async fn get_registry_status(
        &self,
        _: Request<pb::GetRegistryStatusRequest>,
    ) -> Result<Response<pb::GetRegistryStatusResponse>, Status> {
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
        Ok(Response::new(pb::GetRegistryStatusResponse { registries }))
    }
}
