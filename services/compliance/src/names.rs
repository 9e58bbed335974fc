//! Name normalisation and fuzzy scoring for sanctions screening.
//!
//! A name is reduced to comparable tokens: accents folded (NFKD, combining marks dropped), case
//! folded, punctuation removed (apostrophes join, other marks split), honorifics, name particles
//! and legal forms dropped, doubled letters collapsed, and common transliteration variants mapped
//! to one spelling. Two scores are kept for every comparison:
//! - `jaro_winkler` over the tokens sorted, so word order does not matter;
//! - `token_set`: how well each listed token is matched by some query token (Jaro-Winkler per
//!   token, weighted by length), combined with the same in the other direction, so one shared
//!   common word does not make a match.
//!
//! The distance functions come from `strsim`; nothing here re-implements them.

// Similarity scores are floats between 0 and 1; no money passes through this file.
#![allow(clippy::float_arithmetic)]

use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

/// Titles and honorifics that say nothing about who someone is.
const HONORIFICS: &[&str] = &[
    "mr", "mrs", "ms", "miss", "dr", "prof", "sir", "dame", "lord", "sheikh", "shaykh", "sheik", "haji", "hajji",
    "hadji", "mullah", "mulla", "maulana", "imam", "general", "gen", "col", "colonel", "capt", "captain", "major",
    "brig",
];

/// Particles whose presence or spelling varies between transliterations.
const PARTICLES: &[&str] = &[
    "al", "el", "ul", "ad", "ar", "as", "bin", "ibn", "bint", "ben", "van", "von", "der", "den", "de", "da", "di",
    "du", "la", "le", "y",
];

/// Legal forms and generic company words: "Acme Trading Co" must not match "X Trading Co".
const LEGAL_FORMS: &[&str] = &[
    "ltd",
    "limited",
    "llc",
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "co",
    "company",
    "gmbh",
    "ag",
    "sa",
    "sas",
    "sarl",
    "srl",
    "spa",
    "bv",
    "nv",
    "plc",
    "llp",
    "lp",
    "oao",
    "ooo",
    "zao",
    "pao",
    "ao",
    "jsc",
    "pjsc",
    "ojsc",
    "cjsc",
    "fze",
    "fzco",
    "fzc",
    "fzllc",
    "pte",
    "pvt",
    "bhd",
    "sdn",
    "kg",
    "group",
    "holding",
    "holdings",
    "international",
    "intl",
    "trading",
    "the",
    "and",
    "of",
    "for",
];

/// Spellings of frequent names that transliterate many ways, mapped to one. Applied after
/// doubled letters are collapsed.
const VARIANTS: &[(&str, &[&str])] = &[
    (
        "muhamad",
        &[
            "mohamed", "mohamad", "muhamed", "mohammad", "mohamud", "mohd", "muhamad", "mehmet", "mahomed",
        ],
    ),
    ("ahmad", &["ahmed", "ahmet", "achmed"]),
    (
        "husain",
        &["husein", "hussein", "husayn", "hosein", "hossein", "hussain", "husseyn"],
    ),
    ("hasan", &["hassan", "hasen", "hacen"]),
    ("yusuf", &["yousef", "yusef", "yousuf", "yosef", "yousif", "jusuf"]),
    ("abdul", &["abdel", "abdal", "abdoul", "abdoulaye"]),
    ("abdulah", &["abdalah", "abdelah", "abdulla", "abdala", "abdela"]),
    ("osama", &["usama", "ousama"]),
    ("umar", &["omar", "omer"]),
    ("uthman", &["othman", "osman", "usman", "othmane"]),
    ("ali", &["aly"]),
    ("ibrahim", &["ebrahim", "ibragim"]),
    ("yaqub", &["yakub", "yacoub", "yaqoob", "jakub"]),
    ("mustafa", &["mostafa", "moustafa", "mustapha"]),
    ("khalid", &["khaled", "halid"]),
    ("said", &["saeed", "sayed", "sayyid", "saied", "seyed", "seyyed"]),
    ("jamal", &["gamal", "djamal"]),
    ("vladimir", &["wladimir", "volodymyr"]),
    ("aleksandr", &["alexander", "aleksander", "alexandr", "oleksandr"]),
    ("sergei", &["sergey", "serhii", "serhiy"]),
    ("yuri", &["yury", "yuriy", "iurii", "jurij"]),
    ("dmitri", &["dmitry", "dmitriy", "dmytro"]),
    ("aleksei", &["alexei", "alexey", "aleksey", "oleksii"]),
    ("evgeni", &["evgeny", "evgeniy", "yevgeny", "yevgeniy", "yevhen"]),
    ("mikhail", &["michail", "mykhailo"]),
];

/// A name reduced for comparison: tokens in their original order, and sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedName {
    pub tokens: Vec<String>,
    pub sorted: String,
}

/// A legal form or generic company word, also misspelt ("grup", "limted"): a typo there must not
/// make a listed company look like a different one. Short words must match exactly, or "co"
/// would swallow real names.
fn is_legal_form(word: &str) -> bool {
    LEGAL_FORMS.contains(&word)
        || (word.len() >= 4
            && LEGAL_FORMS
                .iter()
                .any(|f| f.len() >= 4 && strsim::jaro_winkler(word, f) >= 0.92))
}

fn collapse_doubles(token: &str) -> String {
    let mut out = String::with_capacity(token.len());
    let mut last = None;
    for c in token.chars() {
        if Some(c) != last {
            out.push(c);
        }
        last = Some(c);
    }
    out
}

fn canonical(token: String) -> String {
    VARIANTS
        .iter()
        .find(|(_, forms)| forms.contains(&token.as_str()))
        .map_or(token, |(canon, _)| (*canon).to_owned())
}

/// Normalises a name. Words that only dropped lists cover (a name that is all legal form, say)
/// are kept rather than leaving nothing to compare.
pub fn normalize(name: &str) -> NormalizedName {
    let folded: String = name
        .nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            '\'' | '\u{2019}' | '`' | '\u{02bc}' => '\0',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        })
        .filter(|c| *c != '\0')
        .collect();
    let words: Vec<&str> = folded.split_whitespace().collect();
    let kept: Vec<String> = words
        .iter()
        .filter(|w| !HONORIFICS.contains(w) && !PARTICLES.contains(w) && !is_legal_form(w))
        .map(|w| canonical(collapse_doubles(w)))
        .collect();
    let tokens = if kept.is_empty() {
        words.iter().map(|w| canonical(collapse_doubles(w))).collect()
    } else {
        kept
    };
    let mut sorted = tokens.clone();
    sorted.sort();
    NormalizedName {
        sorted: sorted.join(" "),
        tokens,
    }
}

/// How well the query explains a listed name, with its parts kept for the decision record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Jaro-Winkler over the sorted tokens.
    pub jaro_winkler: f64,
    /// Token-level coverage in both directions (see the module docs).
    pub token_set: f64,
    /// The mean of the two: what the threshold is compared with. Either alone misleads: sorted
    /// Jaro-Winkler rewards a shared first word ("Juan Carlos ..."), token coverage forgives
    /// letters out of order inside a word.
    pub overall: f64,
}

/// Length-weighted mean, over `from`'s tokens, of the best Jaro-Winkler against `to`'s tokens.
fn coverage(from: &[String], to: &[String]) -> f64 {
    let mut weighted = 0.0;
    let mut weight = 0.0;
    for f in from {
        let best = to.iter().map(|t| strsim::jaro_winkler(f, t)).fold(0.0, f64::max);
        let w = f.chars().count() as f64;
        weighted += best * w;
        weight += w;
    }
    if weight == 0.0 { 0.0 } else { weighted / weight }
}

pub fn score(query: &NormalizedName, listed: &NormalizedName) -> Score {
    let jaro_winkler = strsim::jaro_winkler(&query.sorted, &listed.sorted);
    with_jaro_winkler(query, listed, jaro_winkler)
}

/// The score, when it can reach `threshold`; `None` otherwise. Exact, not a heuristic: the
/// overall score is the mean of two scores of at most 1, so a Jaro-Winkler below
/// `2 * threshold - 1` cannot reach it, and the costlier token coverage is skipped.
pub fn score_at_least(query: &NormalizedName, listed: &NormalizedName, threshold: f64) -> Option<Score> {
    let jaro_winkler = strsim::jaro_winkler(&query.sorted, &listed.sorted);
    if jaro_winkler < 2.0 * threshold - 1.0 {
        return None;
    }
    let s = with_jaro_winkler(query, listed, jaro_winkler);
    (s.overall >= threshold).then_some(s)
}

fn with_jaro_winkler(query: &NormalizedName, listed: &NormalizedName, jaro_winkler: f64) -> Score {
    // The listed name must be covered (a query "Ali" against "Ali Hassan Al-Majid" is weak),
    // and extra query words cost a little (middle names are often added or left out).
    let listed_covered = coverage(&listed.tokens, &query.tokens);
    let query_covered = coverage(&query.tokens, &listed.tokens);
    let token_set = (2.0 * listed_covered + query_covered) / 3.0;
    Score {
        jaro_winkler,
        token_set,
        overall: (jaro_winkler + token_set) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_folds_case_accents_punctuation_honorifics_and_variants() {
        assert_eq!(normalize("Dr. Ayman AL-ZAWAHIRI").sorted, "ayman zawahiri");
        assert_eq!(normalize("José  Ñúñez-García").tokens, ["jose", "nunez", "garcia"]);
        assert_eq!(normalize("O'Brien").tokens, ["obrien"]);
        assert_eq!(normalize("Mohammed bin Salman").tokens, ["muhamad", "salman"]);
        assert_eq!(normalize("Muhammad Salman").tokens, ["muhamad", "salman"]);
        assert_eq!(normalize("ACME TRADING CO., LTD.").tokens, ["acme"]);
        assert_eq!(normalize("Lazarus Grup").tokens, ["lazarus"]);
        assert_eq!(normalize("Cohen Corp").tokens, ["cohen"]);
        assert_eq!(
            normalize("The Company").tokens,
            ["the", "company"],
            "nothing left: keep the words"
        );
    }

    #[test]
    fn word_order_typos_and_transliterations_score_high_and_different_names_low() {
        let listed = normalize("AL ZAWAHIRI, Dr. Ayman");
        for query in [
            "Ayman al-Zawahiri",
            "Aymen Zawahiri",
            "Zawahri Ayman",
            "AYMAN AL ZAWAHIRY",
        ] {
            let s = score(&normalize(query), &listed);
            assert!(s.overall >= 0.9, "{query}: {s:?}");
        }
        for query in ["Ayman Khalil", "John Smith", "Zaw Win"] {
            let s = score(&normalize(query), &listed);
            assert!(s.overall < 0.9, "{query}: {s:?}");
        }
        // One shared word does not make a match.
        let s = score(&normalize("Ali"), &normalize("Ali Hassan al-Majid"));
        assert!(s.token_set < 0.8, "{s:?}");
    }

    #[test]
    fn the_pruned_score_answers_exactly_like_the_full_one() {
        let names = [
            "AL ZAWAHIRI, Dr. Ayman",
            "Ayman Zawahri",
            "Lazarus Group",
            "Lazarus Grup",
            "Juan Carlos Rodriguez",
            "ORTEGA MURILLO, Juan Carlos",
            "Banco Nacional de Cuba",
            "Nacional Cuba",
            "Ali",
            "Ali Hassan al-Majid",
            "Tornado Cash",
            "Tornado Kash",
            "Mohammed bin Salman",
            "Muhammad Salman",
        ];
        for a in names {
            for b in names {
                for threshold in [0.8, 0.85, 0.9, 0.95] {
                    let (q, l) = (normalize(a), normalize(b));
                    let full = score(&q, &l);
                    assert_eq!(
                        score_at_least(&q, &l, threshold).is_some(),
                        full.overall >= threshold,
                        "{a} / {b} at {threshold}: {full:?}"
                    );
                }
            }
        }
    }
}
