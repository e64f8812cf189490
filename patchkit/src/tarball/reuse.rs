//! Reusing a gzip input's compressed blocks: the deflate blocks of the
//! input that decode to unchanged members are copied into the output as
//! they are, instead of being deflated again (docs/performance.md,
//! "Reused blocks").
//!
//! **Why it is right.** A deflate block decodes to the same bytes wherever
//! it is put, given the same 32 KiB before it (its matches reach back at
//! most that far; Huffman blocks are independent of the bit position).
//! So a block of the input whose decoded bytes, and the 32 KiB before
//! them, all lie in one run of members copied unchanged can be copied: in
//! the output it is preceded by the same bytes. At the very start of the
//! stream the input and the output share their beginning, so the blocks
//! before the first change need no 32 KiB margin. A stored block is the
//! exception to position independence (its padding runs to the next byte),
//! so `gzip.rs` copies one only at the same bit position within a byte.
//!
//! **How.** The second pass inflates the input with miniz_oxide (safe
//! Rust), stopping at every block boundary to note its bit position; the
//! tar writer tells [`Splice`] which output bytes are copies of which input
//! bytes; [`Splice`] holds the bytes of the block being decoded until it
//! ends, then sends either the block's bits ([`Raw`]) or its bytes (to be
//! deflated) to the compressor. Only blocks of the first gzip member are
//! reused; the members after it are read by flate2 as before.
//!
//! **Determinism.** Which blocks are copied depends only on the input's
//! bytes (its block boundaries) and on the changes, never on the threads
//! or on timing: the output is still a function of the input and the
//! patches.
//!
//! **Memory.** The bytes of one block are held while it is decoded, at
//! most [`HELD`]; a longer block is deflated again rather than held.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::mpsc::SyncSender;

use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

use super::gzip::{Raw, BATCH};
use super::write::{Piece, TarPass};

/// Deflate's window: how far back a block's matches reach.
const WINDOW: u64 = 32 * 1024;

/// miniz_oxide's output buffer (used as a ring: a power of two, at least
/// the window).
const RING: usize = 256 * 1024;

/// The longest block held while it is decoded; a longer one is deflated
/// again.
const HELD: usize = 1 << 20;

/// Copied blocks shorter than this are handed to the compressor together
/// (a longer one goes alone, without a copy).
const RUN: usize = 64 * 1024;

/// Where the raw deflate data of the first member of a gzip file starts,
/// after its header (RFC 1952); `None` if the header is not one this
/// reads (the output is then compressed as before). By hand because
/// flate2 parses the header inside its decoder and does not say where the
/// deflate data begins, which miniz_oxide (raw deflate only) needs.
pub(super) fn deflate_start(gz: &[u8]) -> Option<usize> {
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    let flags = match gz.get(..10)? {
        [0x1f, 0x8b, 8, flags, ..] if flags & 0xe0 == 0 => *flags,
        _ => return None,
    };
    let mut at = 10usize;
    if flags & FEXTRA != 0 {
        let len = gz.get(at..at + 2)?;
        at += 2 + usize::from(u16::from_le_bytes([len[0], len[1]]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            at += gz.get(at..)?.iter().position(|&b| b == 0)? + 1;
        }
    }
    if flags & FHCRC != 0 {
        at += 2;
    }
    (at <= gz.len()).then_some(at)
}

/// A block boundary of the first member, after `tar` bytes were decoded:
/// the blocks before it end at bit `end` of the deflate data, the next
/// block that holds anything starts at bit `start` (after any empty
/// blocks, which decode to nothing and are never copied); `stored`: that
/// block is a stored one.
#[derive(Debug, Clone, Copy)]
struct Boundary {
    tar: u64,
    end: u64,
    start: u64,
    stored: bool,
}

/// The input tar, inflated, with the block boundaries of its first gzip
/// member noted as they are passed.
struct Blocks<'a> {
    /// The whole gzip input.
    gz: &'a [u8],
    /// Its first member's raw deflate data, to the end of the input.
    deflate: &'a [u8],
    /// Bytes of `deflate` consumed.
    consumed: usize,
    inflater: Box<DecompressorOxide>,
    ring: Vec<u8>,
    /// Where the next output goes in `ring`.
    at: usize,
    /// Decoded bytes not read yet, in `ring`.
    ready: std::ops::Range<usize>,
    /// Bytes decoded so far.
    total: u64,
    /// After the first member: flate2 for the rest.
    rest: Option<Box<dyn Read + Send + 'a>>,
    done: bool,
    boundaries: VecDeque<Boundary>,
}

impl<'a> Blocks<'a> {
    fn new(gz: &'a [u8], start: usize) -> Self {
        let mut blocks = Blocks {
            gz,
            deflate: gz.get(start..).unwrap_or_default(),
            consumed: 0,
            inflater: Box::default(),
            ring: vec![0; RING],
            at: 0,
            ready: 0..0,
            total: 0,
            rest: None,
            done: false,
            boundaries: VecDeque::new(),
        };
        blocks.note(0);
        blocks
    }

    /// Note a boundary at `bit`, where `total` bytes were decoded. Empty
    /// blocks give several at the same place: one entry spans them.
    fn note(&mut self, bit: u64) {
        // The next block's header: BFINAL, then BTYPE (00: stored).
        let byte = |i: u64| {
            usize::try_from(i)
                .ok()
                .and_then(|i| self.deflate.get(i))
                .map_or(0, |&b| u16::from(b))
        };
        let bits = (byte(bit / 8) | byte(bit / 8 + 1) << 8) >> (bit % 8);
        let stored = (bits >> 1) & 3 == 0;
        match self.boundaries.back_mut() {
            Some(b) if b.tar == self.total => {
                b.start = bit;
                b.stored = stored;
            }
            _ => self.boundaries.push_back(Boundary {
                tar: self.total,
                end: bit,
                start: bit,
                stored,
            }),
        }
    }

    /// Inflate up to the next block boundary or the end of the ring.
    fn inflate(&mut self) -> io::Result<()> {
        if self.at == self.ring.len() {
            self.at = 0;
        }
        let input = self.deflate.get(self.consumed..).unwrap_or_default();
        let (status, read, written) = decompress(
            &mut self.inflater,
            input,
            &mut self.ring,
            self.at,
            inflate_flags::TINFL_FLAG_STOP_ON_BLOCK_BOUNDARY,
        );
        self.consumed += read;
        match status {
            TINFLStatus::BlockBoundary | TINFLStatus::HasMoreOutput | TINFLStatus::Done => {}
            // The first pass read this input with flate2 (zlib-rs); should
            // miniz_oxide read it otherwise, flate2 reads the rest.
            _ => return self.fall_back(),
        }
        self.ready = self.at..self.at + written;
        self.at += written;
        self.total += written as u64;
        match status {
            TINFLStatus::BlockBoundary => match self.inflater.block_boundary_state() {
                Some(state) => {
                    let bit = (self.consumed as u64 * 8).saturating_sub(u64::from(state.num_bits));
                    self.note(bit);
                }
                None => return self.fall_back(),
            },
            TINFLStatus::Done => {
                // The member's trailer (CRC-32, ISIZE), then any members
                // after it.
                let next = self.consumed + 8;
                match self.deflate.get(next..) {
                    Some(rest) if !rest.is_empty() => {
                        self.rest = Some(Box::new(flate2::read::MultiGzDecoder::new(rest)));
                    }
                    _ => self.done = true,
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Read the rest with flate2, from where miniz_oxide stopped.
    fn fall_back(&mut self) -> io::Result<()> {
        let mut all: Box<dyn Read + Send + 'a> =
            Box::new(flate2::read::MultiGzDecoder::new(self.gz));
        let skipped = io::copy(&mut (&mut all).take(self.total), &mut io::sink())?;
        if skipped != self.total {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive ended early when read again",
            ));
        }
        self.ready = 0..0;
        self.rest = Some(all);
        Ok(())
    }
}

impl Read for Blocks<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.ready.is_empty() {
                let n = out.len().min(self.ready.len());
                out[..n].copy_from_slice(&self.ring[self.ready.start..self.ready.start + n]);
                self.ready.start += n;
                return Ok(n);
            }
            if let Some(rest) = &mut self.rest {
                return rest.read(out);
            }
            if self.done {
                return Ok(0);
            }
            self.inflate()?;
        }
    }
}

/// A run of members being copied: where it started in the input, and
/// whether it is also the start of the output.
#[derive(Clone, Copy)]
struct Span {
    start: u64,
    prefix: bool,
}

/// The second pass for a gzip input: reads the input tar through
/// [`Blocks`] and sends the new tar to the compressor as pieces to
/// deflate ([`Piece::Tar`]) and blocks to copy ([`Piece::Raw`]).
pub(super) struct Splice<'a> {
    src: Blocks<'a>,
    tx: SyncSender<Piece>,
    /// Tar bytes to deflate, not sent yet (sent at [`BATCH`]).
    fresh: Vec<u8>,
    /// Input tar bytes read so far.
    in_pos: u64,
    /// Output tar bytes written so far.
    out_pos: u64,
    span: Option<Span>,
    /// The start of the block being decoded, if it may be copied.
    cand: Option<Boundary>,
    /// Its bytes so far.
    held: Vec<u8>,
    /// Blocks to copy, not sent yet (after `fresh`).
    run: Option<Raw>,
    /// Bytes copied (for tests and measurements).
    reused: u64,
}

impl<'a> Splice<'a> {
    /// Read `gz` (a gzip input whose first member's deflate data starts
    /// at `start`) and send to `tx`.
    pub(super) fn new(gz: &'a [u8], start: usize, tx: SyncSender<Piece>) -> Self {
        Splice {
            src: Blocks::new(gz, start),
            tx,
            fresh: Vec::with_capacity(BATCH),
            in_pos: 0,
            out_pos: 0,
            span: None,
            cand: None,
            held: Vec::new(),
            run: None,
            reused: 0,
        }
    }

    /// Send what is left; the tar bytes whose blocks were copied.
    pub(super) fn finish(mut self) -> io::Result<u64> {
        self.end_span()?;
        self.send_run()?;
        self.send_fresh()?;
        Ok(self.reused)
    }

    fn send(&self, piece: Piece) -> io::Result<()> {
        self.tx
            .send(piece)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the compressor stopped"))
    }

    fn send_fresh(&mut self) -> io::Result<()> {
        if self.fresh.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.fresh, Vec::with_capacity(BATCH));
        self.send(Piece::Tar(full))
    }

    /// Send the blocks to copy, after the bytes to deflate before them.
    fn send_run(&mut self) -> io::Result<()> {
        if let Some(run) = self.run.take() {
            self.send_fresh()?;
            self.reused += run.tar.len() as u64;
            self.send(Piece::Raw(run))?;
        }
        Ok(())
    }

    /// Bytes to deflate, after any blocks to copy before them.
    fn push_fresh(&mut self, mut data: &[u8]) -> io::Result<()> {
        self.send_run()?;
        while !data.is_empty() {
            let take = data.len().min(BATCH - self.fresh.len());
            self.fresh.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.fresh.len() == BATCH {
                self.send_fresh()?;
            }
        }
        Ok(())
    }

    /// The block being decoded will not be copied: its bytes so far go to
    /// be deflated.
    fn drop_cand(&mut self) -> io::Result<()> {
        if self.cand.take().is_some() {
            let held = std::mem::take(&mut self.held);
            self.push_fresh(&held)?;
        }
        Ok(())
    }

    /// The run of copied members ends.
    fn end_span(&mut self) -> io::Result<()> {
        self.span = None;
        self.drop_cand()
    }

    /// Output bytes that are input bytes copied.
    fn copied(&mut self, data: &[u8]) -> io::Result<()> {
        self.out_pos += data.len() as u64;
        if self.cand.is_none() {
            return self.push_fresh(data);
        }
        self.held.extend_from_slice(data);
        if self.held.len() > HELD {
            self.drop_cand()?;
        }
        Ok(())
    }

    /// A block boundary at `in_pos`, inside the current span.
    fn boundary(&mut self, b: Boundary, span: Span) -> io::Result<()> {
        match &mut self.cand {
            // The block at `c` was empty: start after it.
            Some(c) if c.tar == b.tar => {
                c.start = b.start;
                c.stored = b.stored;
            }
            Some(c) => {
                // The blocks from `c` to `b` decode to bytes of this span,
                // 32 KiB after its start (or at the start of the output).
                let (from, stored) = (c.start, c.stored);
                let tar = std::mem::take(&mut self.held);
                self.add_run(from, b.end, tar, stored)?;
                self.cand = Some(b);
            }
            None if span.prefix || b.tar - span.start >= WINDOW => self.cand = Some(b),
            None => {}
        }
        Ok(())
    }

    fn add_run(
        &mut self,
        from_bit: u64,
        to_bit: u64,
        tar: Vec<u8>,
        stored: bool,
    ) -> io::Result<()> {
        if let Some(run) = &mut self.run {
            if run.to_bit == from_bit && !run.stored && !stored && run.tar.len() + tar.len() <= RUN
            {
                run.to_bit = to_bit;
                run.tar.extend_from_slice(&tar);
                return Ok(());
            }
        }
        self.send_run()?;
        self.run = Some(Raw {
            from_bit,
            to_bit,
            tar,
            stored,
        });
        Ok(())
    }

    /// Read exactly `buf.len()` input bytes.
    fn read_input(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.src.read_exact(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(e.kind(), "the archive ended early when read again")
            } else {
                e
            }
        })?;
        self.in_pos += buf.len() as u64;
        Ok(())
    }

    /// Forget the boundaries before `in_pos` (in input not copied).
    fn pass_boundaries(&mut self) {
        while self
            .src
            .boundaries
            .front()
            .is_some_and(|b| b.tar < self.in_pos)
        {
            self.src.boundaries.pop_front();
        }
    }
}

impl TarPass for Splice<'_> {
    fn copy(&mut self, n: usize) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        let span = *self.span.get_or_insert(Span {
            start: self.in_pos,
            prefix: self.in_pos == 0 && self.out_pos == 0,
        });
        let mut piece = vec![0u8; n.min(64 * 1024)];
        let mut left = n;
        while left > 0 {
            let want = left.min(piece.len());
            let start = self.in_pos;
            self.read_input(&mut piece[..want])?;
            let end = self.in_pos;
            let mut at = start;
            while let Some(&b) = self.src.boundaries.front() {
                if b.tar > end {
                    break;
                }
                self.src.boundaries.pop_front();
                if b.tar < at {
                    continue;
                }
                let (from, to) = ((at - start) as usize, (b.tar - start) as usize);
                self.copied(&piece[from..to])?;
                at = b.tar;
                self.boundary(b, span)?;
            }
            self.copied(&piece[(at - start) as usize..want])?;
            left -= want;
        }
        Ok(())
    }

    fn take(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.end_span()?;
        self.read_input(buf)?;
        self.pass_boundaries();
        Ok(())
    }

    fn skip(&mut self, mut n: usize) -> io::Result<()> {
        self.end_span()?;
        let mut scratch = vec![0u8; n.min(64 * 1024)];
        while n > 0 {
            let want = n.min(scratch.len());
            self.read_input(&mut scratch[..want])?;
            n -= want;
        }
        self.pass_boundaries();
        Ok(())
    }

    fn written(&self) -> usize {
        usize::try_from(self.out_pos).unwrap_or(usize::MAX)
    }
}

impl Write for Splice<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if !data.is_empty() {
            self.end_span()?;
            self.push_fresh(data)?;
            self.out_pos += data.len() as u64;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The block boundaries of the first member of the gzip file `gz`, as
/// (tar bytes before it, bit of the deflate data), the start included.
#[cfg(test)]
pub(super) fn boundaries(gz: &[u8]) -> Vec<(u64, u64)> {
    let mut blocks = Blocks::new(gz, deflate_start(gz).unwrap());
    let mut found = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        found.extend(blocks.boundaries.drain(..).map(|b| (b.tar, b.end)));
        if blocks.read(&mut buf).unwrap() == 0 {
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn text(len: usize) -> Vec<u8> {
        let mut n: u64 = 3;
        let mut out = Vec::new();
        while out.len() < len {
            n = n.wrapping_mul(6364136223846793005).wrapping_add(1);
            out.extend_from_slice(format!("sub f{} {{ {} }}\n", n >> 59, n >> 40).as_bytes());
        }
        out.truncate(len);
        out
    }

    /// Should miniz_oxide stop where flate2 read on (the first pass read
    /// the input with flate2), flate2 reads the rest from the same place.
    #[test]
    fn flate2_takes_over_where_miniz_oxide_stops() {
        let data = text(3 << 20);
        let mut gz = gzip(&data[..1 << 20]);
        gz.extend(gzip(&data[1 << 20..]));
        for stop in [0, 100_000, 1 << 20, (1 << 20) + 5, 2 << 20] {
            let mut blocks = Blocks::new(&gz, deflate_start(&gz).unwrap());
            let mut got = vec![0u8; stop];
            blocks.read_exact(&mut got).unwrap();
            // As `inflate` does: with everything decoded read.
            let ready = blocks.ready.clone();
            got.extend_from_slice(&blocks.ring[ready]);
            blocks.ready = 0..0;
            if blocks.rest.is_none() && !blocks.done {
                blocks.fall_back().unwrap();
            }
            blocks.read_to_end(&mut got).unwrap();
            assert!(got == data, "stopped at {stop}");
        }
    }

    #[test]
    fn reads_gzip_headers_with_every_optional_field() {
        let data = text(200_000);
        let plain = gzip(&data);
        // FEXTRA, FNAME, FCOMMENT and FHCRC, as RFC 1952 orders them.
        let mut gz = plain[..10].to_vec();
        gz[3] = 2 | 4 | 8 | 16;
        gz.extend_from_slice(&[3, 0, b'a', b'b', b'c']);
        gz.extend_from_slice(b"name.tar\0comment\0");
        gz.extend_from_slice(&[0x12, 0x34]);
        let start = gz.len();
        gz.extend_from_slice(&plain[10..]);
        assert_eq!(deflate_start(&gz), Some(start));
        let mut got = Vec::new();
        Blocks::new(&gz, start).read_to_end(&mut got).unwrap();
        assert!(got == data);
        // Reserved flags, another method, a cut header: not read.
        for bad in [&[0x1f, 0x8b, 8, 0x20][..], &[0x1f, 0x8b, 7, 0], &gz[..14]] {
            let mut bad = bad.to_vec();
            if bad.len() < 10 {
                bad.resize(10, 0);
            }
            assert_eq!(deflate_start(&bad), None, "{bad:?}");
        }
    }
}
