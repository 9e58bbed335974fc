//! ISO 20022 cash-management messages: camt.053 statements, camt.052 intraday reports and
//! camt.054 debit/credit notifications, versions .01 to .08. Elements are found by local name,
//! so one reader serves every version's namespace; what moved between versions (`Sts` became a
//! code element, parties gained a `Pty` level) is read in both shapes.

use super::{Balance, Format, Line, ParseError, Statement, currency, non_empty};
use chrono::NaiveDate;
use roxmltree::{Document, Node};
use rust_decimal::Decimal;

pub fn parse(format: Format, bytes: &[u8]) -> Result<Vec<Statement>, ParseError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        ParseError::new(line as u32, "the XML is not valid UTF-8")
    })?;
    let doc = Document::parse(text).map_err(|e| ParseError::new(e.pos().row, format!("broken XML: {e}")))?;
    let root = doc.root_element();
    let line = |n: Node| doc.text_pos_at(n.range().start).row;
    let namespace = root.tag_name().namespace().unwrap_or_default();
    let (message, item) = match format {
        Format::Camt053 => ("BkToCstmrStmt", "Stmt"),
        Format::Camt052 => ("BkToCstmrAcctRpt", "Rpt"),
        Format::Camt054 => ("BkToCstmrDbtCdtNtfctn", "Ntfctn"),
        Format::Mt940 | Format::Bai2 | Format::Csv => unreachable!("camt::parse is called for camt formats only"),
    };
    if !namespace.contains(format.as_str()) {
        return Err(ParseError::new(
            line(root),
            format!("expected a {format} document, the namespace is {namespace:?}"),
        ));
    }
    // Version .01 names the message element with a suffix (`BkToCstmrAcctRptV01`).
    let body = root
        .children()
        .find(|c| c.is_element() && c.tag_name().name().starts_with(message))
        .ok_or_else(|| ParseError::new(line(root), format!("no {message} element under Document")))?;
    let mut statements = Vec::new();
    for stmt in children(body, item) {
        statements.push(statement(&doc, stmt, format)?);
    }
    Ok(statements)
}

fn statement(doc: &Document, stmt: Node, format: Format) -> Result<Statement, ParseError> {
    let line = |n: Node| doc.text_pos_at(n.range().start).row;
    let id = path_text(stmt, &["Id"]).ok_or_else(|| ParseError::new(line(stmt), "statement without Id"))?;
    let acct = child(stmt, "Acct").ok_or_else(|| ParseError::new(line(stmt), "statement without Acct"))?;
    let account = path_text(acct, &["Id", "IBAN"])
        .or_else(|| path_text(acct, &["Id", "Othr", "Id"]))
        .or_else(|| path_text(acct, &["Id", "PrtryAcct", "Id"]))
        .or_else(|| path_text(acct, &["Id", "BBAN"]))
        .ok_or_else(|| ParseError::new(line(acct), "account without IBAN, BBAN or other id"))?;
    let acct_currency = match path_node(acct, &["Ccy"]) {
        Some(n) => Some(currency(n.text().unwrap_or_default(), line(n))?),
        None => None,
    };
    let mut opening = None;
    let mut closing = None;
    for bal in children(stmt, "Bal") {
        let code = path_text(bal, &["Tp", "CdOrPrtry", "Cd"]).or_else(|| path_text(bal, &["Tp", "CdOrPrtry", "Prtry"]));
        let balance = || -> Result<Balance, ParseError> {
            let (amount, ccy) = amount(doc, bal)?;
            Ok(Balance {
                amount,
                currency: ccy,
                date: date_of(doc, bal, "Dt")?.ok_or_else(|| ParseError::new(line(bal), "balance without a date"))?,
                line: line(bal),
            })
        };
        match code.as_deref() {
            // Opening booked, or the previous day's closing booked carried in.
            Some("OPBD" | "PRCD") if opening.is_none() => opening = Some(balance()?),
            Some("CLBD") if closing.is_none() => closing = Some(balance()?),
            _ => {}
        }
    }
    let mut lines = Vec::new();
    for ntry in children(stmt, "Ntry") {
        if let Some(l) = entry(doc, ntry, format)? {
            lines.push(l);
        }
    }
    Ok(Statement {
        id,
        account,
        account_line: line(acct),
        currency: acct_currency,
        opening,
        closing,
        lines,
    })
}

/// One entry; `None` for an entry that is only pending or informational (not booked).
fn entry(doc: &Document, ntry: Node, format: Format) -> Result<Option<Line>, ParseError> {
    let line = doc.text_pos_at(ntry.range().start).row;
    let status = path_text(ntry, &["Sts", "Cd"]).or_else(|| path_text(ntry, &["Sts"]));
    if matches!(status.as_deref(), Some("PDNG" | "INFO")) && format == Format::Camt053 {
        return Ok(None);
    }
    let (amount, ccy) = amount(doc, ntry)?;
    let credit = amount.is_sign_positive();
    let tx = path_node(ntry, &["NtryDtls", "TxDtls"]);
    let in_tx = |p: &[&str]| tx.and_then(|t| path_text(t, p));
    // The other side of the payment: who paid us on a credit, whom we paid on a debit.
    let (party, party_acct) = if credit {
        ("Dbtr", "DbtrAcct")
    } else {
        ("Cdtr", "CdtrAcct")
    };
    let parties = tx.and_then(|t| child(t, "RltdPties"));
    let counterparty_name =
        parties.and_then(|p| path_text(p, &[party, "Nm"]).or_else(|| path_text(p, &[party, "Pty", "Nm"])));
    let counterparty_account = parties.and_then(|p| {
        path_text(p, &[party_acct, "Id", "IBAN"]).or_else(|| path_text(p, &[party_acct, "Id", "Othr", "Id"]))
    });
    let description = tx
        .map(|t| {
            descendants(t, "Ustrd")
                .filter_map(|n| n.text().and_then(non_empty))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .and_then(|s| non_empty(&s))
        .or_else(|| path_text(ntry, &["AddtlNtryInf"]));
    let type_code = path_text(ntry, &["BkTxCd", "Domn", "Cd"])
        .map(|domain| {
            let family = path_text(ntry, &["BkTxCd", "Domn", "Fmly", "Cd"]).unwrap_or_default();
            let sub = path_text(ntry, &["BkTxCd", "Domn", "Fmly", "SubFmlyCd"]).unwrap_or_default();
            format!("{domain}/{family}/{sub}")
        })
        .or_else(|| path_text(ntry, &["BkTxCd", "Prtry", "Cd"]));
    Ok(Some(Line {
        line,
        amount,
        currency: ccy,
        booking_date: date_of(doc, ntry, "BookgDt")?,
        value_date: date_of(doc, ntry, "ValDt")?,
        bank_reference: path_text(ntry, &["AcctSvcrRef"]).or_else(|| in_tx(&["Refs", "AcctSvcrRef"])),
        end_to_end_id: in_tx(&["Refs", "EndToEndId"]).filter(|e| e != "NOTPROVIDED"),
        reference: in_tx(&["RmtInf", "Strd", "CdtrRefInf", "Ref"]).or_else(|| in_tx(&["Refs", "InstrId"])),
        counterparty_name,
        counterparty_account,
        description,
        type_code,
    }))
}

/// `Amt` with its `Ccy` attribute, signed by `CdtDbtInd`.
fn amount(doc: &Document, node: Node) -> Result<(Decimal, String), ParseError> {
    let line = |n: Node| doc.text_pos_at(n.range().start).row;
    let amt = child(node, "Amt").ok_or_else(|| ParseError::new(line(node), "no Amt"))?;
    let raw = amt.text().unwrap_or_default().trim();
    let value = Decimal::from_str_exact(raw)
        .ok()
        .filter(|d| !d.is_sign_negative() && raw.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        .ok_or_else(|| ParseError::new(line(amt), format!("amount {raw:?} is not a decimal such as 12.50")))?;
    let ccy = currency(
        amt.attribute("Ccy")
            .ok_or_else(|| ParseError::new(line(amt), "amount without a Ccy attribute"))?,
        line(amt),
    )?;
    let sign = path_text(node, &["CdtDbtInd"]).ok_or_else(|| ParseError::new(line(node), "no CdtDbtInd"))?;
    match sign.as_str() {
        "CRDT" => Ok((value, ccy)),
        "DBIT" => Ok((-value, ccy)),
        other => Err(ParseError::new(
            line(node),
            format!("CdtDbtInd {other:?} is neither CRDT nor DBIT"),
        )),
    }
}

/// A date under `name`, given as `Dt` or `DtTm` (the date part is the bank's local date).
fn date_of(doc: &Document, node: Node, name: &str) -> Result<Option<NaiveDate>, ParseError> {
    let Some(holder) = child(node, name) else {
        return Ok(None);
    };
    let line = doc.text_pos_at(holder.range().start).row;
    let raw = path_text(holder, &["Dt"]).or_else(|| path_text(holder, &["DtTm"]));
    let Some(raw) = raw else {
        return Err(ParseError::new(line, format!("{name} has neither Dt nor DtTm")));
    };
    let day = raw.get(..10).unwrap_or(&raw);
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| ParseError::new(line, format!("{name} {raw:?} is not a date")))
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| c.is_element() && c.tag_name().name() == name)
}

fn children<'a, 'i: 'a>(node: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn descendants<'a, 'i: 'a>(node: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.descendants()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn path_node<'a, 'i>(node: Node<'a, 'i>, path: &[&str]) -> Option<Node<'a, 'i>> {
    path.iter().try_fold(node, |n, name| child(n, name))
}

fn path_text(node: Node, path: &[&str]) -> Option<String> {
    path_node(node, path).and_then(|n| n.text()).and_then(non_empty)
}
