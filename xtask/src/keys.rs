//! `keys create|list|revoke`: API keys from the command line, e.g. the first admin key of a
//! deployment (`cargo xtask keys create --role admin`). The plaintext is printed once and only
//! its SHA-256 digest is stored.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use tria_config::Settings;
use tria_core::ApiRole;

use crate::db::{open, runtime};

#[derive(Debug, Args)]
pub(crate) struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Generate a key (`tria_` + 43 base62 characters) and print it once.
    Create {
        /// `tenant` or `widget` (need --tenant), `operator` (needs --tenants) or `admin`.
        #[arg(long, default_value = "tenant")]
        role: String,
        /// The tenant's slug, for tenant and widget (publishable, chat-only) keys.
        #[arg(long)]
        tenant: Option<String>,
        /// Comma-separated tenant slugs an operator key works on in the console.
        #[arg(long, value_delimiter = ',')]
        tenants: Vec<String>,
        /// A note for people listing keys (who holds it, what for).
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List keys (never their secrets).
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a key by id; it stops working at once.
    Revoke { id: uuid::Uuid },
}

pub(crate) fn run(args: &KeysArgs, settings: &Settings) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let store = open(settings).await?;
        store.migrate().await?;
        let tenant_id = |slug: Option<String>| {
            let store = store.clone();
            async move {
                match slug {
                    Some(slug) => Ok::<_, anyhow::Error>(Some(
                        store.tenants().find_by_slug(&slug).await?.with_context(|| format!("no tenant `{slug}`"))?.id,
                    )),
                    None => Ok(None),
                }
            }
        };
        match &args.command {
            KeysCommand::Create { role, tenant, tenants, label } => {
                let role = ApiRole::parse(role).with_context(|| format!("unknown role `{role}` (tenant, widget, operator, admin)"))?;
                match (role.has_tenant(), tenant.is_some()) {
                    (true, false) => bail!("{} keys need --tenant SLUG", role.as_str()),
                    (false, true) => bail!("{} keys belong to no single tenant; leave out --tenant", role.as_str()),
                    _ => {}
                }
                match (role == ApiRole::Operator, tenants.is_empty()) {
                    (true, true) => bail!("operator keys need --tenants SLUG[,SLUG…]"),
                    (false, false) => bail!("--tenants is for operator keys"),
                    _ => {}
                }
                let (info, plaintext) = if role == ApiRole::Operator {
                    let mut ids = Vec::with_capacity(tenants.len());
                    for slug in tenants {
                        ids.push(tenant_id(Some(slug.clone())).await?.with_context(|| format!("no tenant `{slug}`"))?);
                    }
                    store.keys().create_operator(label, &ids).await?
                } else {
                    let tenant = tenant_id(tenant.clone()).await?;
                    store.keys().create(tenant, role, label).await?
                };
                println!("created {} key {} (prefix {})", role.as_str(), info.id, info.prefix);
                println!("{plaintext}");
                eprintln!("store it now: only its digest is kept, it cannot be shown again");
            }
            KeysCommand::List { tenant } => {
                let tenant = tenant_id(tenant.clone()).await?;
                let slugs: std::collections::HashMap<_, _> = store.tenants().list().await?.into_iter().map(|t| (t.id.0, t.slug)).collect();
                println!("{:<36}  {:<8}  {:<12}  {:<12}  {:<8}  label", "id", "role", "tenant", "prefix", "state");
                for key in store.keys().list(tenant).await? {
                    let slug = key.tenant_id.and_then(|t| slugs.get(&t).cloned()).unwrap_or_else(|| "-".into());
                    let state = if key.revoked_at.is_some() { "revoked" } else { "active" };
                    println!("{:<36}  {:<8}  {:<12}  {:<12}  {:<8}  {}", key.id, key.role, slug, key.prefix, state, key.label);
                }
            }
            KeysCommand::Revoke { id } => {
                store.keys().revoke(*id).await?;
                println!("revoked {id}");
            }
        }
        Ok(())
    })
}
