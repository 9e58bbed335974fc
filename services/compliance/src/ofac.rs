//! The OFAC list files in their legacy CSV format: `sdn.csv` (primary records), `alt.csv`
//! (aliases), `add.csv` (addresses, for countries), `sdn_comments.csv` (the remarks past 1,000
//! characters); the consolidated non-SDN list uses the same layout (`cons_prim.csv`,
//! `cons_alt.csv`, `cons_add.csv`, `cons_comments.csv`).
//!
//! Digital currency addresses are free text in the remarks ("Digital Currency Address - ETH
//! 0x...;"), cut at 1,000 characters and continued in the comments file, so the two are joined
//! before the addresses are read. OFAC writes "-0-" for an empty field and ends some files with
//! a 0x1A byte.

use crate::lists::{EntityKind, ListEntry, ListError, ListedAddress};
use std::collections::BTreeMap;

/// The four files of one OFAC list, as bytes, with the names used in errors.
pub struct OfacFiles<'a> {
    pub primary: (&'a str, &'a [u8]),
    pub aliases: Option<(&'a str, &'a [u8])>,
    pub addresses: Option<(&'a str, &'a [u8])>,
    pub comments: Option<(&'a str, &'a [u8])>,
}

fn field(value: Option<&str>) -> Option<String> {
    let v = value?.trim();
    (!v.is_empty() && v != "-0-").then(|| v.to_owned())
}

/// Reads records of at least `columns` fields; a short or unreadable record is an error naming
/// the file and line.
fn records(file: &str, bytes: &[u8], columns: usize) -> Result<Vec<(u64, csv::StringRecord)>, ListError> {
    // OFAC's files end with an ASCII SUB (0x1A) byte; it is not data.
    let bytes = bytes.strip_suffix(&[0x1a]).unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut out = Vec::new();
    for result in reader.records() {
        let record = result.map_err(|e| ListError {
            file: file.to_owned(),
            line: e.position().map_or(0, |p| p.line()),
            reason: e.to_string(),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if record.len() == 1 && record.get(0).is_some_and(|f| f.trim().is_empty()) {
            continue; // a blank line
        }
        if record.len() < columns {
            return Err(ListError {
                file: file.to_owned(),
                line,
                reason: format!("expected {columns} fields, found {}", record.len()),
            });
        }
        out.push((line, record));
    }
    Ok(out)
}

fn ent_num(file: &str, line: u64, value: Option<&str>) -> Result<u64, ListError> {
    value
        .map(str::trim)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ListError {
            file: file.to_owned(),
            line,
            reason: format!("the entity number {value:?} is not a number"),
        })
}

/// "Digital Currency Address - ETH 0xabc...;" and "alt. Digital Currency Address - XBT 1abc..."
/// anywhere in `remarks`.
pub fn digital_currency_addresses(remarks: &str) -> Vec<ListedAddress> {
    const MARK: &str = "Digital Currency Address - ";
    let mut found = Vec::new();
    let mut rest = remarks;
    while let Some(at) = rest.find(MARK) {
        rest = &rest[at + MARK.len()..];
        let mut words = rest.split_whitespace();
        let (Some(ticker), Some(address)) = (words.next(), words.next()) else {
            break;
        };
        let address = address.trim_end_matches([';', '.', ',']);
        if !address.is_empty() {
            found.push(ListedAddress {
                ticker: ticker.to_owned(),
                address: address.to_owned(),
            });
        }
    }
    found
}

/// "DOB 10 Dec 1948" (also "DOB circa 1955", "DOB 1962 to 1964") in the remarks.
fn dates_of_birth(remarks: &str) -> Vec<String> {
    remarks
        .split(';')
        .filter_map(|part| {
            let part = part.trim();
            let part = part.strip_prefix("alt. ").unwrap_or(part);
            part.strip_prefix("DOB ").map(|d| d.trim().to_owned())
        })
        .collect()
}

fn kind(value: Option<String>) -> EntityKind {
    match value.as_deref() {
        Some("individual") => EntityKind::Individual,
        Some("vessel") => EntityKind::Vessel,
        Some("aircraft") => EntityKind::Aircraft,
        _ => EntityKind::Entity,
    }
}

/// Parses one OFAC list into entries, joining aliases, countries and continued remarks.
pub fn parse(list: &str, files: &OfacFiles<'_>) -> Result<Vec<ListEntry>, ListError> {
    let mut comments: BTreeMap<u64, String> = BTreeMap::new();
    if let Some((name, bytes)) = files.comments {
        for (line, r) in records(name, bytes, 2)? {
            let id = ent_num(name, line, r.get(0))?;
            if let Some(text) = field(r.get(1)) {
                comments.entry(id).or_default().push_str(&text);
            }
        }
    }
    let mut aliases: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    if let Some((name, bytes)) = files.aliases {
        for (line, r) in records(name, bytes, 4)? {
            let id = ent_num(name, line, r.get(0))?;
            if let Some(alias) = field(r.get(3)) {
                aliases.entry(id).or_default().push(alias);
            }
        }
    }
    let mut countries: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    if let Some((name, bytes)) = files.addresses {
        for (line, r) in records(name, bytes, 5)? {
            let id = ent_num(name, line, r.get(0))?;
            if let Some(country) = field(r.get(4)) {
                let list = countries.entry(id).or_default();
                if !list.contains(&country) {
                    list.push(country);
                }
            }
        }
    }
    let (name, bytes) = files.primary;
    let mut entries = Vec::new();
    for (line, r) in records(name, bytes, 12)? {
        let id = ent_num(name, line, r.get(0))?;
        let primary = field(r.get(1)).ok_or_else(|| ListError {
            file: name.to_owned(),
            line,
            reason: "an entry without a name".into(),
        })?;
        let mut remarks = field(r.get(11)).unwrap_or_default();
        if let Some(more) = comments.get(&id) {
            remarks.push_str(more);
        }
        entries.push(ListEntry {
            list: list.to_owned(),
            ent_num: id,
            name: primary,
            kind: kind(field(r.get(2))),
            programs: field(r.get(3))
                .map(|p| {
                    p.split(';')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            aliases: aliases.remove(&id).unwrap_or_default(),
            countries: countries.remove(&id).unwrap_or_default(),
            dates_of_birth: dates_of_birth(&remarks),
            addresses: digital_currency_addresses(&remarks),
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_come_from_remarks_continued_in_comments() {
        let sdn = b"27307,\"LAZARUS GROUP\",-0- ,\"DPRK3\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"Digital Currency Address - ETH 0x098B716B8Aaf21512996dC57EB0615e2383E2f96; alt. Digital Currency Address - XBT 1abc; alt. Digital Cur\"\n2674,\"ABBAS, Abu\",\"individual\",\"SDGT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"DOB 10 Dec 1948; alt. DOB 1950; Director.\"\n\x1a";
        let comments =
            b"27307,\"rency Address - ETH 0xa0e1c89Ef1a489c9C7dE96311eD5Ce5D32c20E4B; Secondary sanctions risk.\"\n";
        let alt = b"27307,1,\"aka\",\"APPLEWORM\",-0- \n";
        let add = b"2674,5,-0- ,-0- ,\"Egypt\",-0- \n";
        let entries = parse(
            "ofac_sdn",
            &OfacFiles {
                primary: ("sdn.csv", sdn),
                aliases: Some(("alt.csv", alt)),
                addresses: Some(("add.csv", add)),
                comments: Some(("sdn_comments.csv", comments)),
            },
        )
        .unwrap();
        assert_eq!(entries.len(), 2);
        let lazarus = &entries[0];
        let got: Vec<(&str, &str)> = lazarus
            .addresses
            .iter()
            .map(|a| (a.ticker.as_str(), a.address.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("ETH", "0x098B716B8Aaf21512996dC57EB0615e2383E2f96"),
                ("XBT", "1abc"),
                ("ETH", "0xa0e1c89Ef1a489c9C7dE96311eD5Ce5D32c20E4B")
            ]
        );
        assert_eq!(lazarus.aliases, ["APPLEWORM"]);
        assert_eq!(lazarus.kind, EntityKind::Entity);
        let abbas = &entries[1];
        assert_eq!(abbas.kind, EntityKind::Individual);
        assert_eq!(abbas.dates_of_birth, ["10 Dec 1948", "1950"]);
        assert_eq!(abbas.countries, ["Egypt"]);
    }

    #[test]
    fn a_truncated_or_corrupt_file_is_refused_naming_the_line() {
        let sdn =
            b"36,\"AEROCARIBBEAN AIRLINES\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n173,\"ANGLO-CARIB";
        let err = parse(
            "ofac_sdn",
            &OfacFiles {
                primary: ("sdn.csv", sdn),
                aliases: None,
                addresses: None,
                comments: None,
            },
        )
        .unwrap_err();
        assert_eq!((err.file.as_str(), err.line), ("sdn.csv", 2), "{err}");
        let bad_number = b"x7,\"NAME\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n";
        let err = parse(
            "ofac_sdn",
            &OfacFiles {
                primary: ("sdn.csv", bad_number),
                aliases: None,
                addresses: None,
                comments: None,
            },
        )
        .unwrap_err();
        assert_eq!(err.line, 1, "{err}");
    }
}
