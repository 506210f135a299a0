use std::time::Duration;

use http::StatusCode;
use serde_json::json;
use tria_admission::{Decision, RateLimiter};
use tria_agent::Agent;
use tria_server::{AppState, LimitSettings, ServiceSettings, router};

use crate::{NORTHWIND_KEY, TestApp, VELO_KEY, error_code};

fn limited(per_second: f64, burst: u32) -> ServiceSettings {
    ServiceSettings {
        limits: LimitSettings { tenant_per_second: per_second, tenant_burst: burst, ..LimitSettings::default() },
        ..ServiceSettings::default()
    }
}

#[tokio::test]
async fn a_tenant_over_its_rate_gets_429_with_retry_after_and_others_are_unaffected() {
    let app = TestApp::with_settings(limited(0.2, 2)).await;
    for _ in 0..2 {
        let (status, _, json) = app.call("GET", "/api/v1/metrics/cache", Some(NORTHWIND_KEY), None).await;
        assert_eq!(status, StatusCode::OK, "{json}");
    }
    let (status, headers, json) = app.call("GET", "/api/v1/metrics/cache", Some(NORTHWIND_KEY), None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{json}");
    assert_eq!(error_code(&json), "rate_limited");
    let retry: u64 = headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=5).contains(&retry), "one request per 5 s: {retry}");
    assert_eq!(headers["ratelimit-limit"], "2");
    assert_eq!(headers["ratelimit-remaining"], "0");
    assert!(headers.contains_key("x-request-id"));
    let (status, json) = app.chat(NORTHWIND_KEY, json!({ "message": "hello" })).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "chat counts against the same limit: {json}");

    let (status, _, _) = app.call("GET", "/api/v1/metrics/cache", Some(VELO_KEY), None).await;
    assert_eq!(status, StatusCode::OK, "another tenant has its own budget");
    let (status, _, _) = app.call("GET", "/health/live", None, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_tenants_settings_override_the_configured_limit() {
    let app = TestApp::with_settings(limited(1000.0, 1000)).await;
    let admin = app.admin_key().await;
    let (status, _, json) = app
        .call(
            "PATCH",
            "/admin/tenants/velo",
            Some(&admin),
            Some(json!({ "settings": { "rate_limit": { "per_second": 0.1, "burst": 1 } } })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let (first, _, _) = app.call("GET", "/api/v1/metrics/cache", Some(VELO_KEY), None).await;
    let (second, headers, _) = app.call("GET", "/api/v1/metrics/cache", Some(VELO_KEY), None).await;
    assert_eq!((first, second), (StatusCode::OK, StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(headers["ratelimit-limit"], "1");
    let (status, _, _) = app.call("GET", "/api/v1/metrics/cache", Some(NORTHWIND_KEY), None).await;
    assert_eq!(status, StatusCode::OK);
}

fn redis_url() -> Option<String> {
    std::env::var("TRIA_TEST_REDIS_URL").ok().filter(|u| !u.is_empty())
}

/// Two server instances over one database and one Redis: the limit is shared, not doubled.
#[tokio::test]
async fn two_instances_sharing_redis_share_one_limit() {
    let Some(url) = redis_url() else {
        eprintln!("TRIA_TEST_REDIS_URL not set; shared rate limits not tested");
        return;
    };
    let settings = limited(0.1, 4);
    let prefix = format!("tria-test-{}", uuid::Uuid::new_v4().simple());
    let app = TestApp::with_settings(settings.clone()).await;
    let mut instances = Vec::new();
    for _ in 0..2 {
        let limiter = RateLimiter::shared(&settings.limits, &url, &prefix, Duration::from_millis(500)).expect("redis config");
        assert!(limiter.wait_connected(Duration::from_secs(3)).await, "redis reachable");
        let agent = Agent::builder(app.db.store.clone()).build();
        let state = AppState::with_rate_limiter(app.db.store.clone(), agent, Vec::new(), settings.clone(), limiter);
        instances.push(TestApp { router: router(state.clone()), state, db: tria_testkit::sqlite().await });
    }
    let mut statuses = Vec::new();
    for i in 0..6 {
        let (status, _, _) = instances[i % 2].call("GET", "/api/v1/metrics/cache", Some(NORTHWIND_KEY), None).await;
        statuses.push(status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429], "burst 4 across both instances, not 4 each");
    assert_eq!(instances[0].state.rate_limiter().fallback_total() + instances[1].state.rate_limiter().fallback_total(), 0);
}

#[tokio::test]
async fn with_redis_down_each_instance_still_limits_on_its_own() {
    let limits = LimitSettings { tenant_per_second: 0.1, tenant_burst: 2, ..LimitSettings::default() };
    // Nothing listens on port 1: every shared check fails fast and the local limiter decides.
    let limiter = RateLimiter::shared(&limits, "redis://127.0.0.1:1", "tria-test", Duration::from_millis(100)).expect("config");
    let tenant = tria_core::TenantContext {
        id: tria_core::TenantId(uuid::Uuid::new_v4()),
        slug: "t".into(),
        name: "T".into(),
        tone: Default::default(),
        settings: json!({}),
    };
    let mut decisions = Vec::new();
    for _ in 0..3 {
        decisions.push(matches!(limiter.check(&tenant).await, Decision::Allowed { .. }));
    }
    assert_eq!(decisions, [true, true, false]);
    assert_eq!(limiter.fallback_total(), 3);
    assert_eq!(limiter.limited_total(), 1);
}

#[tokio::test]
async fn each_customer_has_its_own_limit_inside_the_tenants() {
    let settings = ServiceSettings {
        limits: LimitSettings { customer_per_second: 0.1, customer_burst: 2, ..LimitSettings::default() },
        ..ServiceSettings::default()
    };
    let app = TestApp::with_settings(settings).await;
    let ask = |customer: &'static str| json!({ "message": "What are your opening hours?", "customer_id": customer });
    for _ in 0..2 {
        let (status, json) = app.chat(NORTHWIND_KEY, ask("cust-1")).await;
        assert_eq!(status, StatusCode::OK, "{json}");
    }
    let (status, headers, json) = app.send(crate::chat_request(NORTHWIND_KEY, &ask("cust-1").to_string())).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{json}");
    assert_eq!(error_code(&json), "rate_limited");
    assert!(json["error"]["message"].as_str().expect("message").contains("customer"));
    assert_eq!(headers["ratelimit-limit"], "2");
    assert!(headers.contains_key("retry-after"));
    // Another customer of the same tenant, the same customer id at another tenant, and requests
    // that name no customer are not affected.
    assert_eq!(app.chat(NORTHWIND_KEY, ask("cust-2")).await.0, StatusCode::OK);
    assert_eq!(app.chat(VELO_KEY, ask("cust-1")).await.0, StatusCode::OK);
    assert_eq!(app.chat(NORTHWIND_KEY, json!({ "message": "hello" })).await.0, StatusCode::OK);
    // The OpenAI surface names the customer with `user`.
    let openai = |user: &str| json!({ "model": "m", "user": user, "messages": [{ "role": "user", "content": "hello" }] });
    for expected in [200, 200, 429] {
        let (status, _, json) = app.call("POST", "/v1/chat/completions", Some(VELO_KEY), Some(openai("sdk-user"))).await;
        assert_eq!(status.as_u16(), expected, "{json}");
    }
}

#[tokio::test]
async fn two_instances_sharing_redis_share_one_customer_limit() {
    let Some(url) = redis_url() else {
        eprintln!("TRIA_TEST_REDIS_URL not set; shared customer limits not tested");
        return;
    };
    let limits = LimitSettings { customer_per_second: 0.1, customer_burst: 3, ..LimitSettings::default() };
    let prefix = format!("tria-test-{}", uuid::Uuid::new_v4().simple());
    let tenant = tria_core::TenantContext {
        id: tria_core::TenantId(uuid::Uuid::new_v4()),
        slug: "t".into(),
        name: "T".into(),
        tone: Default::default(),
        settings: json!({}),
    };
    let mut limiters = Vec::new();
    for _ in 0..2 {
        let limiter = RateLimiter::shared(&limits, &url, &prefix, Duration::from_millis(500)).expect("redis config");
        assert!(limiter.wait_connected(Duration::from_secs(3)).await, "redis reachable");
        limiters.push(limiter);
    }
    let mut allowed = Vec::new();
    for i in 0..5 {
        allowed.push(matches!(limiters[i % 2].check_customer(&tenant, "ünïcode customer ✓").await, Decision::Allowed { .. }));
    }
    assert_eq!(allowed, [true, true, true, false, false], "burst 3 across both instances");
    assert!(matches!(limiters[0].check_customer(&tenant, "someone else").await, Decision::Allowed { .. }));
}

/// The widget key is public: a flood through it uses up the web chat's bucket, not the one
/// the tenant's own server chats within.
#[tokio::test]
async fn a_widget_flood_does_not_use_up_the_tenant_keys_limit() {
    use crate::web::WIDGET_KEY;
    let settings = ServiceSettings { demo_widget_key: Some(WIDGET_KEY.into()), ..limited(0.2, 2) };
    let app = TestApp::with_settings(settings).await;
    let keys = [("northwind".to_owned(), WIDGET_KEY.to_owned())].into();
    tria_server::web::seed_widget_keys(&app.db.store, &keys).await.expect("seed widget");
    for _ in 0..2 {
        let (status, json) = app.chat(WIDGET_KEY, json!({ "message": "hello" })).await;
        assert_eq!(status, StatusCode::OK, "{json}");
    }
    let (status, json) = app.chat(WIDGET_KEY, json!({ "message": "hello" })).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the widget's own bucket is used up: {json}");
    assert!(json.to_string().contains("web chat"), "{json}");
    let (status, json) = app.chat(NORTHWIND_KEY, json!({ "message": "hello" })).await;
    assert_eq!(status, StatusCode::OK, "the tenant key still has its limit: {json}");
}
