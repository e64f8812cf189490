//! Refusals: hostile archives and hostile patches. One test per attack,
//! named after it; each shows the one-sentence error naming the file and
//! the entry or patch, exit status 2, and that nothing was written.

use crate::support::*;

/// Build a tar stream from raw entries, bypassing the `tar` crate's own
/// path checks (it refuses to write `..` and absolute names).
fn raw_tar(entries: &[(&str, u8, &[u8], &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, data, link) in entries {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0001750");
        h[116..123].copy_from_slice(b"0001750");
        let size = format!("{:011o}", data.len());
        h[124..135].copy_from_slice(size.as_bytes());
        h[136..147].copy_from_slice(b"14524451400");
        h[156] = *kind;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        if *kind == b'3' || *kind == b'4' {
            h[329..336].copy_from_slice(b"0000001");
            h[337..344].copy_from_slice(b"0000003");
        }
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

const DIR: u8 = b'5';
const FILE: u8 = b'0';

/// Write a hostile tarball named `Evil-1.0.tar.gz`, run apply on it, and
/// check the refusal.
fn refuse(entries: &[(&str, u8, &[u8], &str)], expect: &[&str]) {
    refuse_bytes(gzip(&raw_tar(entries)), expect);
}

fn refuse_bytes(bytes: Vec<u8>, expect: &[&str]) {
    let env = TestEnv::new();
    SourceBuilder::new(env.path("patches")).add("PK-E", "Evil", "0", &udiff("a.txt", "a\n", "b\n"));
    std::fs::create_dir_all(env.path("in")).unwrap();
    let tb = env.path("in/Evil-1.0.tar.gz");
    std::fs::write(&tb, &bytes).unwrap();
    let out = env.run_code(
        &[
            "apply",
            "--source",
            "patches",
            "-o",
            "out",
            tb.to_str().unwrap(),
        ],
        2,
    );
    let err = out
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or("");
    assert!(
        err.contains("Evil-1.0.tar.gz"),
        "error does not name the file: {}",
        out.stderr
    );
    for word in expect {
        assert!(err.contains(word), "error lacks {word:?}: {}", out.stderr);
    }
    assert!(
        !env.path("out/Evil-1.0.tar.gz").exists(),
        "nothing may be written"
    );
    assert_eq!(
        std::fs::read(&tb).unwrap(),
        bytes,
        "the input must be untouched"
    );
}

#[test]
fn apply_refuses_absolute_path() {
    refuse(
        &[("Evil-1.0/", DIR, b"", ""), ("/etc/evil", FILE, b"x", "")],
        &["/etc/evil"],
    );
}

#[test]
fn apply_refuses_parent_dir_entry() {
    refuse(
        &[
            ("Evil-1.0/", DIR, b"", ""),
            ("Evil-1.0/../../x", FILE, b"x", ""),
        ],
        &["Evil-1.0/../../x"],
    );
}

#[test]
fn apply_refuses_symlink_out_of_tree() {
    refuse(
        &[
            ("Evil-1.0/", DIR, b"", ""),
            ("Evil-1.0/link", b'2', b"", "../../etc/passwd"),
        ],
        &["Evil-1.0/link"],
    );
}

#[test]
fn apply_refuses_hardlink_out_of_tree() {
    refuse(
        &[
            ("Evil-1.0/", DIR, b"", ""),
            ("Evil-1.0/hard", b'1', b"", "/etc/shadow"),
        ],
        &["Evil-1.0/hard"],
    );
}

#[test]
fn apply_refuses_device_node() {
    refuse(
        &[("Evil-1.0/", DIR, b"", ""), ("Evil-1.0/dev", b'3', b"", "")],
        &["Evil-1.0/dev"],
    );
}

#[test]
fn apply_refuses_duplicate_entries() {
    refuse(
        &[
            ("Evil-1.0/", DIR, b"", ""),
            ("Evil-1.0/a.txt", FILE, b"a\n", ""),
            ("Evil-1.0/a.txt", FILE, b"evil\n", ""),
        ],
        &["Evil-1.0/a.txt"],
    );
}

#[test]
fn apply_refuses_gzip_bomb() {
    // 600 MiB of zeros in one member: it compresses ~1000:1.
    let mut tar = raw_tar(&[("Evil-1.0/", DIR, b"", "")]);
    tar.truncate(512);
    let mut h = raw_tar(&[("Evil-1.0/zeros", FILE, b"", "")]);
    h.truncate(512);
    let size = format!("{:011o}", 600u64 << 20);
    h[124..135].copy_from_slice(size.as_bytes());
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    tar.extend_from_slice(&h);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, &tar).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..600 {
        std::io::Write::write_all(&mut enc, &zeros).unwrap();
    }
    std::io::Write::write_all(&mut enc, &[0u8; 1024]).unwrap();
    refuse_bytes(enc.finish().unwrap(), &[]);
}

#[test]
fn apply_refuses_truncated_gzip() {
    let good = DistBuilder::new("Evil", "1.0")
        .file("a.txt", &"a\n".repeat(5000))
        .tarball_bytes();
    refuse_bytes(good[..good.len() / 2].to_vec(), &[]);
}

#[test]
fn apply_refuses_two_top_directories() {
    refuse(
        &[
            ("Evil-1.0/a.txt", FILE, b"a\n", ""),
            ("Other/b.txt", FILE, b"b\n", ""),
        ],
        &["Other"],
    );
}

#[test]
fn source_refuses_patch_leaving_the_dist() {
    let env = TestEnv::new();
    let patch = "--- a/../../etc/profile\n+++ b/../../etc/profile\n@@ -1 +1 @@\n-a\n+b\n";
    SourceBuilder::new(env.path("patches")).add("PK-ESC", "Esc", "0", patch);
    let tb = DistBuilder::new("Esc", "1")
        .file("a", "a\n")
        .tarball(&env.path("in"));
    let out = env.run_code(
        &[
            "apply",
            "--source",
            "patches",
            "-o",
            "out",
            tb.to_str().unwrap(),
        ],
        2,
    );
    assert!(out.stderr.contains("Esc/PK-ESC.patch"), "{}", out.stderr);
    assert!(!env.path("out").exists());
}

#[test]
fn source_refuses_invalid_records_naming_each_file() {
    let env = TestEnv::new();
    let src = SourceBuilder::new(env.path("patches"));
    src.add("PK-1", "Dup", "0", &udiff("a", "a\n", "b\n"));
    src.add("PK-BAD", "Bad", ">= 1,, < 2", &udiff("a", "a\n", "b\n"));
    // Same id in another dist folder.
    src.add("PK-1", "Dup2", "0", &udiff("a", "a\n", "b\n"));
    // A record in the wrong folder.
    std::fs::create_dir_all(env.path("patches/Wrong")).unwrap();
    std::fs::write(
        env.path("patches/Wrong/PK-W.toml"),
        "id = \"PK-W\"\ndist = \"Right\"\nversions = \"0\"\npatch = \"PK-W.patch\"\ntitle = \"t\"\n",
    )
    .unwrap();
    std::fs::write(
        env.path("patches/Wrong/PK-W.patch"),
        udiff("a", "a\n", "b\n"),
    )
    .unwrap();
    // A record whose patch file is missing.
    std::fs::create_dir_all(env.path("patches/Lost")).unwrap();
    std::fs::write(
        env.path("patches/Lost/PK-L.toml"),
        "id = \"PK-L\"\ndist = \"Lost\"\nversions = \"0\"\npatch = \"PK-L.patch\"\ntitle = \"t\"\n",
    )
    .unwrap();
    let tb = DistBuilder::new("Dup", "1")
        .file("a", "a\n")
        .tarball(&env.path("in"));
    let out = env.run_code(&["check", "--source", "patches", tb.to_str().unwrap()], 2);
    for needle in [
        "Bad/PK-BAD.toml: field `versions`",
        "duplicate id PK-1",
        "Wrong/PK-W.toml: record is for dist Right but sits in folder Wrong",
        "Lost/PK-L.toml: patch file PK-L.patch is missing",
    ] {
        assert!(
            out.stderr.contains(needle),
            "missing {needle:?} in:\n{}",
            out.stderr
        );
    }
}

#[test]
fn apply_refuses_symlinks_over_the_symlink_work_limit() {
    // 3,000 symlinks of 99 bytes, each a chain of `./` that the check must
    // walk component by component (20,000 longer ones once cost ~27 s of
    // CPU): 297,000 bytes of targets, over the 256 KiB default.
    let target = format!("{}f", "./".repeat(49));
    let names: Vec<String> = (0..3000).map(|i| format!("Evil-1.0/l{i}")).collect();
    let mut entries: Vec<(&str, u8, &[u8], &str)> = vec![
        ("Evil-1.0/", DIR, b"", ""),
        ("Evil-1.0/f", FILE, b"x\n", ""),
    ];
    for n in &names {
        entries.push((n, b'2', b"", &target));
    }
    refuse(&entries, &["symlink targets add up", "limits.symlink_work"]);
}

#[test]
fn apply_refuses_a_tarball_over_the_memory_per_target() {
    // 2 MiB that barely compress; with `memory_per_target` at 3 MiB a
    // target may unpack to 1 MiB (patchkit holds about three copies).
    let env = TestEnv::new();
    SourceBuilder::new(env.path("patches")).add("PK-E", "Evil", "0", &udiff("a.txt", "a\n", "b\n"));
    std::fs::create_dir_all(env.home()).unwrap();
    std::fs::write(
        env.home().join("config.toml"),
        "[limits]\nmemory_per_target = \"3 MiB\"\n",
    )
    .unwrap();
    let mut data = Vec::with_capacity(2 << 20);
    let mut x: u32 = 12345;
    while data.len() < 2 << 20 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        data.push((x >> 16) as u8);
    }
    let tar = raw_tar(&[
        ("Evil-1.0/", DIR, b"", ""),
        ("Evil-1.0/big.bin", FILE, &data, ""),
    ]);
    std::fs::create_dir_all(env.path("in")).unwrap();
    let tb = env.path("in/Evil-1.0.tar.gz");
    std::fs::write(&tb, gzip(&tar)).unwrap();
    let out = env.run_code(
        &[
            "apply",
            "--source",
            "patches",
            "-o",
            "out",
            tb.to_str().unwrap(),
        ],
        2,
    );
    assert!(
        out.stderr.contains("Evil-1.0.tar.gz")
            && out
                .stderr
                .contains("memory limit of 3145728 bytes per target")
            && out.stderr.contains("limits.memory_per_target"),
        "{}",
        out.stderr
    );
    assert!(!env.path("out/Evil-1.0.tar.gz").exists());
}
