//! Names every file system unpacks the same way.
//!
//! A distribution is unpacked on Linux, macOS and Windows alike. Names that
//! two of those see differently let one reader patch, review or audit one
//! file while another builds a different one, so they are refused:
//! - two paths that differ only in letter case (`lib/Bar.pm` and
//!   `lib/BAR.pm`, or `lib/` and `LIB/`): on case-insensitive file systems
//!   (Windows, macOS by default) one is unpacked over the other;
//! - a component that ends with a dot or a space (`Foo.pm.`): Windows drops
//!   them, so it names another file there;
//! - a component with a `:` (`Foo.pm::$DATA`): on Windows it names an
//!   alternate data stream of another file;
//! - a component whose name before the first dot is a device Windows
//!   reserves (`CON`, `PRN`, `AUX`, `NUL`, `COM0`–`COM9`, `LPT0`–`LPT9`,
//!   in any case, with any extension: `nul.pm`).
//!
//! Case is folded with Unicode's lower-casing, which is what NTFS and APFS
//! do for the letters CPAN names use; canonically equivalent spellings
//! (NFC/NFD) are not folded.

use std::collections::HashMap;

use super::EntryProblem;

/// The paths seen so far, folded, for [`Names::add`].
#[derive(Debug, Default)]
pub(crate) struct Names {
    /// Folded path (and every folded ancestor) → the path as first seen.
    seen: HashMap<String, String>,
}

impl Names {
    /// Check `path` (`/`-separated, already a safe relative path) and each
    /// of its ancestors against the rules above and the paths seen before.
    pub(crate) fn add(&mut self, path: &str) -> Result<(), EntryProblem> {
        let mut end = 0;
        for component in path.split('/') {
            check_component(component)?;
            end += component.len();
            let prefix = &path[..end];
            end += 1;
            let folded = prefix.to_lowercase();
            match self.seen.get(&folded) {
                Some(other) if other != prefix => {
                    return Err(EntryProblem::CaseCollision {
                        this: super::show(prefix.as_bytes()),
                        other: super::show(other.as_bytes()),
                    })
                }
                Some(_) => {}
                None => {
                    self.seen.insert(folded, prefix.to_string());
                }
            }
        }
        Ok(())
    }
}

/// Devices Windows reserves in every directory.
const DEVICES: [&str; 4] = ["CON", "PRN", "AUX", "NUL"];

fn check_component(c: &str) -> Result<(), EntryProblem> {
    if c.ends_with('.') || c.ends_with(' ') {
        return Err(EntryProblem::NotPortable(
            "ends with a dot or a space, which Windows drops, so it names another file there",
        ));
    }
    if c.contains(':') {
        return Err(EntryProblem::NotPortable(
            "has a ':', which on Windows names an alternate data stream of another file",
        ));
    }
    let stem = c
        .split('.')
        .next()
        .unwrap_or(c)
        .trim_end()
        .to_ascii_uppercase();
    let numbered = |prefix: &str| {
        stem.strip_prefix(prefix).is_some_and(|n| {
            matches!(
                n,
                "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "¹" | "²" | "³"
            )
        })
    };
    if DEVICES.contains(&stem.as_str()) || numbered("COM") || numbered("LPT") {
        return Err(EntryProblem::NotPortable(
            "is a device name that Windows reserves (CON, PRN, AUX, NUL, COM1, LPT1, …)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_windows_or_case_folding_would_see_differently() {
        for bad in [
            "a/Foo.pm.",
            "a/Foo.pm ",
            "a/Foo.pm::$DATA",
            "a/CON",
            "a/nul.pm",
            "AUX/x",
            "a/com1.txt",
            "a/LPT9",
        ] {
            assert!(Names::default().add(bad).is_err(), "{bad}");
        }
        for good in [
            "a/Foo.pm",
            "a/CONTRIBUTING",
            "a/console.pm",
            "a/COM10",
            "a/.hidden",
            "a/..x",
        ] {
            assert!(Names::default().add(good).is_ok(), "{good}");
        }
        let mut names = Names::default();
        names.add("T-1/lib/Bar.pm").unwrap();
        names.add("T-1/lib/Baz.pm").unwrap();
        assert!(matches!(
            names.add("T-1/lib/BAR.pm"),
            Err(EntryProblem::CaseCollision { .. })
        ));
        assert!(names.add("T-1/LIB/x.pm").is_err());
        assert!(names.add("t-1/x").is_err());
    }
}
