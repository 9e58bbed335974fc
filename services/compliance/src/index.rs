//! The in-memory screening index over one set of list entries.
//!
//! Addresses: a hash map from the comparable form (lowercase for EVM) to the entries listing it.
//! Names: every primary name and alias, normalised, with character-trigram postings: a query is
//! compared only with the names that share the most trigrams with it (typos and word order keep
//! most trigrams), never with every name.

use crate::{
    lists::{ListEntry, comparable_address},
    names::{NormalizedName, Score, normalize, score_at_least},
};
use std::collections::HashMap;

/// Names compared in full per screening, after the trigram count picks them.
const CANDIDATES_MAX: usize = 128;

/// One listed name (a primary name or an alias) of an entry.
struct IndexedName {
    entry: usize,
    /// As published.
    name: String,
    normalized: NormalizedName,
    is_alias: bool,
}

pub struct ScreeningIndex {
    entries: Vec<ListEntry>,
    names: Vec<IndexedName>,
    postings: HashMap<[char; 3], Vec<u32>>,
    /// Distinct trigrams per name, for ranking candidates by overlap rather than raw count (a
    /// long name shares many trigrams with anything).
    gram_counts: Vec<u16>,
    addresses: HashMap<String, Vec<usize>>,
}

/// A name that scored at or above the threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct NameHit<'a> {
    pub entry: &'a ListEntry,
    /// The listed name or alias that matched, as published.
    pub matched: &'a str,
    pub is_alias: bool,
    pub score: Score,
}

fn trigrams(normalized: &NormalizedName) -> Vec<[char; 3]> {
    // Over the sorted form padded with spaces, so word order does not change the set and short
    // tokens still produce grams.
    let chars: Vec<char> = format!("  {}  ", normalized.sorted).chars().collect();
    let mut grams: Vec<[char; 3]> = chars.windows(3).map(|w| [w[0], w[1], w[2]]).collect();
    grams.sort_unstable();
    grams.dedup();
    grams
}

impl ScreeningIndex {
    pub fn new(entries: Vec<ListEntry>) -> Self {
        let mut names = Vec::new();
        let mut addresses: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            for (name, is_alias) in std::iter::once((&e.name, false)).chain(e.aliases.iter().map(|a| (a, true))) {
                names.push(IndexedName {
                    entry: i,
                    name: name.clone(),
                    normalized: normalize(name),
                    is_alias,
                });
            }
            for a in &e.addresses {
                let list = addresses.entry(a.comparable()).or_default();
                if !list.contains(&i) {
                    list.push(i);
                }
            }
        }
        let mut postings: HashMap<[char; 3], Vec<u32>> = HashMap::new();
        let mut gram_counts = Vec::with_capacity(names.len());
        for (n, name) in names.iter().enumerate() {
            let grams = trigrams(&name.normalized);
            gram_counts.push(u16::try_from(grams.len()).unwrap_or(u16::MAX));
            for gram in grams {
                postings.entry(gram).or_default().push(n as u32);
            }
        }
        Self {
            entries,
            names,
            postings,
            gram_counts,
            addresses,
        }
    }

    pub fn entries(&self) -> &[ListEntry] {
        &self.entries
    }

    pub fn name_count(&self) -> usize {
        self.names.len()
    }

    pub fn address_count(&self) -> usize {
        self.addresses.len()
    }

    /// Entries listing `address`, compared case-insensitively for EVM addresses (so lowercase,
    /// uppercase and checksummed forms all match).
    pub fn screen_address(&self, address: &str) -> Vec<&ListEntry> {
        self.addresses
            .get(&comparable_address(address))
            .map(|ids| ids.iter().map(|i| &self.entries[*i]).collect())
            .unwrap_or_default()
    }

    /// Listed names scoring at least `threshold` against `name`, best first, one hit per entry.
    pub fn screen_name(&self, name: &str, threshold: f64) -> Vec<NameHit<'_>> {
        let query = normalize(name);
        let grams = trigrams(&query);
        // Shared-trigram counts in a dense array (one slot per listed name) rather than a hash
        // map: common trigrams touch thousands of names, and this loop is the screening's cost.
        let mut shared = vec![0u16; self.names.len()];
        let mut touched: Vec<u32> = Vec::new();
        for gram in &grams {
            if let Some(list) = self.postings.get(gram) {
                for &n in list {
                    let slot = &mut shared[n as usize];
                    if *slot == 0 {
                        touched.push(n);
                    }
                    *slot += 1;
                }
            }
        }
        // Rank by the Dice overlap of trigram sets, in integer arithmetic: 2|A∩B| / (|A|+|B|),
        // compared as cross products. The name's index breaks ties, so results are stable.
        let q = grams.len() as u64;
        let mut candidates: Vec<(u32, u64, u64)> = touched
            .into_iter()
            .map(|n| {
                (
                    n,
                    2 * u64::from(shared[n as usize]),
                    q + u64::from(self.gram_counts[n as usize]),
                )
            })
            .collect();
        let better = |a: &(u32, u64, u64), b: &(u32, u64, u64)| (b.1 * a.2).cmp(&(a.1 * b.2)).then(a.0.cmp(&b.0));
        if candidates.len() > CANDIDATES_MAX {
            candidates.select_nth_unstable_by(CANDIDATES_MAX, better);
            candidates.truncate(CANDIDATES_MAX);
        }
        self.hits(&query, candidates.iter().map(|(n, _, _)| *n as usize), threshold)
    }

    /// The same answer by comparing with every listed name: the recall reference for the index.
    pub fn screen_name_exhaustive(&self, name: &str, threshold: f64) -> Vec<NameHit<'_>> {
        self.hits(&normalize(name), 0..self.names.len(), threshold)
    }

    fn hits(&self, query: &NormalizedName, names: impl Iterator<Item = usize>, threshold: f64) -> Vec<NameHit<'_>> {
        let mut best: HashMap<usize, NameHit<'_>> = HashMap::new();
        for n in names {
            let listed = &self.names[n];
            let Some(s) = score_at_least(query, &listed.normalized, threshold) else {
                continue;
            };
            let hit = NameHit {
                entry: &self.entries[listed.entry],
                matched: &listed.name,
                is_alias: listed.is_alias,
                score: s,
            };
            match best.get(&listed.entry) {
                Some(b) if b.score.overall >= s.overall => {}
                _ => {
                    best.insert(listed.entry, hit);
                }
            }
        }
        let mut hits: Vec<NameHit<'_>> = best.into_values().collect();
        hits.sort_by(|a, b| {
            b.score
                .overall
                .total_cmp(&a.score.overall)
                .then(a.entry.ent_num.cmp(&b.entry.ent_num))
        });
        hits
    }
}
