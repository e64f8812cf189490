//! Plain `.tar` and `.zip` distributions: patched and written back in the
//! same format (made and read back by real tools: GNU tar and Python's
//! zipfile), and hostile zips refused like hostile tarballs, one test per
//! attack, each naming the file and the entry, exit status 2, nothing
//! written.

use std::io::Write;

use crate::audit::{foo_dist, source_with};
use crate::support::*;

/// Python's zipfile, a real zip implementation, run on `script`.
fn python(env: &TestEnv, script: &str, args: &[&str]) -> Output {
    let mut cmd = std::process::Command::new("python3");
    cmd.arg("-c").arg(script).args(args);
    run_cmd(cmd, env.dir())
}

#[test]
fn a_plain_tar_dist_is_patched_and_written_back_as_a_plain_tar() {
    let env = TestEnv::new();
    source_with(&env, "");
    let dir = foo_dist("1.0").unpack(&env.path("src"));
    let top = dir.file_name().unwrap().to_str().unwrap().to_string();
    let mut tar = std::process::Command::new("tar");
    tar.args(["-cf", "Foo-Bar-1.0.tar", &top]);
    assert_eq!(run_cmd(tar, &env.path("src")).code, 0);
    let out = env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "out",
        "src/Foo-Bar-1.0.tar",
    ]);
    assert!(out.stdout.contains("PK-0001"), "{}", out.stdout);
    let written = std::fs::read(env.path("out/Foo-Bar-1.0.tar")).unwrap();
    assert_eq!(&written[257..262], b"ustar", "a plain tar, not compressed");
    let mut list = std::process::Command::new("tar");
    list.args(["-xOf", "out/Foo-Bar-1.0.tar", "Foo-Bar-1.0/lib/Foo.pm"]);
    let got = run_cmd(list, env.dir());
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert_eq!(got.stdout, crate::audit::FOO_PM_FIXED);
    // The record is inside, and audit reads it back.
    let audit = env.run_ok(&["audit", "--source", "patches", "out/Foo-Bar-1.0.tar"]);
    assert!(audit.stdout.contains("genuine"), "{}", audit.stdout);
}

#[test]
fn a_zip_dist_is_patched_and_written_back_as_a_zip() {
    let env = TestEnv::new();
    source_with(&env, "");
    let dir = foo_dist("1.0").unpack(&env.path("src"));
    let made = python(
        &env,
        "import os, sys, zipfile\n\
         src, out = sys.argv[1], sys.argv[2]\n\
         base = os.path.dirname(src)\n\
         with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:\n\
         \x20   for root, dirs, files in sorted(os.walk(src)):\n\
         \x20       z.write(root, os.path.relpath(root, base) + '/')\n\
         \x20       for f in sorted(files):\n\
         \x20           p = os.path.join(root, f)\n\
         \x20           z.write(p, os.path.relpath(p, base))\n",
        &[dir.to_str().unwrap(), "Foo-Bar-1.0.zip"],
    );
    assert_eq!(made.code, 0, "{}", made.stderr);
    let out = env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "out",
        "Foo-Bar-1.0.zip",
    ]);
    assert!(out.stdout.contains("PK-0001"), "{}", out.stdout);
    let read = python(
        &env,
        "import sys, zipfile\n\
         z = zipfile.ZipFile(sys.argv[1])\n\
         assert z.testzip() is None\n\
         sys.stdout.write(z.read('Foo-Bar-1.0/lib/Foo.pm').decode())\n\
         sys.stderr.write(' '.join(sorted(z.namelist())))\n",
        &["out/Foo-Bar-1.0.zip"],
    );
    assert_eq!(read.code, 0, "{}", read.stderr);
    assert_eq!(read.stdout, crate::audit::FOO_PM_FIXED);
    assert!(
        read.stderr.contains("Foo-Bar-1.0/.patchkit/applied.json"),
        "{}",
        read.stderr
    );
    // Deterministic: the same input gives the same bytes.
    env.run_ok(&[
        "apply",
        "--source",
        "patches",
        "-o",
        "again",
        "Foo-Bar-1.0.zip",
    ]);
    assert_eq!(
        std::fs::read(env.path("out/Foo-Bar-1.0.zip")).unwrap(),
        std::fs::read(env.path("again/Foo-Bar-1.0.zip")).unwrap()
    );
    let audit = env.run_ok(&["audit", "--source", "patches", "out/Foo-Bar-1.0.zip"]);
    assert!(audit.stdout.contains("genuine"), "{}", audit.stdout);
}

/// One zip entry: name, data, Unix mode (file type and permissions; `None`
/// for a zip made without Unix attributes), deflated or stored.
struct Entry<'a> {
    name: &'a str,
    data: &'a [u8],
    mode: Option<u32>,
    deflate: bool,
    encrypted: bool,
}

fn file<'a>(name: &'a str, data: &'a [u8]) -> Entry<'a> {
    Entry {
        name,
        data,
        mode: Some(0o100_644),
        deflate: false,
        encrypted: false,
    }
}

/// A zip written byte by byte, so that it can say what no zip library
/// would write (`..`, absolute names, the same name twice).
fn raw_zip(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let data = if e.deflate {
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(e.data).unwrap();
            enc.finish().unwrap()
        } else {
            e.data.to_vec()
        };
        let crc = crc32fast::hash(e.data);
        let method: u16 = if e.deflate { 8 } else { 0 };
        let flags: u16 = u16::from(e.encrypted);
        let offset = out.len() as u32;
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&20u16.to_le_bytes()); // version needed
            v.extend_from_slice(&flags.to_le_bytes());
            v.extend_from_slice(&method.to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes()); // time
            v.extend_from_slice(&0x5021u16.to_le_bytes()); // date 2020-01-01
            v.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
            v.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes()); // extra length
        };
        out.extend_from_slice(b"PK\x03\x04");
        common(&mut out);
        out.extend_from_slice(e.name.as_bytes());
        out.extend_from_slice(&data);
        central.extend_from_slice(b"PK\x01\x02");
        // Made by Unix (3) when there is a mode, else MS-DOS (0).
        let made_by: u16 = if e.mode.is_some() { 0x031e } else { 0x001e };
        central.extend_from_slice(&made_by.to_le_bytes());
        common(&mut central);
        central.extend_from_slice(&0u16.to_le_bytes()); // comment
        central.extend_from_slice(&0u16.to_le_bytes()); // disk
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attrs
        central.extend_from_slice(&(e.mode.unwrap_or(0) << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(e.name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// Writes `Evil-1.0.zip`, applies, and checks the refusal: exit 2, the
/// error names the file and says each of `expect`, nothing written.
fn refuse_zip(entries: &[Entry<'_>], expect: &[&str]) {
    let env = TestEnv::new();
    SourceBuilder::new(env.path("patches")).add("PK-E", "Evil", "0", &udiff("a.txt", "a\n", "b\n"));
    let bytes = raw_zip(entries);
    std::fs::write(env.path("Evil-1.0.zip"), &bytes).unwrap();
    let out = env.run_code(
        &["apply", "--source", "patches", "-o", "out", "Evil-1.0.zip"],
        2,
    );
    let err = out
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or("");
    assert!(err.contains("Evil-1.0.zip"), "{}", out.stderr);
    for word in expect {
        assert!(err.contains(word), "error lacks {word:?}: {}", out.stderr);
    }
    assert!(!env.path("out/Evil-1.0.zip").exists());
    assert_eq!(std::fs::read(env.path("Evil-1.0.zip")).unwrap(), bytes);
}

#[test]
fn a_raw_zip_that_is_fine_is_read() {
    // The control for the refusals below: the same writer, honest content.
    let env = TestEnv::new();
    SourceBuilder::new(env.path("patches")).add(
        "PK-E",
        "Evil",
        ">= 0",
        &udiff("a.txt", "a\n", "b\n"),
    );
    let mut dir = file("Evil-1.0/", b"");
    dir.mode = Some(0o040_755);
    let bytes = raw_zip(&[dir, file("Evil-1.0/a.txt", b"a\n")]);
    std::fs::write(env.path("Evil-1.0.zip"), bytes).unwrap();
    let out = env.run_ok(&["check", "--source", "patches", "Evil-1.0.zip"]);
    assert!(out.stdout.contains("1 patch would apply"), "{}", out.stdout);
}

#[test]
fn zip_refuses_parent_directory_names() {
    refuse_zip(
        &[file("Evil-1.0/../../etc/passwd", b"x")],
        &["\"Evil-1.0/../../etc/passwd\""],
    );
}

#[test]
fn zip_refuses_absolute_names() {
    refuse_zip(
        &[file("/etc/cron.d/evil", b"x")],
        &["\"/etc/cron.d/evil\"", "absolute"],
    );
}

#[test]
fn zip_refuses_a_symlink_out_of_the_tree() {
    let mut link = file("Evil-1.0/link", b"../../../etc/passwd");
    link.mode = Some(0o120_777);
    refuse_zip(
        &[file("Evil-1.0/a.txt", b"a\n"), link],
        &["\"Evil-1.0/link\"", "leaves the distribution directory"],
    );
}

#[test]
fn zip_refuses_the_same_name_twice() {
    refuse_zip(
        &[
            file("Evil-1.0/a.txt", b"a\n"),
            file("Evil-1.0/a.txt", b"evil\n"),
        ],
        &[
            "a name twice",
            "different tools could see different content",
        ],
    );
}

#[test]
fn zip_refuses_a_decompression_bomb() {
    let zeros = vec![0u8; 20 << 20];
    let mut bomb = file("Evil-1.0/zeros", &zeros);
    bomb.deflate = true;
    refuse_zip(&[bomb], &["decompression bomb"]);
}

#[test]
fn zip_refuses_encrypted_entries() {
    let mut secret = file("Evil-1.0/a.txt", b"a\n");
    secret.encrypted = true;
    refuse_zip(&[secret], &["\"Evil-1.0/a.txt\"", "encrypted"]);
}

#[test]
fn zip_refuses_a_device_entry() {
    let mut dev = file("Evil-1.0/dev", b"");
    dev.mode = Some(0o020_644);
    refuse_zip(
        &[file("Evil-1.0/a.txt", b"a\n"), dev],
        &["\"Evil-1.0/dev\"", "device"],
    );
}

#[test]
fn zip_refuses_a_corrupt_file() {
    let mut bytes = raw_zip(&[file("Evil-1.0/a.txt", b"a\n")]);
    // Damage the data: the CRC no longer matches.
    let at = 30 + "Evil-1.0/a.txt".len();
    bytes[at] ^= 0xff;
    let env = TestEnv::new();
    SourceBuilder::new(env.path("patches")).add("PK-E", "Evil", "0", &udiff("a.txt", "a\n", "b\n"));
    std::fs::write(env.path("Evil-1.0.zip"), &bytes).unwrap();
    let out = env.run_code(&["check", "--source", "patches", "Evil-1.0.zip"], 2);
    assert!(out.stderr.contains("Evil-1.0.zip"), "{}", out.stderr);
    assert!(out.stderr.contains("\"Evil-1.0/a.txt\""), "{}", out.stderr);
}

/// A large gzip dist made like `make dist` (GNU tar, `gzip -9`): the
/// compressed blocks before the patched file are copied into the output
/// (its deflate data starts with the input's, byte for byte), the output
/// is the same bytes on 1 and 4 threads, and GNU gzip and GNU tar read it.
#[test]
fn a_large_gzip_dist_keeps_the_compressed_blocks_before_the_patch() {
    let env = TestEnv::new();
    let mut dist = DistBuilder::new("Big-Dist", "1.0").no_meta();
    let mut n: u64 = 7;
    for i in 0..40 {
        let mut text = String::new();
        for _ in 0..1500 {
            n = n
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            text.push_str(&format!("my $x{} = shift; # {}\n", n >> 58, n >> 44));
        }
        dist = dist.file(&format!("lib/Big/M{i:02}.pm"), &text);
    }
    let old = "package Big::Zz;\nsub f { return 1 }\n1;\n";
    let new = "package Big::Zz;\nsub f { return 2 }\n1;\n";
    let dist = dist.file("lib/Big/Zz.pm", old);
    SourceBuilder::new(env.path("patches")).add(
        "PK-BIG",
        "Big-Dist",
        "1.0",
        &udiff("lib/Big/Zz.pm", old, new),
    );
    dist.tarball(&env.path("made"));
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg("mkdir in && gzip -dc made/Big-Dist-1.0.tar.gz | gzip -9n > in/Big-Dist-1.0.tar.gz");
    assert_eq!(run_cmd(sh, env.dir()).code, 0);
    let apply = |threads: &str, out: &str| {
        let mut cmd = std::process::Command::new(bin());
        cmd.arg("--home")
            .arg(env.home())
            .args(["apply", "--source", "patches", "-o", out])
            .arg("in/Big-Dist-1.0.tar.gz")
            .env("RAYON_NUM_THREADS", threads);
        let got = run_cmd(cmd, env.dir());
        assert_eq!(got.code, 0, "{}", got.stderr);
        std::fs::read(env.path(out).join("Big-Dist-1.0.tar.gz")).unwrap()
    };
    let one = apply("1", "one");
    assert_eq!(apply("4", "four"), one, "1 and 4 threads");
    let input = std::fs::read(env.path("in/Big-Dist-1.0.tar.gz")).unwrap();
    // Both headers are 10 bytes (no name); the deflate data after them is
    // the input's up to the last block boundary before lib/Big/Zz.pm.
    let same = one[10..]
        .iter()
        .zip(&input[10..])
        .take_while(|(a, b)| a == b)
        .count();
    assert!(same > 200_000, "only {same} bytes in common");
    let mut test = std::process::Command::new("gzip");
    test.args(["-t", "one/Big-Dist-1.0.tar.gz"]);
    assert_eq!(run_cmd(test, env.dir()).code, 0);
    let mut read = std::process::Command::new("tar");
    read.args([
        "-xOzf",
        "one/Big-Dist-1.0.tar.gz",
        "Big-Dist-1.0/lib/Big/Zz.pm",
    ]);
    let got = run_cmd(read, env.dir());
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert_eq!(got.stdout, new);
    let mut read = std::process::Command::new("tar");
    read.args([
        "-xOzf",
        "one/Big-Dist-1.0.tar.gz",
        "Big-Dist-1.0/lib/Big/M39.pm",
    ]);
    assert_eq!(
        run_cmd(read, env.dir()).stdout.as_bytes(),
        dist.files["lib/Big/M39.pm"].0
    );
}
