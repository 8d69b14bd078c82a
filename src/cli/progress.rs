//! The progress bar of long runs (`analyze`, `who`): on stderr, only on a terminal; one phase at
//! a time with its own label, counts that only go forward, and an estimate of the time left.

use bindlog::analysis::bulk::Phase;
use std::sync::Mutex;

/// A progress bar fed by [`report`] from any thread.
pub struct Progress {
    bar: indicatif::ProgressBar,
    /// The phase shown and the furthest count it reached: workers finish out of order, and a
    /// late report of a smaller count must not move the bar back.
    state: Mutex<Shown>,
}

/// What the bar shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shown {
    /// The phase's label ("" before the first report).
    pub label: &'static str,
    /// Items done, never less than an earlier report of the same phase.
    pub done: u64,
    /// Items in all (0: the phase has no count, only a spinner).
    pub total: u64,
}

impl Progress {
    /// Clears the bar from the terminal.
    pub fn finish_and_clear(&self) {
        self.bar.finish_and_clear();
    }

    /// What the bar shows now.
    #[cfg(test)]
    pub fn shown(&self) -> Shown {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shown> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A progress bar on stderr, hidden when stderr is not a terminal or when asked.
pub fn progress_bar(hidden: bool) -> Progress {
    use std::io::IsTerminal;
    let bar = if hidden || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    Progress {
        bar,
        state: Mutex::new(Shown::default()),
    }
}

fn counted_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(
        "{msg:22} [{bar:40}] {pos}/{len}  {elapsed} spent, about {eta} left",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .progress_chars("=> ")
}

fn spinner_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template("{spinner} {msg}  {elapsed}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner())
}

/// Shows a bulk run's phase on a progress bar.
pub fn report(progress: &Progress, phase: Phase) {
    let (label, done, total) = match phase {
        Phase::Classifying => ("grouping users into classes", 0, 0),
        Phase::Evaluating { done, total } => ("evaluating classes", done as u64, total as u64),
        Phase::Writing { done, total } => ("writing users", done as u64, total as u64),
    };
    let mut shown = progress.lock();
    let bar = &progress.bar;
    if shown.label != label || shown.total != total {
        // A new phase: its own label and style, its count from zero (no "0/0": a phase with
        // nothing to count is a spinner).
        *shown = Shown {
            label,
            done: 0,
            total,
        };
        bar.reset();
        if total == 0 {
            bar.set_style(spinner_style());
            bar.set_length(0);
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
        } else {
            bar.disable_steady_tick();
            bar.set_style(counted_style());
            bar.set_length(total);
        }
        bar.set_message(label);
    }
    if total > 0 && done > shown.done {
        shown.done = done.min(total);
        bar.set_position(shown.done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 15 item 14: no "0/0", no count going backwards, no label left from a phase before.
    #[test]
    fn phases_count_forward_with_their_own_labels() {
        let p = progress_bar(true);
        report(&p, Phase::Classifying);
        assert_eq!(
            p.shown(),
            Shown {
                label: "grouping users into classes",
                done: 0,
                total: 0
            }
        );
        report(
            &p,
            Phase::Evaluating {
                done: 4,
                total: 589,
            },
        );
        report(
            &p,
            Phase::Evaluating {
                done: 3,
                total: 589,
            },
        );
        assert_eq!(
            p.shown().done,
            4,
            "a late, smaller count does not move the bar back"
        );
        assert_eq!(p.shown().label, "evaluating classes");
        report(
            &p,
            Phase::Writing {
                done: 10,
                total: 300,
            },
        );
        assert_eq!(
            p.shown(),
            Shown {
                label: "writing users",
                done: 10,
                total: 300
            }
        );
        report(
            &p,
            Phase::Writing {
                done: 900,
                total: 300,
            },
        );
        assert_eq!(p.shown().done, 300, "never past the total");
    }
}
