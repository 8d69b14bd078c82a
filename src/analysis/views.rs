//! Typed views of what the rules answer: the three-valued words, and the values the rules put
//! where a user's pk goes. Declared once, so that the code reading the rules' rows names them
//! instead of spelling them (see `rules/authentik/identity.dl` and `rules/authentik/flows.dl`).

/// The anonymous visitor in a user column of the rules' rows (`subject("anon")`): a visitor who
/// never identifies.
pub const ANON: &str = "anon";

/// A question about nobody the snapshot holds (a username no user has): the rules get this as
/// the only subject, so that no user's rows are evaluated.
pub const NOBODY: &str = "<none>";

/// A flow entered without a session (`default_entry`, `applicable`, `visible`).
pub const ANONYMOUS_ENTRY: &str = "anonymous";

/// A flow entered by a logged-in user.
pub const AUTHENTICATED_ENTRY: &str = "authenticated";

/// A three-valued answer. The rules spell it `pass`/`fail`/`unknown` for a decision and
/// `shown`/`skipped`/`unknown` for a stage; answers print it `yes`/`no`/`unknown` for a flow's
/// applicability and an application's access. Stored as its code ([`Tri::code`]) where a
/// million users' answers are held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Tri {
    /// Passes, shown, yes.
    Yes = 0,
    /// Fails, skipped, no.
    No = 1,
    /// Left to run time.
    Unknown = 2,
}

impl Tri {
    /// Reads any of the rules' or the answers' spellings; anything else is unknown.
    pub fn read(word: &str) -> Tri {
        match word {
            "pass" | "shown" | "yes" => Tri::Yes,
            "fail" | "skipped" | "no" => Tri::No,
            _ => Tri::Unknown,
        }
    }

    /// The answer stored as `code` ([`Tri::code`]); an unknown code is unknown.
    pub fn from_code(code: u8) -> Tri {
        match code {
            0 => Tri::Yes,
            1 => Tri::No,
            _ => Tri::Unknown,
        }
    }

    /// The compact form a bulk run stores.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// `yes`, `no` or `unknown`: a flow's applicability, an application's access.
    pub fn yes_no(self) -> &'static str {
        ["yes", "no", "unknown"][self as usize]
    }

    /// `shown`, `skipped` or `unknown`: a stage's visibility.
    pub fn visibility(self) -> &'static str {
        ["shown", "skipped", "unknown"][self as usize]
    }

    /// `pass`, `fail` or `unknown`: a decision as the rules spell it.
    pub fn decision(self) -> &'static str {
        ["pass", "fail", "unknown"][self as usize]
    }

    /// How far the answer lets a user through: no, then unknown, then yes (of several answers
    /// for one user, the most open one is its answer where any of them suffices).
    pub const fn openness(self) -> u8 {
        match self {
            Tri::No => 0,
            Tri::Unknown => 1,
            Tri::Yes => 2,
        }
    }

    /// The answer of openness `o` ([`Tri::openness`]).
    pub const fn from_openness(o: u8) -> Tri {
        match o {
            0 => Tri::No,
            1 => Tri::Unknown,
            _ => Tri::Yes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_reads_back_as_it_is_written() {
        for t in [Tri::Yes, Tri::No, Tri::Unknown] {
            assert_eq!(Tri::read(t.yes_no()), t);
            assert_eq!(Tri::read(t.visibility()), t);
            assert_eq!(Tri::read(t.decision()), t);
            assert_eq!(Tri::from_code(t.code()), t);
        }
        assert_eq!(Tri::read("maybe"), Tri::Unknown);
        for t in [Tri::Yes, Tri::No, Tri::Unknown] {
            assert_eq!(Tri::from_openness(t.openness()), t);
        }
        assert!(Tri::Yes.openness() > Tri::Unknown.openness());
        assert!(Tri::Unknown.openness() > Tri::No.openness());
    }
}
