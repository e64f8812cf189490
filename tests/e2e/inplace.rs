//! `apply DIR` in place against a hostile file system and a crash: a
//! folder swapped for a symlink while apply runs, and `kill -9` midway.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::apply::sha256;
use crate::support::*;

/// Files in the many-file dist: enough that staging them (each synced)
/// takes long enough for the other thread to act in the middle.
pub const MANY: usize = 120;

pub const OLD_PM: &str = "package F;\nsub f { 1 }\n1;\n";
pub const NEW_PM: &str = "package F;\nsub f { 2 }\n1;\n";

/// `Foo-1.0` with `lib/F<i>.pm` for i in 0..MANY, and one record that
/// changes every one of them (written in `env/patches`).
pub fn many_file_setup(env: &TestEnv) -> DistBuilder {
    let mut dist = DistBuilder::new("Foo", "1.0");
    let mut patch = String::new();
    for i in 0..MANY {
        let path = format!("lib/F{i:03}.pm");
        dist = dist.file(&path, OLD_PM);
        patch.push_str(&format!(
            "--- a/{path}\n+++ b/{path}\n@@ -1,3 +1,3 @@\n package F;\n-sub f {{ 1 }}\n+sub f {{ 2 }}\n 1;\n"
        ));
    }
    SourceBuilder::new(env.path("patches")).add("PK-MANY", "Foo", "1.0", &patch);
    dist
}

/// Whether any staged file of an apply exists in `dir`.
fn staging_started(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut it| {
        it.any(|e| {
            e.is_ok_and(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".patchkit-new-")
            })
        })
    })
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|it| {
            it.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A folder of the dist is swapped for a symlink to a folder outside it
/// while apply writes, again and again: nothing may land outside.
#[test]
fn apply_dir_refuses_symlink_swapped_in() {
    let env = TestEnv::new();
    let dist = many_file_setup(&env);
    let outside = env.path("outside");
    std::fs::create_dir_all(&outside).unwrap();
    for round in 0..6 {
        let dir = dist.unpack(&env.path(&format!("build{round}")));
        let lib = dir.join("lib");
        let hidden = dir.join("lib.real");
        let stop = Arc::new(AtomicBool::new(false));
        let swapper = {
            let (stop, lib, hidden, outside) =
                (stop.clone(), lib.clone(), hidden.clone(), outside.clone());
            std::thread::spawn(move || {
                // Wait until apply is writing into lib/, then swap it for
                // a symlink and back, as fast as possible.
                let start = Instant::now();
                while !staging_started(&lib) {
                    if stop.load(Ordering::Relaxed) || start.elapsed() > Duration::from_secs(20) {
                        return;
                    }
                    std::hint::spin_loop();
                }
                while !stop.load(Ordering::Relaxed) {
                    if std::fs::rename(&lib, &hidden).is_ok() {
                        std::os::unix::fs::symlink(&outside, &lib).unwrap();
                        std::thread::sleep(Duration::from_micros(300));
                        std::fs::remove_file(&lib).unwrap();
                        std::fs::rename(&hidden, &lib).unwrap();
                    }
                    std::thread::sleep(Duration::from_micros(100));
                }
            })
        };
        let out = env.run(&["apply", "--source", "patches", dir.to_str().unwrap()]);
        stop.store(true, Ordering::Relaxed);
        swapper.join().unwrap();
        assert_eq!(
            listing(&outside),
            Vec::<String>::new(),
            "round {round}: apply wrote outside the distribution (exit {}):\n{}",
            out.code,
            out.stderr
        );
    }
}

/// Runs `apply DIR` and kills it with SIGKILL as soon as `ready` says so
/// (or after `deadline`); returns whether it was killed before it ended.
pub fn apply_and_kill(
    env: &TestEnv,
    dir: &Path,
    deadline: Duration,
    ready: impl Fn() -> bool,
) -> bool {
    let mut child = Command::new(bin())
        .arg("--home")
        .arg(env.home())
        .args(["apply", "--source", "patches"])
        .arg(dir)
        .current_dir(env.dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if ready() || start.elapsed() >= deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
        std::hint::spin_loop();
    }
}

/// Every file below `dir` with the sha256 of its bytes (short to print).
pub fn digest_dir(dir: &Path) -> Vec<(PathBuf, String)> {
    snapshot_dir(dir)
        .into_iter()
        .map(|(p, data)| (p, sha256(&data)))
        .collect()
}

/// Every `lib/F*.pm` of `dir` with its content.
fn lib_contents(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out: Vec<_> = std::fs::read_dir(dir.join("lib"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pm"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    out.sort();
    out
}

/// `kill -9` right when the record appears: the code must already be in
/// place, and the next run must end with every file fixed, never "already
/// applied" over vulnerable code.
#[test]
fn apply_dir_killed_after_the_record_keeps_code_and_record_together() {
    let env = TestEnv::new();
    let dist = many_file_setup(&env);
    for round in 0..4 {
        let dir = dist.unpack(&env.path(&format!("build{round}")));
        let record = dir.join(".patchkit/applied.json");
        apply_and_kill(&env, &dir, Duration::from_secs(30), || record.exists());
        if record.exists() && !dir.join(".patchkit/journal").exists() {
            for (p, text) in lib_contents(&dir) {
                assert_eq!(text, NEW_PM, "round {round}: record written before {p:?}");
            }
        }
        let out = env.run_ok(&["apply", "--source", "patches", dir.to_str().unwrap()]);
        for (p, text) in lib_contents(&dir) {
            assert_eq!(
                text, NEW_PM,
                "round {round}: {p:?} left unpatched after the next run:\n{}{}",
                out.stdout, out.stderr
            );
        }
        assert!(record.exists());
    }
}

/// `kill -9` while files are being staged: the next run undoes the
/// interrupted apply and applies again, leaving no temporary file.
#[test]
fn apply_dir_killed_while_staging_is_recovered_by_next_run() {
    let env = TestEnv::new();
    let dist = many_file_setup(&env);
    let reference = dist.unpack(&env.path("reference"));
    env.run_ok(&["apply", "--source", "patches", reference.to_str().unwrap()]);
    let want = digest_dir(&reference);
    for round in 0..3 {
        let dir = dist.unpack(&env.path(&format!("build{round}")));
        let lib = dir.join("lib");
        let killed = apply_and_kill(&env, &dir, Duration::from_secs(30), || {
            staging_started(&lib)
        });
        assert!(killed, "round {round}: apply ended before it was killed");
        env.run_ok(&["apply", "--source", "patches", dir.to_str().unwrap()]);
        assert_eq!(digest_dir(&dir), want, "round {round}");
    }
}

/// A distribution that ships its own `.patchkit/journal` naming a path
/// outside it: the journal is refused, not followed, and nothing outside
/// changes.
#[test]
fn apply_dir_refuses_a_journal_naming_a_path_outside() {
    let env = TestEnv::new();
    let dist = many_file_setup(&env);
    let victim = env.path("victim.txt");
    std::fs::write(&victim, "keep\n").unwrap();
    let dir = dist
        .clone()
        .file(
            ".patchkit/journal",
            r#"{"format":"patchkit-apply-journal","version":1,"state":"committed",
                "patchkit_dir_created":false,"mkdirs":[],
                "steps":[{"path":"../../victim.txt","backup":".patchkit-old-x"}]}"#,
        )
        .unpack(&env.path("build"));
    let out = env.run_code(&["apply", "--source", "patches", dir.to_str().unwrap()], 2);
    assert!(out.stderr.contains(".patchkit/journal"), "{}", out.stderr);
    assert!(out.stderr.contains("never writes"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n");
    // `check` refuses the directory too, naming the pending journal.
    let out = env.run_code(&["check", "--source", "patches", dir.to_str().unwrap()], 2);
    assert!(out.stderr.contains("interrupted apply"), "{}", out.stderr);
}
