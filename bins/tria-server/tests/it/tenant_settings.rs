//! Tenant settings are checked with their meaning (types and ranges of every key the code
//! reads), and a bad value already stored (from before the checks) neither panics nor turns any
//! rate limit off.

use axum::body::Body;
use http::{Request, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use tria_server::{LimitSettings, ServiceSettings};
use tria_store::repo::TenantPatch;

use crate::{NORTHWIND_KEY, TestApp, VELO_KEY, error_code};

fn limited(per_second: f64, burst: u32) -> ServiceSettings {
    ServiceSettings {
        limits: LimitSettings { tenant_per_second: per_second, tenant_burst: burst, ..LimitSettings::default() },
        ..ServiceSettings::default()
    }
}

async fn patch_settings(app: &TestApp, admin: &str, settings: Value) -> (StatusCode, Value) {
    let (status, _, json) = app.call("PATCH", "/admin/tenants/velo", Some(admin), Some(json!({ "settings": settings }))).await;
    (status, json)
}

#[tokio::test]
async fn settings_with_a_wrong_type_or_range_are_refused_422_naming_the_field() {
    let app = TestApp::new().await;
    let admin = app.admin_key().await;
    let cases = [
        (json!({ "rate_limit": { "per_second": 1e-30 } }), "settings.rate_limit.per_second"),
        (json!({ "rate_limit": { "per_second": -5 } }), "settings.rate_limit.per_second"),
        (json!({ "rate_limit": { "per_second": "fast" } }), "settings.rate_limit.per_second"),
        (json!({ "rate_limit": { "per_second": 1e300 } }), "settings.rate_limit.per_second"),
        (json!({ "rate_limit": { "per_second": true } }), "settings.rate_limit.per_second"),
        (json!({ "rate_limit": { "burst": 0 } }), "settings.rate_limit.burst"),
        (json!({ "rate_limit": { "burst": 1.5 } }), "settings.rate_limit.burst"),
        (json!({ "rate_limit": { "burst": -1 } }), "settings.rate_limit.burst"),
        (json!({ "rate_limit": { "burst": 5_000_000_000_u64 } }), "settings.rate_limit.burst"),
        (json!({ "rate_limit": { "customer_per_second": -0.5 } }), "settings.rate_limit.customer_per_second"),
        (json!({ "rate_limit": { "customer_burst": "10" } }), "settings.rate_limit.customer_burst"),
        (json!({ "rate_limit": 5 }), "settings.rate_limit"),
        (json!({ "budget": { "tokens_per_hour": -1 } }), "settings.budget.tokens_per_hour"),
        (json!({ "budget": { "usd_per_hour": "ten" } }), "settings.budget.usd_per_hour"),
        (json!({ "budget": { "tokens_per_month": 0.5 } }), "settings.budget.tokens_per_month"),
        (json!({ "budget": { "usd_per_month": -3 } }), "settings.budget.usd_per_month"),
        (json!({ "budget": [] }), "settings.budget"),
        (json!({ "order_approval_threshold_minor": -1 }), "settings.order_approval_threshold_minor"),
        (json!({ "order_approval_threshold_minor": "500" }), "settings.order_approval_threshold_minor"),
        (json!({ "max_quantity_per_line": 1.5 }), "settings.max_quantity_per_line"),
        (json!({ "max_quantity_per_line": -4 }), "settings.max_quantity_per_line"),
        (json!({ "max_lines_per_order": 1e12 }), "settings.max_lines_per_order"),
        (json!({ "max_units_per_order": "lots" }), "settings.max_units_per_order"),
        (json!({ "free_shipping_threshold_minor": -100 }), "settings.free_shipping_threshold_minor"),
        (json!({ "support_hours": 9 }), "settings.support_hours"),
        (json!({ "support_hours": "x".repeat(300) }), "settings.support_hours"),
        (json!({ "cancel_invoiced_orders": "no" }), "settings.cancel_invoiced_orders"),
        (json!({ "support_email": "not an address" }), "settings.support_email"),
        (json!({ "support_email": 42 }), "settings.support_email"),
        (json!({ "support_phone": ["555"] }), "settings.support_phone"),
        (json!({ "prompt_set": "no-such-set" }), "settings.prompt_set"),
        (json!({ "prompt_set": 1 }), "settings.prompt_set"),
    ];
    for (settings, field) in cases {
        let (status, json) = patch_settings(&app, &admin, settings.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{settings} → {json}");
        assert_eq!(error_code(&json), "invalid_field", "{json}");
        let message = json["error"]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(&format!("{field} must ")), "{settings}: the message names {field}: {message}");
    }
    // Creating a tenant checks the same way.
    let body = json!({ "name": "Acme", "slug": "acme-bad", "settings": { "rate_limit": { "per_second": -5 } } });
    let (status, _, json) = app.call("POST", "/admin/tenants", Some(&admin), Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{json}");
    // Nothing was stored by the refused patches.
    let (_, _, velo) = app.call("GET", "/admin/tenants/velo", Some(&admin), None).await;
    assert!(velo["settings"].get("rate_limit").is_none() && velo["settings"].get("prompt_set").is_none(), "{velo}");
}

#[tokio::test]
async fn sensible_settings_unknown_keys_and_removals_are_accepted() {
    let app = TestApp::new().await;
    let admin = app.admin_key().await;
    let good = json!({
        "rate_limit": { "per_second": 0.5, "burst": 10, "customer_per_second": 2, "customer_burst": 3, "note": "free-form" },
        "budget": { "tokens_per_hour": 0, "usd_per_hour": 2.5, "tokens_per_month": 1_000_000, "usd_per_month": 0 },
        "order_approval_threshold_minor": 0,
        "max_quantity_per_line": 50,
        "max_lines_per_order": 0,
        "max_units_per_order": 1000,
        "free_shipping_threshold_minor": 25000,
        "support_hours": "Mon–Fri 9–5\n(closed on holidays)",
        "support_email": "care@velo.example",
        "support_phone": "+1 555 0100",
        "cancel_invoiced_orders": false,
        "prompt_set": "default",
        "anything_else": { "nested": [1, "two", null] },
    });
    let (status, json) = patch_settings(&app, &admin, good).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["settings"]["rate_limit"]["burst"], 10);
    // 0 per second still turns a tenant's limit off, as config/default.toml says; a whole number
    // written as 3.0 is stored as the integer it is.
    let (status, json) = patch_settings(&app, &admin, json!({ "rate_limit": { "per_second": 0, "burst": 3.0 } })).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["settings"]["rate_limit"]["burst"], json!(3));
    assert!(json["settings"]["rate_limit"]["burst"].is_u64(), "{json}");
    let (status, json) = patch_settings(&app, &admin, json!({ "rate_limit": null, "support_email": null })).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert!(json["settings"].get("rate_limit").is_none(), "{json}");
}

/// A bad value written before settings were checked (here straight into the store) used to
/// panic in the limiter while it held its lock; the poisoned lock then let every request of
/// every tenant through.
#[tokio::test]
async fn a_stored_bad_rate_limit_neither_panics_nor_turns_limits_off_for_anyone() {
    let app = TestApp::with_settings(limited(0.1, 2)).await;
    let tenants = app.db.store.tenants();
    for (slug, per_second) in [("northwind", json!(1e-30)), ("velo", json!(-5))] {
        let tenant = tenants.find_by_slug(slug).await.expect("store").expect("seeded tenant");
        let mut settings = tenant.settings.clone();
        settings["rate_limit"] = json!({ "per_second": per_second, "burst": 0 });
        tenants.update(tenant.id, TenantPatch { settings: Some(settings), ..TenantPatch::default() }).await.expect("stored");
    }
    for key in [NORTHWIND_KEY, VELO_KEY] {
        let mut statuses = Vec::new();
        for _ in 0..3 {
            let (status, _) = app.chat(key, json!({ "message": "hello" })).await;
            statuses.push(status.as_u16());
        }
        assert_eq!(statuses, [200, 200, 429], "a bad stored value means the configured limit, burst 2 ({key})");
    }
    let (status, _, json) = app.call("GET", "/api/v1/metrics/cache", Some(NORTHWIND_KEY), None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{json}");
    let metrics = metrics_text(&app).await;
    let faults = metric(&metrics, "tria_rate_limit_faults_total");
    assert!(faults >= 1.0, "the bad settings are counted as limiter faults:\n{metrics}");
}

async fn metrics_text(app: &TestApp) -> String {
    let response = tower::ServiceExt::oneshot(app.router.clone(), Request::get("/metrics").body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.expect("body").to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

/// Every settings key the code reads, at every level.
const FIELDS: &[&str] = &[
    "rate_limit",
    "rate_limit.per_second",
    "rate_limit.burst",
    "rate_limit.customer_per_second",
    "rate_limit.customer_burst",
    "budget",
    "budget.tokens_per_hour",
    "budget.usd_per_hour",
    "budget.tokens_per_month",
    "budget.usd_per_month",
    "order_approval_threshold_minor",
    "max_quantity_per_line",
    "max_lines_per_order",
    "max_units_per_order",
    "free_shipping_threshold_minor",
    "support_hours",
    "support_email",
    "support_phone",
    "cancel_invoiced_orders",
    "prompt_set",
];

fn json_value() -> impl Strategy<Value = Value> {
    // Weighted towards the values that used to hurt: rates that overflow an emission interval,
    // negative and fractional counts, numbers past every range.
    let number = prop_oneof![
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        4 => prop::sample::select(vec![
            0.0,
            -0.0,
            1e-30,
            1e-300,
            f64::MIN_POSITIVE,
            1e-7,
            1e-6,
            0.5,
            1.0,
            1.5,
            3.0,
            1e6,
            1e6 + 1.0,
            4.3e9,
            1e300,
            -5.0,
            f64::MAX,
        ])
        .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        1 => (-3i64..1_000_001).prop_map(Value::from),
    ];
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        4 => number,
        2 => prop_oneof!["\\PC{0,40}", Just("default".to_owned()), Just("a@b.example".to_owned()), "[0-9.e+-]{1,12}"]
            .prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    "[a-z_]{1,10}",
                    prop::sample::select(FIELDS.to_vec()).prop_map(|f| f.rsplit('.').next().unwrap_or(f).to_owned())
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A settings patch naming one to three of the fields with arbitrary values.
fn settings_patch() -> impl Strategy<Value = Value> {
    proptest::collection::vec((prop::sample::select(FIELDS.to_vec()), json_value()), 1..4).prop_map(|fields| {
        let mut settings = json!({});
        for (path, value) in fields {
            match path.split_once('.') {
                Some((outer, inner)) => {
                    if !settings[outer].is_object() {
                        settings[outer] = json!({});
                    }
                    settings[outer][inner] = value;
                }
                None => settings[path] = value,
            }
        }
        settings
    })
}

#[test]
fn arbitrary_values_in_every_settings_field_never_give_a_5xx_or_a_panic() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let app = runtime.block_on(TestApp::with_settings(limited(1000.0, 1000)));
    let admin = runtime.block_on(app.admin_key());
    // Bounded for the normal run; PROPTEST_CASES raises it.
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1000);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let started = std::time::Instant::now();
    let result = runner.run(&(settings_patch(), any::<bool>()), |(settings, create)| {
        let (status, json) = runtime.block_on(async {
            if create {
                let slug = format!("p-{}", uuid::Uuid::new_v4().simple());
                let body = json!({ "name": "Fuzzed", "slug": slug, "settings": settings });
                let (status, _, json) = app.call("POST", "/admin/tenants", Some(&admin), Some(body)).await;
                (status, json)
            } else {
                patch_settings(&app, &admin, settings.clone()).await
            }
        });
        prop_assert!(status.as_u16() < 500, "{status} for {settings}: {json}");
        prop_assert!(status.is_success() || matches!(status.as_u16(), 400 | 413 | 422), "unexpected {status} for {settings}: {json}");
        if status.is_client_error() {
            prop_assert!(json["error"]["message"].as_str().is_some_and(|m| m.contains("settings")), "names the field: {json}");
        }
        // Whatever was stored, the tenant's requests still work (the limit and budget checks
        // and the order rules read these settings on every chat).
        if status.is_success() && !create {
            let (chat, reply) = runtime.block_on(app.chat(VELO_KEY, json!({ "message": "hello", "customer_id": "c-1" })));
            prop_assert!(chat.as_u16() < 500, "chat answered {chat} after {settings}: {reply}");
        }
        Ok(())
    });
    if let Err(err) = result {
        panic!("{err}");
    }
    eprintln!("settings fuzz: {cases} cases in {:?}", started.elapsed());
}

#[tokio::test]
async fn retention_limits_are_whole_days_from_1_to_3650_or_null_and_anything_else_is_refused_422() {
    let app = TestApp::new().await;
    let admin = app.admin_key().await;
    let cases = [
        (json!({ "retention": { "transcripts_days": 0 } }), "settings.retention.transcripts_days"),
        (json!({ "retention": { "transcripts_days": 3651 } }), "settings.retention.transcripts_days"),
        (json!({ "retention": { "escalations_days": 1.5 } }), "settings.retention.escalations_days"),
        (json!({ "retention": { "escalations_days": -30 } }), "settings.retention.escalations_days"),
        (json!({ "retention": { "audit_days": "90" } }), "settings.retention.audit_days"),
        (json!({ "retention": { "audit_days": 1e12 } }), "settings.retention.audit_days"),
    ];
    for (settings, field) in cases {
        let (status, json) = patch_settings(&app, &admin, settings.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{settings} → {json}");
        assert_eq!(error_code(&json), "invalid_field", "{json}");
        let message = json["error"]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(&format!("{field} must be a whole number from 1 to 3650")), "{settings}: {message}");
    }
    let (status, json) = patch_settings(&app, &admin, json!({ "retention": 90 })).await;
    assert_eq!((status, error_code(&json)), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field".to_owned()), "{json}");
    assert_eq!(json["error"]["message"], "settings.retention must be a JSON object");
    let (_, _, velo) = app.call("GET", "/admin/tenants/velo", Some(&admin), None).await;
    assert!(velo["settings"].get("retention").is_none(), "nothing stored by the refusals: {velo}");

    // Whole days (a float over a whole number is stored as an integer) and null are taken.
    let good = json!({ "retention": { "transcripts_days": 90.0, "escalations_days": 365, "audit_days": null } });
    let (status, json) = patch_settings(&app, &admin, good).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let (_, _, velo) = app.call("GET", "/admin/tenants/velo", Some(&admin), None).await;
    let retention = &velo["settings"]["retention"];
    assert_eq!((retention["transcripts_days"].as_i64(), retention["escalations_days"].as_i64()), (Some(90), Some(365)), "{velo}");
    assert!(retention["transcripts_days"].is_i64(), "{retention}");
    assert!(retention.get("audit_days").is_none_or(Value::is_null), "{retention}");
}
