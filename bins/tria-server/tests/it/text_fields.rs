//! Names, labels and the tone's texts refuse bidi controls (they reorder how a name and the text
//! around it show: "Acme\u{202E}moc.evil" reads "Acmelive.com"), with a 400 naming the field, and
//! the OpenAPI patterns say the same; right-to-left scripts and joiners are fine. Chat messages
//! keep them (stored as sent: `chat.rs`).

use http::StatusCode;
use serde_json::{Value, json};

use crate::{TestApp, error_code};

const BIDI: [char; 12] = [
    '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}',
    '\u{061C}',
];

#[tokio::test]
async fn names_labels_and_tone_texts_refuse_bidi_controls_naming_the_field() {
    let app = TestApp::new().await;
    let admin = app.admin_key().await;
    for c in BIDI {
        let text = format!("Acme{c}moc.evil");
        let cases = [
            ("POST", "/admin/tenants", json!({ "name": text, "slug": "acme" }), "name"),
            ("PATCH", "/admin/tenants/northwind", json!({ "name": text }), "name"),
            ("POST", "/admin/keys", json!({ "role": "admin", "label": text }), "label"),
            ("PATCH", "/admin/tenants/northwind", json!({ "tone": { "greeting": text } }), "tone.greeting"),
            ("PATCH", "/admin/tenants/northwind", json!({ "tone": { "sign_off": text } }), "tone.sign_off"),
            ("PATCH", "/admin/tenants/northwind", json!({ "tone": { "persona": text } }), "tone.persona"),
        ];
        for (method, path, body, field) in cases {
            let (status, _, json) = app.call(method, path, Some(&admin), Some(body)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "U+{:04X} {method} {path}: {json}", c as u32);
            assert_eq!(error_code(&json), "invalid_field");
            let message = json["error"]["message"].as_str().expect("message");
            assert!(message.contains(&format!("`{field}`")) && message.contains("bidirectional"), "{message}");
        }
    }
    let (_, _, tenant) = app.call("GET", "/admin/tenants/northwind", Some(&admin), None).await;
    assert!(!tenant.to_string().contains("moc.evil"), "nothing was stored: {tenant}");

    // Right-to-left names, joiners and zero-width spaces are accepted.
    for (i, name) in ["شركة الأمل", "חברת אור", "Café 👩\u{200D}💻", "Acme\u{200B}Co"].into_iter().enumerate() {
        let (status, _, json) =
            app.call("POST", "/admin/tenants", Some(&admin), Some(json!({ "name": name, "slug": format!("rtl-{i}") }))).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {json}");
    }
}

/// The schema schemathesis generates from must refuse what the server refuses.
#[tokio::test]
async fn the_openapi_patterns_refuse_bidi_controls_too() {
    let app = TestApp::new().await;
    let (status, _, spec) = app.call("GET", "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let schemas = &spec["components"]["schemas"];
    let patterns: Vec<(&str, &Value)> = vec![
        ("CreateTenant.name", &schemas["CreateTenant"]["properties"]["name"]["pattern"]),
        ("Tone.greeting", &schemas["Tone"]["properties"]["greeting"]["pattern"]),
        ("Tone.persona", &schemas["Tone"]["properties"]["persona"]["pattern"]),
        ("Tone.sign_off", &schemas["Tone"]["properties"]["sign_off"]["pattern"]),
    ];
    for (name, pattern) in patterns {
        let pattern = pattern.as_str().unwrap_or_else(|| panic!("{name} has no pattern"));
        for range in [r"\u202a-\u202e", r"\u2066-\u2069", r"\u200e", r"\u200f", r"\u061c"] {
            assert!(pattern.contains(range), "{name}: {pattern} lets {range} through");
        }
    }
}
