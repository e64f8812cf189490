//! Progress bars (indicatif) on long work: an update's downloads and
//! verification, `apply`/`check` over many targets, `mirror` over a tree. Drawn on stderr only
//! when it is a terminal, and never with `-q` or `--json`, so logs and CI
//! output stay clean.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{output, Context};

/// A bar per stage, or nothing when bars are off.
pub(crate) struct Bar {
    on: bool,
    /// Draw only stages of at least this many steps (short work would
    /// only flicker).
    min: u64,
    current: Mutex<Option<ProgressBar>>,
}

impl Bar {
    /// Bars for `ctx`: on when stderr is a terminal, without `-q` and
    /// `--json`.
    pub(crate) fn new(ctx: &Context) -> Bar {
        Bar {
            on: !ctx.json && !output::quiet() && std::io::stderr().is_terminal(),
            min: 2,
            current: Mutex::new(None),
        }
    }
}

impl patchkit::client::Progress for Bar {
    fn start(&self, what: &str, total: u64) {
        if !self.on || total < self.min {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{msg:>20} [{bar:30}] {pos}/{len} ({elapsed})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_string());
        if let Ok(mut c) = self.current.lock() {
            if let Some(old) = c.replace(bar) {
                old.finish_and_clear();
            }
        }
    }

    fn advance(&self, n: u64) {
        if let Ok(c) = self.current.lock() {
            if let Some(bar) = c.as_ref() {
                bar.inc(n);
            }
        }
    }

    fn finish(&self) {
        if let Ok(mut c) = self.current.lock() {
            if let Some(bar) = c.take() {
                bar.finish_and_clear();
            }
        }
    }
}

impl patchkit::mirror::tree::TreeProgress for Bar {
    fn start(&self, files: u64) {
        patchkit::client::Progress::start(self, "mirroring", files);
    }

    fn file_done(&self) {
        patchkit::client::Progress::advance(self, 1);
    }

    fn finish(&self) {
        patchkit::client::Progress::finish(self);
    }
}
