//! What the end-to-end test binaries share: the demo mock registries, and a gateway in front
//! of them on 127.0.0.1:0 (the listener is bound before anything connects).
#![allow(dead_code)] // each test binary uses a part of it

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::NaiveDate;
use registry_gateway::config::{Config, RegistryEndpoints};
use registry_gateway::mock_registry;
use registry_mocks::{Fixture, MockRegistries};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The five mock registries on the demo fixture, its relative dates pinned to `today`.
pub async fn demo_mocks(today: NaiveDate) -> MockRegistries {
    MockRegistries::spawn(Arc::new(Fixture::demo().with_today(today)))
        .await
        .expect("mocks start")
}

/// The default configuration, pointed at `mocks`.
pub fn config_for(mocks: &MockRegistries) -> Config {
    Config {
        registries: Some(RegistryEndpoints::local(|r| {
            mocks.get(mock_registry(r)).endpoint()
        })),
        ..Config::default()
    }
}

/// Serves `config` on a fresh loopback port until the returned sender fires or is dropped.
pub async fn serve(config: Config) -> (SocketAddr, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(e) = registry_gateway::run(listener, config, shutdown).await {
            panic!("gateway failed: {e}");
        }
    });
    (addr, stop)
}
