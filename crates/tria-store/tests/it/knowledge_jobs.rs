//! Uploaded knowledge and the job queue, on SQLite and PostgreSQL: a staged document serves no
//! one until it is published; publishing swaps the whole set; rollback restores a version; a
//! job is claimed once, reclaimed after its lease expires, and only its holder finishes it.

use std::time::Duration;

use chrono::Utc;
use tria_store::records::JobStatus;
use tria_store::repo::{KnowledgeChange, LeaseOutcome, NewChunk, NewDocumentVersion, NewJob};
use uuid::Uuid;

use crate::tenant;

fn chunk(text: &str) -> NewChunk {
    NewChunk { ordinal: 0, heading_path: "Returns".into(), text: text.into(), token_count: 3 }
}

fn version_of(doc_id: &str, job_id: Uuid) -> NewDocumentVersion {
    NewDocumentVersion {
        doc_id: doc_id.into(),
        title: format!("Doc {doc_id}"),
        content_type: "text/markdown".into(),
        size_bytes: 42,
        sha256: "ab".repeat(32),
        job_id,
    }
}

#[tokio::test]
async fn staged_documents_serve_only_once_published_and_rollback_restores() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let (t, other) = (tenant(store, "know-a").await, tenant(store, "know-b").await);
        let repo = store.knowledge();
        let texts = |chunks: Vec<tria_store::records::PolicyChunk>| chunks.into_iter().map(|c| c.text).collect::<Vec<_>>();
        assert_eq!(repo.current_version(t.id).await.expect("current"), None);

        let job = Uuid::new_v4();
        // An attempt that died after staging leaves a version the retry replaces.
        repo.stage(t.id, version_of("returns", job), vec![chunk("thirty days (lost attempt)")]).await.expect("stage");
        let v1 = repo.stage(t.id, version_of("returns", job), vec![chunk("thirty days")]).await.expect("restage");
        assert_eq!(v1.version, 1, "{}: the retried stage reuses the number", db.label);
        assert!(store.policies().chunks(t.id).await.expect("chunks").is_empty(), "staged chunks do not serve");

        assert_eq!(repo.publish(t.id, KnowledgeChange::Put(v1.id)).await.expect("publish"), 1);
        assert_eq!(texts(store.policies().chunks(t.id).await.expect("chunks")), ["thirty days"]);
        assert!(store.policies().chunks(other.id).await.expect("chunks").is_empty(), "other tenants see nothing");

        let faq = repo.stage(t.id, version_of("faq", Uuid::new_v4()), vec![chunk("open nine to five")]).await.expect("stage faq");
        repo.publish(t.id, KnowledgeChange::Put(faq.id)).await.expect("publish faq");
        let v2 = repo.stage(t.id, version_of("returns", Uuid::new_v4()), vec![chunk("sixty days")]).await.expect("stage v2");
        assert_eq!(v2.version, 2);
        assert_eq!(texts(store.policies().chunks(t.id).await.expect("chunks")).len(), 2, "the old version serves meanwhile");
        assert_eq!(repo.publish(t.id, KnowledgeChange::Put(v2.id)).await.expect("publish"), 3);
        let mut now_serving = texts(store.policies().chunks(t.id).await.expect("chunks"));
        now_serving.sort();
        assert_eq!(now_serving, ["open nine to five", "sixty days"], "{}", db.label);
        let docs = repo.documents(t.id).await.expect("documents");
        assert_eq!(docs.iter().map(|d| (d.doc_id.as_str(), d.version)).collect::<Vec<_>>(), [("faq", 1), ("returns", 2)]);
        assert!(docs.iter().all(|d| d.indexed_at.is_some() && d.chunk_count == 1));

        assert_eq!(repo.publish(t.id, KnowledgeChange::Delete("faq".into())).await.expect("delete"), 4);
        assert!(matches!(repo.publish(t.id, KnowledgeChange::Delete("faq".into())).await, Err(tria_store::StoreError::NotFound(_))));
        assert_eq!(texts(store.policies().chunks(t.id).await.expect("chunks")), ["sixty days"]);

        repo.rollback(t.id, 1).await.expect("rollback");
        assert_eq!(repo.current_version(t.id).await.expect("current"), Some(1));
        assert_eq!(texts(store.policies().chunks(t.id).await.expect("chunks")), ["thirty days"]);
        assert!(matches!(repo.rollback(t.id, 99).await, Err(tria_store::StoreError::NotFound(_))));
        let versions = repo.versions(t.id).await.expect("versions");
        assert_eq!(
            versions.iter().map(|v| (v.version, v.documents, v.current)).collect::<Vec<_>>(),
            [(4, 1, false), (3, 2, false), (2, 2, false), (1, 1, true)]
        );
        // A new change builds on the current version (1), not the newest.
        let again = repo.stage(t.id, version_of("faq", Uuid::new_v4()), vec![chunk("open always")]).await.expect("stage");
        assert_eq!(repo.publish(t.id, KnowledgeChange::Put(again.id)).await.expect("publish"), 5);
        let mut serving = texts(store.policies().chunks(t.id).await.expect("chunks"));
        serving.sort();
        assert_eq!(serving, ["open always", "thirty days"], "{}", db.label);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_job_is_claimed_once_and_reclaimed_only_after_its_lease_expires() {
    for db in tria_testkit::all_backends().await {
        let store = &db.store;
        let t = tenant(store, "jobs-a").await;
        let jobs = store.jobs();
        let queued = jobs
            .enqueue(NewJob {
                kind: "index_document".into(),
                tenant: t.id,
                payload: serde_json::json!({"doc_id": "returns"}),
                total: 0,
                input: Some(b"# Returns".to_vec()),
            })
            .await
            .expect("enqueue");
        assert_eq!(queued.status, JobStatus::Queued);
        let lease = Duration::from_secs(30);
        let now = Utc::now();
        assert!(jobs.claim(&["import_catalogue"], lease, now).await.expect("claim").is_none(), "other kinds are not claimed");
        let held = jobs.claim(&["index_document"], lease, now).await.expect("claim").expect("a job");
        assert_eq!((held.id, held.status, held.attempts), (queued.id, JobStatus::Running, 1), "{}", db.label);
        assert!(
            jobs.claim(&["index_document"], lease, now).await.expect("claim").is_none(),
            "{}: held jobs are not claimed twice",
            db.label
        );
        assert_eq!(jobs.input(held.id).await.expect("input").as_deref(), Some(&b"# Returns"[..]));
        assert_eq!(jobs.progress(&held, 1, 3, lease).await.expect("progress"), LeaseOutcome::Applied);

        // The worker dies: after the lease, another claims it and the first can no longer write.
        let later = Utc::now() + chrono::Duration::seconds(60);
        let retried = jobs.claim(&["index_document"], lease, later).await.expect("claim").expect("reclaimed");
        assert_eq!((retried.id, retried.attempts), (queued.id, 2));
        assert_eq!(jobs.succeed(&held).await.expect("stale succeed"), LeaseOutcome::LeaseLost);
        assert_eq!(jobs.fail(&retried, serde_json::json!([{"code": "x", "message": "y"}])).await.expect("fail"), LeaseOutcome::Applied);
        let failed = jobs.get(queued.id).await.expect("get").expect("job");
        assert_eq!(failed.status, JobStatus::Failed);
        assert!(failed.finished_at.is_some());
        assert_eq!(failed.errors[0]["code"], "x");
        assert_eq!(jobs.input(queued.id).await.expect("input"), None, "a finished job's input is dropped");
        assert!(jobs.claim(&["index_document"], lease, later).await.expect("claim").is_none());
        assert_eq!(jobs.unfinished().await.expect("count"), 0);
        db.cleanup().await;
    }
}
