//! Snapshots (insta) of what users read: `--help` of every command, and the
//! human and `--json` output of every reporting command (check, apply,
//! audit, sbom, log, key, repo, update, bundle, publish, new, diff, lint,
//! withdraw) on fixed scenes. Times, random key ids, ages and ids taken
//! from today's date are scrubbed. A change to any of them
//! shows up in review as a snapshot diff; accept it with
//! `INSTA_UPDATE=always cargo test -p patchkit --test e2e snapshots` (or
//! `cargo insta review`). The scratch directory is replaced by `[TMP]`.

use crate::audit::{foo_dist, source_with};
use crate::support::*;

fn scrub(env: &TestEnv, text: &str) -> String {
    text.replace(env.dir().to_str().unwrap(), "[TMP]")
}

/// Stdout, then stderr, of one run.
fn both(env: &TestEnv, out: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.code,
        scrub(env, &out.stdout),
        scrub(env, &out.stderr)
    )
}

#[test]
fn check_and_apply_output() {
    let env = TestEnv::new();
    source_with(&env, "");
    let a = foo_dist("1.0").tarball(&env.path("in"));
    let b = foo_dist("2.0").tarball(&env.path("in"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    insta::assert_snapshot!(
        "check_text",
        both(&env, &env.run(&["check", "--source", "patches", a, b]))
    );
    insta::assert_snapshot!(
        "check_json",
        both(
            &env,
            &env.run(&["check", "--source", "patches", "--json", a, b])
        )
    );
    insta::assert_snapshot!(
        "apply_text",
        both(
            &env,
            &env.run(&["apply", "--source", "patches", "-o", "out", a, b])
        )
    );
    let patched = env.path("out/Foo-Bar-1.0.tar.gz");
    let patched = patched.to_str().unwrap();
    insta::assert_snapshot!(
        "apply_again_text",
        both(
            &env,
            &env.run(&["apply", "--source", "patches", "-o", "out2", patched])
        )
    );
    insta::assert_snapshot!(
        "audit_text",
        both(
            &env,
            &env.run(&["audit", "--source", "patches", patched, b])
        )
    );
    insta::assert_snapshot!(
        "audit_json",
        both(
            &env,
            &env.run(&["audit", "--source", "patches", "--json", patched, b])
        )
    );
}

/// Scrubs what changes from run to run: the scratch directory, times,
/// random key ids, ages, the sbom serial number and the host name (in the
/// log).
fn scrub_all(env: &TestEnv, text: &str) -> String {
    let text = scrub(env, text);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let text = match host.trim() {
        "" => text,
        h => text
            .replace(&format!("\"host\": \"{h}\""), "\"host\": \"[HOST]\"")
            .replace(&format!(" on {h}"), " on [HOST]"),
    };
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        out.push_str(&scrub_line(line));
        out.push('\n');
    }
    out
}

fn scrub_line(line: &str) -> String {
    let mut s = line.to_string();
    // TUF times and log times: 2026-12-04T19:32:11Z.
    let bytes: Vec<char> = s.chars().collect();
    let mut res = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest: String = bytes[i..bytes.len().min(i + 20)].iter().collect();
        if rest.len() == 20
            && rest.as_bytes()[4] == b'-'
            && rest.as_bytes()[10] == b'T'
            && rest.ends_with('Z')
            && rest[..4].bytes().all(|b| b.is_ascii_digit())
        {
            res.push_str("[TIME]");
            i += 20;
        } else {
            res.push(bytes[i]);
            i += 1;
        }
    }
    s = res;
    // Key ids and other 64-hex-digit values that depend on random keys.
    let mut res = String::new();
    let mut run = String::new();
    for c in s.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() {
            run.push(c);
        } else {
            if run.len() == 64 {
                res.push_str("[HEX64]");
            } else {
                res.push_str(&run);
            }
            run.clear();
            res.push(c);
        }
    }
    res.pop();
    // Ids and dates that `new` takes from today's date.
    res = scrub_dates(&res);
    res = res.replace("less than a minute ago", "[AGE]");
    if let Some(i) = res.find("urn:uuid:") {
        res.replace_range(i + 9..(i + 45).min(res.len()), "[UUID]");
    }
    res
}

fn both_scrubbed(env: &TestEnv, out: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.code,
        scrub_all(env, &out.stdout),
        scrub_all(env, &out.stderr)
    )
}

/// `--help` of the binary and of every command and subcommand, in one
/// snapshot per command (the same text docs/cli.md is generated from).
#[test]
fn help_of_every_command() {
    let env = TestEnv::new();
    let commands: &[&[&str]] = &[
        &[],
        &["check"],
        &["apply"],
        &["key"],
        &["key", "generate"],
        &["sign"],
        &["publish"],
        &["repo"],
        &["repo", "add"],
        &["repo", "list"],
        &["repo", "remove"],
        &["update"],
        &["config"],
        &["bundle"],
        &["bundle", "create"],
        &["audit"],
        &["sbom"],
        &["log"],
        &["new"],
        &["diff"],
        &["import"],
        &["lint"],
        &["withdraw"],
        &["serve"],
        &["mirror"],
        &["export"],
        &["export", "csaf"],
        &["export", "distroprefs"],
        &["export", "quilt"],
        &["completions"],
        &["man"],
    ];
    for cmd in commands {
        let mut args = cmd.to_vec();
        args.push("--help");
        let out = env.run(&args);
        let name = if cmd.is_empty() {
            "help".to_string()
        } else {
            format!("help_{}", cmd.join("_"))
        };
        insta::assert_snapshot!(name, both(&env, &out));
    }
}

/// The signed-repository commands, human and `--json`: key generate, repo
/// add/list, update, check with the signed repository, bundle create, log,
/// sbom, repo remove.
#[test]
fn repository_commands_output() {
    use crate::support::server::PubRepo;
    let env = TestEnv::new();
    let repo = PubRepo::new(&env, &[]);
    let root = repo.root1();
    let url = repo.out();
    let url = url.to_str().unwrap();
    let mut shots = Vec::new();
    let mut shot = |name: &str, args: &[&str]| {
        let out = env.run(args);
        shots.push((name.to_string(), both_scrubbed(&env, &out)));
    };
    shot("key_generate_text", &["key", "generate", "k/extra"]);
    shot(
        "key_generate_json",
        &["--json", "key", "generate", "k/extra2"],
    );
    shot(
        "repo_add_text",
        &["repo", "add", "main", url, "--root", &root],
    );
    shot("repo_list_text", &["repo", "list"]);
    shot("repo_list_json", &["--json", "repo", "list"]);
    shot("update_text", &["update"]);
    shot("update_json", &["--json", "update"]);
    let dist = repo.dist();
    let dist = dist.to_str().unwrap();
    shot("check_signed_text", &["check", dist]);
    shot("check_offline_text", &["check", "--offline", dist]);
    shot("apply_signed_json", &["--json", "apply", "-o", "out", dist]);
    shot("bundle_create_text", &["bundle", "create", "b.tar"]);
    shot(
        "bundle_create_json",
        &["--json", "bundle", "create", "b2.tar"],
    );
    shot(
        "check_bundle_text",
        &["check", "--bundle", "b.tar", "--root", &root, dist],
    );
    shot("log_text", &["log"]);
    shot("log_json", &["--json", "log"]);
    let patched = env.path("out/Foo-1.0.tar.gz");
    shot("sbom_json", &["sbom", patched.to_str().unwrap()]);
    shot(
        "publish_again_text",
        &[
            "publish",
            "--source",
            "patches",
            "--out",
            "pub",
            "--keys",
            "keys/keys.toml",
        ],
    );
    shot(
        "publish_again_json",
        &[
            "--json",
            "publish",
            "--source",
            "patches",
            "--out",
            "pub",
            "--keys",
            "keys/keys.toml",
        ],
    );
    shot("repo_remove_json", &["--json", "repo", "remove", "main"]);
    shot("check_no_repository", &["check", dist]);
    for (name, text) in shots {
        insta::assert_snapshot!(name, text);
    }
}

/// The authoring commands, human and `--json`: new, diff, import, lint,
/// withdraw.
#[test]
fn authoring_commands_output() {
    let env = TestEnv::new();
    source_with(&env, "");
    let a = foo_dist("1.0").unpack(&env.path("orig"));
    let edited = env.path("edited");
    crate::support::server::copy_dir(&a, &edited);
    std::fs::write(
        edited.join("lib/Foo.pm"),
        "package Foo;\nsub safe { 1 }\n1;\n",
    )
    .unwrap();
    let (a, e) = (
        a.to_str().unwrap().to_string(),
        edited.to_str().unwrap().to_string(),
    );
    let mut shots = Vec::new();
    let mut shot = |name: &str, args: &[&str]| {
        let out = env.run(args);
        shots.push((name.to_string(), both_scrubbed(&env, &out)));
    };
    shot(
        "new_text",
        &[
            "new",
            "--source",
            "patches",
            "--versions",
            "<= 1.0",
            "--title",
            "Foo is unsafe",
            "--alias",
            "CVE-2099-0001",
            "Foo-Bar",
        ],
    );
    shot(
        "new_json",
        &[
            "--json",
            "new",
            "--source",
            "patches",
            "--versions",
            "<= 1.0",
            "--title",
            "Foo is unsafe again",
            "Foo-Bar",
        ],
    );
    shot("lint_text", &["lint", "--source", "patches"]);
    shot("lint_json", &["--json", "lint", "--source", "patches"]);
    shot(
        "withdraw_text",
        &[
            "withdraw",
            "--source",
            "patches",
            "PK-0900",
            "--reason",
            "fixed upstream",
        ],
    );
    shot(
        "withdraw_json",
        &[
            "--json",
            "withdraw",
            "--source",
            "patches",
            "PK-0001",
            "--reason",
            "superseded",
        ],
    );
    shot(
        "diff_text",
        &["diff", "--source", "patches", "--record", "PK-0001", &a, &e],
    );
    shot(
        "diff_json",
        &[
            "--json", "diff", "--source", "patches", "--record", "PK-0001", &a, &e,
        ],
    );
    for (name, text) in shots {
        insta::assert_snapshot!(name, text);
    }
}

/// What the feed gives the vulnerability indexes: `sbom --vex` of a
/// patched and a pristine tarball, `export csaf` (text and `--json`) and
/// one advisory it wrote.
#[test]
fn feed_exports_output() {
    let env = TestEnv::new();
    source_with(
        &env,
        "kind = \"backport\"\nfixed_in = \"1.5\"\nseverity = \"high\"\n",
    );
    let a = foo_dist("1.0").tarball(&env.path("in"));
    let a = a.to_str().unwrap();
    env.run_ok(&["apply", "--source", "patches", "-o", "out", a]);
    let patched = env.path("out/Foo-Bar-1.0.tar.gz");
    let mut shots = Vec::new();
    let mut shot = |name: &str, args: &[&str]| {
        let out = env.run(args);
        shots.push((name.to_string(), both_scrubbed(&env, &out)));
    };
    shot(
        "sbom_vex_patched_json",
        &[
            "sbom",
            "--vex",
            "--source",
            "patches",
            patched.to_str().unwrap(),
        ],
    );
    shot(
        "sbom_vex_pristine_json",
        &["sbom", "--vex", "--source", "patches", a],
    );
    shot(
        "export_csaf_text",
        &["export", "csaf", "--source", "patches", "-o", "csaf"],
    );
    shot(
        "export_csaf_json",
        &[
            "--json", "export", "csaf", "--source", "patches", "-o", "csaf2",
        ],
    );
    let doc = std::fs::read_to_string(env.path("csaf/pk-0001.json")).unwrap();
    shots.push(("export_csaf_pk_0001".into(), scrub_all(&env, &doc)));
    for (name, text) in shots {
        insta::assert_snapshot!(name, text);
    }
}

/// `PK-2026-0001` → `PK-[YEAR]-0001`, `2026-12-04` → `[DATE]`: what `new`
/// and `withdraw` take from the local clock.
fn scrub_dates(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    let digits = |from: usize, n: usize| {
        from + n <= c.len() && c[from..from + n].iter().all(|d| d.is_ascii_digit())
    };
    let mut out = String::new();
    let mut i = 0;
    while i < c.len() {
        if i + 3 <= c.len()
            && c[i..i + 3] == ['P', 'K', '-']
            && digits(i + 3, 4)
            && c.get(i + 7) == Some(&'-')
        {
            out.push_str("PK-[YEAR]");
            i += 7;
        } else if digits(i, 4)
            && c.get(i + 4) == Some(&'-')
            && digits(i + 5, 2)
            && c.get(i + 7) == Some(&'-')
            && digits(i + 8, 2)
        {
            out.push_str("[DATE]");
            i += 10;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// `mirror`, `export distroprefs`, `export quilt` (human and `--json`) and
/// `serve`'s first line and access log, on the CPAN mirror scene of
/// `serve.rs` with the unsigned source tree (so nothing random is signed).
#[test]
fn mirror_export_and_serve_output() {
    use crate::support::cpan::*;
    let env = TestEnv::new();
    patch_source(&env, false);
    standard_upstream(&env);
    let src = ["--source", "patches"];
    let run = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend_from_slice(&src);
        both(&env, &env.run(&a))
    };
    insta::assert_snapshot!("mirror_text", run(&["mirror", "upstream", "static"]));
    insta::assert_snapshot!(
        "mirror_again_json",
        run(&["mirror", "--json", "upstream", "static"])
    );
    let tarball = format!("upstream/{AUTHOR_DIR}/Acme-Buggy-1.0.tar.gz");
    insta::assert_snapshot!(
        "export_distroprefs_text",
        run(&["export", "distroprefs", "prefs", "upstream"])
    );
    insta::assert_snapshot!(
        "export_distroprefs_json",
        run(&["export", "distroprefs", "--json", "prefs2", "upstream"])
    );
    insta::assert_snapshot!(
        "export_quilt_text",
        run(&["export", "quilt", &tarball, "debian/patches"])
    );
    insta::assert_snapshot!(
        "export_quilt_json",
        run(&["export", "quilt", "--json", &tarball, "debian/patches2"])
    );
    let serve = Serve::start(
        &env,
        &[
            "--source",
            "patches",
            "--upstream",
            "upstream",
            "--cache",
            "serve-cache",
        ],
    );
    let port = serve.url.rsplit(':').next().unwrap().to_string();
    for path in [
        format!("{AUTHOR_DIR}/Acme-Buggy-1.0.tar.gz"),
        format!("{AUTHOR_DIR}/Acme-Buggy-1.0.tar.gz"),
        format!("{AUTHOR_DIR}/CHECKSUMS"),
        format!("{AUTHOR_DIR}/Acme-Dep-1.0.tar.gz"),
        "modules/02packages.details.txt.gz".into(),
        "authors/id/T/TE/TESTER/Nope-1.0.tar.gz".into(),
    ] {
        serve.get(&path);
    }
    // Peer ports and times change from run to run.
    let log: Vec<String> = serve
        .log()
        .lines()
        .map(|l| {
            let mut w: Vec<String> = l.split(' ').map(str::to_string).collect();
            if w.first().is_some_and(|p| p.starts_with("127.0.0.1:")) {
                w[0] = "127.0.0.1:[PORT]".into();
                if let Some(t) = w.get_mut(7) {
                    *t = "[TIME]".into();
                }
            }
            w.join(" ")
        })
        .collect();
    insta::assert_snapshot!(
        "serve_log",
        scrub(&env, &log.join("\n")).replace(&port, "[PORT]")
    );
}
