//! Zip distributions (`.zip`, as some CPAN authors upload): read by turning
//! the zip into the tar stream it stands for, which the tar walker then
//! checks like any other (`read.rs`), so a zip meets every hostile-archive
//! check of a tarball — names, `..`, absolute paths, symlinks, duplicates,
//! one top directory, devices — and the same [`Limits`]; written back as a
//! zip from the patched tar stream (`write.rs`), deterministically.
//!
//! What is checked here, before the walker: the zip itself parses (central
//! directory, local headers, CRC-32 of each file as it is read), no entry
//! is encrypted, only stored and deflated entries (the zip crate refuses
//! the rest), and the bytes an entry really unpacks to — never the sizes it
//! declares — stay within the per-file, total and ratio limits, so a zip
//! bomb stops at the limit.
//!
//! The tar stream has one member per zip entry, in central-directory order:
//! a directory for a name ending in `/`, a symlink for an entry whose Unix
//! mode says so (its data is the target), a device or FIFO likewise (the
//! walker refuses those), a regular file otherwise, with the entry's Unix
//! permission bits (else 0644, 0755 for directories) and its modification
//! time (zip's local time read as UTC). Names longer than a tar header holds
//! use GNU long-name members.

use std::io::{self, Cursor, Read, Write};

use super::{EntryProblem, Error, InputProblem, Limits};

/// A zip's first bytes: a local file header (`PK\x03\x04`), or the end of
/// central directory record of an empty zip (`PK\x05\x06`).
pub(crate) fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

const BLOCK: usize = 512;

/// Unix file types in a zip entry's external attributes.
const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFCHR: u32 = 0o020_000;
const S_IFBLK: u32 = 0o060_000;
const S_IFIFO: u32 = 0o010_000;
const S_IFSOCK: u32 = 0o140_000;

/// The tar stream `zip` stands for, bounded by `limits` (see the module
/// docs). `name` is the file name for messages.
///
/// # Errors
/// [`Error::Input`] for a zip that does not parse or passes a size limit,
/// [`Error::Entry`] for an encrypted, oversized or unreadable entry.
pub(crate) fn to_tar(name: &str, zip: &[u8], limits: &Limits) -> Result<Vec<u8>, Error> {
    let input = |problem| Error::Input {
        input: name.to_string(),
        problem,
        near: None,
    };
    let corrupt = |e: &dyn std::fmt::Display| input(InputProblem::ZipCorrupt(e.to_string()));
    let mut archive = ::zip::ZipArchive::new(Cursor::new(zip)).map_err(|e| corrupt(&e))?;
    // The zip crate keeps one entry per name: a central directory listing
    // more records than names has a name twice, and tools disagree on
    // which copy is the file.
    if let Some(listed) = listed_entries(zip) {
        if listed != archive.len() as u64 {
            return Err(input(InputProblem::ZipDuplicate {
                listed,
                names: archive.len(),
            }));
        }
    }
    if archive.len() > limits.max_entries {
        return Err(input(InputProblem::TooManyEntries {
            limit: limits.max_entries,
        }));
    }
    let by_ratio = limits
        .max_ratio
        .saturating_mul(zip.len() as u64)
        .max(limits.ratio_free_bytes);
    let cap = limits.max_unpacked_bytes.min(by_ratio);
    let mut total: u64 = 0;
    let mut tar = Vec::new();
    for i in 0..archive.len() {
        let file = archive.by_index_raw(i).map_err(|e| corrupt(&e))?;
        let raw_name = file.name_raw().to_vec();
        let entry = |problem| Error::Entry {
            input: name.to_string(),
            entry: super::show(&raw_name),
            problem,
        };
        if file.encrypted() {
            return Err(entry(EntryProblem::Encrypted));
        }
        let is_dir = raw_name.ends_with(b"/");
        let unix = file.unix_mode();
        let kind = unix.map_or(0, |m| m & S_IFMT);
        let mode = unix.map_or(if is_dir { 0o755 } else { 0o644 }, |m| m & 0o7777);
        let mtime = file.last_modified().map_or(0, unix_time);
        drop(file);
        // The data, read (and CRC-checked) through the decompressor, never
        // trusting the declared size.
        let mut data = Vec::new();
        if !is_dir {
            let mut file = archive.by_index(i).map_err(|e| corrupt(&e))?;
            let room = limits
                .max_file_bytes
                .min(cap.saturating_sub(total))
                .saturating_add(1);
            (&mut file)
                .take(room)
                .read_to_end(&mut data)
                .map_err(|e| entry(EntryProblem::CorruptHeader(format!("zip data: {e}"))))?;
            if data.len() as u64 > limits.max_file_bytes {
                return Err(entry(EntryProblem::FileTooLarge {
                    limit: limits.max_file_bytes,
                }));
            }
            total += data.len() as u64;
            if total > cap {
                return Err(input(if cap == limits.max_unpacked_bytes {
                    InputProblem::UnpackedTooLarge {
                        limit: limits.max_unpacked_bytes,
                    }
                } else {
                    InputProblem::RatioTooHigh {
                        ratio: limits.max_ratio,
                    }
                }));
            }
        }
        let (flag, link, body): (u8, &[u8], &[u8]) = match kind {
            _ if is_dir => (b'5', b"", b""),
            S_IFLNK => (b'2', &data, b""),
            S_IFCHR => (b'3', b"", b""),
            S_IFBLK => (b'4', b"", b""),
            S_IFIFO => (b'6', b"", b""),
            S_IFSOCK => return Err(entry(EntryProblem::Socket)),
            _ => (b'0', b"", &data),
        };
        append(&mut tar, &raw_name, flag, link, mode, mtime, body);
    }
    tar.extend_from_slice(&[0; 2 * BLOCK]);
    Ok(tar)
}

/// The number of central directory records the end of central directory
/// record (or its zip64 form) declares, if it can be found.
fn listed_entries(zip: &[u8]) -> Option<u64> {
    let u16_at = |b: &[u8], at: usize| -> Option<u64> {
        Some(u64::from(u16::from_le_bytes(
            b.get(at..at + 2)?.try_into().ok()?,
        )))
    };
    let u64_at = |b: &[u8], at: usize| -> Option<u64> {
        Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
    };
    // The record is 22 bytes plus a comment of at most 65,535.
    let from = zip.len().saturating_sub(22 + 65_535);
    let eocd = from + zip[from..].windows(4).rposition(|w| w == b"PK\x05\x06")?;
    let count = u16_at(zip, eocd + 10)?;
    if count != 0xffff {
        return Some(count);
    }
    // Zip64: the locator just before the record gives the zip64 record.
    let locator = eocd.checked_sub(20)?;
    if zip.get(locator..locator + 4)? != b"PK\x06\x07" {
        return None;
    }
    let at = usize::try_from(u64_at(zip, locator + 8)?).ok()?;
    if zip.get(at..at + 4)? != b"PK\x06\x06" {
        return None;
    }
    u64_at(zip, at + 32)
}

/// Seconds since 1970 of a zip time, read as UTC.
fn unix_time(t: ::zip::DateTime) -> u64 {
    chrono::NaiveDate::from_ymd_opt(t.year().into(), t.month().into(), t.day().into())
        .and_then(|d| d.and_hms_opt(t.hour().into(), t.minute().into(), t.second().into()))
        .map_or(0, |dt| u64::try_from(dt.and_utc().timestamp()).unwrap_or(0))
}

/// Appends one member (with GNU long-name and long-link members first when
/// the name or target does not fit the header).
fn append(
    tar: &mut Vec<u8>,
    name: &[u8],
    flag: u8,
    link: &[u8],
    mode: u32,
    mtime: u64,
    body: &[u8],
) {
    if name.len() > 100 {
        long(tar, b'L', name);
    }
    if link.len() > 100 {
        long(tar, b'K', link);
    }
    let mut h = tar::Header::new_gnu();
    {
        let raw = h.as_old_mut();
        let n = name.len().min(100);
        raw.name[..n].copy_from_slice(&name[..n]);
        let l = link.len().min(100);
        raw.linkname[..l].copy_from_slice(&link[..l]);
    }
    h.set_mode(mode);
    h.set_mtime(mtime);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(body.len() as u64);
    h.set_entry_type(tar::EntryType::new(flag));
    h.set_cksum();
    tar.extend_from_slice(h.as_bytes());
    tar.extend_from_slice(body);
    pad(tar);
}

/// A GNU `././@LongLink` member of type `flag` carrying `value`.
fn long(tar: &mut Vec<u8>, flag: u8, value: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    h.set_mode(0o644);
    h.set_size(value.len() as u64 + 1);
    h.set_entry_type(tar::EntryType::new(flag));
    h.set_cksum();
    tar.extend_from_slice(h.as_bytes());
    tar.extend_from_slice(value);
    tar.push(0);
    pad(tar);
}

fn pad(tar: &mut Vec<u8>) {
    let rem = tar.len() % BLOCK;
    if rem != 0 {
        tar.resize(tar.len() + BLOCK - rem, 0);
    }
}

/// The zip for a (patched) tar stream: one entry per member, in order,
/// deflated, with the member's permission bits and modification time
/// (directories and symlinks as such). Deterministic: nothing but the tar
/// decides the bytes.
///
/// # Errors
/// An I/O error when the tar cannot be read back or a member has a type a
/// zip cannot hold (the reader never produces one).
pub(crate) fn from_tar(tar: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = ::zip::ZipWriter::new(Cursor::new(Vec::new()));
    let mut archive = tar::Archive::new(tar);
    for member in archive.entries()? {
        let mut member = member?;
        let header = member.header().clone();
        let path = String::from_utf8(member.path_bytes().into_owned())
            .map_err(|_| io::Error::other("a member name is not UTF-8"))?;
        let mtime = header.mtime().unwrap_or(0);
        let options = ::zip::write::SimpleFileOptions::default()
            .compression_method(::zip::CompressionMethod::Deflated)
            .unix_permissions(header.mode().unwrap_or(0o644) & 0o7777)
            .last_modified_time(zip_time(mtime));
        let kind = header.entry_type();
        if kind.is_dir() {
            out.add_directory(path, options).map_err(io::Error::other)?;
        } else if kind.is_symlink() {
            let target = member
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            out.add_symlink(path, target, options)
                .map_err(io::Error::other)?;
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            out.start_file(path, options).map_err(io::Error::other)?;
            io::copy(&mut member, &mut out)?;
        } else if kind.is_pax_global_extensions() {
            continue;
        } else {
            return Err(io::Error::other(format!(
                "{path}: a tar member of type {:?} cannot be written to a zip",
                kind.as_byte() as char
            )));
        }
    }
    Ok(out.finish().map_err(io::Error::other)?.into_inner())
}

/// A zip time for `secs` since 1970 (UTC), clamped to what zip can hold
/// (1980 to 2107).
fn zip_time(secs: u64) -> ::zip::DateTime {
    use chrono::{Datelike, Timelike};
    let t = chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap_or(0), 0)
        .unwrap_or_default()
        .naive_utc();
    let year = u16::try_from(t.year()).unwrap_or(1980).clamp(1980, 2107);
    let narrow = |v: u32| u8::try_from(v).unwrap_or(0);
    ::zip::DateTime::from_date_and_time(
        year,
        narrow(t.month()),
        narrow(t.day()),
        narrow(t.hour()),
        narrow(t.minute()),
        narrow(t.second()),
    )
    .unwrap_or_default()
}

/// Writes the zip of a tar stream: the tar is gathered, then converted at
/// [`ZipSink::finish`] (a zip's central directory comes last, and
/// dists are small).
pub(crate) struct ZipSink<W: Write> {
    tar: Vec<u8>,
    out: W,
}

impl<W: Write> ZipSink<W> {
    pub(crate) fn new(out: W) -> Self {
        ZipSink {
            tar: Vec::new(),
            out,
        }
    }

    pub(crate) fn write_all(&mut self, batch: &[u8]) {
        self.tar.extend_from_slice(batch);
    }

    pub(crate) fn finish(mut self) -> io::Result<W> {
        let zip = from_tar(&self.tar)?;
        self.out.write_all(&zip)?;
        Ok(self.out)
    }
}
