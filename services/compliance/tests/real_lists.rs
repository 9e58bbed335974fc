//! Screening against the real OFAC files in ../shared/data (public domain). A clone without
//! ../shared says so and skips: these files are read in place, not copied into the project.

use corridor_compliance::{
    index::ScreeningIndex,
    ofac::{self, OfacFiles},
};
use corridor_domain::EvmAddress;
use std::path::{Path, PathBuf};

/// The threshold payouts are screened at.
const THRESHOLD: f64 = corridor_compliance::api::DEFAULT_THRESHOLD;

fn shared_data() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if dir.join("ofac/sdn.csv").exists() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: ../shared/data/ofac is not next to this clone; the real-list tests did not run");
        None
    }
}

fn sdn_index(data: &Path) -> ScreeningIndex {
    let read = |f: &str| std::fs::read(data.join("ofac").join(f)).unwrap();
    let (sdn, alt, add, comments) = (
        read("sdn.csv"),
        read("alt.csv"),
        read("add.csv"),
        read("sdn_comments.csv"),
    );
    let entries = ofac::parse(
        "ofac_sdn",
        &OfacFiles {
            primary: ("sdn.csv", &sdn),
            aliases: Some(("alt.csv", &alt)),
            addresses: Some(("add.csv", &add)),
            comments: Some(("sdn_comments.csv", &comments)),
        },
    )
    .unwrap();
    ScreeningIndex::new(entries)
}

#[test]
fn every_listed_eth_address_is_found_in_lowercase_uppercase_and_checksummed_form() {
    let Some(data) = shared_data() else { return };
    let index = sdn_index(&data);
    assert_eq!(
        index.entries().len(),
        14_965,
        "every primary record of the May 2024 file"
    );
    let csv = std::fs::read_to_string(data.join("ofac/sanctioned_evm_addresses.csv")).unwrap();
    let mut checked = 0;
    for line in csv.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        // Only addresses the May 2024 sdn.csv (with its comments) carries.
        if cols.get(5) != Some(&"Y") {
            continue;
        }
        let lower = cols[0];
        let checksummed = EvmAddress::parse_any_case(lower).unwrap().to_string();
        let upper = format!("0x{}", lower[2..].to_ascii_uppercase());
        for form in [lower, checksummed.as_str(), upper.as_str()] {
            let hits = index.screen_address(form);
            assert!(!hits.is_empty(), "{form} ({}) not found", cols[3]);
        }
        checked += 1;
    }
    assert!(checked >= 110, "only {checked} addresses checked");
    // Tornado Cash's addresses continue past 1,000 characters into sdn_comments.csv.
    let tornado = index.entries().iter().find(|e| e.name == "TORNADO CASH").unwrap();
    assert!(tornado.addresses.len() >= 80, "{}", tornado.addresses.len());
    assert!(
        index
            .screen_address("0x0000000000000000000000000000000000000001")
            .is_empty()
    );
}

#[test]
fn listed_names_with_typos_reordering_and_transliterations_are_hits_and_ordinary_names_are_not() {
    let Some(data) = shared_data() else { return };
    let index = sdn_index(&data);
    let must_hit = [
        ("Ayman al-Zawahiri", "AL ZAWAHIRI, Dr. Ayman"),
        ("Aymen Zawahri", "AL ZAWAHIRI, Dr. Ayman"),
        ("Lazarus Grup", "LAZARUS GROUP"),
        ("Banco Nacional de Cuba", "BANCO NACIONAL DE CUBA"),
        ("Nacional Cuba Banco", "BANCO NACIONAL DE CUBA"),
        ("Tornado Kash", "TORNADO CASH"),
        ("Abu Abas", "ABBAS, Abu"),
    ];
    for (query, listed) in must_hit {
        let hits = index.screen_name(query, THRESHOLD);
        assert!(
            hits.iter().any(|h| h.entry.name == listed),
            "{query} should hit {listed}; got {:?}",
            hits.iter()
                .map(|h| (&h.entry.name, h.score.overall))
                .collect::<Vec<_>>()
        );
    }
    let must_pass = [
        "Lagos Textiles Ltd",
        "Ana Souza",
        "Acme Trading GmbH",
        "Maria Fernanda Lopez",
        "Hans Peter Müller",
        "Shenzhen Bright Electronics Co., Ltd.",
        "Priya Raghavan",
        "Nordic Timber AB",
        "Juan Carlos Rodriguez",
        "Blue Ocean Logistics LLC",
    ];
    for query in must_pass {
        let hits = index.screen_name(query, THRESHOLD);
        assert!(
            hits.is_empty(),
            "{query} should pass; got {:?}",
            hits.iter()
                .map(|h| (&h.entry.name, h.matched, h.score))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn the_index_finds_what_comparing_every_name_finds() {
    let Some(data) = shared_data() else { return };
    let index = sdn_index(&data);
    // Every 100th entry's name with one letter dropped from its longest word.
    let mut found = 0;
    let mut total = 0;
    for e in index.entries().iter().step_by(100) {
        let mut words: Vec<String> = e.name.split_whitespace().map(str::to_owned).collect();
        let Some(longest) = words.iter_mut().max_by_key(|w| w.len()) else {
            continue;
        };
        if longest.len() < 6 {
            continue;
        }
        longest.remove(longest.len() / 2);
        let query = words.join(" ");
        let reference = index.screen_name_exhaustive(&query, THRESHOLD);
        if reference.iter().all(|h| h.entry.ent_num != e.ent_num) {
            continue; // the perturbation took it below the threshold for every method
        }
        total += 1;
        if index
            .screen_name(&query, THRESHOLD)
            .iter()
            .any(|h| h.entry.ent_num == e.ent_num)
        {
            found += 1;
        }
    }
    assert!(total > 60, "{total}");
    assert!(found * 1000 >= total * 995, "recall {found}/{total} is below 99.5 %");
}
