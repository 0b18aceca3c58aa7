//! Where fuzz inputs come from and where failures go.
//!
//! Seeds: the official ISO 20022 samples in `tests/data/iso20022/` (framed, for the decoder),
//! every file in `regressions/<target>/` and in `corpus/<target>/` (what cargo-fuzz has
//! gathered, when it has run here). Failures: `artifacts/<target>/crash-<hash>`, as cargo-fuzz
//! names them; a fixed one is moved to `regressions/<target>/` and replayed by every test run.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use wire::fuzzing::Framing;

use crate::driver::Rng;

/// The fuzz crate's directory (`rust/fuzz`).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The official sample documents shipped with the repository.
pub fn samples() -> Vec<Vec<u8>> {
    files(&root().join("../../tests/data/iso20022"))
        .into_iter()
        .filter(|(path, _)| path.extension().is_some_and(|e| e == "xml"))
        .map(|(_, bytes)| bytes)
        .collect()
}

/// The regression inputs of `target`, with their paths.
pub fn regressions(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    files(&root().join("regressions").join(target))
}

/// Everything a run of `target` starts from: the initial seeds and what cargo-fuzz gathered.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mut seeds = initial_seeds(target);
    seeds.extend(
        files(&root().join("corpus").join(target))
            .into_iter()
            .map(|(_, b)| b),
    );
    seeds
}

/// The seeds the repository holds: regressions, and samples or blobs depending on the target.
pub fn initial_seeds(target: &str) -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = regressions(target).into_iter().map(|(_, b)| b).collect();
    match target {
        "frame_decoder" => seeds.extend(framed_samples()),
        "parse_answer" | "parse_pacs008_summary" => seeds.extend(samples()),
        // Structured targets read their fields from any bytes: random blobs are good seeds.
        _ => {
            let mut rng = Rng::new(0x5eed);
            for len in [16usize, 64, 256, 1024, 4096] {
                seeds.push((0..len).map(|_| rng.next_u64() as u8).collect());
            }
        }
    }
    seeds
}

/// The samples framed in each header form, behind a few bytes the decoder target reads its
/// set-up from (framing, limit, chunk sizes).
fn framed_samples() -> Vec<Vec<u8>> {
    let samples = samples();
    let mut seeds = Vec::new();
    for (index, framing) in [Framing::U32Be, Framing::U16Be, Framing::Ascii4]
        .into_iter()
        .enumerate()
    {
        let mut seed = vec![index as u8, 0x4e, 0x20, 4, 3, 17, 1, 60];
        for sample in samples.iter().filter(|s| s.len() <= 9999) {
            for payload in [&sample[..], b""] {
                let start = seed.len();
                seed.resize(start + framing.framed_len(payload.len()).unwrap(), 0);
                framing.encode_into(payload, &mut seed[start..]);
            }
        }
        seeds.push(seed);
    }
    seeds
}

/// Writes a failing input to `artifacts/<target>/crash-<hash>`.
pub fn save_artifact(target: &str, input: &[u8]) -> io::Result<PathBuf> {
    let directory = root().join("artifacts").join(target);
    fs::create_dir_all(&directory)?;
    let path = directory.join(format!("crash-{:016x}", fnv1a(input)));
    fs::write(&path, input)?;
    Ok(path)
}

fn files(directory: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = fs::read_dir(directory) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| fs::read(&p).ok().map(|b| (p, b)))
        .collect()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
