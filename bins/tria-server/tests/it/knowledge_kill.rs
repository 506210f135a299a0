//! The real binary killed with SIGKILL while it indexes a ~300-page document, then restarted on
//! the same data: the index job is taken over once its lease (short here,
//! `knowledge.job_lease_ms`) runs out and ends `succeeded` or `failed`, and every answer on the
//! way comes from one knowledge version, the old policy or the new, never a mix.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::process::{ServerProcess, job, open_data_dir};

const PAGES: usize = 300;
const OLD_TITLE: &str = "Kestrel returns 2024";
const NEW_TITLE: &str = "Kestrel returns 2025";
const QUESTION: &str = "What is the restocking fee on a returned kestrel widget?";

/// The binary on `dir` with a short job lease.
async fn start(dir: &Path) -> ServerProcess {
    ServerProcess::start(dir, &[("TRIA_KNOWLEDGE__JOB_LEASE_MS", "1500"), ("TRIA_KNOWLEDGE__VERSION_CHECK_MS", "100")]).await
}

/// The returns policy of one year: its restocking fee, then (for the big one) `pages` pages of
/// appendices in words no customer question shares.
fn policy(title: &str, fee: &str, pages: usize) -> String {
    let mut doc =
        format!("# {title}\n\n## Restocking fee\n\nA returned kestrel widget carries a restocking fee of {fee} of its price.\n\n");
    let words = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "tempor", "magna", "aliqua"];
    for page in 1..=pages {
        doc.push_str(&format!("## Appendix {page}\n\n"));
        for sentence in 0..24 {
            let line: Vec<&str> = (0..12).map(|w| words[(page * 7 + sentence * 3 + w) % words.len()]).collect();
            doc.push_str(&line.join(" "));
            doc.push_str(". ");
        }
        doc.push_str("\n\n");
    }
    doc
}

/// One answer, checked: it cites one version of the policy and quotes that version's fee.
/// Returns the title it cites.
async fn consistent_answer(client: &reqwest::Client, base: &str, key: &str) -> String {
    let r = client.post(format!("{base}/api/chat")).bearer_auth(key).json(&json!({"message": QUESTION})).send().await.expect("chat");
    assert_eq!(r.status(), 200);
    let reply: Value = r.json().await.expect("reply JSON");
    let titles: Vec<&str> = reply["sources"].as_array().expect("sources").iter().filter_map(|s| s["title"].as_str()).collect();
    let (old, new) = (titles.contains(&OLD_TITLE), titles.contains(&NEW_TITLE));
    let text = reply["reply"].as_str().expect("reply");
    assert!(old != new, "cites exactly one version of the policy: {reply}");
    if old {
        assert!(text.contains("10%") && !text.contains("25%"), "{reply}");
        OLD_TITLE.to_owned()
    } else {
        assert!(text.contains("25%") && !text.contains("10%"), "{reply}");
        NEW_TITLE.to_owned()
    }
}

async fn put_policy(client: &reqwest::Client, base: &str, admin: &str, body: String) -> String {
    let r = client
        .put(format!("{base}/admin/tenants/kestrel/documents/returns"))
        .bearer_auth(admin)
        .header("content-type", "text/markdown")
        .body(body)
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), 202);
    let accepted: Value = r.json().await.expect("202 JSON");
    accepted["job"]["id"].as_str().expect("job id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_index_finishes_or_fails_the_job_after_restart_and_answers_are_never_a_mix() {
    let _heavy = crate::HEAVY.lock().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path()).await;
    let (store, admin) = open_data_dir(dir.path()).await;
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/admin/tenants", server.base))
        .bearer_auth(&admin)
        .json(&json!({"name": "Kestrel Supply", "slug": "kestrel"}))
        .send()
        .await
        .expect("create tenant");
    assert_eq!(r.status(), 201);
    let r =
        client.post(format!("{}/admin/keys", server.base)).bearer_auth(&admin).json(&json!({"role": "tenant", "tenant": "kestrel"})).send();
    let key: Value = r.await.expect("create key").json().await.expect("key JSON");
    let key = key["key"].as_str().expect("tenant key").to_owned();

    // The old policy, indexed.
    let id = put_policy(&client, &server.base, &admin, policy(OLD_TITLE, "10%", 0)).await;
    let started = Instant::now();
    while job(&client, &server.base, &admin, &id).await["status"] != "succeeded" {
        assert!(started.elapsed() < Duration::from_secs(30), "the small upload was not indexed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(consistent_answer(&client, &server.base, &key).await, OLD_TITLE);
    let tenant = store.tenants().find_by_slug("kestrel").await.expect("read").expect("kestrel");
    let old_version = store.knowledge().current_version(tenant.id).await.expect("version");

    // The new ~300-page policy: killed once its job is running, answering all the while.
    let big = policy(NEW_TITLE, "25%", PAGES);
    eprintln!("the new policy is {} bytes", big.len());
    let id = put_policy(&client, &server.base, &admin, big).await;
    let started = Instant::now();
    let seen = loop {
        let seen = job(&client, &server.base, &admin, &id).await;
        if seen["status"] == "running" {
            break seen;
        }
        assert!(!matches!(seen["status"].as_str(), Some("succeeded" | "failed")), "finished before it could be killed: {seen}");
        assert!(started.elapsed() < Duration::from_secs(60), "never running: {seen}");
        consistent_answer(&client, &server.base, &key).await;
    };
    drop(server); // SIGKILL
    let at_kill = store.knowledge().current_version(tenant.id).await.expect("version");
    eprintln!("killed with the job {seen}; knowledge version {old_version:?} -> {at_kill:?}");

    let server = start(dir.path()).await;
    let started = Instant::now();
    let mut answered = Vec::new();
    let done = loop {
        answered.push(consistent_answer(&client, &server.base, &key).await);
        let now = job(&client, &server.base, &admin, &id).await;
        if matches!(now["status"].as_str(), Some("succeeded" | "failed")) {
            break now;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the job did not finish after the restart: {now}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Once a version serves, no answer goes back to the old one.
    if let Some(first_new) = answered.iter().position(|t| t == NEW_TITLE) {
        assert!(answered[first_new..].iter().all(|t| t == NEW_TITLE), "{answered:?}");
    }
    let r =
        client.get(format!("{}/admin/tenants/kestrel/knowledge/versions", server.base)).bearer_auth(&admin).send().await.expect("versions");
    let versions: Value = r.json().await.expect("versions JSON");
    let current = store.knowledge().current_version(tenant.id).await.expect("version");
    let documents = store.knowledge().documents(tenant.id).await.expect("documents");
    assert_eq!(documents.len(), 1, "one returns document serves: {documents:?}");
    if done["status"] == "succeeded" {
        assert_eq!(done["progress"]["done"], done["progress"]["total"], "{done}");
        assert_eq!(documents[0].title, NEW_TITLE);
        // One new version: a retry after the kill did not publish the upload twice.
        assert_eq!(current, old_version.map(|v| v + 1), "{versions}");
        assert_eq!(consistent_answer(&client, &server.base, &key).await, NEW_TITLE);
    } else {
        assert_eq!(current, old_version, "a failed job leaves the old knowledge: {done} {versions}");
        assert_eq!(documents[0].title, OLD_TITLE);
        assert_eq!(consistent_answer(&client, &server.base, &key).await, OLD_TITLE);
    }
    let listed = versions["versions"].as_array().expect("versions");
    assert_eq!(listed.iter().filter(|v| v["current"] == true).count(), 1, "{versions}");
    assert_eq!(listed.iter().find(|v| v["current"] == true).and_then(|v| v["version"].as_i64()), current.map(i64::from), "{versions}");
    store.close().await;
}
