//! The real binary killed (SIGKILL) while a large catalogue upload is still arriving: what it had
//! spooled into the database stays behind with no job to read it, and the restarted server drops
//! it by itself once no request can be writing it (the longer of `import.job_lease_ms` and
//! `server.request_timeout_ms`, both short here).

use std::path::Path;
use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait;
use tokio::io::AsyncWriteExt;
use tria_store::Store;

use crate::process::{ServerProcess, open_data_dir};

/// The binary on `dir` with short leases and a short request timeout (the turn deadlines must
/// stay under it).
async fn start(dir: &Path) -> ServerProcess {
    ServerProcess::start(
        dir,
        &[
            ("TRIA_IMPORT__JOB_LEASE_MS", "1000"),
            ("TRIA_IMPORT__JOB_POLL_MS", "100"),
            ("TRIA_SERVER__REQUEST_TIMEOUT_MS", "3000"),
            ("TRIA_LLM__TURN_DEADLINE_MS", "2000"),
            ("TRIA_LLM__FIRST_TOKEN_DEADLINE_MS", "1000"),
        ],
    )
    .await
}

async fn count(store: &Store, sql: &str) -> i64 {
    let db = store.connection();
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.expect("count").expect("row");
    row.try_get_by_index::<i64>(0).expect("count")
}

async fn spool_rows(store: &Store) -> i64 {
    count(store, "SELECT COUNT(*) FROM upload_spools").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spool_left_by_a_server_killed_mid_upload_is_dropped_after_restart() {
    let _heavy = crate::HEAVY.lock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path()).await;
    let (store, admin) = open_data_dir(dir.path()).await;
    let jobs_before = count(&store, "SELECT COUNT(*) FROM jobs").await;

    // A 6 MB upload of which 3 MB arrive (over import.job_threshold_bytes: spooled as it comes).
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "PUT /admin/tenants/northwind/catalogue HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {admin}\r\n\
         content-type: text/csv\r\ncontent-length: {}\r\n\r\nsku,name,price\r\n",
        6 * 1024 * 1024
    );
    socket.write_all(head.as_bytes()).await.expect("head");
    let mut sent = 0;
    let mut i = 0;
    while sent < 3 * 1024 * 1024 {
        let mut rows = String::new();
        for _ in 0..1000 {
            rows.push_str(&format!("CUT-{i:07},Cut-off product {i},1.00\r\n"));
            i += 1;
        }
        socket.write_all(rows.as_bytes()).await.expect("body");
        sent += rows.len();
    }
    let started = Instant::now();
    while spool_rows(&store).await == 0 {
        assert!(started.elapsed() < Duration::from_secs(20), "nothing was spooled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(server); // SIGKILL mid-upload
    drop(socket);
    let left = spool_rows(&store).await;
    assert!(left >= 1, "the killed upload left its spool behind");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM jobs").await, jobs_before, "no job was enqueued for it");

    // Restarted: the runner drops the orphan once it is older than any request could be.
    let _server = start(dir.path()).await;
    let restarted = Instant::now();
    while spool_rows(&store).await > 0 {
        assert!(restarted.elapsed() < Duration::from_secs(30), "the cut-off upload's {left} spool rows were never dropped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("the cut-off upload's {left} spool rows were dropped {:?} after the restart", restarted.elapsed());
}
