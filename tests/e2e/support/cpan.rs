//! An upstream CPAN mirror laid out by the test (author folders with
//! tarballs and a PGP-armoured `CHECKSUMS`, `modules/02packages.details.txt.gz`,
//! `modules/03modlist.data.gz`, `authors/01mailrc.txt.gz`), a signed patch
//! repository for it (throwaway keys, the real `patchkit publish`), a
//! running `patchkit serve`, and the real installers' environments.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use md5::Md5;
use sha2::{Digest, Sha256};

use super::{gzip, run_cmd, udiff, DistBuilder, Output, SourceBuilder, TestEnv};

pub const BUGGY_PM: &str = "package Acme::Buggy;\nuse strict;\nuse warnings;\nuse Acme::Dep;\nour $VERSION = '1.0';\n\n# Adds two numbers.\nsub add {\n    my ($x, $y) = @_;\n    return $x - $y;\n}\n\n1;\n";
pub const FIXED_PM: &str = "package Acme::Buggy;\nuse strict;\nuse warnings;\nuse Acme::Dep;\nour $VERSION = '1.0';\n\n# Adds two numbers.\nsub add {\n    my ($x, $y) = @_;\n    return $x + $y;\n}\n\n1;\n";

fn meta_json(name: &str, requires: &str) -> String {
    format!(
        r#"{{
   "abstract" : "a test dist",
   "author" : [
      "A. Tester <tester@example.org>"
   ],
   "dynamic_config" : 0,
   "generated_by" : "patchkit tests",
   "license" : [
      "perl_5"
   ],
   "meta-spec" : {{
      "url" : "http://search.cpan.org/perldoc?CPAN::Meta::Spec",
      "version" : 2
   }},
   "name" : "{name}",
   "prereqs" : {{
      "configure" : {{
         "requires" : {{
            "ExtUtils::MakeMaker" : "0"
         }}
      }},
      "runtime" : {{
         "requires" : {{{requires}
         }}
      }}
   }},
   "release_status" : "stable",
   "version" : "1.0"
}}
"#
    )
}

/// Acme-Buggy 1.0: `add` subtracts; it needs Acme::Dep.
pub fn buggy_dist() -> DistBuilder {
    DistBuilder::new("Acme-Buggy", "1.0")
        .file("lib/Acme/Buggy.pm", BUGGY_PM)
        .file(
            "Makefile.PL",
            "use strict;\nuse ExtUtils::MakeMaker;\nWriteMakefile(\n    NAME => 'Acme::Buggy',\n    VERSION_FROM => 'lib/Acme/Buggy.pm',\n    PREREQ_PM => { 'Acme::Dep' => 0 },\n);\n",
        )
        .file("t/add.t", "use Test::More tests => 1;\nuse Acme::Buggy;\nis(Acme::Buggy::add(2, 3), 5);\n")
        .file("MANIFEST", "MANIFEST\nMakefile.PL\nMETA.json\nMETA.yml\nlib/Acme/Buggy.pm\nt/add.t\n")
        .file(
            "META.json",
            &meta_json("Acme-Buggy", "\n            \"Acme::Dep\" : \"0\""),
        )
}

/// Acme-Dep 1.0: the dependency, never patched.
pub fn dep_dist() -> DistBuilder {
    DistBuilder::new("Acme-Dep", "1.0")
        .file(
            "lib/Acme/Dep.pm",
            "package Acme::Dep;\nour $VERSION = '1.0';\nsub here { 'dep' }\n1;\n",
        )
        .file(
            "Makefile.PL",
            "use strict;\nuse ExtUtils::MakeMaker;\nWriteMakefile(\n    NAME => 'Acme::Dep',\n    VERSION_FROM => 'lib/Acme/Dep.pm',\n);\n",
        )
        .file("MANIFEST", "MANIFEST\nMakefile.PL\nMETA.json\nMETA.yml\nlib/Acme/Dep.pm\n")
        .file("META.json", &meta_json("Acme-Dep", ""))
}

/// Acme-Broken 1.0: a record matches it but its hunk does not apply.
pub fn broken_dist() -> DistBuilder {
    DistBuilder::new("Acme-Broken", "1.0")
        .file(
            "lib/Acme/Broken.pm",
            "package Acme::Broken;\nsub f { 'not what the patch expects' }\n1;\n",
        )
        .file("META.json", &meta_json("Acme-Broken", ""))
}

pub const AUTHOR_DIR: &str = "authors/id/T/TE/TESTER";

/// Writes the patch source tree: a fix for Acme-Buggy (and, with
/// `broken`, a record for Acme-Broken whose hunk never applies).
pub fn patch_source(env: &TestEnv, broken: bool) {
    let src = SourceBuilder::new(env.path("patches"));
    src.add(
        "PK-2026-0001",
        "Acme-Buggy",
        "<= 1.0",
        &udiff("lib/Acme/Buggy.pm", BUGGY_PM, FIXED_PM),
    );
    if broken {
        src.add(
            "PK-2026-0002",
            "Acme-Broken",
            "<= 1.0",
            &udiff("lib/Acme/Broken.pm", "sub g { 1 }\n", "sub g { 2 }\n"),
        );
    }
}

/// Keys, `publish` to ENV/pub, `repo add cpansec`, `update`.
pub fn signed_repo(env: &TestEnv, publish_extra: &[&str]) {
    for role in ["root", "targets", "snapshot", "timestamp"] {
        env.run_ok(&["key", "generate", &format!("keys/{role}")]);
    }
    std::fs::write(
        env.path("keys/keys.toml"),
        "[root]\nkeys = [\"root.pem\"]\n[targets]\nkeys = [\"targets.pem\"]\n\
         [snapshot]\nkeys = [\"snapshot.pem\"]\n[timestamp]\nkeys = [\"timestamp.pem\"]\n",
    )
    .unwrap();
    publish(env, publish_extra);
    let root = env.path("pub/metadata/1.root.json");
    let pubdir = env.path("pub");
    env.run_ok(&[
        "repo",
        "add",
        "cpansec",
        pubdir.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
    ]);
    env.run_ok(&["update"]);
}

pub fn publish(env: &TestEnv, extra: &[&str]) {
    let mut args = vec![
        "publish",
        "--source",
        "patches",
        "--out",
        "pub",
        "--keys",
        "keys/keys.toml",
    ];
    args.extend_from_slice(extra);
    env.run_ok(&args);
}

fn md5_hex(b: &[u8]) -> String {
    hex::encode(Md5::digest(b))
}

fn sha_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// A CHECKSUMS file as PAUSE writes it (CPAN::Checksums 2.x): a PGP clear-signature
/// that is valid Perl (`0&&<<'';` … `__END__`); the signature is fake.
pub fn checksums_file(files: &[(&str, &[u8])]) -> String {
    let mut s = String::from(
        "0&&<<''; # this PGP-signed message is also valid perl\n\
         -----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n\
         # CHECKSUMS file written on Thu Jan  1 00:00:00 2026 GMT by CPAN::Checksums (v2.14)\n\
         $cksum = {\n",
    );
    for (i, (name, bytes)) in files.iter().enumerate() {
        let raw = gunzip(bytes);
        s.push_str(&format!(
            "  '{name}' => {{\n    'cpan_path' => 'T/TE/TESTER',\n    'isa' => 'f',\n    \
             'md5' => '{}',\n    'md5-ungz' => '{}',\n    'mtime' => '2026-01-01',\n    \
             'sha256' => '{}',\n    'sha256-ungz' => '{}',\n    'size' => {}\n  }}{}\n",
            md5_hex(bytes),
            md5_hex(&raw),
            sha_hex(bytes),
            sha_hex(&raw),
            bytes.len(),
            if i + 1 < files.len() { "," } else { "" }
        ));
    }
    s.push_str("};\n__END__\n-----BEGIN PGP SIGNATURE-----\n\niQEzBAEBCAAdFiEEfake\n=abcd\n-----END PGP SIGNATURE-----\n");
    s
}

/// Lays out an upstream CPAN mirror at `root` holding `dists` under
/// TESTER, each with the packages it provides.
pub fn upstream(root: &Path, dists: &[(DistBuilder, &[&str])]) -> PathBuf {
    let dir = root.join(AUTHOR_DIR);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(root.join("modules")).unwrap();
    let mut files = Vec::new();
    let mut lines = Vec::new();
    for (d, packages) in dists {
        let name = format!("{}.tar.gz", d.top());
        let bytes = d.tarball_bytes();
        std::fs::write(dir.join(&name), &bytes).unwrap();
        for p in *packages {
            lines.push(format!("{p:<34} {:>5}  T/TE/TESTER/{name}", d.version));
        }
        files.push((name, bytes));
    }
    lines.sort();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    std::fs::write(dir.join("CHECKSUMS"), checksums_file(&refs)).unwrap();
    let packages = format!(
        "File:         02packages.details.txt\n\
         URL:          http://www.perl.com/CPAN/modules/02packages.details.txt\n\
         Description:  Package names found in directory $CPAN/authors/id/\n\
         Columns:      package name, version, path\n\
         Intended-For: Automated fetch routines, namespace documentation.\n\
         Written-By:   patchkit e2e tests\n\
         Line-Count:   {}\n\
         Last-Updated: Thu, 01 Jan 2026 00:00:00 GMT\n\
         \n{}\n",
        lines.len(),
        lines.join("\n")
    );
    std::fs::write(
        root.join("modules/02packages.details.txt.gz"),
        gzip(packages.as_bytes()),
    )
    .unwrap();
    let modlist = "File:        03modlist.data\nDescription: These are the data that are published in the module\n        list, but they may be more recent than the latest posted\n        modulelist. Over time we'll make sure that these data\n        can be used to print the whole part two of the\n        modulelist. Currently this is not the case.\nModcount:    0\nWritten-By:  patchkit e2e tests\nDate:        Thu, 01 Jan 2026 00:00:00 GMT\n\npackage CPAN::Modulelist;\n# Usage: print Data::Dumper->new([CPAN::Modulelist->data])->Dump or similar\n# cannot 'use strict', because we normally run under Safe\n# use strict;\nsub data {\n  my $result = {};\n  my $primary = \"modid\";\n  for (@$CPAN::Modulelist::data){\n    my %hash;\n    @hash{@$CPAN::Modulelist::cols} = @$_;\n    $result->{$hash{$primary}} = \\%hash;\n  }\n  $result;\n}\n$CPAN::Modulelist::cols = [\n  'modid',\n  'statd',\n  'stats',\n  'statl',\n  'stati',\n  'statp',\n  'description',\n  'userid',\n  'chapterid',\n];\n$CPAN::Modulelist::data = [];\n";
    std::fs::write(
        root.join("modules/03modlist.data.gz"),
        gzip(modlist.as_bytes()),
    )
    .unwrap();
    std::fs::write(
        root.join("authors/01mailrc.txt.gz"),
        gzip(b"alias TESTER \"A. Tester <tester@example.org>\"\n"),
    )
    .unwrap();
    root.to_path_buf()
}

/// The standard upstream: Acme-Buggy (patched), Acme-Dep (its dependency).
pub fn standard_upstream(env: &TestEnv) -> PathBuf {
    upstream(
        &env.path("upstream"),
        &[
            (buggy_dist(), &["Acme::Buggy"]),
            (dep_dist(), &["Acme::Dep"]),
        ],
    )
}

/// A running `patchkit serve`, killed on drop; its stderr (the access
/// log) goes to a file.
pub struct Serve {
    pub child: Child,
    pub url: String,
    pub log: PathBuf,
}

impl Serve {
    /// `patchkit --home HOME serve --listen 127.0.0.1:0 ARGS…`; waits (at
    /// most 20 s) for the line naming the address.
    pub fn start(env: &TestEnv, args: &[&str]) -> Serve {
        Self::start_with_log(env, args, "serve.log")
    }

    pub fn start_with_log(env: &TestEnv, args: &[&str], log: &str) -> Serve {
        let log = env.path(log);
        let mut child = Command::new(env!("CARGO_BIN_EXE_patchkit"))
            .arg("--home")
            .arg(env.home())
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(env.dir())
            .env_remove("PATCHKIT_HOME")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let Some(url) = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .map(str::to_string)
        else {
            let _ = child.kill();
            panic!(
                "serve did not start: {line:?}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        Serve { child, url, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET `path`: status and body.
    pub fn get(&self, path: &str) -> (u16, Vec<u8>) {
        http_get(&format!("{}/{path}", self.url))
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET a URL with a 60 s bound: status and the whole body (an error while
/// reading the body is status 0).
pub fn http_get(url: &str) -> (u16, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    match agent.get(url).call() {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let mut body = Vec::new();
            match resp
                .into_body()
                .with_config()
                .limit(512 * 1024 * 1024)
                .reader()
                .read_to_end(&mut body)
            {
                Ok(_) => (status, body),
                Err(_) => (0, body),
            }
        }
        Err(_) => (0, Vec::new()),
    }
}

/// Removes what would let an installer reach the network or a user's
/// own Perl setup.
pub fn isolate(cmd: &mut Command, env: &TestEnv) {
    cmd.env("HOME", env.dir());
    for var in [
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "PERL5LIB",
        "PERL_LOCAL_LIB_ROOT",
        "PERL_MM_OPT",
        "PERL_MB_OPT",
        "PERL_CPANM_OPT",
        "PERL_CARTON_PATH",
    ] {
        cmd.env_remove(var);
    }
}

/// Whether `tool` is on PATH; when not, says so (the test then skips).
pub fn have(tool: &str) -> bool {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: {tool} is not installed (.ci/run and tests/run install it)");
    }
    ok
}

/// `perl -I LIB -MAcme::Buggy -e 'print add(2, 3)'`.
pub fn perl_add(lib_perl5: &Path) -> String {
    let mut cmd = Command::new("perl");
    cmd.arg(format!("-I{}", lib_perl5.display()))
        .args(["-MAcme::Buggy", "-e", "print Acme::Buggy::add(2, 3)"])
        .env_remove("PERL5LIB");
    run_cmd(cmd, lib_perl5).stdout
}

/// `audit --json LIB` against the configured signed repository: the
/// document for Acme-Buggy.
pub fn audit_buggy(env: &TestEnv, lib: &Path) -> serde_json::Value {
    let out: Output = env.run_ok(&["audit", "--json", "--offline", lib.to_str().unwrap()]);
    let doc = out.json();
    doc["dists"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["dist"] == "Acme-Buggy")
        .unwrap_or_else(|| panic!("no Acme-Buggy in the audit: {doc:#}"))
        .clone()
}

/// Waits until `f` holds, at most `secs` seconds.
pub fn wait_for(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

/// Writes `bytes` to a new file, creating parents.
pub fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(bytes).unwrap();
}

/// A non-interactive CPAN.pm configuration below `dir` (its
/// `CPAN/MyConfig.pm`, found through `-I dir`): `urllist` is `mirror`,
/// `check_sigs` off, checksum checking on (CPAN.pm's default: it fetches
/// and checks each author's CHECKSUMS), modules installed under `lib`
/// (INSTALL_BASE), prerequisites followed, tests skipped, and
/// distroprefs read from `prefs` (patches too) when given.
pub fn cpan_pm_config(dir: &Path, mirror: &str, lib: &Path, prefs: Option<&Path>) {
    let d = dir.display();
    let prefs_dir = prefs.map_or_else(|| format!("{d}/prefs"), |p| p.display().to_string());
    let conf = format!(
        r#"$CPAN::Config = {{
  'applypatch' => q[],
  'auto_commit' => q[0],
  'build_cache' => q[100],
  'build_dir' => q[{d}/build],
  'build_dir_reuse' => q[0],
  'build_requires_install_policy' => q[yes],
  'bzip2' => q[/bin/bzip2],
  'cache_metadata' => q[0],
  'check_sigs' => q[0],
  'cleanup_after_install' => q[0],
  'colorize_output' => q[0],
  'commandnumber_in_prompt' => q[0],
  'connect_to_internet_ok' => q[1],
  'cpan_home' => q[{d}],
  'curl' => q[],
  'ftp' => q[],
  'ftp_passive' => q[1],
  'ftp_proxy' => q[],
  'getcwd' => q[cwd],
  'gpg' => q[],
  'gzip' => q[/bin/gzip],
  'halt_on_failure' => q[1],
  'histfile' => q[{d}/histfile],
  'histsize' => q[100],
  'http_proxy' => q[],
  'inactivity_timeout' => q[0],
  'index_expire' => q[1],
  'inhibit_startup_message' => q[1],
  'keep_source_where' => q[{d}/sources],
  'load_module_verbosity' => q[none],
  'lynx' => q[],
  'make' => q[/usr/bin/make],
  'make_arg' => q[],
  'make_install_arg' => q[],
  'make_install_make_command' => q[/usr/bin/make],
  'makepl_arg' => q[INSTALL_BASE={lib}],
  'mbuild_arg' => q[],
  'mbuild_install_arg' => q[],
  'mbuild_install_build_command' => q[./Build],
  'mbuildpl_arg' => q[--install_base {lib}],
  'ncftp' => q[],
  'ncftpget' => q[],
  'no_proxy' => q[],
  'pager' => q[cat],
  'patch' => q[/usr/bin/patch],
  'patches_dir' => q[{prefs_dir}],
  'perl5lib_verbosity' => q[none],
  'prefer_external_tar' => q[1],
  'prefer_installer' => q[MB],
  'prefs_dir' => q[{prefs_dir}],
  'prerequisites_policy' => q[follow],
  'pushy_https' => q[0],
  'recommends_policy' => q[0],
  'scan_cache' => q[never],
  'shell' => q[/bin/sh],
  'show_unparsable_versions' => q[0],
  'show_upload_date' => q[0],
  'show_zero_versions' => q[0],
  'skip_installed' => q[0],
  'suggests_policy' => q[0],
  'tar' => q[/bin/tar],
  'tar_verbosity' => q[none],
  'term_is_latin' => q[1],
  'term_ornaments' => q[0],
  'test_report' => q[0],
  'trust_test_report_history' => q[0],
  'unzip' => q[],
  'urllist' => [q[{mirror}]],
  'use_prompt_default' => q[1],
  'use_sqlite' => q[0],
  'version_timeout' => q[15],
  'wget' => q[],
  'yaml_load_code' => q[0],
  'yaml_module' => q[YAML],
}};
1;
__END__
"#,
        lib = lib.display()
    );
    write(&dir.join("CPAN/MyConfig.pm"), conf.as_bytes());
}

/// Real CPAN.pm: `perl -I CONF -MCPAN::MyConfig -MCPAN -e 'notest install …'`.
pub fn cpan_pm_install(env: &TestEnv, conf: &Path, module: &str) -> Output {
    let mut cmd = Command::new("perl");
    cmd.arg(format!("-I{}", conf.display()))
        .args([
            "-MCPAN::MyConfig",
            "-MCPAN",
            "-e",
            &format!("CPAN::Shell->notest('install', '{module}'); exit(CPAN::Shell->mandatory_dist_failed ? 1 : 0)"),
        ])
        .env("PERL_MM_USE_DEFAULT", "1")
        .env("PERL_CPAN_REPORTER_CONFIG", "/dev/null");
    isolate(&mut cmd, env);
    run_cmd(cmd, env.dir())
}

/// The directory CPAN.pm built `release` in (`CONF/build/<release>-XXXX`).
pub fn cpan_build_dir(conf: &Path, release: &str) -> PathBuf {
    std::fs::read_dir(conf.join("build"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.is_dir()
                && p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&format!("{release}-"))
        })
        .unwrap_or_else(|| panic!("CPAN.pm built no {release}"))
}
