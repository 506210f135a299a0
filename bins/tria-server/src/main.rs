//! `tria-server`: read config, set up logging, build the components, serve until SIGINT/SIGTERM.
#![allow(clippy::print_stderr)] // bad config is reported as one line on stderr before logging exists

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use tria_config::ConfigSources;
use tria_server::{ServeOptions, router, serve, settle, startup, telemetry};

/// Tria's customer-service chat server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Extra config file, applied after config/{profile}.toml.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Profile: dev (default), test, production, or any config/NAME.toml.
    #[arg(long)]
    profile: Option<String>,
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long)]
    listen: Option<String>,
    /// Directory for the embedded database and other state.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Directory holding default.toml and the profile files (embedded copies fill gaps).
    #[arg(long, default_value = "config")]
    config_dir: PathBuf,
}

/// Rust's allocations (the request path's many small ones) go to mimalloc: ~20 % less CPU per
/// cached request than glibc malloc; its memory settings are in `malloc_tuning`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    // Before anything allocates much: glibc and mimalloc read these settings only at start.
    if let Some(err) = tria_server::malloc_tuning::reexec_with_tunables() {
        eprintln!("tria-server: could not restart with malloc tunables ({err}); running with glibc's defaults");
    }
    let mut sources = ConfigSources {
        config_dir: Some(args.config_dir.clone()),
        profile: args.profile.clone(),
        config_file: args.config.clone(),
        ..ConfigSources::default()
    }
    .with_process_env();
    if let Some(listen) = &args.listen {
        sources.cli.push(("listen".into(), listen.clone()));
    }
    if let Some(dir) = &args.data_dir {
        sources.cli.push(("data_dir".into(), dir.display().to_string()));
    }
    let settings = match tria_config::load(&sources) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("tria-server: {err}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Err(err) = tria_server::telemetry::check_log_filter(&settings.server.log_filter) {
        eprintln!("tria-server: server.log_filter (TRIA_LOG): not a log filter: {err}");
        return std::process::ExitCode::from(2);
    }
    if let Err(err) = startup::check_settings(&settings) {
        eprintln!("tria-server: {err}");
        return std::process::ExitCode::from(2);
    }
    if let Err(err) = tria_server::integrations::check_settings(&settings.integrations) {
        eprintln!("tria-server: {err}");
        return std::process::ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("tria-server: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(settings)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tria-server: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(settings: tria_config::Settings) -> anyhow::Result<()> {
    let export = telemetry::TraceExport::from_env(|k| std::env::var(k).ok()).map_err(|e| anyhow::anyhow!("OTLP trace export: {e}"))?;
    let tracer = telemetry::init(settings.server.log_format, &settings.server.log_filter, export.as_ref());
    if let Some(export) = &export {
        tracing::info!(service = %export.service_name, protocol = ?export.protocol, "exporting traces over OTLP");
    }
    let started = std::time::Instant::now();
    let (state, report) = startup::build_state(&settings).await.context("start-up failed")?;
    let _settler = settle::spawn_settler(state.clone());
    for seeded in &report.seeded {
        tracing::info!(tenant = %seeded.tenant.slug, chunks = seeded.policies.chunks_written, "seeded demo tenant");
    }
    if settings.seed.log_demo_keys {
        for (slug, key) in &settings.seed.demo_keys {
            tracing::info!(tenant = %slug, key = %key, "demo API key (dev profile only)");
        }
    }
    if let Some(limit) = tria_server::raise_fd_limit() {
        tracing::debug!(limit, "file-descriptor limit");
    }
    let listener = tria_server::bind(settings.listen).with_context(|| format!("cannot listen on {}", settings.listen))?;
    tracing::info!(
        listen = %settings.listen,
        profile = %settings.profile,
        tenants = report.tenants,
        startup_ms = started.elapsed().as_millis() as u64,
        "tria-server ready"
    );
    let ops = match settings.server.ops_listen {
        Some(addr) => {
            let listener = std::net::TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr} (server.ops_listen)"))?;
            tracing::info!(ops_listen = %addr, "health and metrics also served on the operations port");
            Some(tria_server::ops::OpsServer::spawn(listener, state.clone()).context("starting the operations listener")?)
        }
        None => None,
    };
    let opts = ServeOptions {
        header_read_timeout: settings.server.header_read_timeout,
        drain_timeout: settings.server.drain_timeout,
        idle_timeout: settings.server.idle_timeout,
        write_timeout: settings.server.write_timeout,
        max_connections: settings.server.max_connections,
        max_streams_per_connection: settings.server.max_streams_per_connection,
        stats: state.connection_stats(),
    };
    let draining = state.clone();
    let shutdown = async move {
        shutdown_signal().await;
        draining.start_draining();
    };
    serve(listener, router(state.clone()), shutdown, opts).await;
    // The invoice worker finishes its current job before the database closes.
    report.background.shutdown().await;
    // Every LLM call of the drained requests is in the ledger before the database closes.
    if let Some(ledger) = state.ledger()
        && !ledger.flush().await
    {
        tracing::error!("llm ledger: rows could not be written before shutdown");
    }
    if let Some(ops) = ops {
        let _ = tokio::task::spawn_blocking(move || ops.stop()).await;
    }
    state.store().close().await;
    if let Some(tracer) = tracer {
        // Flushes the last batch; runs the exporter's blocking client off the runtime.
        let _ = tokio::task::spawn_blocking(move || tracer.shutdown()).await;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
