//! The command-line reference in docs/cli.md, generated from the clap
//! definitions so that it cannot drift from `--help`: a test compares the
//! file with [`markdown`] and fails when it is stale (regenerate with
//! `PATCHKIT_UPDATE_DOCS=1 cargo test -p patchkit --lib cli::reference`).

use clap::CommandFactory;

use super::Cli;

/// docs/cli.md as it should be.
pub(crate) fn markdown() -> String {
    let mut cmd = Cli::command().term_width(100);
    cmd.build();
    let mut out = String::from(
        "# Command-line reference\n\n\
         Generated from `patchkit --help` and `patchkit <command> --help`; \
         a test fails when this file is stale.\n\n",
    );
    section(&mut cmd, "patchkit", &mut out);
    out
}

fn section(cmd: &mut clap::Command, path: &str, out: &mut String) {
    let level = "#".repeat(path.split(' ').count().min(4) + 1);
    out.push_str(&format!("{level} `{path}`\n\n```text\n"));
    let help = cmd.render_long_help().to_string();
    for line in help.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str("```\n\n");
    let names: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| s.get_name() != "help")
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        if let Some(sub) = cmd.find_subcommand_mut(&name) {
            section(sub, &format!("{path} {name}"), out);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn docs_cli_md_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/cli.md");
        let want = super::markdown();
        if std::env::var_os("PATCHKIT_UPDATE_DOCS").is_some() {
            std::fs::write(path, &want).unwrap();
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "docs/cli.md is stale: run PATCHKIT_UPDATE_DOCS=1 cargo test -p patchkit --lib cli::reference"
        );
    }
}
