//! Result lines (`PASS name`, `FAIL name: reason`, `SKIP name: reason`) and
//! the summary line `N passed, N failed[, N skipped]`.

/// How one scenario ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

/// The result line of a scenario.
pub fn line(name: &str, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Pass => format!("PASS {name}"),
        Outcome::Fail(r) => format!("FAIL {name}: {r}"),
        Outcome::Skip(r) => format!("SKIP {name}: {r}"),
    }
}

/// Counts of outcomes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Summary {
    pub fn add(&mut self, o: &Outcome) {
        match o {
            Outcome::Pass => self.passed += 1,
            Outcome::Fail(_) => self.failed += 1,
            Outcome::Skip(_) => self.skipped += 1,
        }
    }

    /// The final line; skips are appended only when there were any.
    pub fn line(&self) -> String {
        let mut s = format!("{} passed, {} failed", self.passed, self.failed);
        if self.skipped > 0 {
            s.push_str(&format!(", {} skipped", self.skipped));
        }
        s
    }

    pub fn success(&self) -> bool {
        self.failed == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(Outcome::Pass, "PASS repo_read")]
    #[case(Outcome::Fail("boom".into()), "FAIL repo_read: boom")]
    #[case(Outcome::Skip("got is not installed".into()), "SKIP repo_read: got is not installed")]
    fn lines(#[case] o: Outcome, #[case] want: &str) {
        assert_eq!(line("repo_read", &o), want);
    }

    #[test]
    fn summary() {
        let mut s = Summary::default();
        s.add(&Outcome::Pass);
        s.add(&Outcome::Pass);
        assert_eq!(s.line(), "2 passed, 0 failed");
        assert!(s.success());
        s.add(&Outcome::Fail("x".into()));
        s.add(&Outcome::Skip("y".into()));
        assert_eq!(s.line(), "2 passed, 1 failed, 1 skipped");
        assert!(!s.success());
    }
}
