//! `corridor dev`: the whole stack on one machine. Starts Postgres if it is down, creates a fresh
//! database, installs the pinned Foundry tools if missing, starts anvil, deploys the contracts,
//! migrates, seeds a funded demo merchant and console users, then serves every service.
//! Every run is a new sandbox: a new local chain and a new database. Ctrl-C stops all of it.

use crate::{admin, server};
use anyhow::{Context, bail};
use corridor_chain::local::{self, DevKeys};
use corridor_domain::{AssetCode, AssetRegistry, EvmAddress, Money, TokenDeployment};
use corridor_platform::{AppState, Config, auth::Scope, routes};
use sqlx::{Connection, PgConnection};
use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};
use tokio_util::sync::CancellationToken;

pub const DEV_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/corridor_dev";
/// The test tokens minted to the PayoutRouter (the payout float) and the demo buyer:
/// 1,000,000 tokens of 6 decimals.
pub const FLOAT_UNITS: alloy::primitives::U256 = alloy::primitives::U256::from_limbs([1_000_000_000_000, 0, 0, 0]);
const POSTGRES_START_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// Port for the local anvil node; 0 picks a free port.
    #[arg(long, default_value_t = 8545)]
    pub anvil_port: u16,
    /// Seed and print the demo data, then stop (everything started is stopped).
    #[arg(long)]
    pub no_serve: bool,
}

/// The repository root: where contracts/ and migrations/ are.
pub fn repo_root() -> anyhow::Result<PathBuf> {
    let mut dir = std::env::current_dir()?;
    loop {
        if dir.join("contracts/package.json").exists() && dir.join("migrations").is_dir() {
            return Ok(dir);
        }
        if !dir.pop() {
            break;
        }
    }
    let compiled = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if compiled.join("contracts/package.json").exists() {
        return Ok(compiled.canonicalize()?);
    }
    bail!("run corridor dev from inside the Corridor repository (contracts/ and migrations/ not found)")
}

pub fn dev_lookup(key: &str) -> Option<String> {
    match (key, std::env::var(key).ok()) {
        (_, Some(v)) => Some(v),
        ("CORRIDOR_DATABASE_URL", None) => Some(DEV_DATABASE_URL.into()),
        // Demo webhook receivers run on this machine.
        ("CORRIDOR_WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS", None) => Some("true".into()),
        _ => None,
    }
}

/// Splits a postgres URL into the server's maintenance URL and the database name.
fn split_database_url(url: &str) -> anyhow::Result<(String, String)> {
    let parsed = reqwest::Url::parse(url).context("CORRIDOR_DATABASE_URL")?;
    let name = parsed.path().trim_start_matches('/').to_owned();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        bail!("CORRIDOR_DATABASE_URL: dev needs a plain database name, got {name:?}");
    }
    let mut maintenance = parsed.clone();
    maintenance.set_path("/postgres");
    Ok((maintenance.to_string(), name))
}

/// Connects to the server, starting the local cluster if nothing listens.
async fn ensure_postgres(maintenance_url: &str) -> anyhow::Result<PgConnection> {
    if let Ok(conn) = PgConnection::connect(maintenance_url).await {
        return Ok(conn);
    }
    println!("• Postgres is not answering; starting the local cluster");
    let versions =
        std::fs::read_dir("/etc/postgresql").context("no local Postgres installation under /etc/postgresql")?;
    for version in versions.flatten() {
        let v = version.file_name().to_string_lossy().into_owned();
        let _ = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &v, "main", "start"])
            .status();
    }
    let started = Instant::now();
    loop {
        match PgConnection::connect(maintenance_url).await {
            Ok(conn) => return Ok(conn),
            Err(e) if started.elapsed() > POSTGRES_START_WAIT => {
                bail!("Postgres did not come up within {POSTGRES_START_WAIT:?}: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

async fn fresh_database(url: &str) -> anyhow::Result<()> {
    let (maintenance, name) = split_database_url(url)?;
    let mut conn = ensure_postgres(&maintenance).await?;
    // The name was checked to be [A-Za-z0-9_]+ above, so quoting it is enough.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await?;
    Ok(())
}

fn ensure_foundry(root: &Path) -> anyhow::Result<()> {
    if local::anvil_path(root).exists() {
        return Ok(());
    }
    println!("• installing the pinned Foundry tools (npm ci in contracts/)");
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(root.join("contracts"))
        .status()
        .context("running npm (is Node.js installed?)")?;
    if !status.success() {
        bail!("npm ci failed in contracts/");
    }
    Ok(())
}

/// A running local stack: database migrated and seeded, anvil with the contracts deployed.
/// Dropping it stops anvil.
pub struct Stack {
    pub state: AppState,
    pub anvil: alloy::node_bindings::AnvilInstance,
    pub keys: DevKeys,
    pub deployment: local::LocalDeployment,
    pub chain: corridor_chain::ChainConfig,
    pub seeded: Seeded,
}

impl Stack {
    /// Everything `corridor dev` prepares before serving. `lookup` reads configuration (the
    /// callers give dev defaults for the database and webhooks).
    pub async fn start(anvil_port: u16, lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Stack> {
        let root = repo_root()?;
        let config = Config::from_lookup(lookup)?;
        corridor_platform::telemetry::init(config.log_json);
        fresh_database(&config.database.url).await?;
        println!("• database ready: {}", config.database.url);
        ensure_foundry(&root)?;
        let anvil = local::spawn_anvil(&root, Some(anvil_port))
            .with_context(|| format!("starting anvil on port {anvil_port} (pass --anvil-port 0 for any free port)"))?;
        let rpc_url: reqwest::Url = anvil.endpoint_url();
        println!("• anvil running at {rpc_url} (chain {})", anvil.chain_id());
        let keys = DevKeys::from_anvil(&anvil);
        let deployment = local::deploy(rpc_url.clone(), &keys, FLOAT_UNITS).await?;
        println!(
            "• contracts deployed: USDC {} EURC {} PayoutRouter {} InvoicePayments {} vault {}",
            deployment.usdc, deployment.eurc, deployment.payout_router, deployment.invoice_payments, deployment.vault
        );

        let mut registry = AssetRegistry::builtin();
        for (code, token) in [("USDC", deployment.usdc), ("EURC", deployment.eurc)] {
            registry = registry.with_deployment(TokenDeployment {
                asset: AssetCode::parse(code)?,
                chain_id: deployment.chain_id,
                token: EvmAddress::from_alloy(token),
                decimals: 6,
            })?;
        }
        let pool = corridor_store::connect(&config.database).await?;
        let chain = corridor_chain::ChainConfig {
            chain_id: deployment.chain_id,
            rpc_url,
            finality: corridor_chain::Finality::Depth(2),
        };
        let mut builder = AppState::builder(pool, config, registry);
        for check in server::readiness_checks(Some(chain.clone())) {
            builder = builder.readiness_check(check);
        }
        let state = builder.build();
        admin::migrate(&state).await?;
        watch_local_contracts(&state, &deployment).await?;
        let seeded = seed(&state).await?;
        Ok(Stack {
            state,
            anvil,
            keys,
            deployment,
            chain,
            seeded,
        })
    }

    /// The demo tenant's credentials, for a person to copy.
    pub fn print_demo_data(&self, base: &str) {
        let seeded = &self.seeded;
        println!();
        println!("Demo merchant   {} ({})", seeded.merchant_name, seeded.merchant_id);
        println!("API key         {}", seeded.api_key);
        println!("Balances        10,000.00 USDC and 5,000.00 EURC available (sandbox credit)");
        println!("Console users   password for all: {}", seeded.password);
        for (email, role) in CONSOLE_USERS {
            println!("                {email:<28} {role}");
        }
        println!("API             {base}  (OpenAPI at {base}/openapi.json)");
        println!("Console         {base}/console  (sign in with a console user above)");
        println!(
            "Try             curl -s {base}/v1/balances -H 'Authorization: Bearer {}'",
            seeded.api_key
        );
        println!();
    }

    /// The chain service with the dev keys: the submitter signs transactions, the compliance
    /// key signs attestations.
    pub fn chain_runtime(&self) -> crate::chain_service::ChainRuntime {
        use corridor_chain::signer::LocalKeySigner;
        crate::chain_service::ChainRuntime {
            chain: self.chain.clone(),
            signer: Some(std::sync::Arc::new(LocalKeySigner::new(self.keys.submitter.clone()))),
            sender: Some(self.keys.submitter.address()),
            payout_router: Some(self.deployment.payout_router),
            attester: Some(std::sync::Arc::new(LocalKeySigner::new(self.keys.compliance.clone()))),
        }
    }
}

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    println!("Corridor dev stack (a fresh sandbox every run)");
    let stack = Stack::start(args.anvil_port, dev_lookup).await?;
    let base = format!("http://{}", stack.state.config().listen_addr);
    stack.print_demo_data(&base);
    if args.no_serve {
        println!("--no-serve: stopping");
        return Ok(());
    }
    // Bound before "Serving" is printed: whoever reads that line can connect at once.
    let listener = server::bind(&stack.state).await?;
    println!("Serving; press Ctrl-C to stop everything.");
    let services = server::select(None, Some(stack.chain_runtime()))?;
    server::serve_on(listener, stack.state.clone(), services, CancellationToken::new()).await?;
    drop(stack);
    Ok(())
}

/// The watcher follows the local tokens, InvoicePayments and the PayoutRouter, and records
/// token transfers into or out of the treasury and the router.
pub async fn watch_local_contracts(state: &AppState, d: &local::LocalDeployment) -> anyhow::Result<()> {
    use corridor_chain::watcher::{watch_address, watch_contract};
    let mut conn = state.pool().acquire().await?;
    for (address, kind) in [
        (d.usdc, "erc20"),
        (d.eurc, "erc20"),
        (d.invoice_payments, "invoice_payments"),
        (d.payout_router, "payout_router"),
    ] {
        watch_contract(&mut conn, d.chain_id, address, kind).await?;
    }
    watch_address(&mut conn, d.chain_id, d.treasury, "treasury").await?;
    watch_address(&mut conn, d.chain_id, d.payout_router, "payout_float").await?;
    Ok(())
}

pub const CONSOLE_USERS: &[(&str, &str)] = &[
    ("admin@corridor.local", "platform_admin"),
    ("merchant@corridor.local", "merchant_admin"),
    ("treasury@corridor.local", "treasury"),
    ("officer1@corridor.local", "compliance_officer"),
    ("officer2@corridor.local", "compliance_officer"),
    ("lead@corridor.local", "compliance_lead"),
];

pub struct Seeded {
    pub merchant_id: corridor_domain::ids::MerchantId,
    pub merchant_name: &'static str,
    pub api_key: String,
    pub password: String,
}

/// The demo tenant: a funded merchant with an all-scopes key and one console user per role.
pub async fn seed(state: &AppState) -> anyhow::Result<Seeded> {
    let merchant_name = "Demo Trading Ltd";
    let merchant_id = admin::create_merchant(state, merchant_name).await?;
    let api_key = routes::api_keys_create(state, merchant_id, "demo", &Scope::ALL)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .secret;
    let password = admin::generate_password();
    for (email, role) in CONSOLE_USERS {
        let merchant = (*role == "merchant_admin").then(|| merchant_id.to_string());
        admin::create_console_user(state, email, &password, role, merchant.as_deref()).await?;
    }
    let mut tx = state.pool().begin().await?;
    for (asset, amount) in [("USDC", "10000.00"), ("EURC", "5000.00")] {
        let money = Money::parse(amount, state.registry().get(asset)?)?;
        routes::sandbox_credit(&mut tx, state, merchant_id, money)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    tx.commit().await?;
    Ok(Seeded {
        merchant_id,
        merchant_name,
        api_key,
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_database_url_and_refuses_odd_names() {
        let (m, n) = split_database_url("postgres://postgres@127.0.0.1:5432/corridor_dev").unwrap();
        assert_eq!(
            (m.as_str(), n.as_str()),
            ("postgres://postgres@127.0.0.1:5432/postgres", "corridor_dev")
        );
        assert!(split_database_url("postgres://h/x\";DROP").is_err());
        assert!(split_database_url("postgres://h/").is_err());
    }
}
