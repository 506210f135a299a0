//! The faults injected while the mixed load runs, one after the other with `gap` of load
//! between them: `kill -9` of a replica and its restart; every PostgreSQL backend of the
//! replicas terminated; the private Redis killed and started again; a rolling restart (SIGTERM
//! one replica at a time, the next once it is ready and HAProxy sends to it again).

use std::time::{Duration, Instant};

use super::stack::{Stack, psql};

pub(crate) struct Fault {
    pub(crate) name: &'static str,
    pub(crate) at_s: f64,
    pub(crate) took_s: f64,
    pub(crate) note: String,
    pub(crate) ok: bool,
    /// When it started, for matching against stored timestamps.
    pub(crate) wall: chrono::DateTime<chrono::Utc>,
}

/// Waits long enough for HAProxy's health check (`rise 2`, `inter 500ms`) to send to a
/// replica that just became ready.
const LB_RISE: Duration = Duration::from_millis(1500);

pub(crate) async fn run(stack: &mut Stack, started: Instant, gap: Duration) -> Vec<Fault> {
    let mut done = Vec::new();
    let record = |name, at: Instant, outcome: anyhow::Result<String>| Fault {
        name,
        at_s: (at - started).as_secs_f64(),
        took_s: at.elapsed().as_secs_f64(),
        ok: outcome.is_ok(),
        note: outcome.unwrap_or_else(|e| format!("{e:#}")),
        wall: chrono::Utc::now() - chrono::TimeDelta::from_std(at.elapsed()).unwrap_or_default(),
    };
    let victim = stack.replicas.len().min(2) - 1;

    // kill -9 mid-load, a moment down, then back.
    tokio::time::sleep(gap).await;
    let t = Instant::now();
    let pid = stack.replicas[victim].pid().unwrap_or(0);
    stack.replicas[victim].kill9();
    done.push(record("kill -9 a replica", t, Ok(format!("{} (pid {pid}) killed", stack.replicas[victim].name))));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t = Instant::now();
    let restarted = restart(stack, victim).await.map(|ready| format!("ready {ready:.1} s after its start"));
    done.push(record("restart the killed replica", t, restarted));

    tokio::time::sleep(gap).await;
    let t = Instant::now();
    let sql = format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
        stack.database
    );
    let terminated = psql(&stack.admin_url, "postgres", &sql).map(|n| format!("{n} backends terminated"));
    done.push(record("terminate PostgreSQL backends", t, terminated));

    tokio::time::sleep(gap).await;
    let t = Instant::now();
    stack.kill_redis();
    done.push(record("kill Redis", t, Ok(format!("redis-server on {} killed (SIGKILL)", stack.redis_port))));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let t = Instant::now();
    let back = stack.start_redis().map(|()| "empty (no persistence): caches and limits start over".to_owned());
    done.push(record("start Redis again", t, back));

    tokio::time::sleep(gap).await;
    let t = Instant::now();
    let mut notes = Vec::new();
    let mut failed = false;
    for i in 0..stack.replicas.len() {
        let drained = tokio::task::block_in_place(|| stack.replicas[i].terminate(Duration::from_secs(20)));
        match restart(stack, i).await {
            Ok(ready) => notes.push(format!("{} drained {:.1} s, ready {ready:.1} s", stack.replicas[i].name, drained.as_secs_f64())),
            Err(e) => {
                failed = true;
                notes.push(format!("{}: {e}", stack.replicas[i].name));
            }
        }
        tokio::time::sleep(LB_RISE).await;
    }
    let notes = notes.join("; ");
    done.push(record("rolling restart (SIGTERM)", t, if failed { Err(anyhow::anyhow!(notes)) } else { Ok(notes) }));
    done
}

async fn restart(stack: &mut Stack, i: usize) -> anyhow::Result<f64> {
    let bin_dir = stack.bin_dir.clone();
    stack.replicas[i].start(&bin_dir)?;
    Ok(stack.replicas[i].wait_ready(Duration::from_secs(120)).await?.as_secs_f64())
}
