//! Name screening against the full shipped lists (OFAC SDN + consolidated non-SDN): latency per
//! screening through the trigram index, throughput on one core, and recall against a
//! brute-force comparison with every listed name at the same threshold.
//!
//! Run: cargo run --release -p corridor-compliance --example screening_bench
//! Queries: PERTURBED perturbed listed names and CLEAN ordinary names (default 10,000 each);
//! the brute-force reference compares every query with every name, so it dominates the run
//! time. Set BENCH_SEED to repeat a run.

// Latencies and ratios for the report are floats; no money passes through this file.
#![allow(clippy::float_arithmetic)]

use corridor_compliance::{index::ScreeningIndex, versions};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

const THRESHOLD: f64 = corridor_compliance::api::DEFAULT_THRESHOLD;

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Ana",
    "Lucia",
    "Mateo",
    "Sofia",
    "Hugo",
    "Emma",
    "Lukas",
    "Mia",
    "Noah",
    "Lea",
    "Chen",
    "Wei",
    "Yuki",
    "Haruto",
    "Priya",
    "Arjun",
    "Aisha",
    "Tunde",
    "Chiamaka",
    "Kwame",
    "Amara",
    "Olga",
    "Piotr",
    "Katarzyna",
    "Jan",
    "Eva",
    "Lars",
    "Ingrid",
    "Fatima",
    "Omar",
    "Leila",
    "Diego",
    "Camila",
    "Thiago",
    "Valentina",
    "Nguyen",
    "Minh",
    "Siti",
    "Budi",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Dubois",
    "Moreau",
    "Laurent",
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Costa",
    "Okafor",
    "Adeyemi",
    "Mensah",
    "Kowalski",
    "Nowak",
    "Tanaka",
    "Suzuki",
    "Sato",
    "Wang",
    "Zhang",
    "Liu",
    "Patel",
    "Sharma",
    "Gupta",
    "Singh",
    "Jensen",
];
const COMPANY_A: &[&str] = &[
    "Blue",
    "Green",
    "Golden",
    "Silver",
    "Northern",
    "Pacific",
    "Atlantic",
    "Alpine",
    "Urban",
    "Bright",
    "Rapid",
    "Prime",
    "Summit",
    "Coastal",
    "Sunrise",
    "Evergreen",
    "Harbor",
    "Crystal",
    "Maple",
    "Cedar",
];
const COMPANY_B: &[&str] = &[
    "Textiles",
    "Logistics",
    "Foods",
    "Electronics",
    "Timber",
    "Coffee",
    "Ceramics",
    "Software",
    "Furniture",
    "Apparel",
    "Farms",
    "Tools",
    "Packaging",
    "Pharma",
    "Motors",
    "Solar",
    "Marine",
    "Paper",
    "Spices",
    "Leather",
];
const FORMS: &[&str] = &[
    "Ltd",
    "GmbH",
    "LLC",
    "S.A.",
    "Pte Ltd",
    "B.V.",
    "AB",
    "Co., Ltd.",
    "SARL",
    "Inc.",
];

fn perturb(name: &str, rng: &mut StdRng) -> String {
    let mut words: Vec<String> = name.split_whitespace().map(str::to_owned).collect();
    match rng.random_range(0..4) {
        // One typo in the longest word: a letter dropped, swapped or replaced.
        0..=2 => {
            if let Some(w) = words.iter_mut().max_by_key(|w| w.chars().count()) {
                let mut chars: Vec<char> = w.chars().collect();
                if chars.len() >= 4 {
                    let i = rng.random_range(1..chars.len() - 1);
                    match rng.random_range(0..3) {
                        0 => {
                            chars.remove(i);
                        }
                        1 => chars.swap(i, i + 1),
                        _ => chars[i] = *['a', 'e', 'i', 'o', 'u', 'y'].choose(rng).unwrap_or(&'e'),
                    }
                    *w = chars.into_iter().collect();
                }
            }
        }
        // Word order reversed ("AL ZAWAHIRI, Dr. Ayman" -> "Ayman Dr. ZAWAHIRI, AL").
        _ => words.reverse(),
    }
    words.join(" ")
}

fn main() {
    let perturbed_n: usize = std::env::var("PERTURBED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let clean_n: usize = std::env::var("CLEAN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let seed: u64 = std::env::var("BENCH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let mut rng = StdRng::seed_from_u64(seed);

    let started = Instant::now();
    let mut entries = Vec::new();
    for (source, files) in versions::DEFAULT_SNAPSHOT {
        entries.extend(versions::parse(source, files).expect("the shipped snapshot parses"));
    }
    let parsed = started.elapsed();
    let started = Instant::now();
    let index = ScreeningIndex::new(entries);
    let built = started.elapsed();

    let listed: Vec<String> = index
        .entries()
        .iter()
        .flat_map(|e| std::iter::once(e.name.clone()).chain(e.aliases.iter().cloned()))
        .collect();
    let mut queries: Vec<(bool, String)> = (0..perturbed_n)
        .map(|_| (true, perturb(listed.choose(&mut rng).expect("names"), &mut rng)))
        .collect();
    for i in 0..clean_n {
        let name = if i % 2 == 0 {
            format!("{} {}", FIRST.choose(&mut rng).unwrap(), LAST.choose(&mut rng).unwrap())
        } else {
            format!(
                "{} {} {}",
                COMPANY_A.choose(&mut rng).unwrap(),
                COMPANY_B.choose(&mut rng).unwrap(),
                FORMS.choose(&mut rng).unwrap()
            )
        };
        queries.push((false, name));
    }

    // The index, timed per screening.
    let mut latencies = Vec::with_capacity(queries.len());
    let mut indexed: Vec<BTreeSet<(String, u64)>> = Vec::with_capacity(queries.len());
    let all = Instant::now();
    for (_, q) in &queries {
        let t = Instant::now();
        let hits = index.screen_name(q, THRESHOLD);
        latencies.push(t.elapsed());
        indexed.push(hits.iter().map(|h| (h.entry.list.clone(), h.entry.ent_num)).collect());
    }
    let total = all.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1];

    // The brute-force reference, on every query (or a stride sample of BRUTE of them), split
    // over the machine's cores: it compares each query with every listed name.
    let brute_n: usize = std::env::var("BRUTE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(queries.len());
    let stride = (queries.len() / brute_n.max(1)).max(1);
    let sample: Vec<usize> = (0..queries.len()).step_by(stride).collect();
    let brute_started = Instant::now();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread: Vec<(usize, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = sample
            .chunks(sample.len().div_ceil(threads).max(1))
            .map(|chunk| {
                let (index, queries, indexed) = (&index, &queries, &indexed);
                scope.spawn(move || {
                    let (mut expected, mut found) = (0, 0);
                    for &i in chunk {
                        let reference: BTreeSet<(String, u64)> = index
                            .screen_name_exhaustive(&queries[i].1, THRESHOLD)
                            .iter()
                            .map(|h| (h.entry.list.clone(), h.entry.ent_num))
                            .collect();
                        expected += reference.len();
                        found += reference.intersection(&indexed[i]).count();
                    }
                    (expected, found)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("brute-force thread"))
            .collect()
    });
    let (expected, found) = per_thread.iter().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let (mut clean_flagged, mut perturbed_flagged) = (0usize, 0usize);
    for ((is_perturbed, _), got) in queries.iter().zip(&indexed) {
        if !got.is_empty() {
            if *is_perturbed {
                perturbed_flagged += 1;
            } else {
                clean_flagged += 1;
            }
        }
    }
    let brute = brute_started.elapsed();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let recall = if expected == 0 {
        1.0
    } else {
        found as f64 / expected as f64
    };

    println!(
        "Lists: {} entries, {} names, {} addresses (parsed in {:.0} ms, index built in {:.0} ms); threshold {THRESHOLD}; seed {seed}",
        index.entries().len(),
        index.name_count(),
        index.address_count(),
        ms(parsed),
        ms(built)
    );
    println!();
    println!("| measure | value | goal |");
    println!("|---|---:|---|");
    println!(
        "| screenings | {} ({perturbed_n} perturbed listed names, {clean_n} clean names) | |",
        queries.len()
    );
    println!("| p50 per screening | {:.3} ms | |", ms(pct(0.50)));
    println!("| p99 per screening | {:.3} ms | at most 2 ms |", ms(pct(0.99)));
    println!("| max per screening | {:.3} ms | |", ms(pct(1.0)));
    println!(
        "| throughput, one core | {:.0} screenings/s | |",
        queries.len() as f64 / total.as_secs_f64()
    );
    println!(
        "| recall against brute force on {} screenings (hits found / hits that exist) | {:.2} % ({found} / {expected}) | at least 99.5 % |",
        sample.len(),
        recall * 100.0
    );
    println!("| perturbed names flagged / clean names flagged | {perturbed_flagged} / {clean_flagged} | |");
    // The baseline: the brute-force comparison of each query with every name, per core.
    let brute_per_core = sample.len() as f64 / (brute.as_secs_f64() * threads as f64);
    let indexed_per_core = queries.len() as f64 / total.as_secs_f64();
    println!(
        "| brute force (every query against every name), per core | {brute_per_core:.1} screenings/s ({:.1} s for {} on {threads} threads) | |",
        brute.as_secs_f64(),
        sample.len()
    );
    println!(
        "| indexed / brute-force throughput per core | {:.0}x | |",
        indexed_per_core / brute_per_core
    );
}
