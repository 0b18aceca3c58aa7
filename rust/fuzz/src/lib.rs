//! Fuzzing the wire core: the targets, their seeds, and a driver for stable Rust.
//!
//! `fuzz_targets/*.rs` hand each target to libFuzzer (`cargo fuzz run NAME`); the tests below run
//! the same targets through `driver`, `PAYWIRE_FUZZ_EXECUTIONS` inputs each (default 100,000) or
//! for `PAYWIRE_FUZZ_SECONDS` when it is set (`make fuzz`), and replay every saved regression.
//! docs/TESTING.md has the commands.

pub mod corpus;
pub mod driver;
pub mod targets;

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    use crate::{corpus, driver, targets};

    fn target(name: &str) -> fn(&[u8]) {
        targets::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
            .unwrap()
    }

    fn env_number(name: &str) -> Option<u64> {
        std::env::var(name).ok().and_then(|v| v.parse().ok())
    }

    /// Fuzzes `name` for a count of inputs, the same on a loaded machine as on a quiet one (a
    /// time budget could pass having tried almost nothing), or for PAYWIRE_FUZZ_SECONDS when
    /// set; the seed is printed so a failure can be replayed (PAYWIRE_FUZZ_SEED), and the
    /// failing input is saved under `artifacts/`.
    fn fuzz(name: &str) {
        let (budget, count) = match env_number("PAYWIRE_FUZZ_SECONDS") {
            Some(seconds) => (Duration::from_secs(seconds), u64::MAX),
            None => (
                Duration::MAX,
                env_number("PAYWIRE_FUZZ_EXECUTIONS").unwrap_or(100_000),
            ),
        };
        let started = Instant::now();
        let seed = env_number("PAYWIRE_FUZZ_SEED").unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
        let seeds = corpus::seeds(name);
        match driver::run(name, target(name), &seeds, seed, budget, count) {
            Ok(report) => println!(
                "{name}: {} executions in {:.1} s, PAYWIRE_FUZZ_SEED={}",
                report.executions,
                started.elapsed().as_secs_f64(),
                report.seed
            ),
            Err(crash) => panic!(
                "{name} failed (PAYWIRE_FUZZ_SEED={seed}): {}\ninput saved to {:?}; \
                 once fixed, move it to regressions/{name}/",
                crash.message, crash.saved
            ),
        }
    }

    #[test]
    fn every_target_has_a_cargo_fuzz_entry_point() {
        for (name, _) in targets::ALL {
            assert!(corpus::root()
                .join("fuzz_targets")
                .join(format!("{name}.rs"))
                .is_file());
        }
    }

    #[test]
    fn regressions_pass() {
        let mut replayed = 0;
        for (name, check) in targets::ALL {
            for (path, input) in corpus::regressions(name) {
                if let Err(crash) = driver::execute(name, check, &input) {
                    panic!("{} fails again: {}", path.display(), crash.message);
                }
                replayed += 1;
            }
        }
        // A missing or moved regressions/ directory reads as no inputs, not as an error.
        assert!(
            replayed > 0,
            "no regression replayed: is {} there?",
            corpus::root().join("regressions").display()
        );
    }

    /// Writes every target's seeds into `corpus/<target>/`, where cargo-fuzz starts from
    /// (scripts/fuzz.sh runs it first).
    #[test]
    #[ignore = "writes files; run by scripts/fuzz.sh"]
    fn export_seeds() {
        for (name, _) in targets::ALL {
            let directory = corpus::root().join("corpus").join(name);
            std::fs::create_dir_all(&directory).unwrap();
            for (index, seed) in corpus::initial_seeds(name).iter().enumerate() {
                std::fs::write(directory.join(format!("seed-{index:03}")), seed).unwrap();
            }
        }
    }

    #[test]
    fn samples_are_found() {
        assert!(
            corpus::samples().len() >= 4,
            "tests/data/iso20022 samples missing"
        );
    }

    #[test]
    fn fuzz_frame_decoder() {
        fuzz("frame_decoder");
    }

    #[test]
    fn fuzz_parse_answer() {
        fuzz("parse_answer");
    }

    #[test]
    fn fuzz_parse_pacs008_summary() {
        fuzz("parse_pacs008_summary");
    }

    #[test]
    fn fuzz_answer_round_trip() {
        fuzz("answer_round_trip");
    }

    #[test]
    fn fuzz_pacs008_round_trip() {
        fuzz("pacs008_round_trip");
    }
}
