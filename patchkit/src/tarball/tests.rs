//! Tests for archives and directories. Normal tarballs come from
//! `tar::Builder`; hostile ones are written header by header (`Raw`),
//! since the builder refuses to make them. Every refusal test checks that
//! the message names the archive file and the entry at fault.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use super::read::Kind;
use super::*;
use crate::tree::{Change, FileEntry, InTreePath};

const NAME: &str = "Foo-Bar-1.23.tar.gz";
const TOP: &str = "Foo-Bar-1.23";

fn p(s: &str) -> InTreePath {
    InTreePath::parse(s).unwrap()
}

fn file(data: &[u8], mode: u32) -> FileEntry {
    FileEntry {
        data: data.to_vec(),
        mode,
    }
}

fn gz(tar: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(tar).unwrap();
    enc.finish().unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(data), &mut out).unwrap();
    out
}

/// A tar written header by header, for archives no well-behaved tool makes.
#[derive(Default)]
struct Raw(Vec<u8>);

impl Raw {
    /// One ustar member with fixed metadata.
    fn entry(mut self, name: &str, typeflag: u8, data: &[u8], link: &str) -> Self {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0001750\0");
        h[116..124].copy_from_slice(b"0001750\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        h[136..148].copy_from_slice(b"14000000000\0");
        h[156] = typeflag;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..265].copy_from_slice(b"ustar\x0000");
        h[265..271].copy_from_slice(b"author");
        h[297..302].copy_from_slice(b"staff");
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        self.0.extend_from_slice(&h);
        self.0.extend_from_slice(data);
        self.0.resize(self.0.len().div_ceil(512) * 512, 0);
        self
    }
    fn dir(self, name: &str) -> Self {
        self.entry(name, b'5', b"", "")
    }
    fn file(self, name: &str, data: &[u8]) -> Self {
        self.entry(name, b'0', data, "")
    }
    /// A PAX extended header with the given records.
    fn pax(self, records: &[(&str, &str)]) -> Self {
        let mut body = Vec::new();
        for (k, v) in records {
            let base = k.len() + v.len() + 3;
            let mut len = base + base.to_string().len();
            if len.to_string().len() + base != len {
                len = base + len.to_string().len();
            }
            body.extend_from_slice(format!("{len} {k}={v}\n").as_bytes());
        }
        self.entry("PaxHeaders/x", b'x', &body, "")
    }
    fn end(mut self) -> Vec<u8> {
        self.0.resize(self.0.len() + 1024, 0);
        self.0
    }
}

fn refusal(tar: &[u8]) -> String {
    refusal_with(tar, &Limits::default())
}

fn refusal_with(tar: &[u8], limits: &Limits) -> String {
    match Archive::read(NAME, &gz(tar), limits) {
        Ok(a) => panic!("accepted a hostile archive: {a:?}"),
        Err(e) => e.to_string(),
    }
}

/// Assert the message is one sentence naming the archive and the entry.
fn assert_names(msg: &str, entry: &str, reason: &str) {
    assert!(msg.starts_with(&format!("refusing {NAME}: ")), "{msg}");
    assert!(msg.contains(&format!("entry \"{entry}\"")), "{msg}");
    assert!(msg.contains(reason), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
}

/// A normal dist made by `tar::Builder` (GNU headers, as GNU tar makes).
fn normal_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let add =
        |b: &mut tar::Builder<Vec<u8>>, name: &str, kind: tar::EntryType, mode, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(mode);
            h.set_mtime(1_700_000_000);
            h.set_uid(1000);
            h.set_gid(1000);
            h.set_username("author").unwrap();
            h.set_groupname("staff").unwrap();
            h.set_size(data.len() as u64);
            b.append_data(&mut h, name, data).unwrap();
        };
    add(
        &mut b,
        "Foo-Bar-1.23/",
        tar::EntryType::Directory,
        0o755,
        b"",
    );
    add(
        &mut b,
        "Foo-Bar-1.23/Makefile.PL",
        tar::EntryType::Regular,
        0o644,
        b"use ExtUtils::MakeMaker;\n",
    );
    add(
        &mut b,
        "Foo-Bar-1.23/lib/",
        tar::EntryType::Directory,
        0o755,
        b"",
    );
    add(
        &mut b,
        "Foo-Bar-1.23/lib/Foo.pm",
        tar::EntryType::Regular,
        0o644,
        b"package Foo;\n1;\n",
    );
    add(
        &mut b,
        "Foo-Bar-1.23/script",
        tar::EntryType::Regular,
        0o755,
        b"#!perl\nprint 1;\n",
    );
    add(
        &mut b,
        "Foo-Bar-1.23/t/",
        tar::EntryType::Directory,
        0o755,
        b"",
    );
    add(
        &mut b,
        "Foo-Bar-1.23/t/basic.t",
        tar::EntryType::Regular,
        0o644,
        b"ok 1\n",
    );
    b.into_inner().unwrap()
}

/// The raw bytes of every member, by the name it describes.
fn spans(a: &Archive) -> BTreeMap<String, Vec<u8>> {
    let tar = tar_of(a);
    a.members
        .iter()
        .map(|m| {
            let key = match &m.kind {
                Kind::Dir(p) | Kind::File(p) | Kind::Symlink(p) | Kind::HardLink(p, _) => {
                    p.to_string()
                }
                Kind::TopDir => "/".into(),
                Kind::Global => "<global>".into(),
                Kind::Unnamed => ".".into(),
            };
            (key, tar[m.start..m.end].to_vec())
        })
        .collect()
}

/// The decompressed tar an archive was read from (through the reader's
/// own decoder, whatever the compression).
fn tar_of(a: &Archive) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut super::read::decoder(a.compression, &a.input), &mut out)
        .unwrap();
    out
}

// ---- refusals, one per attack -------------------------------------------

#[test]
fn refuses_absolute_path() {
    let tar = Raw::default()
        .dir("Foo-Bar-1.23/")
        .file("/etc/passwd", b"x")
        .end();
    assert_names(&refusal(&tar), "/etc/passwd", "is absolute");
}

#[test]
fn refuses_parent_dir_entry() {
    let tar = Raw::default()
        .dir("Foo-Bar-1.23/")
        .file("Foo-Bar-1.23/../x", b"x")
        .end();
    let msg = refusal(&tar);
    assert_eq!(
        msg,
        "refusing Foo-Bar-1.23.tar.gz: entry \"Foo-Bar-1.23/../x\" leaves the distribution directory"
    );
}

#[test]
fn refuses_control_characters_in_names() {
    let tar = Raw::default().file("Foo-Bar-1.23/a\x1b[2Jb", b"x").end();
    // The escape sequence is shown escaped, never sent to the terminal.
    assert_names(
        &refusal(&tar),
        "Foo-Bar-1.23/a\\u{1b}[2Jb",
        "control character",
    );
}

#[test]
fn refuses_symlink_out_of_tree() {
    let tar = Raw::default()
        .dir("Foo-Bar-1.23/")
        .entry("Foo-Bar-1.23/lib/evil", b'2', b"", "../../../etc/passwd")
        .end();
    assert_names(
        &refusal(&tar),
        "Foo-Bar-1.23/lib/evil",
        "leaves the distribution directory",
    );
}

#[test]
fn refuses_symlink_through_symlink() {
    // `d -> .` is harmless and `e -> d/../x` reads as `x`, but the file
    // system follows `d` first, so `e` really points outside.
    let tar = Raw::default()
        .entry("Foo-Bar-1.23/d", b'2', b"", ".")
        .entry("Foo-Bar-1.23/e", b'2', b"", "d/../x")
        .end();
    assert_names(
        &refusal(&tar),
        "Foo-Bar-1.23/e",
        "passes through another symlink",
    );
}

#[test]
fn refuses_absolute_symlink() {
    let tar = Raw::default()
        .entry("Foo-Bar-1.23/passwd", b'2', b"", "/etc/passwd")
        .end();
    assert_names(
        &refusal(&tar),
        "Foo-Bar-1.23/passwd",
        "absolute path \"/etc/passwd\"",
    );
}

#[test]
fn refuses_hardlink_out_of_tree() {
    let tar = Raw::default()
        .entry("Foo-Bar-1.23/h", b'1', b"", "/etc/shadow")
        .end();
    assert_names(
        &refusal(&tar),
        "Foo-Bar-1.23/h",
        "hard link to \"/etc/shadow\"",
    );
    // Also refused: a link to a later member, or to a directory.
    let tar = Raw::default()
        .entry("Foo-Bar-1.23/h", b'1', b"", "Foo-Bar-1.23/a")
        .file("Foo-Bar-1.23/a", b"x")
        .end();
    assert_names(
        &refusal(&tar),
        "Foo-Bar-1.23/h",
        "not an earlier regular file",
    );
    let tar = Raw::default()
        .dir("Foo-Bar-1.23/d/")
        .entry("Foo-Bar-1.23/h", b'1', b"", "Foo-Bar-1.23/d")
        .end();
    assert_names(
        &refusal(&tar),
        "Foo-Bar-1.23/h",
        "not an earlier regular file",
    );
}

#[test]
fn refuses_device_node() {
    let tar = Raw::default()
        .dir("Foo-Bar-1.23/")
        .entry("Foo-Bar-1.23/sda", b'4', b"", "")
        .end();
    assert_names(&refusal(&tar), "Foo-Bar-1.23/sda", "is a device file");
    let tar = Raw::default()
        .entry("Foo-Bar-1.23/tty", b'3', b"", "")
        .end();
    assert_names(&refusal(&tar), "Foo-Bar-1.23/tty", "is a device file");
}

#[test]
fn refuses_fifo() {
    let tar = Raw::default()
        .dir("Foo-Bar-1.23/")
        .entry("Foo-Bar-1.23/pipe", b'6', b"", "")
        .end();
    assert_names(&refusal(&tar), "Foo-Bar-1.23/pipe", "is a FIFO");
}

#[test]
fn refuses_gzip_bomb() {
    // 200 MB of zeros in one member compresses to about 200 KB: a ratio of
    // ~1000, far past the default 200, and caught while decompressing.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let header = Raw::default().file("Foo-Bar-1.23/zeros", b"").0;
    let mut header = header;
    header[124..136].copy_from_slice(format!("{:011o}\0", 200_000_000u64).as_bytes());
    header[148..156].fill(b' ');
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    enc.write_all(&header).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..200 {
        enc.write_all(&chunk).unwrap();
    }
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 400_000, "{}", bomb.len());
    let msg = Archive::read(NAME, &bomb, &Limits::default())
        .unwrap_err()
        .to_string();
    assert!(msg.starts_with(&format!("refusing {NAME}: ")), "{msg}");
    assert!(msg.contains("decompression bomb"), "{msg}");
    assert!(msg.contains("inside entry \"Foo-Bar-1.23/zeros\""), "{msg}");
}

#[test]
fn refuses_archive_over_unpacked_limit() {
    let tar = Raw::default().file("Foo-Bar-1.23/a", &[7u8; 4096]).end();
    let limits = Limits {
        max_unpacked_bytes: 2048,
        ..Limits::default()
    };
    let msg = refusal_with(&tar, &limits);
    assert!(
        msg.contains("unpacks to more than the limit of 2048 bytes"),
        "{msg}"
    );
    assert!(msg.contains("inside entry \"Foo-Bar-1.23/a\""), "{msg}");
}

#[test]
fn refuses_truncated_gzip() {
    let big: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let tar = Raw::default()
        .file("Foo-Bar-1.23/a", b"a")
        .file("Foo-Bar-1.23/data", &big)
        .end();
    let whole = gz(&tar);
    let cut = &whole[..whole.len() / 2];
    let msg = Archive::read(NAME, cut, &Limits::default())
        .unwrap_err()
        .to_string();
    assert!(msg.starts_with(&format!("refusing {NAME}: ")), "{msg}");
    assert!(msg.contains("compressed data ends early"), "{msg}");
    assert!(msg.contains("inside entry \"Foo-Bar-1.23/data\""), "{msg}");
    // A corrupt CRC in an otherwise whole stream is refused as well.
    let mut bad = whole.clone();
    let crc = bad.len() - 8;
    bad[crc] ^= 0xff;
    let msg = Archive::read(NAME, &bad, &Limits::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("compressed data is corrupt"), "{msg}");
}

#[test]
fn refuses_truncated_tar() {
    let tar = Raw::default()
        .dir("Foo-Bar-1.23/")
        .file("Foo-Bar-1.23/data", &[1u8; 3000])
        .0;
    let cut = &tar[..512 + 512 + 1000];
    assert_names(&refusal(cut), "Foo-Bar-1.23/data", "is cut short");
}

#[test]
fn refuses_duplicate_entries() {
    let tar = Raw::default()
        .file("Foo-Bar-1.23/lib/Foo.pm", b"good")
        .file("Foo-Bar-1.23/./lib//Foo.pm", b"evil")
        .end();
    assert_names(
        &refusal(&tar),
        "Foo-Bar-1.23/./lib//Foo.pm",
        "appears twice",
    );
}

#[test]
fn refuses_two_top_dirs() {
    let tar = Raw::default()
        .file("Foo-Bar-1.23/a", b"x")
        .file("Other-1.0/b", b"y")
        .end();
    assert_names(
        &refusal(&tar),
        "Other-1.0/b",
        "outside the top directory \"Foo-Bar-1.23\"",
    );
}

#[test]
fn refuses_file_at_top_level() {
    let tar = Raw::default()
        .dir("Foo-Bar-1.23/")
        .file("README", b"x")
        .end();
    assert_names(&refusal(&tar), "README", "at the top level");
}

#[test]
fn refuses_too_many_entries() {
    let mut raw = Raw::default().dir("Foo-Bar-1.23/");
    for i in 0..10 {
        raw = raw.file(&format!("Foo-Bar-1.23/f{i}"), b"x");
    }
    let limits = Limits {
        max_entries: 5,
        ..Limits::default()
    };
    assert_names(
        &refusal_with(&raw.end(), &limits),
        "Foo-Bar-1.23/f4",
        "past the limit of 5 entries",
    );
}

#[test]
fn refuses_file_over_size_limit() {
    let tar = Raw::default().file("Foo-Bar-1.23/big", &[1u8; 2000]).end();
    let limits = Limits {
        max_file_bytes: 1000,
        ..Limits::default()
    };
    assert_names(
        &refusal_with(&tar, &limits),
        "Foo-Bar-1.23/big",
        "per-file limit of 1000 bytes",
    );
}

#[test]
fn refuses_entry_below_a_symlink() {
    let tar = Raw::default()
        .entry("Foo-Bar-1.23/lib", b'2', b"", "t")
        .file("Foo-Bar-1.23/lib/Foo.pm", b"x")
        .end();
    assert_names(
        &refusal(&tar),
        "Foo-Bar-1.23/lib/Foo.pm",
        "lies below a file or symlink",
    );
}

#[test]
fn refuses_pax_size_that_disagrees_with_header() {
    let tar = Raw::default()
        .pax(&[("size", "1024")])
        .file("Foo-Bar-1.23/a", b"x")
        .end();
    assert_names(
        &refusal(&tar),
        "Foo-Bar-1.23/a",
        "PAX size record disagrees",
    );
}

#[test]
fn refuses_trailing_garbage_but_tolerates_zeros() {
    let mut tar = Raw::default().file("Foo-Bar-1.23/a", b"x").end();
    tar.extend_from_slice(&[0u8; 3000]);
    assert!(Archive::read(NAME, &gz(&tar), &Limits::default()).is_ok());
    tar.extend_from_slice(b"hidden");
    let msg = refusal(&tar);
    assert!(msg.contains("non-zero data after the end"), "{msg}");
}

#[test]
fn refuses_unknown_compression() {
    let msg = Archive::read(NAME, b"not an archive at all", &Limits::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        format!("refusing {NAME}: it is not a .tar.gz, .tar.bz2, .tar.xz, .tar or .zip archive")
    );
}

#[test]
fn reads_a_plain_tar_and_writes_it_back_uncompressed() {
    let tar = Raw::default().file("Foo-Bar-1.23/a", b"x").end();
    let archive = Archive::read(NAME, &tar, &Limits::default()).unwrap();
    assert_eq!(archive.compression(), crate::tarball::Compression::None);
    let out = archive.write_to(&[], Vec::new()).unwrap();
    assert_eq!(out, tar, "nothing changed: the same bytes");
}

#[test]
fn refuses_corrupt_header_checksum() {
    let mut tar = Raw::default().file("Foo-Bar-1.23/a", b"x").end();
    tar[0] = b'G';
    assert_names(&refusal(&tar), "Goo-Bar-1.23/a", "checksum mismatch");
}

// ---- reading ------------------------------------------------------------

#[test]
fn reads_tree_below_top_dir() {
    let a = Archive::read(NAME, &gz(&normal_tar()), &Limits::default()).unwrap();
    assert_eq!(a.top_dir(), TOP);
    assert_eq!(a.compression(), Compression::Gzip);
    let t = a.tree();
    assert_eq!(t.files.len(), 4);
    assert_eq!(t.files[&p("lib/Foo.pm")].data, b"package Foo;\n1;\n");
    assert_eq!(t.files[&p("script")].mode, 0o755);
    assert!(t.dirs.contains(&p("lib")) && t.dirs.contains(&p("t")));
}

#[test]
fn accepts_symlink_inside_tree() {
    let tar = Raw::default()
        .dir("Foo-Bar-1.23/")
        .file("Foo-Bar-1.23/lib/Foo.pm", b"x")
        .entry("Foo-Bar-1.23/t/lib", b'2', b"", "../lib")
        .entry("Foo-Bar-1.23/t/Foo.pm", b'2', b"", "../lib/./Foo.pm")
        .end();
    let a = Archive::read(NAME, &gz(&tar), &Limits::default()).unwrap();
    assert_eq!(a.tree().symlinks[&p("t/lib")], "../lib");
    // Unchanged symlinks survive a write byte for byte.
    let out = a
        .write_tar(&[Change::Add(p("new"), file(b"n", 0o644))])
        .unwrap();
    assert_eq!(&out[..a.members_end], &tar[..a.members_end]);
}

#[test]
fn hard_link_is_materialised_and_kept_raw() {
    let tar = Raw::default()
        .dir("Foo-Bar-1.23/")
        .file("Foo-Bar-1.23/a", b"content")
        .entry("Foo-Bar-1.23/b", b'1', b"", "Foo-Bar-1.23/a")
        .end();
    let a = Archive::read(NAME, &gz(&tar), &Limits::default()).unwrap();
    assert_eq!(a.tree().files[&p("b")].data, b"content");
    assert_eq!(a.write_tar(&[]).unwrap(), tar);
    // When the target changes, the link becomes a file with the old content.
    let out = a
        .write(&[Change::Modify(p("a"), file(b"new", 0o644))])
        .unwrap();
    let b = Archive::read(NAME, &out, &Limits::default()).unwrap();
    assert_eq!(b.tree().files[&p("a")].data, b"new");
    assert_eq!(b.tree().files[&p("b")].data, b"content");
    assert!(matches!(b.members[2].kind, Kind::File(_)));
}

#[test]
fn a_lean_read_holds_what_is_asked_and_keeps_digest_and_output() {
    // 7 MiB held, then past the hold: `a` (and its hard link `b`) only
    // hashed, META.json held all the same, as `apply` asks.
    let mib = 1024 * 1024;
    let first: Vec<u8> = (0..7 * mib).map(|i| (i % 251) as u8).collect();
    let second: Vec<u8> = (0..2 * mib).map(|i| (i % 241) as u8).collect();
    let meta = [b"{}\n".as_slice(), &vec![b' '; 2 * mib]].concat();
    let tar = Raw::default()
        .dir("Foo-Bar-1.23/")
        .file("Foo-Bar-1.23/first", &first)
        .file("Foo-Bar-1.23/a", &second)
        .entry("Foo-Bar-1.23/b", b'1', b"", "Foo-Bar-1.23/a")
        .file("Foo-Bar-1.23/META.json", &meta)
        .end();
    let compressed = gz(&tar);
    let full = Archive::read(NAME, &compressed, &Limits::default()).unwrap();
    let mut lean =
        Archive::read_lean(NAME, compressed, &Limits::default(), &["META.json"]).unwrap();
    let t = lean.tree();
    assert!(t.files.contains_key(&p("first")) && t.files.contains_key(&p("META.json")));
    assert!(t.unloaded.contains_key(&p("a")) && t.unloaded.contains_key(&p("b")));
    assert_eq!(t.digest(), full.tree().digest());
    // Holding `a` reads it (and its link) again; `first` is dropped.
    lean.hold_only(&[p("a")].into_iter().collect()).unwrap();
    let t = lean.tree();
    assert_eq!(t.files[&p("a")].data, second);
    assert_eq!(t.files[&p("b")].data, second);
    assert!(t.unloaded.contains_key(&p("first")) && t.unloaded.contains_key(&p("META.json")));
    assert_eq!(t.digest(), full.tree().digest());
    let change = [Change::Modify(p("a"), file(b"new", 0o644))];
    assert_eq!(lean.write(&change).unwrap(), full.write(&change).unwrap());
}

#[test]
fn pax_global_header_is_kept() {
    // What `git archive` writes first.
    let tar = Raw::default()
        .entry(
            "pax_global_header",
            b'g',
            b"52 comment=0123456789abcdef0123456789abcdef01234567\n",
            "",
        )
        .dir("Foo-Bar-1.23/")
        .file("Foo-Bar-1.23/a", b"x")
        .end();
    let a = Archive::read(NAME, &gz(&tar), &Limits::default()).unwrap();
    assert_eq!(a.top_dir(), TOP);
    assert_eq!(a.write_tar(&[]).unwrap(), tar);
}

#[test]
fn bzip2_round_trip() {
    let tar = normal_tar();
    let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    enc.write_all(&tar).unwrap();
    let bz = enc.finish().unwrap();
    let a = Archive::read("Foo-Bar-1.23.tar.bz2", &bz, &Limits::default()).unwrap();
    assert_eq!(a.compression(), Compression::Bzip2);
    let out = a.write(&[Change::Delete(p("t/basic.t"))]).unwrap();
    assert!(out.starts_with(b"BZh9"));
    let b = Archive::read("Foo-Bar-1.23.tar.bz2", &out, &Limits::default()).unwrap();
    assert!(!b.tree().files.contains_key(&p("t/basic.t")));
    // Truncated bzip2 is refused too.
    let msg = Archive::read(
        "Foo-Bar-1.23.tar.bz2",
        &bz[..bz.len() / 2],
        &Limits::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        msg.starts_with("refusing Foo-Bar-1.23.tar.bz2: the compressed data"),
        "{msg}"
    );
}

// ---- writing ------------------------------------------------------------

#[test]
fn round_trip_without_changes_keeps_tar_bytes() {
    let tar = normal_tar();
    let a = Archive::read(NAME, &gz(&tar), &Limits::default()).unwrap();
    assert_eq!(gunzip(&a.write(&[]).unwrap()), tar);
}

#[test]
fn round_trip_keeps_record_padding() {
    // GNU tar pads to 10240-byte records; so must we, even after growth.
    let mut tar = Raw::default()
        .dir("Foo-Bar-1.23/")
        .file("Foo-Bar-1.23/a", b"x")
        .end();
    tar.resize(10240, 0);
    let a = Archive::read(NAME, &gz(&tar), &Limits::default()).unwrap();
    assert_eq!(a.write_tar(&[]).unwrap(), tar);
    let big = vec![b'y'; 20_000];
    let out = a
        .write_tar(&[Change::Add(p("b"), file(&big, 0o644))])
        .unwrap();
    assert_eq!(out.len() % 10240, 0);
    assert!(out.ends_with(&[0u8; 1024]));
}

#[test]
fn modify_add_delete_change_only_those_members() {
    let tar = normal_tar();
    let a = Archive::read(NAME, &gz(&tar), &Limits::default()).unwrap();
    let changes = [
        Change::Modify(p("lib/Foo.pm"), file(b"package Foo; # fixed\n1;\n", 0o600)),
        Change::Delete(p("t/basic.t")),
        Change::Add(
            p("lib/Foo/Safe.pm"),
            file(b"package Foo::Safe;\n1;\n", 0o644),
        ),
        Change::Add(p("Changes.patched"), file(b"x\n", 0o644)),
    ];
    let out = a.write(&changes).unwrap();
    let b = Archive::read(NAME, &out, &Limits::default()).unwrap();

    let (before, after) = (spans(&a), spans(&b));
    for unchanged in ["/", "Makefile.PL", "lib", "script", "t"] {
        assert_eq!(before[unchanged], after[unchanged], "{unchanged}");
    }
    assert!(!after.contains_key("t/basic.t"));
    // Order: originals in their order, then additions in path order, with
    // the missing directory `lib/Foo` before the file in it.
    let order: Vec<String> = after.keys().cloned().collect();
    let kinds: Vec<String> = b
        .members
        .iter()
        .map(|m| match &m.kind {
            Kind::Dir(p) => format!("{p}/"),
            Kind::File(p) => p.to_string(),
            _ => "/".into(),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "/",
            "Makefile.PL",
            "lib/",
            "lib/Foo.pm",
            "script",
            "t/",
            "Changes.patched",
            "lib/Foo/",
            "lib/Foo/Safe.pm"
        ]
    );
    assert_eq!(order.len(), kinds.len());

    // The modified member keeps every header field but size, mode, checksum.
    let old = &before["lib/Foo.pm"][..512];
    let new = &after["lib/Foo.pm"][..512];
    for (range, field) in [
        (0..100, "name"),
        (108..124, "uid/gid"),
        (136..148, "mtime"),
        (156..500, "type.."),
    ] {
        assert_eq!(old[range.clone()], new[range], "{field}");
    }
    assert_eq!(
        b.tree().files[&p("lib/Foo.pm")],
        file(b"package Foo; # fixed\n1;\n", 0o600)
    );

    // New members copy the top directory's metadata, not the clock's.
    let top = &before["/"][..512];
    for added in ["lib/Foo/Safe.pm", "lib/Foo"] {
        let h = &after[added][..512];
        assert_eq!(h[108..124], top[108..124], "{added} uid/gid");
        assert_eq!(h[136..148], top[136..148], "{added} mtime");
        assert_eq!(h[257..345], top[257..345], "{added} magic, uname, gname");
    }
    assert_eq!(b.tree().files[&p("lib/Foo/Safe.pm")].mode, 0o644);
    assert!(b.tree().dirs.contains(&p("lib/Foo")));
}

/// A dist of about `mib` MiB over many members, so that the output spans
/// many parallel gzip chunks and batches. Pseudo-random text, fixed seed.
fn big_tar(mib: usize) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, kind: tar::EntryType, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_mtime(1_700_000_000);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).unwrap();
    };
    add("Foo-Bar-1.23/", tar::EntryType::Directory, b"");
    let mut n: u64 = 13;
    let mut total = 0;
    let mut i = 0;
    while total < mib << 20 {
        let mut text = Vec::new();
        for _ in 0..(200 + i % 3000) {
            n = n.wrapping_mul(6364136223846793005).wrapping_add(1);
            text.extend_from_slice(format!("my $x{} = shift; # {}\n", n >> 58, n >> 44).as_bytes());
        }
        total += text.len();
        add(
            &format!("Foo-Bar-1.23/lib/M{i}.pm"),
            tar::EntryType::Regular,
            &text,
        );
        i += 1;
    }
    b.into_inner().unwrap()
}

fn write_with_threads(a: &Archive, changes: &[Change], threads: usize) -> Vec<u8> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| a.write(changes).unwrap())
}

#[test]
fn output_is_the_same_bytes_on_any_number_of_threads_and_runs() {
    let tar = big_tar(9);
    let a = Archive::read(NAME, &gz(&tar), &Limits::default()).unwrap();
    let changes = [
        Change::Modify(p("lib/M3.pm"), file(b"package M3; # fixed\n1;\n", 0o644)),
        Change::Add(p("lib/New.pm"), file(b"1;\n", 0o644)),
    ];
    let one = write_with_threads(&a, &changes, 1);
    for threads in [1, 2, 4] {
        assert_eq!(
            write_with_threads(&a, &changes, threads),
            one,
            "{threads} threads"
        );
    }
    // A fresh read of the same input, written again: same bytes.
    let again = Archive::read(NAME, &gz(&tar), &Limits::default()).unwrap();
    assert_eq!(write_with_threads(&again, &changes, 2), one);
    // Streaming to a file gives those bytes and reports their sha256.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(NAME);
    let written = a.write_file(&changes, &path).unwrap();
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(on_disk, one);
    assert_eq!(written.sha256, crate::tree::sha256_hex(&one));
    assert_eq!(written.len, one.len() as u64);
    // Nothing but the output is left in the directory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn unchanged_members_of_a_large_archive_keep_their_bytes() {
    let tar = big_tar(6);
    let a = Archive::read(NAME, &gz(&tar), &Limits::default()).unwrap();
    let changes = [
        Change::Modify(p("lib/M7.pm"), file(b"fixed\n", 0o644)),
        Change::Delete(p("lib/M9.pm")),
    ];
    let out = a.write(&changes).unwrap();
    // One gzip member: a single-member reader sees the whole tar.
    let mut single = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&out[..]), &mut single).unwrap();
    assert_eq!(single, gunzip(&out));
    let b = Archive::read(NAME, &out, &Limits::default()).unwrap();
    let (before, after) = (spans(&a), spans(&b));
    assert_eq!(before.len(), after.len() + 1);
    for (name, bytes) in &after {
        if name != "lib/M7.pm" {
            assert_eq!(&before[name], bytes, "{name}");
        }
    }
    assert_eq!(b.tree().files[&p("lib/M7.pm")].data, b"fixed\n");
}

#[test]
fn a_failed_write_leaves_nothing_behind() {
    let a = Archive::read(NAME, &gz(&normal_tar()), &Limits::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The destination is a non-empty directory: the final rename fails
    // after the whole archive was written to the temporary file.
    let dest = dir.path().join(NAME);
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("keep"), b"x").unwrap();
    let changes = [Change::Add(p("new"), file(b"1;\n", 0o644))];
    let err = a.write_file(&changes, &dest).unwrap_err().to_string();
    assert!(err.starts_with("cannot rename into place"), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [std::ffi::OsString::from(NAME)]);
    assert_eq!(std::fs::read(dest.join("keep")).unwrap(), b"x");
}

/// GNU gzip, GNU tar and perl's Archive::Tar read the output: it is one
/// standard gzip member, whatever the parallel compressor did.
#[test]
fn reference_tools_read_the_output() {
    use std::process::Command;
    let tar = big_tar(5);
    let a = Archive::read(NAME, &gz(&tar), &Limits::default()).unwrap();
    let changes = [Change::Add(p("lib/Added.pm"), file(b"1;\n", 0o644))];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(NAME);
    a.write_file(&changes, &path).unwrap();
    let run = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(Command::new("gzip").arg("-t").arg(&path));
    let listed = run(Command::new("tar").arg("tzf").arg(&path));
    assert!(
        listed.lines().any(|l| l == "Foo-Bar-1.23/lib/Added.pm"),
        "{listed}"
    );
    assert_eq!(listed.lines().count(), a.members.len() + 1);
    let perl = run(Command::new("perl")
        .arg("-MArchive::Tar")
        .arg("-e")
        .arg("my $t = Archive::Tar->new($ARGV[0]) or die Archive::Tar->error; print scalar($t->list_files)")
        .arg(&path));
    assert_eq!(perl.trim(), (a.members.len() + 1).to_string());
}

#[test]
fn bad_changes_are_refused_with_the_entry() {
    let a = Archive::read(NAME, &gz(&normal_tar()), &Limits::default()).unwrap();
    let cases = [
        (
            vec![Change::Delete(p("nope"))],
            "\"Foo-Bar-1.23/nope\" is not a regular file",
        ),
        (
            vec![Change::Add(p("lib"), file(b"", 0o644))],
            "\"Foo-Bar-1.23/lib\" already exists",
        ),
        (
            vec![Change::Add(p("script/x"), file(b"", 0o644))],
            "lies below a file or symlink",
        ),
        (
            vec![Change::Delete(p("script")), Change::Delete(p("script"))],
            "is changed twice",
        ),
    ];
    for (changes, want) in cases {
        let msg = a.write(&changes).unwrap_err().to_string();
        assert!(
            msg.starts_with(&format!("cannot change {NAME}: entry ")),
            "{msg}"
        );
        assert!(msg.contains(want), "{msg}");
    }
}

#[test]
fn write_is_deterministic() {
    let a = Archive::read(NAME, &gz(&normal_tar()), &Limits::default()).unwrap();
    let changes = [
        Change::Add(p("lib/Foo/Safe.pm"), file(b"1;\n", 0o644)),
        Change::Modify(p("script"), file(b"#!perl\n", 0o755)),
    ];
    let one = a.write(&changes).unwrap();
    let two = Archive::read(NAME, &gz(&normal_tar()), &Limits::default())
        .unwrap()
        .write(&changes)
        .unwrap();
    assert_eq!(one, two);
    // gzip header: no name flag, mtime 0, no level flag (6), OS 3 (Unix).
    assert_eq!(&one[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
}

#[test]
fn pax_records_survive_and_new_long_names_use_the_ustar_prefix() {
    // A PAX block whose path is the header's own name (as tar-rs and
    // libarchive write for names with records to carry) is accepted and
    // kept byte for byte.
    let name = format!("{TOP}/lib/Module.pm");
    let tar = Raw::default()
        .dir("Foo-Bar-1.23/")
        .pax(&[("mtime", "1700000000.5"), ("path", &name)])
        .file(&name, b"old")
        .end();
    let a = Archive::read(NAME, &gz(&tar), &Limits::default()).unwrap();
    let rel = p("lib/Module.pm");
    assert_eq!(a.tree().files[&rel].data, b"old");
    assert_eq!(a.write_tar(&[]).unwrap(), tar);

    // Modify keeps the PAX block (same records) and the name; a new long
    // name goes into the ustar prefix, where readers that ignore PAX see
    // it whole.
    let longer = vec![b'z'; 700];
    let added = p(&format!("{}/{}.pm", "x".repeat(90), "y".repeat(60)));
    let out = a
        .write(&[
            Change::Modify(rel.clone(), file(&longer, 0o644)),
            Change::Add(added.clone(), file(b"1;\n", 0o644)),
        ])
        .unwrap();
    let b = Archive::read(NAME, &out, &Limits::default()).unwrap();
    assert_eq!(b.tree().files[&rel].data, longer);
    assert_eq!(b.tree().files[&added].data, b"1;\n");
    let pax = &b.members[1];
    assert_eq!(pax.exts.len(), 1);
    let b_tar = tar_of(&b);
    let body = &b_tar[pax.exts[0].header + 512..];
    assert!(body.starts_with(b"22 mtime=1700000000.5\n"));
    assert!(b.members.last().unwrap().exts.is_empty());
    // tar-rs, an independent reader, agrees on the names.
    let names: Vec<String> = tar::Archive::new(&gunzip(&out)[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&name), "{names:?}");
    assert!(names.contains(&format!("{TOP}/{added}")), "{names:?}");

    // A name no ustar header can hold would need a PAX path that such
    // readers cannot see: refused.
    let too_long = p(&format!("{}/New.pm", "x".repeat(160)));
    let e = a
        .write(&[Change::Add(too_long, file(b"1;\n", 0o644))])
        .unwrap_err();
    assert!(e.to_string().contains("too long for a ustar header"), "{e}");
}

#[test]
fn refuses_pax_path_that_differs_from_the_header_name() {
    let long = format!(
        "{TOP}/{}/Module.pm",
        "deep/".repeat(30).trim_end_matches('/')
    );
    // GNU tar --format=posix writes exactly this for names over 100
    // bytes: the PAX path, and a truncated name in the header, which
    // Archive::Tar would extract instead.
    for (path, header) in [
        (long.as_str(), "Foo-Bar-1.23/truncated-name"),
        ("Foo-Bar-1.23/lib/Bar.pm", "Foo-Bar-1.23/lib/Foo.pm"),
    ] {
        let tar = Raw::default()
            .dir("Foo-Bar-1.23/")
            .pax(&[("path", path)])
            .file(header, b"x")
            .end();
        let msg = refusal(&tar);
        assert!(msg.contains("PAX path record that differs"), "{msg}");
    }
    let tar = Raw::default()
        .dir("Foo-Bar-1.23/")
        .file("Foo-Bar-1.23/a", b"x")
        .pax(&[("linkpath", "a")])
        .entry("Foo-Bar-1.23/l", b'2', b"", "b")
        .end();
    assert!(
        refusal(&tar).contains("PAX linkpath record"),
        "{}",
        refusal(&tar)
    );
}

#[test]
fn refuses_names_that_collide_or_that_windows_reads_differently() {
    for (second, why) in [
        ("Foo-Bar-1.23/lib/FOO.pm", "letter case"),
        ("Foo-Bar-1.23/LIB/x.pm", "letter case"),
        ("Foo-Bar-1.23/lib/x.pm.", "Windows drops"),
        ("Foo-Bar-1.23/lib/x::$DATA", "alternate data stream"),
        ("Foo-Bar-1.23/lib/nul.pm", "device name"),
    ] {
        let tar = Raw::default()
            .dir("Foo-Bar-1.23/")
            .file("Foo-Bar-1.23/lib/Foo.pm", b"x")
            .file(second, b"y")
            .end();
        let msg = refusal(&tar);
        assert!(msg.contains(why), "{second}: {msg}");
    }
}

#[test]
fn gnu_long_names_survive() {
    let long = format!(
        "{TOP}/{}/Module.pm",
        "deep/".repeat(30).trim_end_matches('/')
    );
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    b.append_data(&mut h, "Foo-Bar-1.23/", &b""[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(3);
    b.append_data(&mut h, &long, &b"old"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    let a = Archive::read(NAME, &gz(&tar), &Limits::default()).unwrap();
    assert!(a.members[1]
        .exts
        .iter()
        .any(|e| e.kind == super::read::ExtKind::LongName));
    let rel = p(&long[TOP.len() + 1..]);
    assert_eq!(a.tree().files[&rel].data, b"old");
    assert_eq!(a.write_tar(&[]).unwrap(), tar);

    let added = p(&format!("{}/New.pm", "y".repeat(120)));
    let out = a
        .write(&[
            Change::Modify(rel.clone(), file(b"new content", 0o644)),
            Change::Add(added.clone(), file(b"1;\n", 0o644)),
        ])
        .unwrap();
    let b = Archive::read(NAME, &out, &Limits::default()).unwrap();
    assert_eq!(b.tree().files[&rel].data, b"new content");
    let last = b.members.last().unwrap();
    assert_eq!(tar_of(&b)[last.exts[0].header + 156], b'L');
    let names: Vec<String> = tar::Archive::new(&gunzip(&out)[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&long) && names.contains(&format!("{TOP}/{added}")),
        "{names:?}"
    );
}

// ---- directories --------------------------------------------------------

/// Every file under `root` (temporary files included) with content and mode.
fn snapshot(root: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            if meta.is_dir() {
                out.insert(
                    format!("{rel}/"),
                    (Vec::new(), meta.permissions().mode() & 0o7777),
                );
                stack.push(e.path());
            } else if meta.is_file() {
                out.insert(
                    rel,
                    (
                        std::fs::read(e.path()).unwrap(),
                        meta.permissions().mode() & 0o7777,
                    ),
                );
            } else {
                let target = std::fs::read_link(e.path()).unwrap();
                out.insert(rel, (target.to_string_lossy().as_bytes().to_vec(), 0));
            }
        }
    }
    out
}

fn sample_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("lib")).unwrap();
    std::fs::create_dir_all(root.join("t")).unwrap();
    std::fs::write(root.join("lib/Foo.pm"), b"package Foo;\n1;\n").unwrap();
    std::fs::write(root.join("script"), b"#!perl\n").unwrap();
    std::fs::set_permissions(root.join("script"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(root.join("t/basic.t"), b"ok\n").unwrap();
    std::os::unix::fs::symlink("../lib", root.join("t/lib")).unwrap();
    dir
}

#[test]
fn read_dir_reads_files_modes_and_symlinks() {
    let dir = sample_dir();
    let tree = read_dir(dir.path(), &Limits::default()).unwrap();
    assert_eq!(tree.files[&p("lib/Foo.pm")].data, b"package Foo;\n1;\n");
    assert_eq!(tree.files[&p("script")].mode, 0o755);
    assert_eq!(tree.symlinks[&p("t/lib")], "../lib");
    assert!(tree.dirs.contains(&p("lib")));
}

#[test]
fn read_dir_refuses_symlink_out_of_tree() {
    let dir = sample_dir();
    std::os::unix::fs::symlink("../../etc/passwd", dir.path().join("lib/evil")).unwrap();
    let msg = read_dir(dir.path(), &Limits::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with(&format!("refusing {}: ", dir.path().display())),
        "{msg}"
    );
    assert!(
        msg.contains("entry \"lib/evil\" is a symlink to \"../../etc/passwd\", which leaves"),
        "{msg}"
    );
}

#[test]
fn read_dir_refuses_fifo_and_limits() {
    let dir = sample_dir();
    let limits = Limits {
        max_entries: 3,
        ..Limits::default()
    };
    let msg = read_dir(dir.path(), &limits).unwrap_err().to_string();
    assert!(msg.contains("past the limit of 3 entries"), "{msg}");
    let fifo = dir.path().join("t/pipe");
    if std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        let msg = read_dir(dir.path(), &Limits::default())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("entry \"t/pipe\" is a FIFO"), "{msg}");
    }
}

#[test]
fn write_dir_applies_changes() {
    let dir = sample_dir();
    write_dir(
        dir.path(),
        &[
            Change::Modify(p("lib/Foo.pm"), file(b"fixed\n", 0o600)),
            Change::Add(p("lib/Foo/Safe.pm"), file(b"new\n", 0o755)),
            Change::Delete(p("t/basic.t")),
        ],
    )
    .unwrap();
    let snap = snapshot(dir.path());
    assert_eq!(snap["lib/Foo.pm"], (b"fixed\n".to_vec(), 0o600));
    assert_eq!(snap["lib/Foo/Safe.pm"], (b"new\n".to_vec(), 0o755));
    assert!(!snap.contains_key("t/basic.t"));
    assert_eq!(snap["script"], (b"#!perl\n".to_vec(), 0o755));
    // No temporary file is left behind.
    assert!(snap.keys().all(|k| !k.contains(".patchkit-")), "{snap:?}");
}

#[test]
fn write_dir_refuses_directory_destination_and_changes_nothing() {
    let dir = sample_dir();
    std::fs::create_dir(dir.path().join("Changes")).unwrap();
    let before = snapshot(dir.path());
    let err = write_dir(
        dir.path(),
        &[
            Change::Add(p("aaa/new.pm"), file(b"x", 0o644)),
            Change::Modify(p("lib/Foo.pm"), file(b"fixed\n", 0o644)),
            Change::Modify(p("Changes"), file(b"x", 0o644)),
        ],
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("entry \"Changes\" is not a regular file"),
        "{err}"
    );
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn write_dir_rolls_back_when_a_rename_fails() {
    // Fail the last rename, after every earlier file is already in place:
    // everything must be undone, created directories included.
    let dir = sample_dir();
    let before = snapshot(dir.path());
    let changes = [
        Change::Add(p("aaa/deep/new.pm"), file(b"x", 0o644)),
        Change::Delete(p("script")),
        Change::Modify(p("lib/Foo.pm"), file(b"fixed\n", 0o644)),
        Change::Modify(p("t/basic.t"), file(b"changed\n", 0o644)),
    ];
    // Renames: aaa (1), lib/Foo.pm (2, 3), script (4), t/basic.t (5, 6).
    for fail_at in 1..=6 {
        dir::FAIL_RENAME_AT.with(|f| f.set(Some(fail_at)));
        let err = write_dir(dir.path(), &changes).unwrap_err();
        dir::FAIL_RENAME_AT.with(|f| f.set(None));
        assert!(err.to_string().contains("injected rename failure"), "{err}");
        assert_eq!(snapshot(dir.path()), before, "failing rename {fail_at}");
    }
    write_dir(dir.path(), &changes).unwrap();
    assert_ne!(snapshot(dir.path()), before);
}

/// gzip `tar` with GNU gzip at `level` (`-n`: no name or time).
fn gnu_gzip(tar: &[u8], level: u32) -> Vec<u8> {
    use std::process::{Command, Stdio};
    let mut child = Command::new("gzip")
        .arg(format!("-{level}n"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = tar.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// Write `changes` to the archive read from `input`: the output decodes to
/// exactly the expected tar, is the same bytes on 1, 2 and 4 threads and
/// passes GNU gzip -t; returns it and how many tar bytes were copied as
/// deflate blocks.
fn write_checked(input: &[u8], changes: &[Change]) -> (Vec<u8>, u64) {
    let a = Archive::read(NAME, input, &Limits::default()).unwrap();
    let expected = a.write_tar(changes).unwrap();
    let (out, reused) = a.write_counting(changes, Vec::new()).unwrap();
    assert!(
        gunzip(&out) == expected,
        "the output decodes to another tar"
    );
    for threads in [1, 2, 4] {
        assert!(
            write_with_threads(&a, changes, threads) == out,
            "{threads} threads"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(NAME);
    std::fs::write(&path, &out).unwrap();
    let status = std::process::Command::new("gzip")
        .arg("-t")
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success(), "gzip -t");
    (out, reused)
}

/// The tar a file member starts at, and the last block boundary of `gz`
/// at or before it: (tar offset, bit).
fn boundary_before(a: &Archive, gz: &[u8], path: &str) -> (usize, (u64, u64)) {
    let start = a
        .members
        .iter()
        .find(|m| matches!(&m.kind, Kind::File(q) if q.as_str() == path))
        .unwrap()
        .start;
    let before = super::reuse::boundaries(gz)
        .into_iter()
        .rfind(|&(tar, _)| tar <= start as u64)
        .unwrap();
    (start, before)
}

/// The `M<i>.pm` member about `fraction` of the way through `a`.
fn member_at(a: &Archive, fraction: f64) -> String {
    let at = (a.tar_len as f64 * fraction) as usize;
    a.members
        .iter()
        .find_map(|m| match &m.kind {
            Kind::File(q) if m.start >= at => Some(q.as_str().to_string()),
            _ => None,
        })
        .unwrap()
}

#[test]
fn blocks_before_the_first_change_are_the_inputs_own_bytes() {
    let tar = big_tar(3);
    let input = gnu_gzip(&tar, 9);
    // gzip -n: a 10-byte header, like ours.
    assert_eq!(super::reuse::deflate_start(&input), Some(10));
    let a = Archive::read(NAME, &input, &Limits::default()).unwrap();
    // A change two thirds in, and in the last member (the final block).
    let last = a
        .members
        .iter()
        .rev()
        .find_map(|m| match &m.kind {
            Kind::File(q) => Some(q.as_str().to_string()),
            _ => None,
        })
        .unwrap();
    for path in [member_at(&a, 0.66), last] {
        let (start, (tar, bit)) = boundary_before(&a, &input, &path);
        assert!(tar > 200_000 && tar <= start as u64, "{path}: {tar}");
        let changes = [Change::Modify(p(&path), file(b"fixed\n", 0o644))];
        let (out, reused) = write_checked(&input, &changes);
        // Every block before the change is copied, and nothing after it
        // (the change is within 32 KiB + one block of the end).
        assert!(reused >= tar, "{path}: {reused} < {tar}");
        // The output's deflate data starts with the input's, bit for bit,
        // up to that boundary.
        let bytes = (bit / 8) as usize;
        assert!(out[10..10 + bytes] == input[10..10 + bytes], "{path}");
        // A second read and write of the same input: the same bytes.
        let again = Archive::read(NAME, &input, &Limits::default()).unwrap();
        assert!(again.write(&changes).unwrap() == out);
    }
}

/// `tar czf` of the tree `tar` holds (GNU tar, unpacked first).
fn tar_czf(tar: &[u8]) -> Vec<u8> {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.tar"), tar).unwrap();
    let run = |args: &[&str]| {
        let ok = Command::new("tar")
            .args(args)
            .current_dir(dir.path())
            .status()
            .unwrap()
            .success();
        assert!(ok, "tar {args:?}");
    };
    run(&["xf", "in.tar"]);
    run(&["--sort=name", "-czf", "out.tar.gz", TOP]);
    std::fs::read(dir.path().join("out.tar.gz")).unwrap()
}

#[test]
fn blocks_are_reused_whatever_compressed_the_input() {
    let tar = big_tar(3);
    let inputs = [
        ("gzip -9", gnu_gzip(&tar, 9)),
        ("gzip -1", gnu_gzip(&tar, 1)),
        ("tar czf", tar_czf(&tar)),
        ("flate2", gz(&tar)),
    ];
    for (what, input) in inputs {
        let a = Archive::read(NAME, &input, &Limits::default()).unwrap();
        let changes = [
            Change::Modify(p(&member_at(&a, 0.1)), file(b"fixed\n", 0o644)),
            Change::Modify(p(&member_at(&a, 0.5)), file(b"fixed too\n", 0o755)),
            Change::Delete(p(&member_at(&a, 0.7))),
            Change::Add(p("lib/New.pm"), file(b"1;\n", 0o644)),
        ];
        let (out, reused) = write_checked(&input, &changes);
        assert!(reused > a.tar_len as u64 / 4, "{what}: {reused}");
        // patchkit reads its own output, as any gzip reader does.
        let b = Archive::read(NAME, &out, &Limits::default()).unwrap();
        assert_eq!(b.tree().files[&p("lib/New.pm")].data, b"1;\n", "{what}");
    }
}

#[test]
fn a_change_in_the_first_block_leaves_only_later_blocks_to_reuse() {
    let tar = big_tar(3);
    let input = gnu_gzip(&tar, 9);
    let (_, first) = super::reuse::boundaries(&input)[1];
    let changes = [Change::Modify(p("lib/M0.pm"), file(b"fixed\n", 0o644))];
    let (out, reused) = write_checked(&input, &changes);
    // No prefix: the first block is deflated again...
    let bytes = (first / 8) as usize;
    assert!(out[10..10 + bytes] != input[10..10 + bytes]);
    // ...and the blocks 32 KiB past the change are copied.
    assert!(reused > tar.len() as u64 / 2, "{reused}");
}

#[test]
fn without_a_reusable_block_the_output_is_the_parallel_deflate_of_the_tar() {
    // One deflate block, changed: nothing to copy.
    let a = Archive::read(NAME, &gz(&normal_tar()), &Limits::default()).unwrap();
    let changes = [Change::Add(p("new"), file(b"1;\n", 0o644))];
    let (out, reused) = a.write_counting(&changes, Vec::new()).unwrap();
    assert_eq!(reused, 0);
    let mut plain = super::gzip::ParallelGzip::new(Vec::new(), super::write::GZIP_LEVEL).unwrap();
    plain.write_all(&a.write_tar(&changes).unwrap()).unwrap();
    assert!(out == plain.finish().unwrap());
}

#[test]
fn a_multi_member_input_reuses_blocks_of_its_first_member_only() {
    let tar = big_tar(3);
    // Cut mid-member, as pigz or `cat a.gz b.gz` may.
    let cut = tar.len() / 2 + 777;
    let mut input = gnu_gzip(&tar[..cut], 9);
    input.extend(gnu_gzip(&tar[cut..], 6));
    let a = Archive::read(NAME, &input, &Limits::default()).unwrap();
    for fraction in [0.3, 0.8] {
        let changes = [
            Change::Modify(p(&member_at(&a, fraction)), file(b"fixed\n", 0o644)),
            Change::Add(p("lib/New.pm"), file(b"1;\n", 0o644)),
        ];
        let (_, reused) = write_checked(&input, &changes);
        assert!(reused > 0 && reused < cut as u64, "{fraction}: {reused}");
    }
}

/// A gzip file of `tar` made block by block: fixed-Huffman and stored
/// blocks starting at every bit within a byte, with empty fixed and empty
/// stored blocks between them, as no common compressor mixes them.
fn odd_blocks_gzip(tar: &[u8]) -> Vec<u8> {
    let mut bits = Bits::default();
    let mut at = 0;
    let mut i = 0;
    while at < tar.len() {
        let len = (20_000 + i * 1_111).min(tar.len() - at);
        let piece = &tar[at..at + len];
        let (a, b) = piece.split_at(len / 2);
        match i % 4 {
            0 => {
                bits.fixed(piece);
            }
            1 => {
                bits.fixed(a);
                bits.fixed(b"");
                bits.stored(b);
            }
            2 => {
                bits.stored(b"");
                bits.fixed(a);
                bits.stored(b"");
                bits.fixed(b);
            }
            _ => {
                bits.stored(a);
                bits.stored(b);
                bits.fixed(b"");
            }
        }
        at += len;
        i += 1;
    }
    // The final block: empty, fixed.
    bits.put(0b011, 3);
    bits.code(0, 7);
    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    gz.extend_from_slice(&bits.bytes);
    gz.extend_from_slice(&crc32fast::hash(tar).to_le_bytes());
    gz.extend_from_slice(&(tar.len() as u32).to_le_bytes());
    gz
}

#[test]
fn stored_and_empty_blocks_at_any_bit_are_copied_right() {
    let tar = big_tar(1);
    let input = odd_blocks_gzip(&tar);
    assert!(gunzip(&input) == tar);
    let a = Archive::read(NAME, &input, &Limits::default()).unwrap();
    let changes = [
        Change::Modify(p(&member_at(&a, 0.2)), file(b"fixed\n", 0o644)),
        Change::Modify(p(&member_at(&a, 0.6)), file(b"fixed\n", 0o644)),
        Change::Add(p("lib/New.pm"), file(b"1;\n", 0o644)),
    ];
    let (_, reused) = write_checked(&input, &changes);
    assert!(reused > tar.len() as u64 / 3, "{reused}");
}

/// A raw deflate stream written bit by bit (LSB first), for blocks
/// ending at any bit.
#[derive(Default)]
pub(super) struct Bits {
    pub(super) bytes: Vec<u8>,
    pub(super) len: u64,
}

impl Bits {
    pub(super) fn put(&mut self, value: u32, bits: u32) {
        for i in 0..bits {
            if self.len % 8 == 0 {
                self.bytes.push(0);
            }
            let bit = (value >> i) & 1;
            *self.bytes.last_mut().unwrap() |= (bit as u8) << (self.len % 8);
            self.len += 1;
        }
    }

    /// A Huffman code: sent from its most significant bit.
    pub(super) fn code(&mut self, code: u32, bits: u32) {
        for i in (0..bits).rev() {
            self.put((code >> i) & 1, 1);
        }
    }

    /// A non-final fixed-Huffman block of `text`; returns its bits.
    pub(super) fn fixed(&mut self, text: &[u8]) -> (u64, u64) {
        let from = self.len;
        self.put(0b010, 3); // BFINAL 0, BTYPE 01
        for &c in text {
            match c {
                0..=143 => self.code(0x30 + u32::from(c), 8),
                _ => self.code(0x190 + u32::from(c) - 144, 9),
            }
        }
        self.code(0, 7); // end of block
        (from, self.len)
    }

    /// A non-final stored block of `text`; returns its bits.
    pub(super) fn stored(&mut self, text: &[u8]) -> (u64, u64) {
        let from = self.len;
        self.put(0, 3);
        self.put(0, ((8 - self.len % 8) % 8) as u32);
        let len = text.len() as u32;
        self.put(len, 16);
        self.put(!len & 0xffff, 16);
        for &c in text {
            self.put(u32::from(c), 8);
        }
        (from, self.len)
    }
}
