//! Bounds held inside a round. Every tuple a join produces is counted as it is produced, and
//! the clock is read every few thousand candidates, so one huge round (a product of three
//! relations, say) stops as soon as it passes a bound, not after it has been computed.

use super::{EvalError, Runtime};
use std::cell::{Cell, RefCell};

/// Candidates examined between two readings of the clock.
const CLOCK_EVERY: u32 = 4096;

/// The bounds of one stratum's evaluation, on one thread.
///
/// A join asks [`Guard::produce`] for each tuple it emits and [`Guard::step`] for each
/// candidate it examines; once either says no, the join emits nothing more and the stratum's
/// loop ends with the error at the next [`Guard::check`].
pub struct Guard<'r> {
    rt: &'r Runtime,
    relation: String,
    /// Tuples the stratum held when the round began.
    held: Cell<usize>,
    /// Tuples produced since (intermediate join results and duplicates included).
    produced: Cell<usize>,
    steps: Cell<u32>,
    error: RefCell<Option<EvalError>>,
    stopped: Cell<bool>,
}

impl<'r> Guard<'r> {
    /// A guard for the stratum computing `relation` (named in the error).
    pub fn new(rt: &'r Runtime, relation: &str) -> Guard<'r> {
        Guard {
            rt,
            relation: relation.to_string(),
            held: Cell::new(0),
            produced: Cell::new(0),
            steps: Cell::new(0),
            error: RefCell::new(None),
            stopped: Cell::new(false),
        }
    }

    /// Whether a bound has been passed.
    #[inline]
    pub fn stopped(&self) -> bool {
        self.stopped.get()
    }

    /// Counts one tuple produced; false once a bound is passed (produce nothing more).
    #[inline]
    pub fn produce(&self) -> bool {
        if self.stopped.get() {
            return false;
        }
        let n = self.produced.get() + 1;
        self.produced.set(n);
        if self.held.get().saturating_add(n) > self.rt.limits.max_tuples {
            self.fail(self.too_many());
            return false;
        }
        self.step()
    }

    /// Counts one candidate examined; false once a bound is passed.
    #[inline]
    pub fn step(&self) -> bool {
        if self.stopped.get() {
            return false;
        }
        let s = self.steps.get().wrapping_add(1);
        self.steps.set(s);
        if s.is_multiple_of(CLOCK_EVERY)
            && let Err(e) = self.rt.check_time()
        {
            self.fail(e);
            return false;
        }
        true
    }

    /// Starts a round in which the stratum holds `held` tuples.
    pub fn round(&self, held: usize) -> Result<(), EvalError> {
        self.check()?;
        self.held.set(held);
        self.produced.set(0);
        if held > self.rt.limits.max_tuples {
            return Err(self.too_many());
        }
        self.rt.check_time()
    }

    /// The error that stopped the round, if any.
    pub fn check(&self) -> Result<(), EvalError> {
        match self.error.borrow_mut().take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn fail(&self, e: EvalError) {
        self.stopped.set(true);
        self.error.borrow_mut().get_or_insert(e);
    }

    fn too_many(&self) -> EvalError {
        EvalError::TooManyTuples {
            limit: self.rt.limits.max_tuples,
            relation: self.relation.clone(),
        }
    }
}
