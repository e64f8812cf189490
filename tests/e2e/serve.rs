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
    // CPAN.pm (with MakeMaker) leaves no per-dist metadata in the library
    // (cpanm's `.meta/` is what `audit LIB` reads), so the audit reads the
    // tree CPAN.pm built and installed from.
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
