//! Issue 14: snapshots and blueprints made to hurt (alias bombs, deep nesting, byte-order
//! marks, repeated keys) are answered with a located error or warning, never a crash.

use super::*;
use serde_json::json;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Loads `text` written as `name` in a fresh directory.
fn loaded(name: &str, text: &str) -> Loaded {
    let dir = tempfile::tempdir().unwrap();
    load(&write(dir.path(), name, text))
}

/// Asserts that some warning of the load contains `expected`.
fn warns(loaded: &Loaded, expected: &str) {
    let warnings = warnings(loaded);
    assert!(
        warnings.iter().any(|w| w.contains(expected)),
        "{expected} not in {warnings:#?}"
    );
}

/// Issue 14, item 2: nine levels of nine aliases (a billion-laughs blueprint).
#[test]
fn issue_14_an_alias_bomb_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut text =
        String::from("version: 1\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..9 {
        let refs = vec![format!("*a{}", i - 1); 9].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    text.push_str("entries: []\n");
    assert!(text.len() < 600);
    let path = write(dir.path(), "bomb.yaml", &text);
    has(
        &refused(&path),
        &[
            "bomb.yaml:7:",
            "aliases expand to more than 1000000 nodes and scalar bytes",
        ],
    );
}

/// Issue 14, item 2: the same with merge keys.
#[test]
fn issue_14_a_merge_key_bomb_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("version: 1\nm0: &m0 {x: lol, y: lol}\n");
    for i in 1..9 {
        let refs = vec![format!("*m{}", i - 1); 9].join(", ");
        text.push_str(&format!("m{i}: &m{i}\n  <<: [{refs}]\n  k{i}: v\n"));
    }
    text.push_str("entries: []\n");
    let path = write(dir.path(), "merge.yaml", &text);
    let stderr = refused(&path);
    has(&stderr, &["merge.yaml:", "aliases expand to more than"]);
    // The line of the alias that crossed the limit, within the file.
    let line: usize = stderr
        .split("merge.yaml:")
        .nth(1)
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3..=26).contains(&line), "{stderr}");
}

/// Issue 14, item 2: aliases that stay small still work.
#[test]
fn issue_14_modest_aliases_still_load() {
    let loaded = loaded(
        "ok.yaml",
        "version: 1\nentries:\n  - model: authentik_core.group\n    identifiers: &id {name: admins}\n    attrs: {name: admins, attributes: {copy: *id}}\n",
    );
    assert_eq!(loaded.snapshot.groups.len(), 1);
}

/// Issue 14, item 3: 30,000 nested block-sequence dashes.
#[test]
fn issue_14_thirty_thousand_dashes_are_refused_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("version: 1\nentries:\n{}x\n", "- ".repeat(30_000));
    let path = write(dir.path(), "dashes.yaml", &text);
    has(
        &refused(&path),
        &["dashes.yaml:3:", "nesting deeper than 128 levels"],
    );
}

/// Issue 14, item 3: 16,000 levels under an entry's `attrs:`.
#[test]
fn issue_14_deep_attrs_are_refused_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "version: 1\nentries:\n  - model: authentik_core.group\n    identifiers: {{name: g}}\n    attrs:\n      attributes:\n        - {}v\n",
        "- ".repeat(16_000)
    );
    let path = write(dir.path(), "attrs.yaml", &text);
    has(
        &refused(&path),
        &["attrs.yaml:7:", "nesting deeper than 128 levels"],
    );
}

/// Issue 14, item 3: an alias cannot carry a deep node deeper than the limit either.
#[test]
fn issue_14_an_alias_that_nests_too_deep_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("{}v{}", "[".repeat(100), "]".repeat(100));
    let text = format!(
        "version: 1\nd: &d {deep}\nentries:\n  - model: authentik_core.group\n    identifiers: {{name: g}}\n    attrs:\n      attributes: {}*d{}\n",
        "[".repeat(40),
        "]".repeat(40)
    );
    let path = write(dir.path(), "alias.yaml", &text);
    has(
        &refused(&path),
        &[
            "alias.yaml:7:",
            "this alias nests the document deeper than 128 levels",
        ],
    );
}

/// Issue 14, item 3: at the limit, resolving tags recurses within a test thread's small stack.
#[test]
fn issue_14_nesting_at_the_limit_resolves_without_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let levels = 120;
    let text = format!(
        "version: 1\nentries:\n  - model: authentik_core.group\n    identifiers: {{name: g}}\n    attrs:\n      name: g\n      attributes:\n        k: {}v{}\n",
        "!If [true, ".repeat(levels),
        "]".repeat(levels)
    );
    let path = write(dir.path(), "deep.yaml", &text);
    let loaded = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || load(&path).snapshot.groups.len())
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(loaded, 1);
}

/// Issue 14, item 3: JSON nesting is bounded by serde_json's recursion limit, in a bundle and in
/// a directory page.
#[test]
fn issue_14_deep_json_is_refused_at_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let bundle = write(
        dir.path(),
        "deep.json",
        &format!("{{\"core/users\": [{{\"pk\": 1, \"attributes\": {deep}}}]}}"),
    );
    has(
        &refused(&bundle),
        &["deep.json:1:", "recursion limit exceeded"],
    );
    let snap = dir.path().join("snap");
    std::fs::create_dir_all(snap.join("core")).unwrap();
    write(&snap, "core/users.json", &deep);
    has(
        &refused(&snap),
        &["users.json:1:", "recursion limit exceeded"],
    );
}

/// Issue 14, item 14: a UTF-8 byte-order mark is accepted in JSON (bundle and directory) and
/// YAML.
#[test]
fn issue_14_a_byte_order_mark_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bom.json");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(serde_json::to_vec(&small_bundle()).unwrap());
    std::fs::write(&bundle, &bytes).unwrap();
    assert_eq!(load(&bundle).snapshot.users.len(), 3);

    let snap = dir.path().join("snap");
    for (key, value) in small_bundle().as_object().unwrap() {
        let path = snap.join(format!("{key}.json"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut bytes = "\u{feff}".as_bytes().to_vec();
        bytes.extend(serde_json::to_vec(value).unwrap());
        std::fs::write(path, bytes).unwrap();
    }
    let loaded = load(&snap);
    assert_eq!(loaded.snapshot.users.len(), 3);
    assert_eq!(loaded.snapshot.version.as_ref().unwrap().text, "2026.2.1");

    let yaml = write(
        dir.path(),
        "bom.yaml",
        "\u{feff}version: 1\nentries:\n  - model: authentik_core.group\n    identifiers: {name: g}\n    attrs: {name: g}\n",
    );
    assert_eq!(load(&yaml).snapshot.groups.len(), 1);
}

/// Issue 14, item 15: an endpoint key given twice in a bundle is a warning with both places;
/// the last value is used, as for any repeated JSON key.
#[test]
fn issue_14_a_repeated_endpoint_key_is_a_warning_with_both_places() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = serde_json::to_string_pretty(&small_bundle()).unwrap();
    let mut again = small_bundle()["core/users"].clone();
    again[0]["username"] = json!("zed");
    let end = text.rfind('}').unwrap();
    text.insert_str(end, &format!(",\n  \"core/users\": {again}\n"));
    let path = write(dir.path(), "dup.json", &text);
    let first_line = text
        .lines()
        .position(|l| l.contains("\"core/users\""))
        .unwrap()
        + 1;
    let again_line = text.lines().count() - 1;
    let loaded = load(&path);
    let users: Vec<&str> = loaded.snapshot.users.iter().map(|u| &*u.username).collect();
    assert_eq!(users, ["zed", "bob", "carol"]);
    warns(
        &loaded,
        &format!(
            "{}:{again_line}:3: duplicate key `core/users` (first at line {first_line}, column 3)",
            path.display()
        ),
    );
}

/// Issue 14, item 15: a nested repeated key in JSON also names both places.
#[test]
fn issue_14_a_repeated_nested_json_key_names_both_places() {
    let dir = tempfile::tempdir().unwrap();
    let text = serde_json::to_string_pretty(&small_bundle())
        .unwrap()
        .replacen(
            "\"username\": \"alice\"",
            "\"username\": \"alice\",\n      \"username\": \"alicia\"",
            1,
        );
    let path = write(dir.path(), "nested.json", &text);
    let line = text.lines().position(|l| l.contains("\"alicia\"")).unwrap() + 1;
    let loaded = load(&path);
    assert!(
        loaded
            .snapshot
            .users
            .iter()
            .any(|u| &*u.username == "alicia")
    );
    warns(
        &loaded,
        &format!(
            ":{line}:7: duplicate key `username` (first at line {}, column 7)",
            line - 1
        ),
    );
}

/// A key repeated where the fast reading skips: which object gets the marker field, and what
/// replaces `"field": "@DUP@"` with the key repeated and with its last value only.
struct Skipped {
    what: &'static str,
    endpoint: &'static str,
    index: usize,
    field: &'static str,
    repeated: &'static str,
    last: &'static str,
    key: &'static str,
}

const SKIPPED: &[Skipped] = &[
    Skipped {
        what: "a user's attributes",
        endpoint: "core/users",
        index: 0,
        field: "attributes",
        repeated: r#""attributes": {"team": "x", "team": "y"}"#,
        last: r#""attributes": {"team": "y"}"#,
        key: "team",
    },
    Skipped {
        what: "an unknown field of a user",
        endpoint: "core/users",
        index: 1,
        field: "settings",
        repeated: r#""settings": {"theme": {"base": "dark", "base": "light"}}"#,
        last: r#""settings": {"theme": {"base": "light"}}"#,
        key: "base",
    },
    Skipped {
        what: "an unknown field given twice",
        endpoint: "core/users",
        index: 2,
        field: "uid",
        repeated: r#""uid": "a1", "uid": "b2""#,
        last: r#""uid": "b2""#,
        key: "uid",
    },
    Skipped {
        what: "a group's attributes",
        endpoint: "core/groups",
        index: 0,
        field: "attributes",
        repeated: r#""attributes": {"n": 1, "n": 2}"#,
        last: r#""attributes": {"n": 2}"#,
        key: "n",
    },
    Skipped {
        what: "a policy's own fields",
        endpoint: "policies/all",
        index: 1,
        field: "expression",
        repeated: r#""expression": "return False", "expression": "return request.user.attributes.get('team') == 'y'""#,
        last: r#""expression": "return request.user.attributes.get('team') == 'y'""#,
        key: "expression",
    },
    Skipped {
        what: "inside a stage's own field",
        endpoint: "stages/all",
        index: 0,
        field: "user_fields",
        repeated: r#""user_fields": [{"f": "email", "f": "username"}]"#,
        last: r#""user_fields": [{"f": "username"}]"#,
        key: "f",
    },
];

/// The small bundle with an expression policy that reads users' attributes, so that they are
/// read and kept, and the marker field of `case`.
fn marked_bundle(case: &Skipped) -> serde_json::Value {
    let mut bundle = small_bundle();
    bundle["policies/all"].as_array_mut().unwrap().push(json!({
        "pk": "pol-team", "name": "team", "meta_model_name": "authentik_policies_expression.expressionpolicy",
        "expression": "return request.user.attributes.get('team') == 'y'"
    }));
    bundle["policies/bindings"]
        .as_array_mut()
        .unwrap()
        .push(json!({"pk": "b-team", "target": "app-1", "policy": "pol-team", "order": 2}));
    bundle[case.endpoint][case.index][case.field] = json!("@DUP@");
    bundle
}

/// The warning for `key` given twice on one line of `text` (`:line:col: ...`).
fn repeat_warning(text: &str, key: &str) -> String {
    let quoted = format!("\"{key}\"");
    let (n, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.matches(&quoted).count() == 2)
        .unwrap_or_else(|| panic!("no line with {quoted} twice in {text}"));
    let first = line.find(&quoted).unwrap() + 1;
    let again = line.rfind(&quoted).unwrap() + 1;
    let n = n + 1;
    format!(":{n}:{again}: duplicate key `{key}` (first at line {n}, column {first})")
}

/// `text` with the marker replaced, and the warning the repeat must give (`:line:col: ...`).
fn with_repeat(case: &Skipped, text: &str) -> (String, String, String) {
    let marker = format!("\"{}\": \"@DUP@\"", case.field);
    assert!(text.contains(&marker), "{marker} not in {text}");
    let repeated = text.replacen(&marker, case.repeated, 1);
    let last = text.replacen(&marker, case.last, 1);
    let expected = repeat_warning(&repeated, case.key);
    (repeated, last, expected)
}

/// Asserts that `repeated` loads as `last` does, with one more warning: `expected`.
fn same_answers_one_warning(repeated: &Path, last: &Path, expected: &str, what: &str) {
    let (repeated_path, last_path) = (repeated.display().to_string(), last.display().to_string());
    let (repeated, last) = (load(repeated), load(last));
    assert_eq!(
        format!("{:?}", repeated.snapshot),
        format!("{:?}", last.snapshot),
        "{what}: the repeat changed the snapshot"
    );
    let mut warned = warnings(&repeated);
    let position = warned.iter().position(|w| w.contains(expected));
    let Some(position) = position else {
        panic!("{what}: `{expected}` not in {warned:#?}");
    };
    warned.remove(position);
    let mut warned: Vec<String> = warned
        .iter()
        .map(|w| w.replace(&repeated_path, &last_path))
        .collect();
    let mut before = warnings(&last);
    warned.sort();
    before.sort();
    assert_eq!(warned, before, "{what}: other warnings changed");
}

/// Issue 14, item 15: a key repeated where the fast reading skips (users' attributes, unknown
/// fields, a group's attributes, a policy's or stage's own fields) warns with both places, in a
/// bundle and in a directory page, and the snapshot is the one the last value gives.
#[test]
fn issue_14_15_a_repeated_key_the_fast_reading_skips_warns_with_both_places() {
    let dir = tempfile::tempdir().unwrap();
    for (i, case) in SKIPPED.iter().enumerate() {
        let bundle = marked_bundle(case);
        let text = serde_json::to_string_pretty(&bundle).unwrap();
        let (repeated, last, expected) = with_repeat(case, &text);
        same_answers_one_warning(
            &write(dir.path(), &format!("repeated-{i}.json"), &repeated),
            &write(dir.path(), &format!("last-{i}.json"), &last),
            &format!("repeated-{i}.json{expected}"),
            case.what,
        );
        let trees = [
            dir.path().join(format!("rtree-{i}")),
            dir.path().join(format!("ltree-{i}")),
        ];
        for (endpoint, value) in bundle.as_object().unwrap() {
            for tree in &trees {
                write_json(tree, &format!("{endpoint}.json"), value);
            }
        }
        let page = serde_json::to_string_pretty(&bundle[case.endpoint]).unwrap();
        let (repeated, last, expected) = with_repeat(case, &page);
        let file = format!("{}.json", case.endpoint);
        std::fs::write(trees[0].join(&file), repeated).unwrap();
        std::fs::write(trees[1].join(&file), last).unwrap();
        same_answers_one_warning(
            &trees[0],
            &trees[1],
            &format!("{file}{expected}"),
            &format!("{} (directory)", case.what),
        );
    }
}

/// Issue 14, item 15: repeats around the objects, where the fast reading skips too: an unknown
/// endpoint's value, a page's `pagination`, `meta`, and `results` given twice in one page.
#[test]
fn issue_14_15_a_repeated_key_around_the_objects_warns_with_both_places() {
    let dir = tempfile::tempdir().unwrap();
    let users = serde_json::to_string(&small_bundle()["core/users"]).unwrap();
    let mut rest = small_bundle();
    for key in ["meta", "core/users"] {
        rest.as_object_mut().unwrap().remove(key);
    }
    let rest = serde_json::to_string_pretty(&rest).unwrap();
    let bundle = |extra: &str, meta: &str| {
        format!(
            "{{\n  \"meta\": {meta},\n  \"core/users\": {{\"pagination\": {{\"next\": 0, \"count\": 3}},\n    \"results\": {users}}},\n  \"events/events\": {extra},{}",
            &rest[1..]
        )
    };
    let plain_meta = r#"{"version": "2026.2.1"}"#;
    for (what, repeated, last, key) in [
        (
            "an unknown endpoint",
            bundle(r#"[{"a": 1, "a": 2}]"#, plain_meta),
            bundle(r#"[{"a": 2}]"#, plain_meta),
            "a",
        ),
        (
            "meta",
            bundle(
                "[]",
                r#"{"version": "2026.2.1", "build": {"x": 1, "x": 2}}"#,
            ),
            bundle("[]", r#"{"version": "2026.2.1", "build": {"x": 2}}"#),
            "x",
        ),
        (
            "a page's pagination",
            bundle("[]", plain_meta).replace(r#""next": 0,"#, r#""next": 0, "next": 0,"#),
            bundle("[]", plain_meta),
            "next",
        ),
    ] {
        same_answers_one_warning(
            &write(dir.path(), "repeated.json", &repeated),
            &write(dir.path(), "last.json", &last),
            &format!("repeated.json{}", repeat_warning(&repeated, key)),
            what,
        );
    }
    // `results` twice in one page: the last array is the page's, as serde_json keeps it.
    let twice =
        format!("{{\"results\": [{{\"pk\": 9, \"username\": \"zed\"}}],\n \"results\": {users}}}");
    let tree = dir.path().join("tree");
    for (endpoint, value) in small_bundle().as_object().unwrap() {
        write_json(&tree, &format!("{endpoint}.json"), value);
    }
    write(&tree.join("core"), "users.json", &twice);
    let loaded = load(&tree);
    let names: Vec<&str> = loaded.snapshot.users.iter().map(|u| &*u.username).collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    warns(
        &loaded,
        "users.json:2:2: duplicate key `results` (first at line 1, column 2)",
    );
}

/// Issue 14, item 15: checking skipped values for repeated keys walks them, within serde_json's
/// recursion limit: attributes nested deeper are refused at their place, not a stack overflow.
#[test]
fn issue_14_15_skipped_values_nest_within_the_recursion_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut bundle = small_bundle();
    let deep =
        format!("{}{}", "{\"a\": ".repeat(200), "}".repeat(200)).replace("\"a\": }", "\"a\": 1}");
    bundle["core/users"][0]["attributes"] = json!("@DEEP@");
    let text = serde_json::to_string(&bundle)
        .unwrap()
        .replace("\"@DEEP@\"", &deep);
    let path = write(dir.path(), "deep.json", &text);
    has(
        &refused(&path),
        &["deep.json:1:", "recursion limit exceeded"],
    );
    let shallow = text.replace(&deep, &deep[6 * 100..deep.len() - 100]);
    assert_eq!(
        load(&write(dir.path(), "shallow.json", &shallow))
            .snapshot
            .users
            .len(),
        3
    );
}

/// Issue 14, item 15: a repeated YAML key is a warning with both places, and the last value is
/// the one used, as in authentik (PyYAML).
#[test]
fn issue_14_a_repeated_yaml_key_is_a_warning_with_both_places() {
    let loaded = loaded(
        "dup.yaml",
        "version: 1\nentries:\n  - model: authentik_core.group\n    identifiers: {name: g}\n    attrs:\n      name: first\n      name: second\n    state: absent\n    state: present\n",
    );
    let names: Vec<&str> = loaded.snapshot.groups.iter().map(|g| &*g.name).collect();
    assert_eq!(names, ["second"]);
    warns(
        &loaded,
        ":7:7: duplicate key `name` (first at line 6, column 7)",
    );
    warns(
        &loaded,
        ":9:5: duplicate key `state` (first at line 8, column 5)",
    );
}

/// Issue 14, item 3: `!ParseJSON` reads with serde_json's recursion limit; too deep is reported
/// at the tag, not a crash.
#[test]
fn issue_14_deep_parse_json_is_an_unresolved_tag() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "version: 1\nentries:\n  - model: authentik_core.group\n    identifiers: {{name: g}}\n    attrs:\n      name: g\n      attributes: !ParseJSON '{}{}'\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let path = write(dir.path(), "parse.yaml", &text);
    let loaded = load(&path);
    let warnings = warnings(&loaded);
    assert!(
        warnings.iter().any(|w| w.contains(
            "parse.yaml:7:19: unresolved `!ParseJSON`: not JSON: recursion limit exceeded"
        )),
        "{warnings:#?}"
    );
}

/// Found by the fuzz run (tests/it/fuzz.rs): a file ending in a lone `"` where a key was
/// expected made the repeated-key scan slice past its end.
#[test]
fn issue_14_a_file_ending_in_an_open_key_is_refused_not_a_panic() {
    let stderr = refused(&fixture("hostile/unterminated-key.json"));
    has(&stderr, &["unterminated-key.json"]);
}

/// The acme example with a chain of `n` groups under `version` (`chain-0` on top, each the
/// parent of the next), the users `deep0`..`deep2` in the bottom group and `near` 15 levels
/// below the top, and an application `chainapp` bound to the top group only.
fn chain_snapshot(dir: &Path, n: usize, version: &str) -> PathBuf {
    let mut s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(acme()).unwrap()).unwrap();
    s["meta"]["version"] = json!(version);
    let pk = |i: usize| format!("00000000-0000-4000-8000-{i:012}");
    let groups = s["core/groups"].as_array_mut().unwrap();
    for i in 0..n {
        let parents: Vec<String> = (i > 0).then(|| pk(i - 1)).into_iter().collect();
        groups.push(json!({"pk": pk(i), "name": format!("chain-{i}"), "parents": parents}));
    }
    // Up to 2025.10 a group has one `parent`.
    if version < "2025.12" {
        for g in groups.iter_mut() {
            let parents = g.as_object_mut().unwrap().remove("parents").unwrap();
            g["parent"] = parents.get(0).cloned().unwrap_or(json!(null));
        }
    }
    let users = s["core/users"].as_array_mut().unwrap();
    let names = ["deep0", "deep1", "deep2", "near"];
    for (k, name) in names.iter().enumerate() {
        let group = if *name == "near" { pk(15) } else { pk(n - 1) };
        users.push(json!({"pk": 90_000 + k, "username": name, "name": name,
            "is_active": true, "groups": [group], "type": "internal"}));
    }
    let app = "00000000-0000-4000-9000-000000000001";
    s["core/applications"].as_array_mut().unwrap().push(
        json!({"pk": app, "slug": "chainapp", "name": "Chain App", "policy_engine_mode": "any"}),
    );
    s["policies/bindings"].as_array_mut().unwrap().push(json!({
        "pk": "00000000-0000-4000-9000-000000000002", "target": app, "group": pk(0),
        "policy": null, "user": null, "negate": false, "enabled": true, "order": 0,
        "timeout": 30, "failure_result": false
    }));
    write(dir, "chain.json", &s.to_string())
}

/// Runs bindlog on `args`, requires exit status `code`, and returns stdout.
fn ran(args: &[&str], code: i32) -> String {
    let o = crate::bindlog(args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Issue 14, item 6: a chain of 20,000 nested groups is answered by `check`, `access`,
/// `analyze`, `audit` and `explain` (ancestry is no longer materialised as pairs, quadratic in
/// the chain), and the users at the bottom reach the top group's binding.
#[test]
fn issue_14_6_a_chain_of_twenty_thousand_groups_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let n = 20_000;
    let path = chain_snapshot(dir.path(), n, "2026.2.1");
    let p = path.to_str().unwrap();
    let check = ran(&["check", p], 0);
    let acme_check = ran(&["check", acme().to_str().unwrap()], 0);
    assert_eq!(
        check_count(&check, "core/groups"),
        check_count(&acme_check, "core/groups") + n
    );
    for user in ["deep0", "near"] {
        let access = ran(
            &[
                "access", p, "--app", "chainapp", "--user", user, "--format", "json",
            ],
            0,
        );
        assert!(access.contains(r#""access":"yes""#), "{user}: {access}");
    }
    let analyze = ran(&["analyze", p], 0);
    let row: Vec<&str> = analyze
        .lines()
        .find(|l| l.trim_start().starts_with("chainapp "))
        .unwrap_or_else(|| panic!("{analyze}"))
        .split_whitespace()
        .collect();
    // yes, no, unknown: the four chain users and nobody else.
    let others = (check_count(&check, "core/users") - 4).to_string();
    assert_eq!(row[1..4], ["4", others.as_str(), "0"], "{analyze}");
    // Only acme's own cycle: no depth cut-off on 2026.2.
    let audit = ran(&["audit", p], 0);
    let acme_audit = ran(&["audit", acme().to_str().unwrap()], 0);
    assert_eq!(
        audit.matches("AK-D02").count(),
        acme_audit.matches("AK-D02").count()
    );
    assert!(!audit.contains("group chain-"), "{audit}");
    let explain = ran(&["explain", p, "--app", "chainapp", "--user", "deep0"], 0);
    assert!(
        explain.starts_with("yes: ") && explain.contains("chain-19999 -> chain-19998"),
        "{}",
        &explain[..explain.len().min(2000)]
    );
}

/// The count `check` prints for an endpoint.
fn check_count(check: &str, endpoint: &str) -> usize {
    let line = check.lines().find(|l| l.trim_start().starts_with(endpoint));
    line.and_then(|l| l.split_whitespace().last()?.parse().ok())
        .unwrap_or_else(|| panic!("{check}"))
}

/// Issue 14, item 6: the same chain on 2025.10, where authentik follows 20 levels of parents:
/// the bottom users' membership of the top group is left unknown, `near`'s is not, and every
/// group more than 20 levels down is reported once.
#[test]
fn issue_14_6_a_deep_chain_is_cut_off_on_older_releases() {
    let dir = tempfile::tempdir().unwrap();
    let n = 20_000;
    let path = chain_snapshot(dir.path(), n, "2025.10.1");
    let p = path.to_str().unwrap();
    let access = |user: &str| {
        ran(
            &[
                "access", p, "--app", "chainapp", "--user", user, "--format", "json",
            ],
            0,
        )
    };
    assert!(access("deep0").contains(r#""access":"unknown""#));
    assert!(access("near").contains(r#""access":"yes""#));
    let audit = ran(&["audit", p], 0);
    let deep = audit
        .lines()
        .filter(|l| l.contains("has more than 20 levels of ancestors"))
        .count();
    assert_eq!(deep, n - 21, "chain-21 and below");
}

/// Issue 14, item 2: merge keys merge (YAML 1.1, as authentik's loader): a key written in the
/// mapping wins, and of a list of merged mappings the first listed wins.
#[test]
fn issue_14_2_merge_keys_merge_as_authentik_merges_them() {
    let dir = tempfile::tempdir().unwrap();
    let text = "version: 1\nentries:\n\
                - model: authentik_core.group\n  identifiers: {name: base}\n  \
                  attrs: &base {name: base, is_superuser: true}\n\
                - model: authentik_core.group\n  identifiers: {name: plain}\n  \
                  attrs: &plain {name: plain, is_superuser: false}\n\
                - model: authentik_core.group\n  identifiers: {name: one}\n  attrs:\n    \
                  <<: *base\n    name: one\n\
                - model: authentik_core.group\n  identifiers: {name: first-wins}\n  attrs:\n    \
                  <<: [*plain, *base]\n    name: first-wins\n\
                - model: authentik_core.group\n  identifiers: {name: own-wins}\n  attrs:\n    \
                  <<: [*base]\n    name: own-wins\n    is_superuser: false\n";
    let path = write(dir.path(), "merge.yaml", text);
    let loaded = load(&path);
    let superuser = |name: &str| {
        let g = loaded.snapshot.groups.iter().find(|g| &*g.name == name);
        g.unwrap_or_else(|| panic!("no group {name}")).is_superuser
    };
    assert!(superuser("base") && superuser("one"));
    assert!(!superuser("first-wins") && !superuser("own-wins"));
    assert_eq!(loaded.snapshot.groups.len(), 5);
    let bad = write(
        dir.path(),
        "bad.yaml",
        "version: 1\nentries:\n- model: authentik_core.group\n  identifiers: {name: x}\n  \
         attrs:\n    <<: not-a-mapping\n    name: x\n",
    );
    has(
        &refused(&bad),
        &["bad.yaml:6:", "a mapping or a list of mappings"],
    );
}
