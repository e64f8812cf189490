//! Load on a real `serve` over loopback, bounded in time: 200 concurrent
//! clients for 10 seconds, each fetching the patched tarball, an unpatched
//! one, CHECKSUMS and an index in turn, starting together on a cold cache.
//! No request may be lost (every one answered 200), no tarball may differ
//! from what the CHECKSUMS served beside it says, and the patched tarball
//! must have been built exactly once. A correctness test under load, not a
//! benchmark: it prints the request count but asserts no speed.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::support::cpan::*;
use crate::support::*;

const CLIENTS: usize = 200;
const SECONDS: u64 = 10;

/// `'sha256' => '…'` of `file` in a CHECKSUMS text.
fn sha_of(sums: &str, file: &str) -> Option<String> {
    let start = sums.find(&format!("'{file}' => {{"))?;
    let entry = &sums[start..start + sums[start..].find('}')?];
    let at = entry.find("'sha256' => '")? + "'sha256' => '".len();
    Some(entry[at..at + 64].to_string())
}

#[test]
fn two_hundred_clients_for_ten_seconds_lose_nothing_and_build_once() {
    let env = TestEnv::new();
    patch_source(&env, false);
    signed_repo(&env, &[]);
    standard_upstream(&env);
    let serve = Serve::start(&env, &["--upstream", "upstream", "--workers", "32"]);
    let base = serve.url.clone();
    let paths = [
        format!("{AUTHOR_DIR}/Acme-Buggy-1.0.tar.gz"),
        format!("{AUTHOR_DIR}/CHECKSUMS"),
        format!("{AUTHOR_DIR}/Acme-Dep-1.0.tar.gz"),
        "modules/02packages.details.txt.gz".to_string(),
    ];
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen: Arc<Mutex<BTreeMap<String, BTreeMap<String, usize>>>> = Arc::default();
    let end = Instant::now() + Duration::from_secs(SECONDS) + Duration::from_secs(5);
    let threads: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (base, paths, barrier, failures, seen) = (
                base.clone(),
                paths.clone(),
                barrier.clone(),
                failures.clone(),
                seen.clone(),
            );
            std::thread::spawn(move || {
                barrier.wait();
                let stop = Instant::now() + Duration::from_secs(SECONDS);
                let mut n = 0usize;
                let mut sums = String::new();
                while Instant::now() < stop && Instant::now() < end {
                    let path = &paths[(i + n) % paths.len()];
                    n += 1;
                    let (status, body) = http_get(&format!("{base}/{path}"));
                    if status != 200 {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{path}: status {status}"));
                        continue;
                    }
                    if path.ends_with("CHECKSUMS") {
                        sums = String::from_utf8_lossy(&body).into_owned();
                    } else if path.contains("/TESTER/") && !sums.is_empty() {
                        let file = path.rsplit('/').next().unwrap();
                        let got = hex::encode(Sha256::digest(&body));
                        if sha_of(&sums, file).as_deref() != Some(got.as_str()) {
                            failures
                                .lock()
                                .unwrap()
                                .push(format!("{path}: bytes differ from CHECKSUMS"));
                        }
                    }
                    *seen
                        .lock()
                        .unwrap()
                        .entry(path.clone())
                        .or_default()
                        .entry(hex::encode(Sha256::digest(&body)))
                        .or_default() += 1;
                }
                n
            })
        })
        .collect();
    let total: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} failures, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let seen = seen.lock().unwrap();
    for (path, bodies) in seen.iter() {
        assert_eq!(bodies.len(), 1, "{path} was served with different bytes");
    }
    let log = serve.log();
    let requests = log.lines().filter(|l| l.contains(" GET /")).count();
    assert_eq!(requests, total, "one access-log line per request");
    // Built by a tarball request (`patched`) or for a CHECKSUMS (`built:`).
    let builds = log
        .lines()
        .filter(|l| {
            l.contains(" patched PK-2026-0001 ") || l.contains("built:Acme-Buggy-1.0.tar.gz")
        })
        .count();
    assert_eq!(builds, 1, "the patched tarball is built once");
    eprintln!("load: {total} requests by {CLIENTS} clients in {SECONDS} s, 0 failed, 1 build");
}
