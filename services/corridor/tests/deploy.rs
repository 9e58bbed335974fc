//! deploy/ is validated statically (no Docker or Kubernetes runs here): every file parses, and
//! what it tells the binary agrees with what the binary accepts. Environment keys are ones the
//! binary reads and their values parse into a configuration; commands parse with the CLI;
//! ports, probes, images, secrets and the Ingress's paths agree with each other, with the
//! Dockerfile, and with the services' OpenAPI paths; docker-compose's contract addresses are
//! where `corridor local-chain deploy` puts them.

use clap::Parser;
use corridor::{chain_service::ChainRuntime, cli};
use corridor_domain::AssetRegistry;
use corridor_platform::{AppState, Config};
use serde_yaml::Value;
use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every document of a YAML file, merge keys (`<<:`) applied.
fn documents(path: &Path) -> Vec<Value> {
    let text = read(path);
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| {
            let mut v: Value = serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            v.apply_merge().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            v
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("expected a string, got {v:?}"))
}

fn seq(v: &Value) -> &Vec<Value> {
    v.as_sequence().unwrap_or_else(|| panic!("expected a list, got {v:?}"))
}

/// The Kubernetes objects kustomize renders from deploy/k8s/base, by (kind, name).
struct K8s {
    objects: BTreeMap<(String, String), Value>,
    kustomization: Value,
}

impl K8s {
    fn load() -> K8s {
        let base = deploy_dir().join("k8s/base");
        let kustomization = documents(&base.join("kustomization.yaml")).remove(0);
        let mut objects = BTreeMap::new();
        let listed: BTreeSet<String> = seq(&kustomization["resources"])
            .iter()
            .map(|r| s(r).to_owned())
            .collect();
        for entry in std::fs::read_dir(&base).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if name == "kustomization.yaml" || name == "secrets.example.yaml" {
                continue;
            }
            assert!(
                listed.contains(&name),
                "{name} is in k8s/base but not in kustomization.yaml"
            );
        }
        for file in &listed {
            for doc in documents(&base.join(file)) {
                for field in ["apiVersion", "kind"] {
                    assert!(doc[field].is_string(), "{file}: a document without {field}");
                }
                let key = (s(&doc["kind"]).to_owned(), s(&doc["metadata"]["name"]).to_owned());
                assert!(objects.insert(key.clone(), doc).is_none(), "{key:?} defined twice");
            }
        }
        K8s { objects, kustomization }
    }

    fn get(&self, kind: &str, name: &str) -> &Value {
        self.objects
            .get(&(kind.to_owned(), name.to_owned()))
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    }

    fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.objects
            .iter()
            .filter(move |((k, _), _)| k == kind)
            .map(|((_, n), v)| (n.as_str(), v))
    }
}

fn state_without_database() -> AppState {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .connect_lazy("postgres://unused@127.0.0.1:1/none")
        .unwrap();
    AppState::new(pool, Config::from_lookup(|_| None).unwrap(), AssetRegistry::builtin())
}

/// The OpenAPI paths a process serves with these services.
fn served_paths(services: &[String]) -> BTreeSet<String> {
    let selected = corridor::server::select(Some(services), None).unwrap();
    let (_, openapi) = corridor::server::build_app(&state_without_database(), &selected);
    openapi.paths.paths.keys().cloned().collect()
}

fn all_api_paths() -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_str(&read(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/api/openapi.json"),
    ))
    .unwrap();
    doc["paths"].as_object().unwrap().keys().cloned().collect()
}

/// Kubernetes `Prefix` matching: whole path elements.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    prefix == "/" || path == prefix || path.starts_with(&format!("{}/", prefix.trim_end_matches('/')))
}

fn uid_in_dockerfile() -> i64 {
    let dockerfile = read(&deploy_dir().join("Dockerfile"));
    let user = dockerfile
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the Dockerfile sets USER");
    user.split(':').next().unwrap().trim().parse().expect("a numeric USER")
}

/// Valid stand-ins for the values Secrets hold, so the configuration can be parsed.
fn secret_stand_in(secret: &str, key: &str) -> String {
    match (secret, key) {
        ("corridor-db-app", "uri") => "postgresql://corridor:pw@corridor-db-rw.corridor:5432/corridor".into(),
        (_, "jwt-secret" | "invoice-secret") => "x".repeat(48),
        (_, "submitter-key") => "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d".into(),
        (_, "compliance-signer-key") => "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a".into(),
        _ => panic!("no stand-in for secret {secret}/{key}"),
    }
}

fn listen_port(addr: &str) -> i64 {
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn every_kubernetes_deployment_runs_one_known_service_with_settings_the_binary_accepts() {
    let k8s = K8s::load();
    let env_keys = cli::env_keys();
    let config = &k8s.get("ConfigMap", "corridor-config")["data"];
    let config: BTreeMap<String, String> = config
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (s(k).to_owned(), s(v).to_owned()))
        .collect();
    for key in config.keys() {
        assert!(
            env_keys.contains(&key.as_str()),
            "ConfigMap sets {key}, which the binary does not read"
        );
    }
    let port = listen_port(&config["CORRIDOR_LISTEN_ADDR"]);
    let image = s(&seq(&k8s.kustomization["images"])[0]["name"]).to_owned();
    let example_secret = documents(&deploy_dir().join("k8s/base/secrets.example.yaml")).remove(0);
    let cluster = k8s.get("Cluster", "corridor-db");
    let db_secret = format!("{}-app", s(&cluster["metadata"]["name"]));
    let known: BTreeSet<&str> = corridor::server::all_services(None)
        .iter()
        .map(|svc| svc.name)
        .chain([corridor::chain_service::NAME])
        .collect();
    let mut deployed = BTreeSet::new();

    for (name, deployment) in k8s.of_kind("Deployment") {
        let spec = &deployment["spec"];
        assert!(spec["replicas"].as_i64().unwrap() >= 2, "{name}: at least two replicas");
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], Value::Bool(true), "{name}");
        assert_eq!(
            pod["securityContext"]["runAsUser"].as_i64(),
            Some(uid_in_dockerfile()),
            "{name}"
        );
        let labels = &spec["template"]["metadata"]["labels"];
        assert_eq!(
            spec["selector"]["matchLabels"]["app.kubernetes.io/name"],
            labels["app.kubernetes.io/name"]
        );
        let container = &seq(&pod["containers"])[0];
        assert_eq!(s(&container["image"]), image, "{name}: the image kustomize pins");
        let args: Vec<&str> = seq(&container["args"]).iter().map(s).collect();
        cli::Cli::try_parse_from(std::iter::once("corridor").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{name}: args {args:?}: {e}"));
        let http = seq(&container["ports"])
            .iter()
            .find(|p| p["name"] == "http")
            .unwrap_or_else(|| panic!("{name}: a port named http"));
        assert_eq!(
            http["containerPort"].as_i64(),
            Some(port),
            "{name}: the port it listens on"
        );
        for (probe, path) in [
            ("livenessProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
            ("startupProbe", "/healthz"),
        ] {
            let get = &container[probe]["httpGet"];
            assert_eq!((s(&get["path"]), s(&get["port"])), (path, "http"), "{name}: {probe}");
        }
        for resource in ["cpu", "memory"] {
            assert!(
                !container["resources"]["requests"][resource].is_null(),
                "{name}: requests {resource}"
            );
        }
        assert!(
            !container["resources"]["limits"]["memory"].is_null(),
            "{name}: a memory limit"
        );
        assert_eq!(
            container["securityContext"]["allowPrivilegeEscalation"],
            Value::Bool(false)
        );

        // The process's environment, secrets replaced by valid stand-ins.
        let mut env = config.clone();
        for var in seq(&container["env"]) {
            let key = s(&var["name"]).to_owned();
            assert!(
                env_keys.contains(&key.as_str()),
                "{name}: {key} is not read by the binary"
            );
            let value = if let Some(v) = var["value"].as_str() {
                v.to_owned()
            } else {
                let secret = &var["valueFrom"]["secretKeyRef"];
                let (secret_name, secret_key) = (s(&secret["name"]), s(&secret["key"]));
                if secret_name == db_secret {
                    assert_eq!(secret_key, "uri", "CloudNativePG's app secret holds the URL as uri");
                } else {
                    assert_eq!(secret_name, "corridor-secrets", "{name}: unknown secret {secret_name}");
                    assert!(
                        !example_secret["stringData"][secret_key].is_null(),
                        "{name}: {secret_key} is missing from secrets.example.yaml"
                    );
                }
                secret_stand_in(secret_name, secret_key)
            };
            env.insert(key, value);
        }
        if env.contains_key("CORRIDOR_CHAIN_SUBMITTER_KEY") {
            // The ConfigMap's placeholder stands for the real key's address; with the stand-in
            // key it is the stand-in's (the binary refuses a mismatch, tested in chain_service).
            let stand_in = secret_stand_in("corridor-secrets", "submitter-key");
            let key: alloy::signers::local::PrivateKeySigner = stand_in.parse().unwrap();
            env.insert("CORRIDOR_CHAIN_SUBMITTER_ADDRESS".into(), key.address().to_string());
        }
        let lookup = |k: &str| env.get(k).cloned();
        let parsed = Config::from_lookup(lookup).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!parsed.is_dev(), "{name}: Kubernetes runs the prod profile");
        let service = env["CORRIDOR_SERVICES"].clone();
        assert!(known.contains(service.as_str()), "{name}: unknown service {service}");
        assert!(deployed.insert(service.clone()), "{service} has two Deployments");
        let chain = ChainRuntime::from_lookup(lookup, true)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .expect("a chain is configured");
        // Least privilege: only the chain service holds the submitter key, only payouts the
        // compliance key; payouts still settles, knowing the submitter by address.
        assert_eq!(chain.signer.is_some(), service == "chain", "{name}: the submitter key");
        assert_eq!(
            chain.attester.is_some(),
            service == "payouts",
            "{name}: the compliance key"
        );
        if service == "payouts" {
            assert!(chain.settlement().is_some(), "payouts can settle");
        }

        // Disruption budget and, for HTTP services, a Service in front.
        let pdb = k8s.get("PodDisruptionBudget", name);
        assert_eq!(
            pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
            labels["app.kubernetes.io/name"]
        );
        if service != corridor::chain_service::NAME {
            let svc = k8s.get("Service", name);
            assert_eq!(
                svc["spec"]["selector"]["app.kubernetes.io/name"],
                labels["app.kubernetes.io/name"]
            );
            assert_eq!(s(&seq(&svc["spec"]["ports"])[0]["targetPort"]), "http");
        }
    }
    assert_eq!(
        deployed,
        known.iter().map(|k| (*k).to_owned()).collect(),
        "one Deployment per service"
    );

    let job = &k8s.get("Job", "corridor-migrate")["spec"]["template"]["spec"];
    let container = &seq(&job["containers"])[0];
    assert_eq!(s(&container["image"]), image);
    assert_eq!(seq(&container["args"]).iter().map(s).collect::<Vec<_>>(), ["migrate"]);
}

#[tokio::test]
async fn every_api_path_is_routed_by_the_ingress_to_a_deployment_that_serves_it() {
    let k8s = K8s::load();
    let ingress = &k8s.get("Ingress", "corridor")["spec"];
    let backend_service = |backend: &Value| s(&backend["service"]["name"]).to_owned();
    let mut rules: Vec<(String, String)> = seq(&seq(&ingress["rules"])[0]["http"]["paths"])
        .iter()
        .map(|p| {
            assert_eq!(s(&p["pathType"]), "Prefix");
            (s(&p["path"]).to_owned(), backend_service(&p["backend"]))
        })
        .collect();
    rules.push(("/".into(), backend_service(&ingress["defaultBackend"])));
    // The service each Kubernetes Service reaches, through its Deployment's CORRIDOR_SERVICES.
    let mut serves: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, deployment) in k8s.of_kind("Deployment") {
        let container = &seq(&deployment["spec"]["template"]["spec"]["containers"])[0];
        let service = seq(&container["env"])
            .iter()
            .find(|e| e["name"] == "CORRIDOR_SERVICES")
            .map(|e| s(&e["value"]).to_owned())
            .unwrap();
        if k8s.objects.contains_key(&("Service".to_owned(), name.to_owned())) {
            serves.insert(name.to_owned(), served_paths(&[service]));
        }
    }
    for path in all_api_paths() {
        let (prefix, target) = rules
            .iter()
            .filter(|(prefix, _)| prefix_matches(prefix, &path))
            .max_by_key(|(prefix, _)| prefix.len())
            .unwrap();
        let paths = serves
            .get(target)
            .unwrap_or_else(|| panic!("{path}: the Ingress sends it to {target}, which is no Service"));
        assert!(
            paths.contains(&path),
            "{path}: the Ingress sends it (by {prefix}) to {target}, which does not serve it"
        );
    }
}

#[test]
fn the_dockerfile_builds_offline_and_runs_as_a_non_root_user_on_the_configured_port() {
    let dockerfile = read(&deploy_dir().join("Dockerfile"));
    let stages: Vec<&str> = dockerfile.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert!(stages.len() >= 2, "multi-stage: {stages:?}");
    assert!(stages[0].ends_with(" AS build"), "{stages:?}");
    let build_stage = dockerfile.split("\nFROM ").nth(1).unwrap();
    assert!(build_stage.contains("SQLX_OFFLINE=true"), "the build needs no database");
    assert!(build_stage.contains("cargo build --release --locked -p corridor"));
    assert!(uid_in_dockerfile() > 0, "never root");
    let expose: i64 = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("EXPOSE "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let listen = dockerfile
        .split_whitespace()
        .find_map(|w| w.strip_prefix("CORRIDOR_LISTEN_ADDR="))
        .unwrap();
    assert_eq!(expose, listen_port(listen));
    assert!(dockerfile.contains(r#"CMD ["serve"]"#));
    for line in read(&deploy_dir().join("Dockerfile.dockerignore")).lines() {
        assert!(
            !line.trim().starts_with(".sqlx"),
            "the offline query data must reach the build"
        );
    }
    // The image the manifests pin is this crate's version.
    let k8s = K8s::load();
    assert_eq!(
        s(&seq(&k8s.kustomization["images"])[0]["newTag"]),
        env!("CARGO_PKG_VERSION")
    );
}

#[test]
fn docker_compose_runs_migrate_then_deploy_then_serve_with_the_addresses_deploy_produces() {
    let compose = documents(&deploy_dir().join("docker-compose.yml")).remove(0);
    let services = &compose["services"];
    for name in ["postgres", "anvil", "migrate", "deploy-contracts", "gateway"] {
        assert!(!services[name].is_null(), "compose service {name}");
    }
    let env_keys = cli::env_keys();
    for (name, expected) in [
        ("migrate", vec!["migrate"]),
        ("deploy-contracts", vec!["local-chain", "deploy"]),
        ("gateway", vec!["serve"]),
    ] {
        let service = &services[name];
        assert_eq!(
            s(&service["image"]),
            format!("corridor:{}", env!("CARGO_PKG_VERSION")),
            "{name}"
        );
        let command: Vec<&str> = seq(&service["command"]).iter().map(s).collect();
        assert_eq!(command, expected, "{name}");
        cli::Cli::try_parse_from(std::iter::once("corridor").chain(command.iter().copied()))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for key in service["environment"].as_mapping().unwrap().keys() {
            assert!(
                env_keys.contains(&s(key)),
                "{name}: {} is not read by the binary",
                s(key)
            );
        }
    }
    let needs = |name: &str, on: &str, condition: &str| {
        assert_eq!(
            s(&services[name]["depends_on"][on]["condition"]),
            condition,
            "{name} waits for {on}"
        );
    };
    needs("migrate", "postgres", "service_healthy");
    needs("deploy-contracts", "migrate", "service_completed_successfully");
    needs("deploy-contracts", "anvil", "service_healthy");
    needs("gateway", "deploy-contracts", "service_completed_successfully");

    let gateway = &services["gateway"];
    let env: BTreeMap<String, String> = gateway["environment"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (s(k).to_owned(), s(v).to_owned()))
        .collect();
    let lookup = |k: &str| env.get(k).cloned();
    let config = Config::from_lookup(lookup).unwrap();
    let published = s(&seq(&gateway["ports"])[0]);
    assert_eq!(
        published.rsplit(':').next().unwrap().parse::<u16>().unwrap(),
        config.listen_addr.port()
    );
    let database = reqwest::Url::parse(&env["CORRIDOR_DATABASE_URL"]).unwrap();
    assert_eq!(database.host_str(), Some("postgres"));
    let pg = &services["postgres"]["environment"];
    assert_eq!(database.username(), s(&pg["POSTGRES_USER"]));
    assert_eq!(database.path(), format!("/{}", s(&pg["POSTGRES_DB"])));

    let chain = ChainRuntime::from_lookup(lookup, false).unwrap().expect("a chain");
    assert!(chain.settlement().is_some(), "the gateway settles payouts");
    let fresh = corridor_chain::local::DevKeys::well_known().fresh_deployment();
    assert_eq!(chain.payout_router, Some(fresh.payout_router));
    assert_eq!(
        chain.sender,
        Some(corridor_chain::local::DevKeys::well_known().submitter.address())
    );
    let registry = cli::registry(Some(&chain.chain), env.get("CORRIDOR_CHAIN_TOKENS").map(String::as_str)).unwrap();
    for (asset, token) in [("USDC", fresh.usdc), ("EURC", fresh.eurc)] {
        let d = registry
            .deployment(&corridor_domain::AssetCode::parse(asset).unwrap(), 31337)
            .unwrap();
        assert_eq!(d.token.as_alloy(), token, "{asset}: where local-chain deploy puts it");
    }
}

#[test]
fn every_setting_the_binary_reads_is_in_the_readme() {
    let readme = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"));
    for key in cli::env_keys() {
        assert!(
            key == "RUST_LOG" || readme.contains(&format!("`{key}`")),
            "{key} is missing from the README's configuration reference"
        );
    }
}
