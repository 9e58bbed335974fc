//! Statement imports over real Postgres: once per file, line-level duplicates kept and marked,
//! and every bad file refused naming the file and line with nothing stored.

use axum::http::{Method, StatusCode};
use corridor_platform::{AppState, Config, auth::Role, http};
use corridor_test_support::Http;
use serde_json::{Value, json};
use sqlx::PgPool;

struct App {
    http: Http,
    pool: PgPool,
    token: String,
}

impl App {
    async fn new(pool: PgPool) -> Self {
        let config = Config::from_lookup(|_| None).unwrap();
        let state = AppState::new(pool.clone(), config, corridor_domain::AssetRegistry::builtin());
        let (router, _) = http::app(state.clone(), vec![corridor_reconciliation::routes(state.clone())]);
        let token = corridor_test_support::staff(&state, Role::Treasury).await;
        App {
            http: Http { router },
            pool,
            token,
        }
    }

    async fn call(&self, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let (status, text) = self.http.raw(method, path, &self.token, content_type, body).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn account(&self, account: &str, currency: &str) {
        let (status, body) = self
            .call(
                Method::POST,
                "/v1/treasury/reconciliation/bank-accounts",
                "application/json",
                json!({ "account": account, "currency": currency, "name": "Treasury", "partner": "RampCo" })
                    .to_string()
                    .into_bytes(),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    async fn import(&self, name: &str, bytes: &[u8]) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            &format!("/v1/treasury/reconciliation/statements?file_name={name}"),
            "application/octet-stream",
            bytes.to_vec(),
        )
        .await
    }

    async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }
}

const DAY1: &str = ":20:STMT-1\n:25:NL91 ABNA 0417 1643 00\n:28C:1/1\n:60F:C260105EUR1000,00\n\
:61:2601050105C250,00NTRFINV-1//B-0001\n:86:/EREF/E2E-1//CNTP/DE89370400440532013000/COBADEFF/Acme GmbH///REMI/USTD//invoice 1/\n\
:61:2601050105D40,10NTRFPAY-9//B-0002\n:86:/EREF/E2E-9//REMI/USTD//supplier 9/\n\
:62F:C260105EUR1209,90\n-\n";

// The next day's statement repeats B-0002 (the bank sent it again) and adds one line.
const DAY2: &str = ":20:STMT-2\n:25:NL91ABNA0417164300\n:28C:2/1\n:60F:C260105EUR1209,90\n\
:61:2601050105D40,10NTRFPAY-9//B-0002\n:86:/EREF/E2E-9//REMI/USTD//supplier 9/\n\
:61:2601060106C10,00NTRFINV-2//B-0003\n:86:/EREF/E2E-2/\n\
:62F:C260106EUR1179,80\n-\n";

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_file_is_imported_once_and_a_line_seen_before_is_kept_as_a_duplicate(pool: PgPool) {
    let app = App::new(pool).await;
    app.account("NL91ABNA0417164300", "EUR").await;

    let (status, body) = app.import("day1.sta", DAY1.as_bytes()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (&body["format"], &body["lines"], &body["duplicate_lines"]),
        (&json!("mt940"), &json!(2), &json!(0))
    );
    // The same bytes again: nothing changes.
    let (status, again) = app.import("day1-again.sta", DAY1.as_bytes()).await;
    assert_eq!(
        (status, &again["already_imported"], &again["file_id"]),
        (StatusCode::OK, &json!(true), &body["file_id"])
    );
    assert_eq!(app.count("SELECT count(*) FROM reconciliation.bank_lines").await, 2);

    let (status, body) = app.import("day2.sta", DAY2.as_bytes()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!((&body["lines"], &body["duplicate_lines"]), (&json!(2), &json!(1)));
    let dup: (String, i32) = sqlx::query_as(
        "SELECT o.bank_reference, d.file_line FROM reconciliation.bank_lines d
           JOIN reconciliation.bank_lines o ON o.id = d.duplicate_of",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(dup, ("B-0002".to_owned(), 5));
    // What was read, exactly.
    let row: (
        rust_decimal::Decimal,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    ) = sqlx::query_as(
        "SELECT amount, currency, end_to_end_id, counterparty_name, description FROM reconciliation.bank_lines
          WHERE bank_reference = 'B-0001'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(row.0, "250.00".parse().unwrap());
    assert_eq!(
        (row.1.as_str(), row.2.as_deref(), row.3.as_deref(), row.4.as_deref()),
        ("EUR", Some("E2E-1"), Some("Acme GmbH"), Some("invoice 1"))
    );
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn bad_files_are_refused_naming_file_and_line_and_nothing_is_stored(pool: PgPool) {
    let app = App::new(pool).await;
    app.account("NL91ABNA0417164300", "EUR").await;
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        ("notes.txt", b"just some notes".to_vec(), "invalid_statement_file", "notes.txt: line 1: not a bank statement"),
        (
            "broken.xml",
            b"<?xml version=\"1.0\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\">\n<BkToCstmrStmt><Stmt>\n</Document>\n".to_vec(),
            "invalid_statement_file",
            "broken.xml: line 4: broken XML",
        ),
        (
            "unbalanced.sta",
            DAY1.replace("1209,90", "1209,91").into_bytes(),
            "invalid_statement_file",
            "unbalanced.sta: line 9: unbalanced statement STMT-1",
        ),
        (
            "usd.sta",
            DAY1.replace("EUR", "USD").into_bytes(),
            "currency_mismatch",
            "usd.sta: line 5: USD on account NL91ABNA0417164300, which is kept in EUR",
        ),
        (
            "other.sta",
            DAY1.replace("NL91 ABNA 0417 1643 00", "DE89370400440532013000").into_bytes(),
            "unknown_bank_account",
            "other.sta: line 2: account DE89370400440532013000 is not a bank account treasury reconciles",
        ),
        (
            "unknown-ccy.sta",
            DAY1.replace("EUR", "EUX").into_bytes(),
            "invalid_statement_file",
            "unknown-ccy.sta: line 4: unknown currency EUX",
        ),
    ];
    for (name, bytes, code, detail) in cases {
        let (status, body) = app.import(name, &bytes).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{body}"
        );
        assert!(body["detail"].as_str().unwrap().starts_with(detail), "{body}");
    }
    assert_eq!(
        app.count("SELECT count(*) FROM reconciliation.statement_files").await,
        0
    );
    assert_eq!(app.count("SELECT count(*) FROM reconciliation.bank_lines").await, 0);
    // An account is registered once.
    let (status, body) = app
        .call(
            Method::POST,
            "/v1/treasury/reconciliation/bank-accounts",
            "application/json",
            json!({ "account": "nl91abna0417164300", "currency": "EUR", "name": "Again" })
                .to_string()
                .into_bytes(),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("bank_account_exists"))
    );
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_real_postfinance_camt053_imports_against_its_account(pool: PgPool) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/bank_statements/camt/moov-io_iso20022/camt.053_P_CH2909000000250094239_1110092698_0_2020112503071366.xml"
    );
    let Ok(bytes) = std::fs::read(path) else {
        eprintln!("skipped: {path} is not in this clone");
        return;
    };
    let app = App::new(pool).await;
    app.account("CH29 0900 0000 2500 9423 9", "CHF").await;
    let (status, body) = app.import("postfinance.xml", &bytes).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!((&body["format"], &body["lines"]), (&json!("camt.053"), &json!(5)));
    let total: rust_decimal::Decimal = sqlx::query_scalar("SELECT sum(amount) FROM reconciliation.bank_lines")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(total, "4656.02".parse().unwrap());
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_csv_export_is_read_through_its_accounts_column_mapping(pool: PgPool) {
    let app = App::new(pool).await;
    app.account("DE89370400440532013000", "EUR").await;
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM reconciliation.bank_accounts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let acct = format!("bacc_{}", id.simple());
    let csv = "Buchungstag;Name;Verwendungszweck;Soll;Haben\n05.01.2026;Acme GmbH;ON-1;;1.000,50\n06.01.2026;Lieferant AG;Rechnung 7;40,10;\n";
    let path = format!("/v1/treasury/reconciliation/statements?file_name=export.csv&bank_account_id={acct}");
    let import = |bytes: &'static str| app.call(Method::POST, &path, "text/csv", bytes.as_bytes().to_vec());
    // No mapping yet: refused.
    let (status, body) = import(csv).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("no_csv_mapping")),
        "{body}"
    );
    let mapping = json!({ "delimiter": ";", "decimal_comma": true, "booking_date": "Buchungstag",
                          "date_format": "%d.%m.%Y", "credit": "Haben", "debit": "Soll",
                          "reference": "Verwendungszweck", "counterparty_name": "Name" });
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("/v1/treasury/reconciliation/bank-accounts/{acct}/csv-mapping"),
            "application/json",
            json!({ "booking_date": "Buchungstag", "date_format": "%d.%m.%Y", "amount": "Betrag", "credit": "Haben" })
                .to_string()
                .into_bytes(),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_csv_mapping"))
    );
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("/v1/treasury/reconciliation/bank-accounts/{acct}/csv-mapping"),
            "application/json",
            mapping.to_string().into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = import(csv).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!((&body["format"], &body["lines"]), (&json!("csv"), &json!(2)));
    let amounts: Vec<rust_decimal::Decimal> =
        sqlx::query_scalar("SELECT amount FROM reconciliation.bank_lines ORDER BY file_line")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(amounts, vec!["1000.50".parse().unwrap(), "-40.10".parse().unwrap()]);
    // A bad row names the file and its line, and nothing is stored.
    let (status, body) =
        import("Buchungstag;Name;Verwendungszweck;Soll;Haben\n07.01.2026;A;B;;1,00\n31.02.2026;A;B;;1,00\n").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_statement_file"))
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("export.csv: line 3: booking date"),
        "{body}"
    );
    assert_eq!(app.count("SELECT count(*) FROM reconciliation.bank_lines").await, 2);
}

#[sqlx::test(migrator = "corridor_store::MIGRATOR")]
async fn a_partners_csv_report_becomes_ramp_orders_once_and_a_bad_row_records_nothing(pool: PgPool) {
    let app = App::new(pool).await;
    app.account("NL91ABNA0417164300", "EUR").await;
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM reconciliation.bank_accounts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let put = |kind: &str| {
        app.call(
            Method::PUT,
            "/v1/treasury/reconciliation/partners/RampCo",
            "application/json",
            json!({ "kind": kind, "bank_account_id": format!("bacc_{}", id.simple()) })
                .to_string()
                .into_bytes(),
        )
    };
    let (status, body) = put("sftp_magic").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_partner_kind"))
    );
    assert_eq!(put("csv_report").await.0, StatusCode::NO_CONTENT);
    let report = |csv: &'static str| {
        app.call(
            Method::POST,
            "/v1/treasury/reconciliation/partners/RampCo/reports?file_name=rampco-2026-01-05.csv",
            "text/csv",
            csv.as_bytes().to_vec(),
        )
    };
    const GOOD: &str = "direction,reference,fiat_amount,asset,chain_id,token_amount,chain_address,expected_on,fee,fx_rate\n\
on,RC-1,1000.00,USDC,8453,1084.20,0x1111111111111111111111111111111111111111,2026-01-05,1.50,1.0842\n\
off,RC-2,200.00,USDC,8453,216.84,0x2222222222222222222222222222222222222222,2026-01-05,,\n";
    let (status, body) = report(GOOD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((&body["rows"], &body["recorded"]), (&json!(2), &json!(2)));
    let units: rust_decimal::Decimal =
        sqlx::query_scalar("SELECT token_units FROM reconciliation.ramp_orders WHERE reference = 'RC-1'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(units, rust_decimal::Decimal::from(1_084_200_000u64));
    // The same report again changes nothing.
    let (_, body) = report(GOOD).await;
    assert_eq!((&body["recorded"], &body["already_present"]), (&json!(0), &json!(2)));
    // A bad third row: nothing of the file is recorded, and the error names file and line.
    let (status, body) = report(
        "direction,reference,fiat_amount,asset,chain_id,token_amount,chain_address,expected_on\n\
on,RC-3,5.00,USDC,8453,5.42,0x1111111111111111111111111111111111111111,2026-01-06\n\
on,RC-4,5.00,USDC,8453,5.42,0xnot-an-address,2026-01-06\n",
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_address")),
        "{body}"
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("rampco-2026-01-05.csv: line 3:"),
        "{body}"
    );
    // RC-1 reported again with another amount is a conflict, named by its line.
    let (status, body) = report(
        "direction,reference,fiat_amount,asset,chain_id,token_amount,chain_address,expected_on\n\
on,RC-1,999.00,USDC,8453,1084.20,0x1111111111111111111111111111111111111111,2026-01-05\n",
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("ramp_order_conflict")),
        "{body}"
    );
    assert!(body["detail"].as_str().unwrap().contains("line 2:"), "{body}");
    assert_eq!(app.count("SELECT count(*) FROM reconciliation.ramp_orders").await, 2);
    let (status, body) = report("reference,fiat_amount\nRC-9,1\n").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_partner_report"))
    );
}
