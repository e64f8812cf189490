//! Bounds on one untrusted archive or directory (docs/ARCHITECTURE.md: "Untrusted
//! input is bounded").
//!
//! The defaults are sized from the largest thing commonly installed from
//! CPAN, the perl core distribution itself: about 20 MiB as `.tar.gz`,
//! about 90 MiB and 6,600 entries unpacked. Every default leaves three to
//! five times that headroom while still stopping a bomb long before it can
//! exhaust a build machine's memory.

const MIB: u64 = 1024 * 1024;

/// Limits applied while reading an archive or a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest compressed archive accepted. Default **64 MiB** (three times
    /// the perl core tarball; typical dists are under 1 MiB).
    pub max_compressed_bytes: u64,
    /// Largest total of decompressed tar bytes (headers included), or of
    /// file bytes in a directory. Default **512 MiB**.
    pub max_unpacked_bytes: u64,
    /// Largest single file. Default **64 MiB**: the biggest files in real
    /// dists are bundled C sources and test data of a few MiB.
    pub max_file_bytes: u64,
    /// Most entries (files, directories, links; extension headers are not
    /// counted separately). Default **20,000**, three times perl core.
    pub max_entries: usize,
    /// Highest accepted ratio of unpacked to compressed bytes. Default
    /// **200**: source code compresses 4–10 times, a tar of many tiny files
    /// around 50 times, while a gzip of zeros reaches about 1,000.
    pub max_ratio: u64,
    /// Unpacked bytes that never count against `max_ratio`. Default
    /// **1 MiB**: `tar` pads archives to 10 KiB records, so a tiny but
    /// honest dist can show a high ratio; a bomb needs far more than 1 MiB
    /// to do harm.
    pub ratio_free_bytes: u64,
    /// Largest PAX extended header or GNU long name/link block of one
    /// member. Default **64 KiB**; real ones hold a path and a few times.
    pub max_extension_bytes: u64,
    /// Memory one target may take while it is read, patched and written.
    /// patchkit holds the unpacked tar, every file of the tree and the
    /// output at once, about three times the unpacked bytes, so the
    /// unpacked bytes of one target are bounded by a third of this.
    /// Default **512 MiB** (the perl core distribution needs about 270);
    /// `apply` works on several targets at once, one per core.
    pub max_memory_bytes: u64,
    /// Total length of the targets of every symlink of one distribution,
    /// which bounds the work of checking that each stays inside (each
    /// component of a target is looked up). Default **256 KiB**: real
    /// dists have a handful of short symlinks, if any.
    pub max_symlink_bytes: u64,
}

impl Limits {
    /// The unpacked bytes one target may hold: the unpacked limit, or a
    /// third of the memory limit when that is lower.
    pub fn unpacked_cap(&self) -> u64 {
        self.max_unpacked_bytes.min(self.max_memory_bytes / 3)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_compressed_bytes: 64 * MIB,
            max_unpacked_bytes: 512 * MIB,
            max_file_bytes: 64 * MIB,
            max_entries: 20_000,
            max_ratio: 200,
            ratio_free_bytes: MIB,
            max_extension_bytes: 64 * 1024,
            max_memory_bytes: 512 * MIB,
            max_symlink_bytes: 256 * 1024,
        }
    }
}
