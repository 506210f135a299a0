//! tria-load against a real Tria server started in-process on a loopback port, its LLM the
//! OpenAI-compatible mock, configured as `tria-server` would be from config/.

mod quick_run;

use std::path::PathBuf;

use tria_config::ConfigSources;
use tria_mock_llm::{MockConfig, MockServer};

/// The test profile's demo keys (config/test.toml).
pub(crate) const NORTHWIND_KEY: &str = "tria_test_northwind_0000000000000001";
pub(crate) const VELO_KEY: &str = "tria_test_velo_0000000000000002";

pub(crate) fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running server: its base URL; stops when dropped.
pub(crate) struct TestServer {
    pub base_url: String,
    _mock: MockServer,
    _data: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl TestServer {
    pub(crate) async fn start(mock: MockConfig) -> Self {
        let mock = MockServer::start(mock).await.expect("mock LLM");
        let data = tempfile::tempdir().expect("tempdir");
        let root = workspace_root();
        let sources = ConfigSources {
            config_dir: Some(root.join("config")),
            profile: Some("test".into()),
            cli: vec![
                ("listen".into(), "127.0.0.1:0".into()),
                ("data_dir".into(), data.path().display().to_string()),
                ("fixtures_dir".into(), root.join("fixtures").display().to_string()),
                // No embedding model: loading and embedding with it takes minutes in a debug build
                // on a busy machine, and the semantic level (L3) is not what these tests check.
                ("models_dir".into(), data.path().join("no-models").display().to_string()),
                ("llm.provider".into(), "openai".into()),
                ("llm.base_url".into(), mock.base_url()),
                ("llm.model".into(), "tria-mock".into()),
            ],
            ..ConfigSources::default()
        };
        let settings = tria_config::load(&sources).expect("settings");
        let (state, _) = tria_server::startup::build_state(&settings).await.expect("start-up");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(tria_server::serve(
            listener,
            tria_server::router(state),
            async move {
                let _ = stopped.await;
            },
            tria_server::ServeOptions::default(),
        ));
        Self { base_url: format!("http://{addr}"), _mock: mock, _data: data, stop: Some(stop) }
    }
}
