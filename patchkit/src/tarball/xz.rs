//! xz (`.tar.xz`, `.txz`): the compression of many Debian orig tarballs and
//! of some CPAN uploads, read and written through liblzma (the reference
//! xz implementation).
//!
//! Kept apart from `read.rs` and `write.rs`, which only call [`MAGIC`],
//! [`decoder`] and [`encoder`]: the bounds on what a stream may unpack to are
//! the reader's (`tarball::Limits`, applied to whatever [`decoder`] yields),
//! so a hostile xz stream is held to the same limits as a gzip one.

use std::io::{Read, Write};

/// The xz stream header magic: `FD 37 7A 58 5A 00`.
pub(crate) const MAGIC: [u8; 6] = [0xfd, b'7', b'z', b'X', b'Z', 0x00];

/// The most memory the decoder may use: 256 MiB. An xz stream declares
/// its dictionary size in its header, and the decoder allocates it; `xz
/// -9` needs 65 MiB, so a stream asking for more (up to 4 GiB) is refused
/// as hostile rather than allocated.
pub(crate) const MEMLIMIT: u64 = 256 << 20;

/// A reader of the decompressed bytes of every concatenated xz stream in
/// `compressed` (as `xz -d` reads them; `pixz` and `xz -T` write several),
/// using at most [`MEMLIMIT`] bytes of memory.
pub(crate) fn decoder(compressed: &[u8]) -> Box<dyn Read + Send + '_> {
    decoder_with_limit(compressed, MEMLIMIT)
}

fn decoder_with_limit(compressed: &[u8], memlimit: u64) -> Box<dyn Read + Send + '_> {
    match liblzma::stream::Stream::new_stream_decoder(memlimit, liblzma::stream::CONCATENATED) {
        Ok(stream) => Box::new(liblzma::read::XzDecoder::new_stream(compressed, stream)),
        // Only when liblzma cannot allocate its decoder state at all; the
        // reader then fails with that error, as a corrupt stream would.
        Err(e) => Box::new(Failed(Some(std::io::Error::other(e)))),
    }
}

/// A reader that fails once with the error it holds.
struct Failed(Option<std::io::Error>);

impl Read for Failed {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(self
            .0
            .take()
            .unwrap_or_else(|| std::io::Error::other("xz decoder unavailable")))
    }
}

/// An encoder writing to `out` as `xz -6` does (preset 6, CRC64 check),
/// one stream; the output depends on nothing but the input and the liblzma
/// version.
pub(crate) fn encoder<W: Write>(out: W) -> liblzma::write::XzEncoder<W> {
    liblzma::write::XzEncoder::new(out, 6)
}

/// `tar` compressed by [`encoder`], in memory.
#[cfg(test)]
pub(crate) fn encode(tar: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = encoder(Vec::with_capacity(tar.len() / 4));
    enc.write_all(tar)?;
    enc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode_round_trips_and_is_deterministic() {
        let data = b"some tar bytes ".repeat(1000);
        let a = encode(&data).unwrap();
        assert!(a.starts_with(&MAGIC));
        assert_eq!(a, encode(&data).unwrap());
        let mut out = Vec::new();
        decoder(&a).read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        // Two streams back to back read as one.
        let mut two = a.clone();
        two.extend_from_slice(&a);
        let mut out = Vec::new();
        decoder(&two).read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), data.len() * 2);
    }

    #[test]
    fn a_stream_needing_more_memory_than_the_limit_is_refused() {
        // Preset 6 declares an 8 MiB dictionary; allow 1 MiB.
        let data = encode(b"x").unwrap();
        let mut out = Vec::new();
        let err = decoder_with_limit(&data, 1 << 20)
            .read_to_end(&mut out)
            .unwrap_err();
        assert!(err.to_string().to_lowercase().contains("memory"), "{err}");
    }
}
