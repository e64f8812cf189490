//! The crash-consistency harness: each command that writes state is killed
//! with SIGKILL at reproducible points of its run, and after each kill
//!
//! 1. what a reader finds is the old state or the new one (compared with
//!    two reference states taken from an uninterrupted run), and
//! 2. running the command again, with no manual step, ends in the new one.
//!
//! Kill points: one uninterrupted reference run is timed (T); seed `s`
//! then kills its run after `T × u(s)`, `u` a fixed pseudo-random sequence
//! in [0, 1.2), so the points spread over the whole run, start-up and exit
//! included. The seeds are fixed: a failure names its seed and delay.
//!
//! Run it longer locally (more seeds per command; default 10):
//!
//! ```sh
//! PATCHKIT_CRASH_SEEDS=200 cargo test -p patchkit --test e2e crash:: -- --nocapture
//! ```
//!
//! **Adding a command** (e.g. the mirror's cache writes) is one more
//! [`Scenario`] in a `#[test]` below: `prepare` gives seed `n` its own copy
//! of the inputs and returns the arguments to run, `observe` returns what a
//! reader sees of that copy (a string; temporary files left by a kill are
//! not state and must be left out).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::apply::sha256;
use crate::home::add_other_record;
use crate::inplace::{many_file_setup, NEW_PM};
use crate::support::server::PubRepo;
use crate::support::*;

/// One command under test.
pub struct Scenario<'a> {
    /// Its name in messages.
    pub name: &'static str,
    /// Gives seed `n` (0 is the reference run) its own copy of the inputs
    /// and returns the arguments of the command to kill.
    pub prepare: Box<dyn Fn(usize) -> Vec<String> + 'a>,
    /// What a reader sees of seed `n`'s state. May run a reader command
    /// (which may recover from the crash, as any next run would).
    pub observe: Box<dyn Fn(usize) -> String + 'a>,
    /// Where the command runs.
    pub cwd: PathBuf,
}

/// Seed numbers of the calibration runs (their copies are never killed).
const CALIBRATE: usize = 100_000;

/// Number of kill points per command.
fn seeds() -> usize {
    std::env::var("PATCHKIT_CRASH_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

/// The fixed pseudo-random fraction of seed `s`, in [0, 1.2).
fn fraction(s: usize) -> f64 {
    let x = (s as u64 + 1)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((x >> 33) as f64 / (1u64 << 31) as f64) * 1.2
}

fn run_args(cwd: &Path, args: &[String]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args);
    run_cmd(cmd, cwd)
}

/// Runs the harness on one scenario; returns a one-line summary.
pub fn run(s: &Scenario<'_>) -> String {
    let args = (s.prepare)(0);
    let old = (s.observe)(0);
    let start = Instant::now();
    let out = run_args(&s.cwd, &args);
    let mut times = vec![start.elapsed()];
    assert_eq!(
        out.code, 0,
        "{}: reference run failed:\n{}",
        s.name, out.stderr
    );
    let new = (s.observe)(0);
    // T is the median of three uninterrupted runs (the machine is shared
    // with the rest of the suite).
    for n in [CALIBRATE, CALIBRATE + 1] {
        let args = (s.prepare)(n);
        let start = Instant::now();
        assert_eq!(
            run_args(&s.cwd, &args).code,
            0,
            "{}: calibration run",
            s.name
        );
        times.push(start.elapsed());
    }
    times.sort();
    let total = times[1];
    assert_ne!(old, new, "{}: the reference run changed nothing", s.name);
    let (mut killed, mut saw_old, mut saw_new) = (0, 0, 0);
    for n in 1..=seeds() {
        let args = (s.prepare)(n);
        let delay = total.mul_f64(fraction(n));
        let mut child = Command::new(bin())
            .args(&args)
            .current_dir(&s.cwd)
            .env_remove("PATCHKIT_HOME")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + delay;
        let mut ended = false;
        while Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                ended = true;
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        if !ended {
            // SIGKILL: no destructor, no handler, like a power cut for the
            // process (not for the page cache).
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
        let seen = (s.observe)(n);
        assert!(
            seen == old || seen == new,
            "{}: seed {n} (killed after {delay:?} of {total:?}): the state is neither the old \
             nor the new one:\n{seen}\nold:\n{old}\nnew:\n{new}",
            s.name
        );
        if seen == old {
            saw_old += 1;
        } else {
            saw_new += 1;
        }
        let again = run_args(&s.cwd, &args);
        assert_eq!(
            again.code, 0,
            "{}: seed {n}: the next run did not recover:\n{}",
            s.name, again.stderr
        );
        assert_eq!(
            (s.observe)(n),
            new,
            "{}: seed {n}: the next run did not reach the new state",
            s.name
        );
    }
    let line = format!(
        "{}: {} kill points over a {total:?} run: {killed} killed midway, {saw_old} left the old \
         state, {saw_new} the new one; every next run recovered",
        s.name,
        seeds()
    );
    eprintln!("crash harness: {line}");
    line
}

/// Every file below `dir` and its sha256, leaving out temporary files a
/// kill may leave (`.patchkit-tmp-*`, never state).
fn files_of(dir: &Path) -> String {
    let mut out = String::new();
    for (p, data) in snapshot_dir(dir) {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with(".patchkit-tmp-") {
            continue;
        }
        out.push_str(&format!("{} {}\n", p.display(), sha256(&data)));
    }
    out
}

#[test]
fn crash_apply_to_output_dir() {
    let env = TestEnv::new();
    let dist = many_file_setup(&env);
    let tb = dist.tarball(&env.path("in"));
    let tb = tb.to_str().unwrap().to_string();
    let home = env.home();
    let s = Scenario {
        name: "apply -o",
        cwd: env.dir().to_path_buf(),
        prepare: Box::new(|n| {
            let out = env.path(&format!("out{n}"));
            vec![
                "--home".into(),
                home.display().to_string(),
                "apply".into(),
                "--source".into(),
                "patches".into(),
                "-o".into(),
                out.display().to_string(),
                tb.clone(),
            ]
        }),
        observe: Box::new(|n| files_of(&env.path(&format!("out{n}")))),
    };
    run(&s);
}

#[test]
fn crash_apply_in_place() {
    let env = TestEnv::new();
    let dist = many_file_setup(&env);
    let home = env.home();
    let journals = std::cell::Cell::new(0);
    let s = Scenario {
        name: "apply DIR",
        cwd: env.dir().to_path_buf(),
        prepare: Box::new(|n| {
            let dir = dist.unpack(&env.path(&format!("build{n}")));
            vec![
                "--home".into(),
                home.display().to_string(),
                "apply".into(),
                "--source".into(),
                "patches".into(),
                dir.display().to_string(),
            ]
        }),
        // What a reader sees: `check` refuses a directory with a pending
        // journal, so the reader is the next `apply`'s recovery; before
        // it, the record must never stand beside unpatched code.
        observe: Box::new(|n| {
            let dir = env.path(&format!("build{n}/Foo-1.0"));
            if dir.join(".patchkit/applied.json").exists() {
                for e in std::fs::read_dir(dir.join("lib")).unwrap() {
                    let p = e.unwrap().path();
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    if name.ends_with(".pm") {
                        assert_eq!(
                            std::fs::read_to_string(&p).unwrap(),
                            NEW_PM,
                            "seed {n}: the record is in place before {p:?}"
                        );
                    }
                }
            }
            if dir.join(".patchkit/journal").exists() || dir.join(".patchkit/journal.tmp").exists()
            {
                // Recover the way the next run does, then look.
                journals.set(journals.get() + 1);
                let out = env.run(&["apply", "--source", "patches", dir.to_str().unwrap()]);
                assert_eq!(out.code, 0, "seed {n}: recovery failed:\n{}", out.stderr);
            }
            files_of(&dir)
        }),
    };
    // The reference directory is build0 (unpacked by prepare(0)).
    let line = run(&s);
    eprintln!(
        "crash harness: apply DIR: {} kills left a journal that the next apply resolved",
        journals.get()
    );
    assert!(line.contains("recovered"));
}

#[test]
fn crash_update() {
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    crash_update_of(&env, &repo);
}

/// The same with hash bins and their packs: the update after one new
/// record rebuilds the changed bins' packs and prunes the old ones.
#[test]
fn crash_update_with_packs() {
    let env = TestEnv::new();
    let repo = crate::bins::big_repo(&env, 40);
    crash_update_of(&env, &repo);
}

fn crash_update_of(env: &TestEnv, repo: &PubRepo<'_>) {
    env.run_ok(&["repo", "add", "main", "pub", "--root", &repo.root1()]);
    env.run_ok(&["update"]);
    add_other_record(env, "PK-NEW");
    repo.publish(&[]);
    let tb = repo.dist();
    let template = env.home();
    let home_of = |n: usize| env.path(&format!("home{n}"));
    let s = Scenario {
        name: "update",
        cwd: env.dir().to_path_buf(),
        prepare: Box::new(|n| {
            copy_tree(&template, &home_of(n));
            vec![
                "--home".into(),
                home_of(n).display().to_string(),
                "update".into(),
            ]
        }),
        // A reader (`check --offline`) must work and say which version it
        // used; then the files that make the trusted state.
        observe: Box::new(|n| {
            let mut cmd = Command::new(bin());
            cmd.arg("--home")
                .arg(home_of(n))
                .args(["check", "--offline", "--json"])
                .arg(&tb);
            let out = run_cmd(cmd, env.dir());
            assert_eq!(out.code, 0, "seed {n}: --offline failed:\n{}", out.stderr);
            let version = out.json()["repository"]["version"].clone();
            let dir = home_of(n).join("repos/main");
            let mut seen = format!("offline sees targets version {version}\n");
            for f in [
                "trusted/root.json",
                "trusted/timestamp.json",
                "trusted/snapshot.json",
                "trusted/targets.json",
                "root.sha256",
            ] {
                let digest = std::fs::read(dir.join(f)).map(|b| sha256(&b));
                seen.push_str(&format!("{f} {}\n", digest.unwrap_or_default()));
            }
            seen
        }),
    };
    run(&s);
}

#[test]
fn crash_publish() {
    let env = TestEnv::new();
    let _repo = PubRepo::new(&env, &[]);
    add_other_record(&env, "PK-NEW");
    let out_of = |n: usize| env.path(&format!("pub{n}"));
    let s = Scenario {
        name: "publish",
        cwd: env.dir().to_path_buf(),
        prepare: Box::new(|n| {
            copy_tree(&env.path("pub"), &out_of(n));
            vec![
                "publish".into(),
                "--source".into(),
                "patches".into(),
                "--out".into(),
                out_of(n).display().to_string(),
                "--keys".into(),
                "keys/keys.toml".into(),
            ]
        }),
        // What a client sees: a fresh home pinned to root 1 updates from
        // the repository and reports the version it verified.
        observe: Box::new(|n| {
            let client = env.path(&format!("client{n}-{}", unique()));
            let run = |args: &[&str]| {
                let mut cmd = Command::new(bin());
                cmd.arg("--home").arg(&client).args(args);
                run_cmd(cmd, env.dir())
            };
            let root = out_of(n).join("metadata/1.root.json");
            let url = out_of(n);
            let added = run(&[
                "repo",
                "add",
                "main",
                url.to_str().unwrap(),
                "--root",
                root.to_str().unwrap(),
            ]);
            assert_eq!(added.code, 0, "{}", added.stderr);
            let updated = run(&["update"]);
            assert_eq!(
                updated.code, 0,
                "seed {n}: a client cannot update from the repository:\n{}",
                updated.stderr
            );
            let list = run(&["repo", "list", "--json"]);
            let doc = list.json();
            let repos = doc
                .get("repositories")
                .cloned()
                .unwrap_or_else(|| doc.clone());
            let first = repos.as_array().and_then(|a| a.first().cloned());
            format!(
                "a client verifies version {}",
                first.map_or(serde_json::Value::Null, |r| r["version"].clone())
            )
        }),
    };
    run(&s);
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn copy_tree(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else if ft.is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
    // Homes are checked for their mode: keep the template's.
    let mode = std::fs::metadata(from).unwrap().permissions();
    std::fs::set_permissions(to, mode).unwrap();
}
