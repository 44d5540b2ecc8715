//! No input makes the parser or the renderers panic: random text and mutations of
//! valid configurations. Whatever parses must also render and read back.

mod common;

use atrium_crm::{from_xml, parse, to_crm, to_xml};
use common::generate;
use proptest::prelude::*;

fn check(text: &str) {
    let parsed = parse(text, "fuzz.crm");
    if let Err(e) = &parsed {
        // Errors point into the input: an existing line, at most one past its end.
        let line = text.split('\n').nth(e.line.wrapping_sub(1));
        let width = line.map(|l| l.trim_end_matches('\r').chars().count());
        assert!(
            width.is_some_and(|w| e.column >= 1 && e.column <= w + 1),
            "{e} is outside the input:\n{text}"
        );
        assert!(e.to_string().starts_with("fuzz.crm:"));
    }
    if let Ok(config) = parsed {
        let xml = to_xml(&config);
        // Fuzzed input may name things the CIB cannot hold (a group member that is a
        // clone), so reading back may fail, but must not panic.
        if let Ok(back) = from_xml(&xml) {
            let _ = parse(&to_crm(&back), "shown.crm");
        }
    }
}

const ALPHABET: &[&str] = &[
    "node",
    "primitive",
    "group",
    "clone",
    "ms",
    "location",
    "colocation",
    "order",
    "property",
    "rule",
    "op",
    "params",
    "meta",
    "utilization",
    "fencing_topology",
    "tag",
    "inf:",
    "-inf:",
    "100:",
    ":",
    "=",
    "(",
    ")",
    "[",
    "]",
    "\\\n",
    "¥\n",
    "\n",
    "  ",
    "\"",
    "'",
    "#",
    "$id=",
    "$role=",
    "and",
    "or",
    "eq",
    "defined",
    "a",
    "b",
    "x=1",
    "a:b",
    "ocf:heartbeat:Dummy",
    "date",
    "gt",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        check(&text);
    }

    #[test]
    fn random_crm_words_never_panic(words in prop::collection::vec(prop::sample::select(ALPHABET), 0..60)) {
        check(&words.join(" "));
    }

    #[test]
    fn mutated_configurations_never_panic(
        seed in any::<u64>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, prop::sample::select(ALPHABET)), 1..8),
    ) {
        let mut text: Vec<char> = generate::batch(seed, 0, 2).chars().collect();
        for (at, op, word) in edits {
            let i = at.index(text.len() + 1);
            match op {
                0 if i < text.len() => { text.remove(i); }
                1 => { text.splice(i..i, word.chars()); }
                _ => { text.truncate(i); }
            }
        }
        check(&text.into_iter().collect::<String>());
    }
}

#[test]
fn random_xml_never_panics() {
    let mut rng = generate::Rng::new(7);
    for first in 0..40 {
        let xml = to_xml(&parse(&generate::batch(first, first as usize, 1), "g.crm").unwrap());
        let mut bytes: Vec<char> = xml.chars().collect();
        for _ in 0..5 {
            let i = rng.below(bytes.len());
            bytes[i] = *rng.pick(&['<', '>', '"', '/', 'x', ' ', '=']);
        }
        let _ = from_xml(&bytes.into_iter().collect::<String>());
    }
}
