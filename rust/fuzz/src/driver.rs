//! A fuzz driver for stable Rust: seeded random mutation of a seed corpus, no coverage feedback.
//!
//! cargo-fuzz (libFuzzer) finds more, but needs its own toolchain set-up; this runs the same
//! targets anywhere `cargo test` runs, so `make test` fuzzes every target for a few seconds and
//! `make fuzz` can fall back on it. A panic is written to `artifacts/<target>/` and reported.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// xorshift64*: small, fast and reproducible from its seed; statistical quality is not the point.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Tokens worth inserting whole: markup of the documents the targets read, and frame headers.
const DICTIONARY: &[&[u8]] = &[
    b"<MsgId>",
    b"</MsgId>",
    b"<OrgnlMsgId>",
    b"<TxSts>RJCT</TxSts>",
    b"<GrpSts>ACSP</GrpSts>",
    b"<![CDATA[",
    b"]]>",
    b"<!DOCTYPE a [<!ENTITY x \"y\">]>",
    b"&amp;",
    b"&#x0;",
    b"&#65;",
    b"&x;",
    b"xmlns=\"urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10\"",
    b"xmlns:p=\"urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08\"",
    b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
    b"\xef\xbb\xbf",
    b"\xc3\xa9",
    b"\xed\xa0\x80",
    b"\0\0\0\0",
    b"\xff\xff\xff\xff",
    b"0000",
    b"9999",
    b"\0\x10",
];

/// Changes `input` by one to eight random edits; `corpus` supplies material to splice in.
pub fn mutate(input: &mut Vec<u8>, corpus: &[Vec<u8>], rng: &mut Rng) {
    for _ in 0..=rng.below(8) {
        let len = input.len();
        match rng.below(9) {
            0 if len > 0 => input[rng.below(len)] ^= 1 << rng.below(8),
            1 if len > 0 => input[rng.below(len)] = rng.next_u64() as u8,
            2 => {
                let at = rng.below(len + 1);
                let count = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..count).map(|_| rng.next_u64() as u8).collect();
                input.splice(at..at, bytes);
            }
            3 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(32)).min(len);
                input.drain(at..end);
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(64)).min(len);
                let copy = input[at..end].to_vec();
                let to = rng.below(len + 1);
                input.splice(to..to, copy);
            }
            5 if !corpus.is_empty() => {
                let other = &corpus[rng.below(corpus.len())];
                if !other.is_empty() {
                    let from = rng.below(other.len());
                    let end = (from + 1 + rng.below(256)).min(other.len());
                    let at = rng.below(len + 1);
                    input.splice(at..at, other[from..end].iter().copied());
                }
            }
            6 => {
                let token = DICTIONARY[rng.below(DICTIONARY.len())];
                let at = rng.below(len + 1);
                input.splice(at..at, token.iter().copied());
            }
            7 if len > 0 => input.truncate(rng.below(len)),
            _ => {
                // A small integer overwritten in place: lengths, counts, ranges.
                if len >= 2 {
                    let at = rng.below(len - 1);
                    let value = [0u8, 1, 0x7f, 0x80, 0xff][rng.below(5)];
                    input[at] = value;
                }
            }
        }
    }
    input.truncate(64 * 1024);
}

/// A failing input and what the target said.
#[derive(Debug)]
pub struct Crash {
    pub input: Vec<u8>,
    pub message: String,
    pub saved: Option<PathBuf>,
}

/// How a run went.
#[derive(Debug)]
pub struct Report {
    pub executions: u64,
    pub seed: u64,
}

/// Runs `target` on every corpus entry, then on mutations of them until `budget` has passed
/// or `max_executions` were run. Stops at the first panic.
pub fn run(
    name: &str,
    target: fn(&[u8]),
    corpus: &[Vec<u8>],
    seed: u64,
    budget: Duration,
    max_executions: u64,
) -> Result<Report, Crash> {
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let mut executions = 0u64;
    for input in corpus {
        execute(name, target, input)?;
        executions += 1;
    }
    while started.elapsed() < budget && executions < max_executions {
        let mut input = if corpus.is_empty() || rng.below(16) == 0 {
            Vec::new()
        } else {
            corpus[rng.below(corpus.len())].clone()
        };
        mutate(&mut input, corpus, &mut rng);
        execute(name, target, &input)?;
        executions += 1;
    }
    Ok(Report { executions, seed })
}

/// One execution; a panic becomes a `Crash`, saved under `artifacts/<name>/`.
pub fn execute(name: &str, target: fn(&[u8]), input: &[u8]) -> Result<(), Crash> {
    let outcome = catch_unwind(AssertUnwindSafe(|| target(input)));
    let Err(panic) = outcome else {
        return Ok(());
    };
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic without a message".to_owned());
    Err(Crash {
        input: input.to_vec(),
        message,
        saved: crate::corpus::save_artifact(name, input).ok(),
    })
}
