//! `serve` end to end: a CPAN mirror the test lays out (author folders
//! with tarballs and a PGP-armoured CHECKSUMS, 02packages, 03modlist,
//! 01mailrc; Acme-Buggy needs Acme-Dep), a signed patch repository with
//! throwaway keys, and the real `patchkit serve` on a free loopback port.
//! The real installers (cpanm, CPAN.pm, Carton) install through it; each
//! installed library carries the fix and `audit` finds it genuine. No
//! network: everything is on 127.0.0.1.

use std::process::Command;

use crate::support::cpan::*;
use crate::support::*;

/// A home trusting a freshly published repository, an upstream mirror,
/// and `serve` in front of it.
fn scene(env: &TestEnv, serve_args: &[&str]) -> Serve {
    patch_source(env, false);
    signed_repo(env, &[]);
    let up = standard_upstream(env);
    let mut args = vec!["--upstream", up.to_str().unwrap()];
    args.extend_from_slice(serve_args);
    Serve::start(env, &args)
}

#[test]
fn serve_passes_indexes_through_byte_for_byte() {
    let env = TestEnv::new();
    let serve = scene(&env, &[]);
    for f in [
        "modules/02packages.details.txt.gz",
        "modules/03modlist.data.gz",
        "authors/01mailrc.txt.gz",
        "authors/id/T/TE/TESTER/Acme-Dep-1.0.tar.gz",
    ] {
        let (status, body) = serve.get(f);
        assert_eq!(status, 200, "{f}");
        assert_eq!(
            body,
            std::fs::read(env.path("upstream").join(f)).unwrap(),
            "{f}"
        );
    }
    assert_eq!(serve.get("authors/id/T/TE/TESTER/Nope-1.0.tar.gz").0, 404);
    assert_eq!(serve.get("authors/id/../../etc/passwd").0, 400);
}

#[test]
fn serve_patches_tarballs_and_rewrites_checksums_for_the_bytes_served() {
    let env = TestEnv::new();
    let serve = scene(&env, &[]);
    let (status, tarball) = serve.get(&format!("{AUTHOR_DIR}/Acme-Buggy-1.0.tar.gz"));
    assert_eq!(status, 200);
    let path = env.path("got/Acme-Buggy-1.0.tar.gz");
    write(&path, &tarball);
    let files = tarball_files(&path);
    assert_eq!(
        files["Acme-Buggy-1.0/lib/Acme/Buggy.pm"].0,
        FIXED_PM.as_bytes(),
        "the served tarball carries the fix"
    );
    assert!(files.contains_key("Acme-Buggy-1.0/.patchkit/applied.json"));

    let (status, sums) = serve.get(&format!("{AUTHOR_DIR}/CHECKSUMS"));
    assert_eq!(status, 200);
    let sums = String::from_utf8(sums).unwrap();
    assert!(
        !sums.contains("BEGIN PGP"),
        "the armour is dropped:\n{sums}"
    );
    assert!(
        sums.contains("signature was removed"),
        "and says why:\n{sums}"
    );
    // Perl itself reads what we serve, as CPAN.pm does (Safe reval).
    let script = "use Safe; local $/; my $t = <STDIN>; my $c = Safe->new->reval($t) or die $@; \
                  for my $f (sort keys %$c) { print join(' ', $f, map { $c->{$f}{$_} // '-' } \
                  qw(size md5 sha256 md5-ungz sha256-ungz cpan_path mtime)), \"\\n\" }";
    let out = std::process::Command::new("perl")
        .args(["-e", script])
        .stdin(
            std::fs::File::open({
                let p = env.path("CHECKSUMS");
                std::fs::write(&p, &sums).unwrap();
                p
            })
            .unwrap(),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8(out.stdout).unwrap();
    for line in listing.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let (_, body) = serve.get(&format!("{AUTHOR_DIR}/{}", f[0]));
        let raw = {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut v)
                .unwrap();
            v
        };
        use sha2::Digest;
        assert_eq!(f[1], body.len().to_string(), "{line}");
        assert_eq!(f[2], hex::encode(md5::Md5::digest(&body)), "{line}");
        assert_eq!(f[3], hex::encode(sha2::Sha256::digest(&body)), "{line}");
        assert_eq!(f[4], hex::encode(md5::Md5::digest(&raw)), "{line}");
        assert_eq!(f[5], hex::encode(sha2::Sha256::digest(&raw)), "{line}");
        assert_eq!(f[6], "T/TE/TESTER", "{line}");
        assert_eq!(f[7], "2026-01-01", "{line}");
    }
    assert_eq!(listing.lines().count(), 2, "{listing}");
    // One build: the second request and the CHECKSUMS came from the cache.
    let log = serve.log();
    assert_eq!(
        log.lines()
            .filter(|l| l.contains(" patched PK-2026-0001 "))
            .count(),
        1,
        "{log}"
    );
    serve.get(&format!("{AUTHOR_DIR}/Acme-Buggy-1.0.tar.gz"));
    assert!(
        serve.log().contains(" cached PK-2026-0001 "),
        "{}",
        serve.log()
    );
}

#[test]
fn cpanm_installs_the_patched_dist_through_serve() {
    if !have("cpanm") {
        return;
    }
    let env = TestEnv::new();
    let serve = scene(&env, &[]);
    let lib = env.path("local");
    let mut cmd = Command::new("cpanm");
    cmd.args(["--mirror", &serve.url, "--mirror-only", "--notest", "-L"])
        .arg(&lib)
        .arg("Acme::Buggy")
        .env("PERL_CPANM_HOME", env.path("cpanm-home"));
    isolate(&mut cmd, &env);
    let out = run_cmd(cmd, env.dir());
    assert_eq!(
        out.code,
        0,
        "cpanm failed\n{}\n{}\n{}",
        out.stdout,
        out.stderr,
        serve.log()
    );
    assert_eq!(
        perl_add(&lib.join("lib/perl5")),
        "5",
        "the fix is installed"
    );
    assert!(
        lib.join("lib/perl5/Acme/Dep.pm").is_file(),
        "the dependency too"
    );
    let d = audit_buggy(&env, &lib);
    assert_eq!(d["patches"][0]["id"], "PK-2026-0001", "{d:#}");
    assert_eq!(d["patches"][0]["status"], "genuine", "{d:#}");
    assert_eq!(d["findings"], serde_json::json!([]), "{d:#}");
}

#[test]
fn cpan_pm_installs_the_patched_dist_through_serve_checking_checksums() {
    if !have("cpan") {
        return;
    }
    let env = TestEnv::new();
    let serve = scene(&env, &[]);
    let lib = env.path("inst");
    let conf = env.path("cpan-home");
    cpan_pm_config(&conf, &format!("{}/", serve.url), &lib, None);
    let out = cpan_pm_install(&env, &conf, "Acme::Buggy");
    assert_eq!(
        out.code,
        0,
        "CPAN.pm failed\n{}\n{}\n{}",
        out.stdout,
        out.stderr,
        serve.log()
    );
    // CPAN.pm fetched the rewritten CHECKSUMS and checked every tarball.
    assert!(
        out.stdout.contains("Checksum for") && out.stdout.contains("Acme-Buggy-1.0.tar.gz ok"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Acme-Dep-1.0.tar.gz ok"),
        "{}",
        out.stdout
    );
    assert_eq!(
        perl_add(&lib.join("lib/perl5")),
        "5",
        "the fix is installed"
    );
    // CPAN.pm leaves no per-dist metadata (cpanm's `.meta/`) in the
    // library: audit finds the dist by the packlist MakeMaker wrote, and
    // the installed module shows the fix.
    let d = audit_buggy(&env, &lib);
    assert_eq!(d["found_by"], "packlist", "{d:#}");
    assert_eq!(d["patches"][0]["id"], "PK-2026-0001", "{d:#}");
    assert_eq!(d["patches"][0]["status"], "genuine", "{d:#}");
    assert_eq!(d["findings"], serde_json::json!([]), "{d:#}");
    // So does the tree CPAN.pm built and installed from.
    let build = cpan_build_dir(&conf, "Acme-Buggy-1.0");
    let d = audit_buggy(&env, &build);
    assert_eq!(d["patches"][0]["status"], "genuine", "{d:#}");
    assert_eq!(d["findings"], serde_json::json!([]), "{d:#}");
}

#[test]
fn carton_installs_the_patched_dist_through_serve() {
    if !have("carton") {
        return;
    }
    let env = TestEnv::new();
    let serve = scene(&env, &[]);
    let app = env.path("app");
    write(&app.join("cpanfile"), b"requires 'Acme::Buggy';\n");
    let mut cmd = Command::new("carton");
    cmd.arg("install")
        .env("PERL_CARTON_MIRROR", &serve.url)
        .env("PERL_CPANM_HOME", env.path("cpanm-home"));
    isolate(&mut cmd, &env);
    let out = run_cmd(cmd, &app);
    assert_eq!(
        out.code,
        0,
        "carton failed\n{}\n{}\n{}",
        out.stdout,
        out.stderr,
        serve.log()
    );
    let lib = app.join("local");
    assert_eq!(
        perl_add(&lib.join("lib/perl5")),
        "5",
        "the fix is installed"
    );
    let snapshot = std::fs::read_to_string(app.join("cpanfile.snapshot")).unwrap();
    assert!(
        snapshot.contains("TESTER/Acme-Buggy-1.0.tar.gz"),
        "{snapshot}"
    );
    assert!(
        snapshot.contains("TESTER/Acme-Dep-1.0.tar.gz"),
        "{snapshot}"
    );
    let d = audit_buggy(&env, &lib);
    assert_eq!(d["patches"][0]["status"], "genuine", "{d:#}");
    assert_eq!(d["findings"], serde_json::json!([]), "{d:#}");
    // Every request Carton made was answered from the mirror.
    assert!(!serve.log().contains(" error "), "{}", serve.log());
}

/// Every file below `dir`, relative path → bytes.
fn files_below(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    snapshot_dir(dir)
        .into_iter()
        .map(|(p, b)| (p.to_string_lossy().into_owned(), b))
        .collect()
}

#[test]
fn mirror_writes_what_serve_serves_and_a_second_run_rewrites_only_what_changed() {
    let env = TestEnv::new();
    let serve = scene(&env, &[]);
    let out = env.run_ok(&["mirror", "--json", "upstream", "static"]);
    let doc = out.json();
    assert_eq!(
        doc["patched"][0]["path"],
        format!("{AUTHOR_DIR}/Acme-Buggy-1.0.tar.gz")
    );
    let copied = files_below(&env.path("static"));
    assert_eq!(copied.len(), 6, "{:?}", copied.keys());
    for (path, bytes) in &copied {
        let (status, served) = serve.get(path);
        assert_eq!(status, 200, "{path}");
        assert_eq!(&served, bytes, "{path}: mirror and serve differ");
    }
    // Nothing changed: nothing written.
    let doc = env
        .run_ok(&["mirror", "--json", "upstream", "static"])
        .json();
    assert_eq!(doc["written"], serde_json::json!([]), "{doc:#}");
    assert_eq!(doc["unchanged"], 6);

    // A new repository version (a second record for Acme-Buggy): only the
    // patched tarball and its CHECKSUMS are rewritten.
    SourceBuilder::new(env.path("patches")).add(
        "PK-2026-0003",
        "Acme-Buggy",
        "<= 1.0",
        &udiff("t/add.t", "use Test::More tests => 1;\nuse Acme::Buggy;\nis(Acme::Buggy::add(2, 3), 5);\n", "use Test::More tests => 1;\nuse Acme::Buggy;\nis(Acme::Buggy::add(2, 3), 5, 'adds');\n"),
    );
    publish(&env, &[]);
    let doc = env
        .run_ok(&["mirror", "--json", "upstream", "static"])
        .json();
    assert_eq!(
        doc["written"],
        serde_json::json!([
            format!("{AUTHOR_DIR}/Acme-Buggy-1.0.tar.gz"),
            format!("{AUTHOR_DIR}/CHECKSUMS")
        ]),
        "{doc:#}"
    );
    assert_eq!(doc["unchanged"], 4);
    assert_eq!(
        doc["patched"][0]["ids"],
        serde_json::json!(["PK-2026-0001", "PK-2026-0003"])
    );
    // Upstream is untouched.
    assert_eq!(
        std::fs::read(
            env.path("upstream")
                .join(AUTHOR_DIR)
                .join("Acme-Buggy-1.0.tar.gz")
        )
        .unwrap(),
        buggy_dist().tarball_bytes()
    );
}

#[test]
fn mirror_rebuilds_only_the_dists_whose_records_changed_in_a_new_version() {
    // Two patched dists; a new repository version changes the records of
    // one. The other's cached tarball is kept (its cache key is what the
    // repository holds for its dist, not the repository's version).
    let env = TestEnv::new();
    let _serve = scene(&env, &[]);
    SourceBuilder::new(env.path("patches")).add(
        "PK-2026-0004",
        "Acme-Dep",
        "<= 1.0",
        &udiff(
            "lib/Acme/Dep.pm",
            "package Acme::Dep;\nour $VERSION = '1.0';\nsub here { 'dep' }\n1;\n",
            "package Acme::Dep;\nour $VERSION = '1.0';\nsub here { 'dep, fixed' }\n1;\n",
        ),
    );
    publish(&env, &[]);
    let doc = env
        .run_ok(&["mirror", "--json", "upstream", "static"])
        .json();
    assert_eq!(doc["patched"].as_array().unwrap().len(), 2, "{doc:#}");
    let dep = format!("{AUTHOR_DIR}/Acme-Dep-1.0.tar.gz");
    let before = files_below(&env.path("static"));
    assert!(before.contains_key(&dep), "{:?}", before.keys());

    SourceBuilder::new(env.path("patches")).add(
        "PK-2026-0003",
        "Acme-Buggy",
        "<= 1.0",
        &udiff(
            "t/add.t",
            "use Test::More tests => 1;\nuse Acme::Buggy;\nis(Acme::Buggy::add(2, 3), 5);\n",
            "use Test::More tests => 1;\nuse Acme::Buggy;\nis(Acme::Buggy::add(2, 3), 5, 'adds');\n",
        ),
    );
    publish(&env, &[]);
    let doc = env
        .run_ok(&["mirror", "--json", "upstream", "static"])
        .json();
    let written: Vec<String> = doc["written"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect();
    assert!(
        written.contains(&format!("{AUTHOR_DIR}/Acme-Buggy-1.0.tar.gz")),
        "{doc:#}"
    );
    assert!(!written.contains(&dep), "Acme-Dep was rebuilt: {doc:#}");
    let after = files_below(&env.path("static"));
    assert_eq!(before[&dep], after[&dep]);
}

#[test]
fn mirror_in_place_patches_a_vendor_cache() {
    let env = TestEnv::new();
    patch_source(&env, false);
    signed_repo(&env, &[]);
    standard_upstream(&env);
    let out = env.run_ok(&["mirror", "--in-place", "upstream"]);
    assert!(out.stdout.contains("1 patched"), "{}", out.stdout);
    let files = tarball_files(
        &env.path("upstream")
            .join(AUTHOR_DIR)
            .join("Acme-Buggy-1.0.tar.gz"),
    );
    assert_eq!(
        files["Acme-Buggy-1.0/lib/Acme/Buggy.pm"].0,
        FIXED_PM.as_bytes()
    );
    // Again: everything is already patched, nothing is written.
    let doc = env
        .run_ok(&["mirror", "--json", "--in-place", "upstream"])
        .json();
    assert_eq!(doc["written"], serde_json::json!([]), "{doc:#}");
}

#[test]
fn serve_refuses_a_tarball_it_cannot_patch_unless_asked_for_the_original() {
    let env = TestEnv::new();
    patch_source(&env, true);
    signed_repo(&env, &[]);
    upstream(
        &env.path("upstream"),
        &[
            (buggy_dist(), &["Acme::Buggy"]),
            (broken_dist(), &["Acme::Broken"]),
        ],
    );
    let broken = format!("{AUTHOR_DIR}/Acme-Broken-1.0.tar.gz");
    {
        let serve = Serve::start(&env, &["--upstream", "upstream"]);
        let (status, body) = serve.get(&broken);
        assert_eq!(status, 502, "{}", String::from_utf8_lossy(&body));
        assert!(String::from_utf8_lossy(&body).contains("PK-2026-0002"));
        // Its CHECKSUMS entry is gone, so no installer accepts other bytes.
        let (_, sums) = serve.get(&format!("{AUTHOR_DIR}/CHECKSUMS"));
        let sums = String::from_utf8(sums).unwrap();
        assert!(!sums.contains("Acme-Broken"), "{sums}");
        assert!(sums.contains("Acme-Buggy"), "{sums}");
        assert!(serve.log().contains(" 502 "), "{}", serve.log());
    }
    let serve = Serve::start_with_log(
        &env,
        &["--upstream", "upstream", "--on-failure", "original"],
        "serve2.log",
    );
    let (status, body) = serve.get(&broken);
    assert_eq!(status, 200);
    assert_eq!(body, broken_dist().tarball_bytes());
    let log = serve.log();
    assert!(log.contains("original-unpatched"), "{log}");
    assert!(log.contains("PK-2026-0002"), "the log says why: {log}");
}

/// An upstream that answers every request with `head` and then `body`,
/// then closes the connection (or, with `stall`, never answers).
fn fake_upstream(head: &'static str, body: Vec<u8>, stall: bool) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            if stall {
                held.push(conn);
                continue;
            }
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&body);
            let _ = conn.flush();
            // Dropping the stream closes it: the rest never comes.
        }
    });
    url
}

#[test]
fn upstream_dying_mid_response_gives_the_client_an_error_never_a_short_tarball() {
    let env = TestEnv::new();
    patch_source(&env, false);
    signed_repo(&env, &[]);
    let tarball = buggy_dist().tarball_bytes();
    let half = tarball[..tarball.len() / 2].to_vec();
    let head = Box::leak(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            tarball.len()
        )
        .into_boxed_str(),
    );
    let up = fake_upstream(head, half, false);
    let serve = Serve::start(&env, &["--upstream", &up]);
    for path in [
        format!("{AUTHOR_DIR}/Acme-Buggy-1.0.tar.gz"),
        format!("{AUTHOR_DIR}/Acme-Dep-1.0.tar.gz"),
        "modules/02packages.details.txt.gz".to_string(),
    ] {
        let (status, body) = serve.get(&path);
        assert_eq!(status, 502, "{path}: {}", String::from_utf8_lossy(&body));
        assert!(
            !body.starts_with(&[0x1f, 0x8b]),
            "{path}: no gzip bytes are sent"
        );
    }
}

#[test]
fn upstream_that_never_answers_gives_a_gateway_timeout() {
    let env = TestEnv::new();
    patch_source(&env, false);
    signed_repo(&env, &[]);
    let up = fake_upstream("", Vec::new(), true);
    let serve = Serve::start(&env, &["--upstream", &up, "--upstream-timeout", "1s"]);
    let (status, _) = serve.get(&format!("{AUTHOR_DIR}/Acme-Buggy-1.0.tar.gz"));
    assert_eq!(status, 504, "{}", serve.log());
}

#[test]
fn serve_keeps_the_last_verified_state_when_the_repository_is_unreachable() {
    let env = TestEnv::new();
    let serve = scene(&env, &["--refresh", "1s"]);
    std::fs::rename(env.path("pub"), env.path("pub-gone")).unwrap();
    assert!(
        wait_for(20, || serve
            .log()
            .contains("refresh failed, still serving cpansec")),
        "{}",
        serve.log()
    );
    let (status, body) = serve.get(&format!("{AUTHOR_DIR}/Acme-Buggy-1.0.tar.gz"));
    assert_eq!(status, 200);
    let p = env.path("got.tar.gz");
    write(&p, &body);
    assert_eq!(
        tarball_files(&p)["Acme-Buggy-1.0/lib/Acme/Buggy.pm"].0,
        FIXED_PM.as_bytes()
    );
}

#[test]
fn serve_refuses_tarballs_once_the_verified_state_expires() {
    let env = TestEnv::new();
    patch_source(&env, false);
    signed_repo(&env, &["--expires-timestamp", "8s"]);
    standard_upstream(&env);
    let serve = Serve::start(&env, &["--upstream", "upstream", "--refresh", "1s"]);
    let tarball = format!("{AUTHOR_DIR}/Acme-Buggy-1.0.tar.gz");
    assert_eq!(serve.get(&tarball).0, 200, "{}", serve.log());
    assert!(
        wait_for(30, || serve.get(&tarball).0 == 503),
        "{}",
        serve.log()
    );
    // Not even the unpatched dependency, nor CHECKSUMS: no tarball is
    // served without the current patch set; indexes still pass.
    assert_eq!(
        serve.get(&format!("{AUTHOR_DIR}/Acme-Dep-1.0.tar.gz")).0,
        503
    );
    assert_eq!(serve.get(&format!("{AUTHOR_DIR}/CHECKSUMS")).0, 503);
    assert_eq!(serve.get("modules/02packages.details.txt.gz").0, 200);
    assert!(serve.log().contains("expired"), "{}", serve.log());
}

#[test]
fn serve_refuses_upstream_checksums_that_are_perl_code() {
    let env = TestEnv::new();
    let serve = scene(&env, &[]);
    let sums = env.path("upstream").join(AUTHOR_DIR).join("CHECKSUMS");
    let good = std::fs::read_to_string(&sums).unwrap();
    // Valid Perl that CPAN.pm's eval would run; not CPAN::Checksums' data.
    let evil = good.replace(
        "$cksum = {",
        "$cksum = { 'x' => { 'y' => `touch /tmp/pwned` },",
    );
    std::fs::write(&sums, evil).unwrap();
    let (status, body) = serve.get(&format!("{AUTHOR_DIR}/CHECKSUMS"));
    assert_eq!(status, 502, "{}", String::from_utf8_lossy(&body));
    assert!(
        String::from_utf8_lossy(&body).contains("not a CPAN CHECKSUMS file"),
        "{}",
        String::from_utf8_lossy(&body)
    );
}

#[test]
fn carton_installs_offline_from_a_vendor_cache_patched_in_place() {
    if !have("carton") {
        return;
    }
    let env = TestEnv::new();
    patch_source(&env, false);
    signed_repo(&env, &[]);
    let up = standard_upstream(&env);
    let app = env.path("app");
    write(&app.join("cpanfile"), b"requires 'Acme::Buggy';\n");
    let carton = |args: &[&str]| {
        let mut cmd = Command::new("carton");
        cmd.args(args)
            .env("PERL_CARTON_MIRROR", format!("file://{}", up.display()))
            .env("PERL_CPANM_HOME", env.path("cpanm-home"));
        isolate(&mut cmd, &env);
        let out = run_cmd(cmd, &app);
        assert_eq!(
            out.code, 0,
            "carton {args:?}\n{}\n{}",
            out.stdout, out.stderr
        );
    };
    // The unpatched upstream gives the snapshot and the vendor cache.
    carton(&["install"]);
    carton(&["bundle"]);
    std::fs::remove_dir_all(app.join("local")).unwrap();
    let cache = app.join("vendor/cache");
    env.run_ok(&["mirror", "--in-place", cache.to_str().unwrap()]);
    carton(&["install", "--cached", "--deployment"]);
    let lib = app.join("local");
    assert_eq!(
        perl_add(&lib.join("lib/perl5")),
        "5",
        "the fix is installed"
    );
    let d = audit_buggy(&env, &lib);
    assert_eq!(d["patches"][0]["status"], "genuine", "{d:#}");
}

#[test]
fn serve_sends_every_answer_with_its_content_length() {
    let env = TestEnv::new();
    // A large dist, so that the answer is well past any chunking threshold.
    let mut big = buggy_dist();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..50 {
        // Incompressible bytes (xorshift), so the tarball stays large.
        let data: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        big = big.bytes(&format!("t/data/{i}.bin"), &data, 0o644);
    }
    patch_source(&env, false);
    signed_repo(&env, &[]);
    upstream(&env.path("upstream"), &[(big, &["Acme::Buggy"])]);
    let serve = Serve::start(&env, &["--upstream", "upstream"]);
    let resp = ureq::get(&format!("{}/{AUTHOR_DIR}/Acme-Buggy-1.0.tar.gz", serve.url))
        .call()
        .unwrap();
    let length: usize = resp
        .headers()
        .get("content-length")
        .expect("a Content-Length")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(resp.headers().get("transfer-encoding").is_none());
    let body = resp.into_body().read_to_vec().unwrap();
    assert_eq!(body.len(), length);
    assert!(length > 32 * 1024, "{length}");
}
