//! Admin commands, usable from the CLI and from `dev`'s seeding.

use anyhow::{Context, bail};
use corridor_domain::ids::{ConsoleUserId, MerchantId};
use corridor_platform::{
    AppState,
    auth::{Role, Scope, password},
    routes,
};
use corridor_store::{console_users, ledger, merchants};

pub async fn migrate(state: &AppState) -> anyhow::Result<()> {
    corridor_store::MIGRATOR
        .run(state.pool())
        .await
        .context("running migrations")?;
    tracing::info!("migrations applied");
    Ok(())
}

pub async fn create_merchant(state: &AppState, name: &str) -> anyhow::Result<MerchantId> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        bail!("a merchant name has 1 to 200 characters");
    }
    let id = MerchantId::new();
    let mut conn = state.pool().acquire().await?;
    merchants::insert(&mut conn, id, name).await?;
    Ok(id)
}

pub async fn create_api_key(
    state: &AppState,
    merchant: &str,
    name: &str,
    scopes: Option<&[String]>,
) -> anyhow::Result<String> {
    let merchant = MerchantId::parse(merchant).context("--merchant")?;
    let scopes: Vec<Scope> = match scopes {
        None => Scope::ALL.to_vec(),
        Some(names) => names
            .iter()
            .map(|n| Scope::parse(n).with_context(|| format!("unknown scope {n:?}")))
            .collect::<anyhow::Result<_>>()?,
    };
    let mut conn = state.pool().acquire().await?;
    merchants::get(&mut conn, merchant).await.context("--merchant")?;
    drop(conn);
    let created = routes::api_keys_create(state, merchant, name, &scopes)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(created.secret)
}

pub async fn create_console_user(
    state: &AppState,
    email: &str,
    password: &str,
    role: &str,
    merchant: Option<&str>,
) -> anyhow::Result<ConsoleUserId> {
    let role = Role::parse(role).with_context(|| {
        let known: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown role {role:?}; known roles: {}", known.join(", "))
    })?;
    let merchant = merchant.map(MerchantId::parse).transpose().context("--merchant")?;
    if (role == Role::MerchantAdmin) != merchant.is_some() {
        bail!("--merchant is required for merchant_admin and not allowed for staff roles");
    }
    if !email.contains('@') || email.len() > 320 {
        bail!("{email:?} is not an email address");
    }
    let hash = password::hash(password)?;
    let id = ConsoleUserId::new();
    let mut conn = state.pool().acquire().await?;
    console_users::insert(&mut conn, id, email, &hash, role.as_str(), merchant).await?;
    Ok(id)
}

pub fn generate_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

pub async fn ledger_check(state: &AppState) -> anyhow::Result<String> {
    let mut conn = state.pool().acquire().await?;
    let report = ledger::check(&mut conn).await?;
    let summary = format!(
        "checked {} accounts and {} entries: {} balance mismatches, {} unbalanced entries, {} negative non-overdraft accounts",
        report.accounts_checked,
        report.entries_checked,
        report.balance_mismatches.len(),
        report.unbalanced_entries.len(),
        report.negative_accounts.len()
    );
    if report.is_consistent() {
        Ok(format!("ledger consistent: {summary}"))
    } else {
        for (id, stored, folded) in &report.balance_mismatches {
            eprintln!("balance mismatch {id}: stored {stored}, postings fold to {folded}");
        }
        for (id, asset, sum) in &report.unbalanced_entries {
            eprintln!("unbalanced entry {id}: {asset} sums to {sum}");
        }
        for (id, balance) in &report.negative_accounts {
            eprintln!("negative account {id}: {balance}");
        }
        bail!("ledger INCONSISTENT: {summary}")
    }
}
