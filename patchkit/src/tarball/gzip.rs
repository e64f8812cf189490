//! Parallel gzip: one standard gzip member compressed over all cores, with
//! the same bytes whatever the number of cores (docs/ARCHITECTURE.md: "Deterministic
//! output").
//!
//! **How** (the scheme of pigz): the input is cut into [`CHUNK`]-byte chunks
//! at fixed offsets. Each chunk is deflated on its own, its compressor primed
//! with the 32 KiB of input before it as a preset dictionary, so matches
//! still reach back across the cut and the output is within a fraction of a
//! percent of a one-thread deflate. Every chunk ends with a sync flush (an
//! empty stored block, which leaves the stream on a byte boundary), so the
//! chunks' outputs simply concatenate into one raw deflate stream; a final
//! empty block with BFINAL set closes it. The CRC-32 of each chunk is
//! computed beside its deflate and the CRCs are combined in order
//! (`crc32fast::Hasher::combine`); ISIZE is the length modulo 2^32
//! (RFC 1952). Any gzip reader sees one ordinary member.
//!
//! **Why by hand.** No maintained crate does this deterministically on top
//! of flate2: `gzp` cuts blocks by buffer fill and pulls in its own thread
//! pool and backends; pigz is a C program. The part written here is only
//! the cutting and the framing; deflate itself is flate2 (zlib-rs backend)
//! and the CRC is crc32fast.
//!
//! **Determinism.** The cut points depend only on the offset in the input;
//! each chunk's output depends only on its bytes, its dictionary and the
//! level; the header carries no name and mtime 0. How many chunks are
//! compressed at once (the number of rayon threads, the batch size) changes
//! the schedule, never the bytes. Deflate blocks of the input copied in
//! ([`ParallelGzip::write_raw`], `reuse.rs`) end a stretch of chunks: the
//! next stretch is cut at fixed offsets from its own start, and where the
//! stretches start depends only on the input and the changes.
//!
//! **Memory.** At most [`BATCH`] bytes of input and their compressed form
//! are held at once, whatever the size of the archive.

use std::io::{self, Write};

use flate2::{Compress, Compression, FlushCompress, Status};
use rayon::prelude::*;

/// Bytes of input per independently compressed chunk: pigz's default block
/// size (128 KiB). Smaller chunks parallelise small tarballs better but
/// lose more at each cut (the sync flush marker and the restart of the
/// Huffman tables); at 128 KiB the loss measured on CPAN tarballs is about
/// 0.3 % (docs/performance.md).
pub(super) const CHUNK: usize = 128 * 1024;

/// Chunks handed to the thread pool at once. Enough to keep any common
/// number of cores busy while bounding the memory held (4 MiB of input).
const CHUNKS_PER_BATCH: usize = 32;

/// Bytes of input compressed per batch.
pub(super) const BATCH: usize = CHUNK * CHUNKS_PER_BATCH;

/// Deflate's window: the dictionary a chunk is primed with.
const WINDOW: usize = 32 * 1024;

/// The gzip OS byte: 3 (Unix), what `gzip -n` on any Unix writes, fixed so
/// the output does not depend on the machine.
const OS_UNIX: u8 = 3;

/// A [`Write`] that gzips what it is given into `out`, chunk by chunk, over
/// rayon's thread pool. Call [`ParallelGzip::finish`] to close the stream.
pub(super) struct ParallelGzip<W: Write> {
    out: W,
    level: u32,
    /// Input not compressed yet (less than [`BATCH`] bytes, except briefly).
    pending: Vec<u8>,
    /// The last [`WINDOW`] bytes of input already compressed.
    window: Vec<u8>,
    crc: crc32fast::Hasher,
    /// Input length so far (ISIZE is this modulo 2^32).
    size: u64,
    /// The last, partial byte of output after copied blocks ([`Raw`]):
    /// its low `tail_bits` bits are written, the rest are zero.
    tail: u8,
    tail_bits: u8,
}

/// Deflate blocks of the input copied as they are (`reuse.rs`): the bits
/// `from_bit..to_bit` of the input's raw deflate data (LSB first, as
/// deflate packs them), which decode to `tar` given the 32 KiB of tar
/// before it, that the output holds too.
pub(super) struct Raw {
    pub(super) from_bit: u64,
    pub(super) to_bit: u64,
    pub(super) tar: Vec<u8>,
    /// Whether a stored block is among them: its padding runs to the next
    /// byte boundary, so it decodes the same only at the same bit position
    /// within a byte as in the input.
    pub(super) stored: bool,
}

impl<W: Write> ParallelGzip<W> {
    /// Start a gzip member at `level` (1..=9): writes the 10-byte header
    /// (no name, mtime 0, OS Unix).
    pub(super) fn new(mut out: W, level: u32) -> io::Result<Self> {
        // XFL: 2 for the slowest level, 4 for the fastest, as gzip sets it.
        let xfl = match level {
            9 => 2,
            1 => 4,
            _ => 0,
        };
        out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, OS_UNIX])?;
        Ok(ParallelGzip {
            out,
            level,
            pending: Vec::with_capacity(BATCH),
            window: Vec::with_capacity(WINDOW),
            crc: crc32fast::Hasher::new(),
            size: 0,
            tail: 0,
            tail_bits: 0,
        })
    }

    /// Compress the pending input (whole chunks, all of it) in parallel
    /// and write the results in order.
    fn flush_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let level = self.level;
        let data = &self.pending;
        let window = &self.window;
        let chunks: Vec<(usize, usize)> = (0..data.len())
            .step_by(CHUNK)
            .map(|start| (start, (start + CHUNK).min(data.len())))
            .collect();
        let results: Vec<io::Result<(Vec<u8>, crc32fast::Hasher)>> = chunks
            .par_iter()
            .map(|&(start, end)| {
                // The dictionary: the WINDOW bytes before the chunk, from
                // this batch or (for its first chunk) from the previous one.
                let dict: Vec<u8> = if start >= WINDOW {
                    data[start - WINDOW..start].to_vec()
                } else {
                    let from_prev = WINDOW - start;
                    let prev = &window[window.len().saturating_sub(from_prev)..];
                    [prev, &data[..start]].concat()
                };
                let chunk = &data[start..end];
                let mut crc = crc32fast::Hasher::new();
                crc.update(chunk);
                Ok((deflate(level, &dict, chunk, FlushCompress::Sync)?, crc))
            })
            .collect();
        // After copied blocks, deflate's output must start on a byte.
        self.align()?;
        for result in results {
            let (bytes, crc) = result?;
            self.out.write_all(&bytes)?;
            self.crc.combine(&crc);
        }
        let pending = std::mem::take(&mut self.pending);
        self.remember(&pending);
        self.pending = pending;
        self.pending.clear();
        Ok(())
    }

    /// Keep the last WINDOW bytes of input for the next chunk's dictionary.
    fn remember(&mut self, data: &[u8]) {
        if data.len() >= WINDOW {
            self.window.clear();
            self.window.extend_from_slice(&data[data.len() - WINDOW..]);
        } else {
            self.window.extend_from_slice(data);
            let excess = self.window.len().saturating_sub(WINDOW);
            self.window.drain(..excess);
        }
    }

    /// Copy deflate blocks of the input (`deflate`: its raw deflate data)
    /// into the stream, standing for `raw.tar`. The input given so far is
    /// compressed first, so this ends a region of chunks: the cuts depend
    /// on where copied blocks fall, which depends only on the input and
    /// the changes. Blocks that hold a stored block and would land at
    /// another bit position within a byte are deflated instead.
    pub(super) fn write_raw(&mut self, deflate: &[u8], raw: Raw) -> io::Result<()> {
        self.flush_pending()?;
        if raw.stored && u64::from(self.tail_bits) != raw.from_bit % 8 {
            return self.write_all(&raw.tar);
        }
        self.put_bits(deflate, raw.from_bit, raw.to_bit)?;
        self.crc.update(&raw.tar);
        self.size += raw.tar.len() as u64;
        self.remember(&raw.tar);
        Ok(())
    }

    /// Append the bits `from..to` of `src` to the output, after the bits
    /// of the tail byte.
    fn put_bits(&mut self, src: &[u8], from: u64, to: u64) -> io::Result<()> {
        let past_end = || io::Error::other("copied blocks past the end of the input");
        let byte_at = |bit: u64| {
            usize::try_from(bit / 8)
                .ok()
                .and_then(|i| src.get(i).copied())
                .ok_or_else(past_end)
        };
        let mut out = Vec::with_capacity(usize::try_from((to - from) / 8 + 2).unwrap_or(0));
        // Bits written but not yet a whole byte: `n` of them in `acc`.
        let mut acc = u32::from(self.tail);
        let mut n = u32::from(self.tail_bits);
        let mut at = from;
        while at < to {
            if at % 8 != 0 || to - at < 8 {
                // Up to the input's next byte boundary, or the last bits.
                let bits = (8 - at % 8).min(to - at);
                let value = (u32::from(byte_at(at)?) >> (at % 8)) & ((1 << bits) - 1);
                acc |= value << n;
                n += bits as u32;
                if n >= 8 {
                    out.push(acc as u8);
                    acc >>= 8;
                    n -= 8;
                }
                at += bits;
                continue;
            }
            // Whole input bytes, shifted by the `n` bits pending.
            let whole = usize::try_from((to - at) / 8).map_err(|_| past_end())?;
            let first = usize::try_from(at / 8).map_err(|_| past_end())?;
            let bytes = src.get(first..first + whole).ok_or_else(past_end)?;
            if n == 0 {
                out.extend_from_slice(bytes);
            } else {
                let mut carry = u64::from(acc);
                let mut words = bytes.chunks_exact(8);
                for word in &mut words {
                    let mut le = [0u8; 8];
                    le.copy_from_slice(word);
                    let w = u64::from_le_bytes(le);
                    out.extend_from_slice(&((w << n) | carry).to_le_bytes());
                    carry = w >> (64 - n);
                }
                acc = carry as u32;
                for &b in words.remainder() {
                    acc |= u32::from(b) << n;
                    out.push(acc as u8);
                    acc >>= 8;
                }
            }
            at += whole as u64 * 8;
        }
        self.out.write_all(&out)?;
        self.tail = acc as u8;
        self.tail_bits = n as u8;
        Ok(())
    }

    /// Bring the stream to a byte boundary after copied blocks: an empty
    /// stored block, not final (3 header bits, zeros to the byte, then
    /// LEN 0 and NLEN 0xffff), as a sync flush ends.
    fn align(&mut self) -> io::Result<()> {
        if self.tail_bits == 0 {
            return Ok(());
        }
        // The header bits are zeros; they spill into one more byte when
        // fewer than 3 bits are free.
        let mut bytes = vec![self.tail];
        if self.tail_bits > 5 {
            bytes.push(0);
        }
        bytes.extend_from_slice(&[0, 0, 0xff, 0xff]);
        self.out.write_all(&bytes)?;
        self.tail = 0;
        self.tail_bits = 0;
        Ok(())
    }

    /// Take a whole batch of input by value: compressed at once without
    /// being copied, when it arrives on a batch boundary (the writer's
    /// producer hands over exactly such batches).
    pub(super) fn write_batch(&mut self, batch: Vec<u8>) -> io::Result<()> {
        if !self.pending.is_empty() || batch.len() != BATCH {
            return self.write_all(&batch);
        }
        self.size += batch.len() as u64;
        self.pending = batch;
        self.flush_pending()
    }

    /// Compress what is left, close the deflate stream and write the gzip
    /// trailer (CRC-32 and ISIZE, little-endian). Returns the inner writer.
    pub(super) fn finish(mut self) -> io::Result<W> {
        self.flush_pending()?;
        self.align()?;
        // The closing block: empty, BFINAL set.
        let last = deflate(self.level, &[], &[], FlushCompress::Finish)?;
        self.out.write_all(&last)?;
        let crc = self.crc.clone().finalize();
        self.out.write_all(&crc.to_le_bytes())?;
        // ISIZE is defined modulo 2^32; the truncation is the format's.
        self.out
            .write_all(&((self.size & 0xffff_ffff) as u32).to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let take = buf.len().min(BATCH - self.pending.len());
        self.pending.extend_from_slice(&buf[..take]);
        self.size += take as u64;
        if self.pending.len() == BATCH {
            self.flush_pending()?;
        }
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Compressing now would cut a chunk short and make the output
        // depend on when flush was called; only `finish` ends the stream.
        Ok(())
    }
}

/// Raw-deflate `data` at `level`, primed with `dict`, ending with `flush`
/// (Sync: byte-aligned, more may follow; Finish: the final block).
fn deflate(level: u32, dict: &[u8], data: &[u8], flush: FlushCompress) -> io::Result<Vec<u8>> {
    let mut c = Compress::new(Compression::new(level), false);
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    loop {
        let consumed = usize::try_from(c.total_in()).unwrap_or(usize::MAX);
        let rest = data.get(consumed..).unwrap_or_default();
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(4096));
        }
        let status = c
            .compress_vec(rest, &mut out, flush)
            .map_err(io::Error::other)?;
        let all_in = c.total_in() as usize == data.len();
        match status {
            Status::StreamEnd => break,
            // A sync flush is complete once all input is in and the
            // compressor stopped with room to spare in the output.
            _ if flush == FlushCompress::Sync && all_in && out.len() < out.capacity() => break,
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::tests::Bits;
    use super::*;
    use std::io::Read;

    /// Text with long-range repeats, so dictionaries matter.
    fn sample(len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        let mut n: u64 = 7;
        while out.len() < len {
            n = n
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let word =
                ["sub ", "my $x = ", "return ", "1;\n", "package Foo;\n"][(n >> 60) as usize % 5];
            out.extend_from_slice(word.as_bytes());
            out.extend_from_slice(format!("{}\n", (n >> 40) % 1000).as_bytes());
        }
        out.truncate(len);
        out
    }

    fn gzip_with(threads: usize, data: &[u8], writes: usize) -> Vec<u8> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut gz = ParallelGzip::new(Vec::new(), 6).unwrap();
            for piece in data.chunks(writes.max(1)) {
                gz.write_all(piece).unwrap();
            }
            gz.finish().unwrap()
        })
    }

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn round_trips_at_every_size_around_the_cuts() {
        for len in [
            0,
            1,
            WINDOW - 1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            BATCH - 1,
            BATCH,
            BATCH + 1,
            2 * BATCH + CHUNK / 3,
        ] {
            let data = sample(len);
            let gz = gzip_with(2, &data, 70_000);
            assert_eq!(gunzip(&gz), data, "length {len}");
        }
    }

    #[test]
    fn same_bytes_whatever_the_threads_and_write_sizes() {
        let data = sample(2 * BATCH + 12_345);
        let one = gzip_with(1, &data, 1 << 20);
        for (threads, writes) in [(1, 1000), (2, 1 << 20), (4, 4097), (4, usize::MAX)] {
            assert_eq!(gzip_with(threads, &data, writes), one, "{threads} threads");
        }
    }

    #[test]
    fn whole_batches_give_the_same_bytes_as_writes() {
        let data = sample(2 * BATCH + 777);
        let mut gz = ParallelGzip::new(Vec::new(), 6).unwrap();
        for piece in data.chunks(BATCH) {
            gz.write_batch(piece.to_vec()).unwrap();
        }
        assert_eq!(gz.finish().unwrap(), gzip_with(1, &data, 999));
    }

    #[test]
    fn is_one_gzip_member_with_crc_and_size() {
        let data = sample(3 * CHUNK + 5);
        let gz = gzip_with(2, &data, 1 << 16);
        // Header: magic, deflate, no flags, mtime 0, OS Unix.
        assert_eq!(&gz[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
        let trailer = &gz[gz.len() - 8..];
        let crc = u32::from_le_bytes(trailer[..4].try_into().unwrap());
        let size = u32::from_le_bytes(trailer[4..].try_into().unwrap());
        assert_eq!(crc, crc32fast::hash(&data));
        assert_eq!(size as usize, data.len());
        // A single-member reader reads it all: nothing hides in a second
        // member.
        assert_eq!(gunzip(&gz), data);
    }

    #[test]
    fn dictionaries_keep_the_size_near_one_stream() {
        let data = sample(BATCH + 3 * CHUNK);
        let ours = gzip_with(2, &data, 1 << 20).len();
        let mut one = flate2::write::GzEncoder::new(Vec::new(), Compression::new(6));
        one.write_all(&data).unwrap();
        let single = one.finish().unwrap().len();
        // Without dictionaries every chunk would restart cold; with them the
        // cuts cost little.
        assert!(ours * 100 <= single * 101, "{ours} vs {single}");
    }

    /// Text of `n` bytes of which `wide` take 9 bits in a fixed block.
    fn text(n: usize, wide: usize) -> Vec<u8> {
        (0..n)
            .map(|i| {
                if i < wide {
                    0xc0 + i as u8
                } else {
                    b'a' + (i % 26) as u8
                }
            })
            .collect()
    }

    fn raw(range: (u64, u64), tar: &[u8], stored: bool) -> Raw {
        Raw {
            from_bit: range.0,
            to_bit: range.1,
            tar: tar.to_vec(),
            stored,
        }
    }

    /// Copied blocks starting and ending at every bit within a byte, after
    /// deflated data, after other copied blocks, at the start and at the
    /// end: the stored block that aligns the stream before deflated data
    /// spills into a second byte when fewer than 3 bits are free.
    #[test]
    fn copied_blocks_start_and_end_at_any_bit() {
        for lead in 0..8 {
            for wide in 0..8 {
                let mut input = Bits::default();
                let first = text(10, lead);
                let second = text(20, wide);
                let a = input.fixed(&first);
                let b = input.fixed(&second);
                assert_eq!(b.0 % 8, (2 + lead as u64) % 8);
                for fresh_first in [false, true] {
                    let mut gz = ParallelGzip::new(Vec::new(), 6).unwrap();
                    let mut want = Vec::new();
                    if fresh_first {
                        gz.write_all(b"deflated first\n").unwrap();
                        want.extend_from_slice(b"deflated first\n");
                    }
                    gz.write_raw(&input.bytes, raw(b, &second, false)).unwrap();
                    gz.write_raw(&input.bytes, raw(a, &first, false)).unwrap();
                    want.extend_from_slice(&second);
                    want.extend_from_slice(&first);
                    let ends = gz.tail_bits;
                    gz.write_all(b"then deflated\n").unwrap();
                    gz.write_raw(&input.bytes, raw(b, &second, false)).unwrap();
                    want.extend_from_slice(b"then deflated\n");
                    want.extend_from_slice(&second);
                    let out = gz.finish().unwrap();
                    assert_eq!(
                        gunzip(&out),
                        want,
                        "lead {lead}, wide {wide}, ends at {ends}"
                    );
                    let trailer = &out[out.len() - 8..];
                    assert_eq!(trailer[..4], crc32fast::hash(&want).to_le_bytes());
                }
            }
        }
    }

    /// A stored block's padding runs to the next byte boundary: copied
    /// only where it lands at the same bit within a byte, deflated
    /// otherwise; the output decodes either way.
    #[test]
    fn a_stored_block_is_copied_only_at_its_own_bit_position() {
        let payload = b"STORED-PAYLOAD-0123456789".to_vec();
        for lead in 0..8 {
            let mut input = Bits::default();
            let first = text(8, lead);
            input.fixed(&first);
            let s = input.stored(&payload);
            let mut gz = ParallelGzip::new(Vec::new(), 6).unwrap();
            gz.write_all(b"x").unwrap();
            gz.write_raw(&input.bytes, raw(s, &payload, true)).unwrap();
            let out = gz.finish().unwrap();
            assert_eq!(gunzip(&out), [b"x".as_slice(), &payload].concat());
            let copied = out.windows(payload.len()).any(|w| w == payload);
            assert_eq!(
                copied,
                s.0 % 8 == 0,
                "lead {lead}: starts at bit {}",
                s.0 % 8
            );
        }
    }
}
