//! The connector tests' bench: a real ledger file, a gateway with quick
//! retries, and the fake vendor server.
#![allow(dead_code, unreachable_pub)]

use std::{num::NonZeroU32, time::Duration};

use rf_connectors::{ApiKey, Call, Connector, FetchOptions, Gateway, Service};
use rf_domain::WorkspaceId;
use rf_metering::ledger::{CallContext, Ledger, ReportFilter};

use crate::fake_provider::FakeProvider;

pub const KEY: &str = "test-key-4242";

pub fn quick_policy() -> rf_cloud::HttpPolicy {
    rf_cloud::HttpPolicy { initial_backoff: Duration::from_millis(10), max_backoff: Duration::from_millis(40), ..rf_cloud::HttpPolicy::default() }
}

pub struct Bench {
    pub _dir: tempfile::TempDir,
    pub gateway: Gateway,
    pub server: FakeProvider,
    pub context: CallContext,
}

pub async fn bench() -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).await.unwrap();
    let gateway = Gateway::new(reqwest::Client::new(), ledger, quick_policy());
    let workspace: WorkspaceId = "0193a4c2-58e4-7bb0-9a0e-0c6f4a3c2d10".parse().unwrap();
    let context = CallContext { workspace_id: Some(workspace), ..CallContext::user("ana".parse().unwrap()) };
    Bench { _dir: dir, gateway, server: FakeProvider::start(), context }
}

impl Bench {
    pub fn connector(&self, service: Service) -> Connector {
        let mut connector = Connector::new(service, ApiKey::new(KEY));
        connector.base_url = self.server.url.parse().unwrap();
        // The tests are not about spacing calls out (one test is).
        connector.limits.requests_per_second = NonZeroU32::new(1000).unwrap();
        connector
    }

    pub fn call<'a>(&'a self, connector: &'a Connector) -> Call<'a> {
        Call { connector, context: &self.context, options: FetchOptions { allow_network: true, use_cache: true } }
    }

    pub async fn rows(&self) -> Vec<rf_metering::ledger::CallRecord> {
        self.gateway.ledger().calls(&ReportFilter::default()).await.unwrap()
    }
}
