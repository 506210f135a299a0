//! Test-only helpers: a fresh, migrated store on SQLite (always) or PostgreSQL (when
//! `TRIA_TEST_POSTGRES_URL` is set), each in its own file or schema so tests run in parallel and
//! runs never collide. With feature `pdf`, [`pdf`] writes small PDFs for upload and reader tests.

use std::path::PathBuf;

use sea_orm::ConnectionTrait;
use tria_store::{DbOptions, Store};

#[cfg(feature = "pdf")]
pub mod pdf;

/// A migrated store and what keeps it alive; drop it at the end of the test.
#[derive(Debug)]
pub struct TestDb {
    pub store: Store,
    pub label: &'static str,
    /// Where it is, for [`TestDb::connect_again`].
    url: String,
    _dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
}

impl TestDb {
    /// A second, separate connection pool to the same database (file or schema): what another
    /// replica of the server has.
    pub async fn connect_again(&self) -> Store {
        Store::connect(&DbOptions::new(self.url.clone())).await.expect("second connection")
    }

    /// Terminates every PostgreSQL backend serving this database's pool (what a failover or an
    /// administrator's `pg_terminate_backend` does), leaving other tests' connections alone;
    /// returns how many went. Always 0 on SQLite.
    pub async fn terminate_connections(&self) -> u64 {
        let Some((admin_url, schema)) = &self.schema else { return 0 };
        let admin = Store::connect(&DbOptions::new(admin_url.clone())).await.expect("admin connection");
        let sql = format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{schema}'");
        let terminated =
            admin.connection().query_all_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql)).await.expect("terminate");
        admin.close().await;
        terminated.len() as u64
    }

    /// Drops the PostgreSQL schema (SQLite files go with the temp dir).
    pub async fn cleanup(self) {
        if let Some((admin_url, schema)) = &self.schema {
            self.store.close().await;
            if let Ok(admin) = Store::connect(&DbOptions::new(admin_url.clone())).await {
                let _ = admin.connection().execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await;
                admin.close().await;
            }
        }
    }
}

/// A fresh SQLite database file in a temp dir, migrated.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("tria.db").display());
    let store = Store::connect(&DbOptions::new(url.clone())).await.expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    TestDb { store, label: "sqlite", url, _dir: Some(dir), schema: None }
}

/// The PostgreSQL server to test against, if configured.
pub fn postgres_url() -> Option<String> {
    std::env::var("TRIA_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty())
}

/// A fresh schema on the configured PostgreSQL, migrated; `None` when not configured.
/// A configured but unreachable server fails the test rather than skipping it.
pub async fn postgres() -> Option<TestDb> {
    let admin_url = postgres_url()?;
    let schema = format!("tria_t_{}", uuid::Uuid::new_v4().simple());
    let admin = Store::connect(&DbOptions::new(admin_url.clone()))
        .await
        .unwrap_or_else(|e| panic!("TRIA_TEST_POSTGRES_URL is set but PostgreSQL is unreachable: {e}"));
    admin.connection().execute_unprepared(&format!("CREATE SCHEMA \"{schema}\"")).await.expect("create test schema");
    admin.close().await;
    let sep = if admin_url.contains('?') { '&' } else { '?' };
    // The application name lets `terminate_connections` find this pool's backends.
    let url = format!("{admin_url}{sep}options=-c%20search_path%3D{schema}&application_name={schema}");
    let store = Store::connect(&DbOptions::new(url.clone())).await.expect("open postgres");
    store.migrate().await.expect("migrate postgres");
    Some(TestDb { store, label: "postgres", url, _dir: None, schema: Some((admin_url, schema)) })
}

/// SQLite always, plus PostgreSQL when configured: run a test body against each.
pub async fn all_backends() -> Vec<TestDb> {
    let mut dbs = vec![sqlite().await];
    dbs.extend(postgres().await);
    dbs
}

/// The workspace's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}
