//! OTLP export end to end: a tiny collector on loopback — OTLP/HTTP (axum) or OTLP/gRPC
//! (tonic, the collector's own service definition) — receives the spans of one chat request,
//! which continue the caller's W3C trace and carry the request id.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;
use tower::ServiceExt;
use tracing_subscriber::layer::SubscriberExt;
use tria_server::telemetry::{OtlpProtocol, TraceExport, otel_layer, tracer_provider};

use crate::{NORTHWIND_KEY, TestApp};

type Received = Arc<Mutex<Vec<ExportTraceServiceRequest>>>;

/// An OTLP/HTTP collector on its own thread and runtime (flushing blocks a test thread).
fn start_http_sink() -> (String, Received) {
    let received: Received = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    let store = received.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let app = axum::Router::new().route(
                "/v1/traces",
                post(move |body: axum::body::Bytes| {
                    let store = store.clone();
                    async move {
                        if let Ok(request) = ExportTraceServiceRequest::decode(body) {
                            store.lock().expect("lock").push(request);
                        }
                        ([(http::header::CONTENT_TYPE, "application/x-protobuf")], Vec::<u8>::new())
                    }
                }),
            );
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let _ = axum::serve(listener, app).await;
        });
    });
    (format!("http://{addr}/v1/traces"), received)
}

struct GrpcSink(Received);

#[tonic::async_trait]
impl TraceService for GrpcSink {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.lock().expect("lock").push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

/// An OTLP/gRPC collector (the `TraceService` of opentelemetry-proto, served by tonic) on its
/// own thread and runtime.
fn start_grpc_sink() -> (String, Received) {
    let received: Received = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    let service = TraceServiceServer::new(GrpcSink(received.clone()));
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            let _ = tonic::transport::Server::builder().add_service(service).serve_with_incoming(incoming).await;
        });
    });
    (format!("http://{addr}"), received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_requests_spans_reach_an_otlp_http_collector_with_the_request_id_and_the_callers_trace() {
    let (endpoint, received) = start_http_sink();
    one_traced_chat(
        TraceExport { endpoint: Some(endpoint), protocol: OtlpProtocol::HttpProtobuf, service_name: "tria-test".into() },
        received,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_requests_spans_reach_an_otlp_grpc_collector_with_the_request_id_and_the_callers_trace() {
    let (endpoint, received) = start_grpc_sink();
    one_traced_chat(TraceExport { endpoint: Some(endpoint), protocol: OtlpProtocol::Grpc, service_name: "tria-test".into() }, received)
        .await;
}

/// Sends one chat request with a `traceparent` through a service whose spans are exported as
/// `export` says, and checks the span tree the collector received.
async fn one_traced_chat(export: TraceExport, received: Received) {
    let provider = tracer_provider(&export).expect("provider");
    let app = TestApp::new().await;
    let subscriber = tracing_subscriber::registry().with(otel_layer(&provider));
    let guard = tracing::subscriber::set_default(subscriber);
    // Other tests of this binary register callsites while this one sets its subscriber; make
    // sure none keeps an interest computed without it.
    tracing::callsite::rebuild_interest_cache();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut request = crate::chat_request(NORTHWIND_KEY, r#"{"message":"What are your support hours?"}"#);
    request.headers_mut().insert("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01").parse().expect("header"));
    request.headers_mut().insert("x-request-id", "trace-test-42".parse().expect("header"));
    let response = app.router.clone().oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), 200);
    let traceparent = response.headers()["traceparent"].to_str().expect("ascii").to_owned();
    assert!(traceparent.contains(trace_id), "the response names the continued trace: {traceparent}");
    // The request span closes with the response; read the body to its end first.
    let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await;
    drop(guard);

    let mut spans = Vec::new();
    for _ in 0..100 {
        // Flush every round: on a loaded machine the last spans can close after the first flush.
        // Flushing blocks; the gRPC exporter needs this runtime's other worker meanwhile.
        let _ = tokio::task::block_in_place(|| provider.force_flush());
        spans = received
            .lock()
            .expect("lock")
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| s.spans.clone())
            .collect::<Vec<_>>();
        // The exporter may send the spans in several batches (a scheduled export can fire
        // mid-request on a loaded machine): wait for the root span, which ends last.
        if spans.iter().any(|s| s.name == "request") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let request_span = spans
        .iter()
        .find(|s| s.name == "request")
        .unwrap_or_else(|| panic!("no request span in {:?}", spans.iter().map(|s| &s.name).collect::<Vec<_>>()));
    assert_eq!(hex(&request_span.trace_id), trace_id, "continues the caller's trace");
    assert_eq!(hex(&request_span.parent_span_id), "00f067aa0ba902b7");
    let attribute =
        |name: &str| request_span.attributes.iter().find(|a| a.key == name).and_then(|a| a.value.as_ref()).and_then(|v| v.value.clone());
    assert_eq!(attribute("request_id"), Some(Value::StringValue("trace-test-42".into())));
    assert_eq!(attribute("tenant"), Some(Value::StringValue("northwind".into())));
    let names: Vec<(&str, String)> = spans.iter().map(|s| (s.name.as_str(), hex(&s.trace_id))).collect();
    assert!(spans.iter().all(|s| hex(&s.trace_id) == trace_id), "every span of the request is in the trace: {names:?}");
    // Each pipeline stage a miss runs is a span of its own.
    for stage in ["chat", "session", "cache", "intent", "retrieval", "generation", "tone", "persist"] {
        assert!(spans.iter().any(|s| s.name == stage), "no `{stage}` span in {names:?}");
    }
    let service =
        received.lock().expect("lock")[0].resource_spans[0].resource.as_ref().expect("resource").attributes.iter().any(|a| {
            a.key == "service.name" && a.value.as_ref().and_then(|v| v.value.clone()) == Some(Value::StringValue("tria-test".into()))
        });
    assert!(service);
    let _ = tokio::task::block_in_place(|| provider.shutdown());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn export_is_off_unless_an_otlp_endpoint_is_set_and_the_protocol_comes_from_the_standard_variables() {
    let env =
        |pairs: &'static [(&'static str, &'static str)]| move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
    assert_eq!(TraceExport::from_env(env(&[])), Ok(None));
    assert_eq!(TraceExport::from_env(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "")])), Ok(None));
    let on = TraceExport::from_env(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://jaeger:4318"), ("OTEL_SERVICE_NAME", "tria-eu")]))
        .expect("valid")
        .expect("on");
    assert_eq!(on.service_name, "tria-eu");
    assert_eq!(on.protocol, OtlpProtocol::HttpProtobuf, "the specification's default");
    assert!(TraceExport::from_env(env(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/v1/traces")])).expect("valid").is_some());
    assert_eq!(TraceExport::from_env(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), ("OTEL_SDK_DISABLED", "true")])), Ok(None));
    assert_eq!(TraceExport::from_env(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), ("OTEL_TRACES_EXPORTER", "none")])), Ok(None));

    let grpc =
        TraceExport::from_env(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://jaeger:4317"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]));
    assert_eq!(grpc.expect("valid").expect("on").protocol, OtlpProtocol::Grpc);
    // The traces-specific variable wins over the general one.
    let traces = TraceExport::from_env(env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
    ]));
    assert_eq!(traces.expect("valid").expect("on").protocol, OtlpProtocol::HttpProtobuf);
    let bad = TraceExport::from_env(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift")]));
    let message = bad.expect_err("unsupported protocol");
    assert!(message.contains("OTEL_EXPORTER_OTLP_PROTOCOL") && message.contains("thrift"), "{message}");
}
