//! Arbitrary bytes as a chat request body: parsing into `ChatRequest` and the agent's input
//! checks (length, control characters, Unicode normalisation, the screen) must return a
//! typed error or a reply, never panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

struct Parts {
    runtime: tokio::runtime::Runtime,
    agent: tria_agent::Agent,
    tenant: tria_core::TenantContext,
}

fn parts() -> &'static Parts {
    static PARTS: OnceLock<Parts> = OnceLock::new();
    PARTS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
        let (agent, tenant) = runtime.block_on(async {
            let db = tria_testkit::sqlite().await;
            let seeded = tria_agent::setup::seed_from_fixtures(&db.store, &tria_testkit::fixtures_dir(), &Default::default()).await.expect("seed");
            let tenant = seeded.first().expect("a demo tenant").tenant.clone();
            let agent = tria_agent::Agent::builder(db.store.clone()).build();
            std::mem::forget(db);
            (agent, tenant)
        });
        Parts { runtime, agent, tenant }
    })
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(request) = serde_json::from_slice::<tria_core::ChatRequest>(bytes) else { return };
    let parts = parts();
    let _ = parts.runtime.block_on(parts.agent.chat(&parts.tenant, request));
});
