//! `completions SHELL` and `man`: shell completion scripts and a man page,
//! generated from the clap definitions (clap_complete, clap_mangen) so that
//! they always match `--help`. They print to stdout; packagers install them
//! (`patchkit completions bash > /usr/share/bash-completion/completions/patchkit`,
//! `patchkit man > /usr/share/man/man1/patchkit.1`).

use std::io::Write;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;
use patchkit::error::Error;

/// Arguments of `completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_name = "SHELL")]
    pub(crate) shell: Shell,
}

/// Print the completion script for `args.shell`.
pub(crate) fn completions(args: &CompletionsArgs) -> Result<i32, Error> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "patchkit", &mut out);
    write_stdout(&out)
}

/// Print the man page (roff) of patchkit and its commands.
pub(crate) fn man() -> Result<i32, Error> {
    // The page has a SUBCOMMANDS section listing every command; each
    // command's full options are in `patchkit <command> --help` and
    // docs/cli.md, generated from the same definitions.
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    write_stdout(&out)
}

fn write_stdout(bytes: &[u8]) -> Result<i32, Error> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()?;
    Ok(0)
}
