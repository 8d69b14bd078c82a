//! One message for every name a command is given and the snapshot does not hold (a flow's slug,
//! a stage, an application, a user): the nearest valid names first, then the sorted list.

/// How many names the list after the suggestions shows at most.
const LISTED: usize = 30;

/// Edit distance (Levenshtein, by characters) between two strings.
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The valid names nearest to `given`, compared without case, at most three: the same name in
/// other case if there is one; else the names that contain it or that it contains (closest in
/// length first); else the names within a quarter of its length in edits (at least 2), nearest
/// first.
pub fn nearest<'a>(given: &str, names: &[&'a str]) -> Vec<&'a str> {
    let lower = given.to_lowercase();
    let room = (lower.chars().count() / 4).max(2);
    let same: Vec<&'a str> = names
        .iter()
        .filter(|n| n.to_lowercase() == lower)
        .copied()
        .collect();
    if !same.is_empty() {
        return same.into_iter().take(3).collect();
    }
    if lower.chars().count() >= 3 {
        let mut within: Vec<&'a str> = names
            .iter()
            .filter(|n| {
                let l = n.to_lowercase();
                l.contains(&lower) || lower.contains(&l)
            })
            .copied()
            .collect();
        if !within.is_empty() {
            within
                .sort_unstable_by_key(|n| (n.chars().count().abs_diff(lower.chars().count()), *n));
            return within.into_iter().take(3).collect();
        }
    }
    let mut scored: Vec<(usize, &'a str)> = names
        .iter()
        .filter_map(|n| {
            let d = distance(&lower, &n.to_lowercase());
            (d <= room).then_some((d, *n))
        })
        .collect();
    scored.sort_unstable();
    scored.dedup();
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}

/// "no {what} `{given}`; did you mean `a`?" then "the snapshot has: a, b, c" with the names
/// sorted (the first [`LISTED`], then how many more).
pub fn unknown(what: &str, given: &str, names: &[&str]) -> String {
    unknown_in(what, given, names, "the snapshot")
}

/// [`unknown`] for names held by something other than the snapshot ("the flow has: ...").
pub fn unknown_in(what: &str, given: &str, names: &[&str], holder: &str) -> String {
    let mut sorted: Vec<&str> = names.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let near = nearest(given, &sorted);
    let mut out = format!("no {what} `{given}`");
    if !near.is_empty() {
        let quoted: Vec<String> = near.iter().map(|n| format!("`{n}`")).collect();
        out.push_str(&format!("; did you mean {}?", quoted.join(" or ")));
    }
    if sorted.is_empty() {
        out.push_str(&format!("; {holder} has none"));
    } else {
        let shown: Vec<&str> = sorted.iter().take(LISTED).copied().collect();
        out.push_str(&format!("\n{holder} has: {}", shown.join(", ")));
        if sorted.len() > LISTED {
            out.push_str(&format!(", and {} more", sorted.len() - LISTED));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("grafana", "grafana"), 0);
    }

    #[test]
    fn nearest_prefers_case_then_edits() {
        let names = ["grafana", "Grafana-old", "vault", "gitlab"];
        assert_eq!(nearest("GRAFANA", &names), vec!["grafana"]);
        assert_eq!(nearest("grafan", &names), vec!["grafana", "Grafana-old"]);
        assert_eq!(nearest("gitlb", &names), vec!["gitlab"]);
        assert_eq!(nearest("valt", &names), vec!["vault"]);
        assert!(nearest("zzzzzz", &names).is_empty());
    }

    #[test]
    fn unknown_suggests_and_lists_sorted() {
        let m = unknown(
            "application with the slug",
            "valt",
            &["vault", "grafana", "app"],
        );
        assert_eq!(
            m,
            "no application with the slug `valt`; did you mean `vault`?\nthe snapshot has: app, grafana, vault"
        );
    }
}
