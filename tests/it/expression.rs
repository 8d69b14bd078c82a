//! Expression policies: a table of body x user x situation -> result, each entry saying why
//! (following Python and authentik), and end-to-end checks through the rules.

use bindlog::expression::{
    Atom, Case, Ctx, Outcome, Pending, Situation, World, class_of, eval, field_classes, parse_body,
};
use bindlog::snapshot::{User, UserExtra};
use std::sync::Arc;

/// A test identity: a user of the table's snapshot, or the anonymous visitor.
struct Who {
    user: Option<User>,
    /// Effective groups (through the hierarchy).
    groups: &'static [&'static str],
    /// Direct groups.
    direct: &'static [&'static str],
    superuser: bool,
}

fn user(pk: i64, username: &str, active: bool, kind: &str, attrs: serde_json::Value) -> User {
    User {
        pk,
        username: username.into(),
        name: format!("Name of {username}").into(),
        is_active: active,
        is_superuser: false,
        groups: Vec::new(),
        kind: Arc::from(kind),
        last_login: None,
        extra: Some(Box::new(UserExtra {
            email: format!("{username}@corp.example").into(),
            attributes: attrs,
        })),
    }
}

fn users() -> Vec<User> {
    vec![
        user(
            1,
            "ada.nguyen",
            true,
            "internal",
            serde_json::json!({"dept": "eng", "reset_password": true, "tags": ["a", "b"]}),
        ),
        user(
            2,
            "svc-backup",
            false,
            "service_account",
            serde_json::json!({}),
        ),
    ]
}

fn who(name: &str) -> Who {
    let all = users();
    match name {
        // ada: directly in `platform`, whose parent is `admins`; a superuser through `admins`.
        "ada" => Who {
            user: Some(all[0].clone()),
            groups: &["platform", "admins"],
            direct: &["platform"],
            superuser: true,
        },
        "svc" => Who {
            user: Some(all[1].clone()),
            groups: &["x_banned"],
            direct: &["x_banned"],
            superuser: false,
        },
        _ => Who {
            user: None,
            groups: &[],
            direct: &[],
            superuser: false,
        },
    }
}

fn situation(name: &str) -> Situation {
    let s = |ctx, sso, pending| Situation { ctx, sso, pending };
    match name {
        "flow" => s(Ctx::Flow, false, Pending::Absent),
        "flow_sso" => s(Ctx::Flow, true, Pending::IfKnown),
        "plan" => s(Ctx::StagePlan, false, Pending::Absent),
        "run" => s(Ctx::StageRun, false, Pending::Absent),
        "run_id" => s(Ctx::StageRun, false, Pending::Engine),
        "app" => s(Ctx::App, false, Pending::Absent),
        other => panic!("no situation {other}"),
    }
}

/// The result for one identity: the outcome all fitting cases agree on, else unknown (the same
/// fitting `rules/authentik/expression.dl` does, over answers given directly here).
fn result_for(cases: &[Case], w: &Who, fields: &bindlog::expression::Fields) -> Outcome {
    let class = w.user.as_ref().and_then(|u| class_of(fields, u));
    let fits = |c: &&Case| {
        c.conds.iter().all(|d| {
            let yes = match &d.atom {
                Atom::Known => w.user.is_some(),
                Atom::Member(n) => w.groups.contains(&n.as_str()),
                Atom::Direct(n) => w.direct.contains(&n.as_str()),
                Atom::Superuser => w.superuser,
                Atom::Fields => return Some(d.value) == class,
            };
            d.value == u32::from(yes)
        })
    };
    let mut outcomes: Vec<Outcome> = cases.iter().filter(fits).map(|c| c.outcome).collect();
    outcomes.sort();
    outcomes.dedup();
    match outcomes.as_slice() {
        [one] => *one,
        _ => Outcome::Unknown,
    }
}

fn run(body: &str, who_name: &str, sit: &str) -> Outcome {
    let all = users();
    let world = World {
        policy_names: ["other-policy".to_string()].into_iter().collect(),
    };
    let parsed = match parse_body(body) {
        Ok(b) => b,
        Err(_) => return Outcome::Raise,
    };
    let names = eval::read_fields(&parsed);
    let fields = field_classes(&names, &all).0;
    let cases = eval::evaluate(&parsed, situation(sit), &world, &fields);
    result_for(&cases, &who(who_name), &fields)
}

use Outcome::{Fail as F, Pass as P, Raise as X, Unknown as U};

/// body, identity (ada, svc, anon), situation, expected, why.
const CORPUS: &[(&str, &str, &str, Outcome, &str)] = &[
    // Constants and truthiness.
    ("return True", "anon", "flow", P, "a literal True passes"),
    ("return False", "ada", "app", F, "a literal False fails"),
    (
        "return None",
        "ada",
        "app",
        F,
        "None fails (authentik logs a warning)",
    ),
    ("return", "ada", "app", F, "a bare return is None"),
    ("pass", "ada", "app", F, "no return at all is None"),
    (
        "return \"text\"",
        "ada",
        "app",
        P,
        "a non-empty string is truthy",
    ),
    ("return \"\"", "ada", "app", F, "an empty string is falsy"),
    ("return 0", "ada", "app", F, "zero is falsy"),
    ("return 7", "ada", "app", P, "a non-zero int is truthy"),
    ("return []", "ada", "app", F, "an empty list is falsy"),
    (
        "return [0]",
        "ada",
        "app",
        P,
        "a non-empty list is truthy, whatever it holds",
    ),
    (
        "# comment only\nreturn True",
        "ada",
        "app",
        P,
        "comments are ignored",
    ),
    // not / and / or / comparisons / in.
    ("return not False", "ada", "app", P, "not False is True"),
    (
        "return True and False",
        "ada",
        "app",
        F,
        "and gives its falsy operand",
    ),
    (
        "return False or \"x\"",
        "ada",
        "app",
        P,
        "or gives its truthy operand",
    ),
    (
        "return 1 < 2 < 3",
        "ada",
        "app",
        P,
        "a chained comparison holds",
    ),
    (
        "return 1 < 2 > 3",
        "ada",
        "app",
        F,
        "a chained comparison fails on its second link",
    ),
    (
        "return \"a\" in [\"a\", \"b\"]",
        "ada",
        "app",
        P,
        "membership in a list",
    ),
    (
        "return \"c\" not in \"abc\"",
        "ada",
        "app",
        F,
        "substring test",
    ),
    (
        "return True == 1",
        "ada",
        "app",
        P,
        "bool is an int in Python",
    ),
    (
        "return None < 1",
        "ada",
        "app",
        X,
        "ordering None raises TypeError",
    ),
    (
        "return 1 in None",
        "ada",
        "app",
        X,
        "None is not a container",
    ),
    ("return None is None", "ada", "app", P, "identity of None"),
    // if / elif / else, early return, locals.
    (
        "if 1 > 2:\n    return True\nelif 2 > 1:\n    return False\nreturn True",
        "ada",
        "app",
        F,
        "the elif branch returns early",
    ),
    (
        "if False:\n    return True\nelse:\n    return \"yes\"",
        "ada",
        "app",
        P,
        "the else branch",
    ),
    (
        "x = 3\nif x == 3:\n    return True\nreturn False",
        "ada",
        "app",
        P,
        "a local holds its value",
    ),
    (
        "if False:\n    x = 1\nreturn x",
        "ada",
        "app",
        X,
        "a local read before assignment raises UnboundLocalError",
    ),
    (
        "return undefined_name",
        "ada",
        "app",
        X,
        "an undefined name raises NameError",
    ),
    (
        "return x if True else y",
        "ada",
        "app",
        X,
        "the taken branch reads an undefined name",
    ),
    (
        "return 1 if False else 2",
        "ada",
        "app",
        P,
        "a conditional expression",
    ),
    // bool() and str methods.
    ("return bool(\"\")", "ada", "app", F, "bool of empty string"),
    (
        "return bool([1])",
        "ada",
        "app",
        P,
        "bool of a non-empty list",
    ),
    (
        "return \"Ada@Corp\".lower().endswith(\"@corp\")",
        "ada",
        "app",
        P,
        "lower then endswith",
    ),
    (
        "return \"ada.nguyen\".startswith((\"bob\", \"ada\"))",
        "ada",
        "app",
        P,
        "startswith a tuple",
    ),
    (
        "return \"a,b\".split(\",\")[1] == \"b\"",
        "ada",
        "app",
        P,
        "split and index",
    ),
    (
        "return \"a\".split(\",\")[3]",
        "ada",
        "app",
        X,
        "an index out of range raises",
    ),
    ("return str(5) == \"5\"", "ada", "app", P, "str of an int"),
    // re.match / regex_match.
    (
        "import re\nreturn re.match(\"ad\", \"ada\")",
        "ada",
        "app",
        P,
        "re.match anchors at the start and matches",
    ),
    (
        "import re\nreturn re.match(\"da\", \"ada\")",
        "ada",
        "app",
        F,
        "re.match does not search: None fails",
    ),
    (
        "import re\nreturn re.search(\"da\", \"ada\")",
        "ada",
        "app",
        P,
        "re.search finds it anywhere",
    ),
    (
        "return re.match(\"a\", \"a\")",
        "ada",
        "app",
        X,
        "re is not imported: NameError",
    ),
    (
        "return regex_match(\"ada.nguyen\", \"^ada\\\\.\")",
        "ada",
        "app",
        P,
        "regex_match is re.search",
    ),
    (
        "return regex_match(\"bob\", \"^ada\")",
        "ada",
        "app",
        F,
        "no match",
    ),
    // request.user fields and attributes.
    (
        "return request.user.username == \"ada.nguyen\"",
        "ada",
        "app",
        P,
        "the username is known",
    ),
    (
        "return request.user.username == \"ada.nguyen\"",
        "svc",
        "app",
        F,
        "another user's username",
    ),
    (
        "return request.user.username == \"\"",
        "anon",
        "flow",
        P,
        "the anonymous user's username is empty",
    ),
    (
        "return request.user.email.endswith(\"@corp.example\")",
        "ada",
        "app",
        P,
        "the email is known",
    ),
    (
        "return request.user.email",
        "anon",
        "flow",
        X,
        "the anonymous user has no email: AttributeError",
    ),
    (
        "return request.user.is_active",
        "svc",
        "app",
        F,
        "svc-backup is inactive",
    ),
    (
        "return request.user.type == \"service_account\"",
        "svc",
        "app",
        P,
        "the user type",
    ),
    ("return request.user.pk == 1", "ada", "app", P, "the pk"),
    (
        "return request.user.pk",
        "anon",
        "flow",
        F,
        "the anonymous user's pk is None",
    ),
    (
        "return request.user.is_superuser",
        "ada",
        "app",
        P,
        "a superuser through a group",
    ),
    (
        "return request.user.is_superuser",
        "anon",
        "flow",
        F,
        "the anonymous user is no superuser",
    ),
    (
        "return request.user.attributes.get(\"dept\") == \"eng\"",
        "ada",
        "app",
        P,
        "attributes.get of a present key",
    ),
    (
        "return request.user.attributes.get(\"dept\", \"none\") == \"none\"",
        "svc",
        "app",
        P,
        ".get of a missing key gives the default",
    ),
    (
        "return request.user.attributes.get(\"dept\")",
        "svc",
        "app",
        F,
        ".get of a missing key gives None without raising",
    ),
    (
        "return request.user.attributes[\"dept\"] == \"eng\"",
        "ada",
        "app",
        P,
        "subscript of a present key",
    ),
    (
        "return request.user.attributes[\"dept\"] == \"eng\"",
        "svc",
        "app",
        X,
        "subscript of a missing key raises KeyError",
    ),
    (
        "return \"dept\" in request.user.attributes",
        "svc",
        "app",
        F,
        "`in` on attributes does not raise",
    ),
    (
        "return \"b\" in request.user.attributes.get(\"tags\", [])",
        "ada",
        "app",
        P,
        "a list attribute",
    ),
    (
        "return request.user.attributes.get(\"dept\")",
        "anon",
        "flow",
        X,
        "the anonymous user has no attributes",
    ),
    (
        "return request.user.last_login",
        "ada",
        "app",
        U,
        "a field bindlog does not load",
    ),
    // Group membership.
    (
        "return ak_is_group_member(request.user, name=\"admins\")",
        "ada",
        "app",
        P,
        "member of admins through platform",
    ),
    (
        "return ak_is_group_member(request.user, name=\"admins\")",
        "svc",
        "app",
        F,
        "not a member",
    ),
    (
        "return ak_is_group_member(request.user, name=\"admins\")",
        "anon",
        "flow",
        X,
        "the anonymous user has no groups: it raises",
    ),
    (
        "return not ak_is_group_member(request.user, name=\"admins\")",
        "ada",
        "app",
        F,
        "negated in the body",
    ),
    (
        "return ak_is_group_member(request.user, name=\"a\") or ak_is_group_member(request.user, name=\"admins\")",
        "ada",
        "app",
        P,
        "either group",
    ),
    (
        "return ak_is_group_member(request.user, name=\"a\") or ak_is_group_member(request.user, name=\"b\")",
        "ada",
        "app",
        F,
        "neither group",
    ),
    (
        "return request.user.groups.filter(name=\"admins\").exists()",
        "ada",
        "app",
        F,
        "user.groups is direct membership only",
    ),
    (
        "return request.user.groups.filter(name=\"platform\").exists()",
        "ada",
        "app",
        P,
        "a direct group",
    ),
    (
        "return request.user.groups.filter(name=\"platform\").exists()",
        "anon",
        "flow",
        F,
        "the anonymous user's groups are empty",
    ),
    (
        "return request.user.all_groups().filter(name=\"admins\").exists()",
        "ada",
        "app",
        P,
        "all_groups follows the hierarchy",
    ),
    (
        "return ak_is_group_member(request.user, pk=\"x\")",
        "ada",
        "app",
        U,
        "a filter other than name",
    ),
    // pending_user.
    (
        "return ak_is_group_member(request.context[\"pending_user\"], name=\"x_banned\")",
        "svc",
        "run_id",
        P,
        "the identified user is banned",
    ),
    (
        "if ak_is_group_member(request.context[\"pending_user\"], name=\"x_banned\"):\n    ak_message(\"banned\")\n    return False\nreturn True",
        "ada",
        "run_id",
        P,
        "not banned: the message is not sent and True is returned",
    ),
    (
        "if ak_is_group_member(request.context[\"pending_user\"], name=\"x_banned\"):\n    ak_message(\"banned\")\n    return False\nreturn True",
        "svc",
        "run_id",
        F,
        "banned: ak_message changes nothing, False",
    ),
    (
        "return ak_is_group_member(request.context[\"pending_user\"], name=\"x\")",
        "ada",
        "flow",
        X,
        "no pending user at planning: KeyError",
    ),
    (
        "return request.context.get(\"pending_user\") is None",
        "ada",
        "flow",
        P,
        ".get of the missing pending user is None",
    ),
    (
        "return request.context[\"pending_user\"].type == \"service_account\"",
        "svc",
        "run_id",
        P,
        "the service-account block",
    ),
    (
        "return request.context[\"pending_user\"].attributes.get(\"reset_password\") == True",
        "ada",
        "run_id",
        P,
        "the reset-password flag",
    ),
    (
        "return request.context.get(\"pending_user\") is not None",
        "ada",
        "flow_sso",
        P,
        "a source login with a connection sets the pending user",
    ),
    (
        "return request.context.get(\"pending_user\") is not None",
        "anon",
        "flow_sso",
        F,
        "a source enrollment has none",
    ),
    (
        "return request.context[\"pending_user\"].username == \"x\"",
        "anon",
        "run_id",
        U,
        "an unknown identifier's unsaved user",
    ),
    // Context keys the entry decides.
    (
        "return ak_is_sso_flow",
        "ada",
        "flow",
        F,
        "entered directly: is_sso is absent",
    ),
    (
        "return ak_is_sso_flow",
        "anon",
        "flow_sso",
        P,
        "entered through a source",
    ),
    (
        "return ak_is_sso_flow",
        "ada",
        "app",
        F,
        "application access has no is_sso",
    ),
    (
        "return request.context.get(\"is_sso\", False)",
        "ada",
        "flow_sso",
        P,
        "is_sso is set through a source",
    ),
    (
        "return bool(request.context.get('is_restored', True))",
        "anon",
        "flow",
        P,
        "is_restored absent: default True",
    ),
    (
        "return \"prompt_data\" in request.context",
        "ada",
        "plan",
        F,
        "no prompt data at plan time",
    ),
    (
        "return regex_match(request.context[\"prompt_data\"][\"username\"], \"^a\")",
        "ada",
        "run",
        U,
        "prompt data is typed at run time",
    ),
    (
        "return request.context.get(\"application\") is None",
        "ada",
        "flow",
        P,
        "opened directly: no application",
    ),
    (
        "flow_plan = request.context.get(\"flow_plan\")\nif not flow_plan:\n    return True\nreturn not hasattr(flow_plan.context.get(\"pending_user\"), \"backend\")",
        "ada",
        "app",
        P,
        "the stock password-stage policy passes in application access: no flow plan",
    ),
    (
        "flow_plan = request.context.get(\"flow_plan\")\nif not flow_plan:\n    return True\nreturn not hasattr(flow_plan.context.get(\"pending_user\"), \"backend\")",
        "ada",
        "run_id",
        U,
        "at run time the identified user's backend is unknown",
    ),
    (
        "flow_plan = request.context.get(\"flow_plan\")\nif not flow_plan:\n    return True\nreturn not hasattr(flow_plan.context.get(\"pending_user\"), \"backend\")",
        "ada",
        "run",
        P,
        "before identification the plan has no pending user: hasattr(None, ...) is False",
    ),
    (
        "return bool(request.context.get('is_restored', True))",
        "ada",
        "run",
        P,
        "at run time is_restored is absent or True: true either way",
    ),
    (
        "return request.context.get(\"flow_plan\") is None",
        "ada",
        "plan",
        F,
        "a plan-time check has the flow plan",
    ),
    // ak_call_policy, side effects.
    (
        "return ak_call_policy(\"other-policy\")",
        "ada",
        "app",
        P,
        "the result object is truthy",
    ),
    (
        "return ak_call_policy(\"missing-policy\")",
        "ada",
        "app",
        X,
        "a missing policy raises ValueError",
    ),
    (
        "ak_message(\"x\")\nreturn False",
        "ada",
        "app",
        F,
        "ak_message changes no result",
    ),
    (
        "ak_logger.info(\"hi\")\nprint(\"x\")\nreturn True",
        "ada",
        "app",
        P,
        "logging and print change nothing",
    ),
    (
        "ak_message(undefined)\nreturn True",
        "ada",
        "app",
        X,
        "the argument is still evaluated and raises",
    ),
    // Left to run time, with the construct named.
    (
        "return ak_client_ip in ip_network(\"10.0.0.0/8\")",
        "ada",
        "app",
        U,
        "the client's address",
    ),
    (
        "return http_request.GET.get(\"x\") == \"1\"",
        "ada",
        "app",
        U,
        "HTTP request data",
    ),
    (
        "from datetime import datetime\nreturn 8 <= datetime.now().hour < 20",
        "ada",
        "app",
        U,
        "time (an unmodelled import)",
    ),
    (
        "for g in request.user.all_groups():\n    return True\nreturn False",
        "ada",
        "app",
        U,
        "a loop",
    ),
    (
        "if http_request:\n    return True\nreturn True",
        "ada",
        "app",
        P,
        "the truth of the request object raises nothing: both branches return True",
    ),
    (
        "if http_request.GET[\"x\"]:\n    return True\nreturn True",
        "ada",
        "app",
        U,
        "reading request data may raise, so even two True branches are unknown",
    ),
    (
        "return ak_user_by(username=\"x\") is not None",
        "ada",
        "app",
        U,
        "an ORM query beyond the user",
    ),
    // Syntax errors.
    (
        "return (",
        "ada",
        "app",
        X,
        "a syntax error: authentik cannot compile it, so failure_result applies",
    ),
    (
        "if True\n    return True",
        "ada",
        "app",
        X,
        "a missing colon",
    ),
];

#[test]
fn corpus_of_bodies() {
    assert!(
        CORPUS.len() >= 80,
        "the corpus has {} entries",
        CORPUS.len()
    );
    let mut wrong = Vec::new();
    for (body, w, sit, expected, why) in CORPUS {
        let got = run(body, w, sit);
        if got != *expected {
            wrong.push(format!(
                "{body:?} for {w} in {sit}: got {got:?}, expected {expected:?} ({why})"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn syntax_error_names_the_line_in_the_body() {
    let e = parse_body("x = 1\nif x\n    return True").unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
}

#[test]
fn hostile_bodies_are_refused_not_followed() {
    let deep = format!("return {}1{}", "(".repeat(5000), ")".repeat(5000));
    assert!(parse_body(&deep).is_err());
    let long = format!("return {}", "not ".repeat(20_000));
    assert!(parse_body(&long).is_err());
    // Many independent unknown branches: the paths are capped, the answer is unknown.
    let branches: String = (0..20)
        .map(|i| format!("if http_request.x{i}:\n    a{i} = 1\n"))
        .collect();
    let body = parse_body(&format!("{branches}return True")).unwrap();
    let cases = eval::evaluate(
        &body,
        situation("app"),
        &World::default(),
        &Default::default(),
    );
    assert!(cases.iter().all(|c| c.outcome == Outcome::Unknown));
}

/// The slow, obvious reference: a concrete Python evaluator for the subset the generator below
/// writes, with every value bindlog cannot know (`http_request.xN`, run-time context keys)
/// supplied by a completion.
mod concrete {
    use bindlog::expression::ast::{CmpOp, Const, Expr, ExprKind, Stmt};
    use bindlog::expression::{Ctx, Outcome, Pending, Situation};

    #[derive(Clone, Debug, PartialEq)]
    pub enum C {
        None,
        Bool(bool),
        Int(i64),
        Str(String),
        List(Vec<C>),
        User,
        Anon,
        Attrs,
        Ctx,
        Request,
        Func(&'static str),
        Bound(&'static str, Box<C>),
    }

    /// A completion's value for an unknown: a value, or an exception.
    #[derive(Clone, Debug)]
    pub enum Fill {
        Value(C),
        Raise,
    }

    pub struct World<'a> {
        pub sit: Situation,
        pub known: bool,
        pub username: &'a str,
        pub groups: &'a [&'a str],
        pub attrs: &'a serde_json::Value,
        /// Values for `http_request.x0`, `.x1`, ... and for run-time context keys.
        pub fills: &'a [Fill],
    }

    enum Stop {
        Return(C),
        Raise,
    }

    type R<T> = Result<T, Stop>;

    fn truth(v: &C) -> bool {
        match v {
            C::None => false,
            C::Bool(b) => *b,
            C::Int(i) => *i != 0,
            C::Str(s) => !s.is_empty(),
            C::List(l) => !l.is_empty(),
            _ => true,
        }
    }

    fn json(v: &serde_json::Value) -> C {
        match v {
            serde_json::Value::Bool(b) => C::Bool(*b),
            serde_json::Value::Number(n) => C::Int(n.as_i64().unwrap_or(0)),
            serde_json::Value::String(s) => C::Str(s.clone()),
            serde_json::Value::Array(a) => C::List(a.iter().map(json).collect()),
            _ => C::None,
        }
    }

    pub fn run(stmts: &[Stmt], w: &World) -> Outcome {
        let mut locals = std::collections::HashMap::new();
        match block(stmts, w, &mut locals) {
            Ok(()) => Outcome::Fail,
            Err(Stop::Return(v)) => {
                if truth(&v) {
                    Outcome::Pass
                } else {
                    Outcome::Fail
                }
            }
            Err(Stop::Raise) => Outcome::Raise,
        }
    }

    fn block(
        stmts: &[Stmt],
        w: &World,
        locals: &mut std::collections::HashMap<String, C>,
    ) -> R<()> {
        for s in stmts {
            match s {
                Stmt::Return(v, _) => {
                    let v = match v {
                        Some(e) => expr(e, w, locals)?,
                        None => C::None,
                    };
                    return Err(Stop::Return(v));
                }
                Stmt::If(branches, _) => {
                    for (t, b) in branches {
                        let go = match t {
                            Some(t) => truth(&expr(t, w, locals)?),
                            None => true,
                        };
                        if go {
                            block(b, w, locals)?;
                            break;
                        }
                    }
                }
                Stmt::Assign(n, e, _) => {
                    let v = expr(e, w, locals)?;
                    locals.insert(n.clone(), v);
                }
                Stmt::Expr(e, _) => {
                    expr(e, w, locals)?;
                }
                other => panic!("the generator does not write {other:?}"),
            }
        }
        Ok(())
    }

    fn fill(w: &World, i: usize) -> R<C> {
        match &w.fills[i % w.fills.len()] {
            Fill::Value(v) => Ok(v.clone()),
            Fill::Raise => Err(Stop::Raise),
        }
    }

    fn context_get(w: &World, key: &str) -> R<Option<C>> {
        let s = w.sit;
        Ok(match key {
            "is_sso" => s.sso.then_some(C::Bool(true)),
            "pending_user" => match s.pending {
                Pending::Absent => None,
                Pending::IfKnown => w.known.then_some(C::User),
                Pending::Engine => Some(if w.known { C::User } else { C::Anon }),
            },
            // A key's value never raises: a completion's exception means the key is absent.
            _ if s.ctx == Ctx::StageRun => match fill(w, 7) {
                Ok(C::None) | Err(_) => None,
                Ok(v) => Some(v),
            },
            _ => None,
        })
    }

    fn expr(e: &Expr, w: &World, locals: &std::collections::HashMap<String, C>) -> R<C> {
        Ok(match &e.kind {
            ExprKind::Const(c) => match c {
                Const::None => C::None,
                Const::Bool(b) => C::Bool(*b),
                Const::Int(i) => C::Int(*i),
                Const::Str(s) => C::Str(s.clone()),
            },
            ExprKind::Name(n) => match n.as_str() {
                _ if locals.contains_key(n) => locals[n].clone(),
                "request" => C::Request,
                "ak_is_sso_flow" => C::Bool(w.sit.sso),
                "ak_is_group_member" => C::Func("member"),
                "ak_message" => C::Func("message"),
                "bool" => C::Func("bool"),
                "http_request" => C::Func("http"),
                _ => return Err(Stop::Raise),
            },
            ExprKind::Attr(base, a) => {
                let b = expr(base, w, locals)?;
                match (b, a.as_str()) {
                    (C::Request, "user") => {
                        if w.known {
                            C::User
                        } else {
                            C::Anon
                        }
                    }
                    (C::Request, "context") => C::Ctx,
                    (C::User, "username") => C::Str(w.username.to_string()),
                    (C::Anon, "username") => C::Str(String::new()),
                    (C::User, "attributes") => C::Attrs,
                    (C::Anon, _) => return Err(Stop::Raise),
                    (C::Ctx, "get") => C::Bound("ctx.get", Box::new(C::Ctx)),
                    (C::Attrs, "get") => C::Bound("attrs.get", Box::new(C::Attrs)),
                    (C::Func("http"), x) => {
                        fill(w, x.trim_start_matches('x').parse().unwrap_or(0))?
                    }
                    (C::None, _) => return Err(Stop::Raise),
                    (other, a) => panic!("the generator does not write {other:?}.{a}"),
                }
            }
            ExprKind::Subscript(base, idx) => {
                let b = expr(base, w, locals)?;
                let i = expr(idx, w, locals)?;
                match (b, i) {
                    (C::Attrs, C::Str(k)) => match w.attrs.get(&k) {
                        Some(v) => json(v),
                        None => return Err(Stop::Raise),
                    },
                    (C::Ctx, C::Str(k)) => context_get(w, &k)?.ok_or(Stop::Raise)?,
                    _ => return Err(Stop::Raise),
                }
            }
            ExprKind::Call(f, args, kw) => {
                let f = expr(f, w, locals)?;
                let mut a = Vec::new();
                for x in args {
                    a.push(expr(x, w, locals)?);
                }
                let mut k = Vec::new();
                for (n, x) in kw {
                    k.push((n.clone(), expr(x, w, locals)?));
                }
                let default = a.get(1).cloned().unwrap_or(C::None);
                match f {
                    C::Func("bool") => C::Bool(a.first().is_some_and(truth)),
                    C::Func("message") => C::None,
                    C::Func("member") => match (a.first(), k.first()) {
                        (Some(C::User), Some((_, C::Str(g)))) => {
                            C::Bool(w.groups.contains(&g.as_str()))
                        }
                        _ => return Err(Stop::Raise),
                    },
                    C::Bound("ctx.get", _) => match a.first() {
                        Some(C::Str(key)) => context_get(w, key)?.unwrap_or(default),
                        _ => return Err(Stop::Raise),
                    },
                    C::Bound("attrs.get", _) => match a.first() {
                        Some(C::Str(key)) => w.attrs.get(key).map_or(default, json),
                        _ => return Err(Stop::Raise),
                    },
                    other => panic!("the generator does not call {other:?}"),
                }
            }
            ExprKind::Not(x) => C::Bool(!truth(&expr(x, w, locals)?)),
            ExprKind::And(xs) | ExprKind::Or(xs) => {
                let and = matches!(e.kind, ExprKind::And(_));
                let mut last = C::None;
                for x in xs {
                    last = expr(x, w, locals)?;
                    if truth(&last) != and {
                        return Ok(last);
                    }
                }
                last
            }
            ExprKind::Compare(l, rest) => {
                let mut left = expr(l, w, locals)?;
                for (op, r) in rest {
                    let right = expr(r, w, locals)?;
                    if !compare(*op, &left, &right)? {
                        return Ok(C::Bool(false));
                    }
                    left = right;
                }
                C::Bool(true)
            }
            ExprKind::List(xs) => {
                let mut out = Vec::new();
                for x in xs {
                    out.push(expr(x, w, locals)?);
                }
                C::List(out)
            }
            ExprKind::IfExp(t, b, o) => {
                if truth(&expr(t, w, locals)?) {
                    expr(b, w, locals)?
                } else {
                    expr(o, w, locals)?
                }
            }
            ExprKind::Opaque(o) => panic!("the generator does not write {o}"),
        })
    }

    fn num(v: &C) -> Option<i64> {
        match v {
            C::Int(i) => Some(*i),
            C::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// Python's `==`: numbers and booleans compare by value (`1 == True`), lists item by item.
    fn eq(a: &C, b: &C) -> bool {
        match (num(a), num(b), a, b) {
            (Some(x), Some(y), _, _) => x == y,
            (_, _, C::List(x), C::List(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(p, q)| eq(p, q))
            }
            _ => a == b,
        }
    }

    fn compare(op: CmpOp, l: &C, r: &C) -> R<bool> {
        Ok(match op {
            CmpOp::Eq => eq(l, r),
            CmpOp::NotEq => !eq(l, r),
            CmpOp::Lt => match (num(l), num(r), l, r) {
                (Some(x), Some(y), _, _) => x < y,
                (_, _, C::Str(a), C::Str(b)) => a < b,
                _ => return Err(Stop::Raise),
            },
            CmpOp::In => match r {
                C::Str(h) => match l {
                    C::Str(n) => h.contains(n.as_str()),
                    _ => return Err(Stop::Raise),
                },
                C::List(items) => items.iter().any(|x| eq(l, x)),
                _ => return Err(Stop::Raise),
            },
            other => panic!("the generator does not write {other:?}"),
        })
    }
}

mod soundness {
    use super::concrete::{self, C, Fill};
    use super::{result_for, situation, users, who};
    use bindlog::expression::{Outcome, World, eval, field_classes, parse_body};
    use proptest::prelude::*;

    fn leaf() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("True".to_string()),
            Just("False".to_string()),
            Just("None".to_string()),
            (0i64..3).prop_map(|i| i.to_string()),
            prop_oneof![Just("\"\""), Just("\"eng\""), Just("\"ada.nguyen\"")]
                .prop_map(str::to_string),
            Just("x".to_string()),
            Just("request.user.username".to_string()),
            Just("request.user.attributes.get(\"dept\", \"none\")".to_string()),
            Just("request.user.attributes[\"dept\"]".to_string()),
            Just("ak_is_group_member(request.user, name=\"admins\")".to_string()),
            Just("ak_is_group_member(request.user, name=\"x_banned\")".to_string()),
            Just("request.context.get(\"is_sso\", False)".to_string()),
            Just("request.context.get(\"prompt_data\")".to_string()),
            Just("ak_is_sso_flow".to_string()),
            (0u8..3).prop_map(|i| format!("http_request.x{i}")),
        ]
    }

    fn expr() -> impl Strategy<Value = String> {
        leaf().prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                inner.clone().prop_map(|a| format!("(not {a})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} and {b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} or {b})")),
                (
                    inner.clone(),
                    inner.clone(),
                    prop_oneof![Just("=="), Just("!="), Just("<"), Just("in")]
                )
                    .prop_map(|(a, b, op)| format!("({a} {op} {b})")),
                inner.clone().prop_map(|a| format!("bool({a})")),
                (inner.clone(), inner.clone(), inner.clone())
                    .prop_map(|(a, b, c)| format!("({a} if {b} else {c})")),
                inner.clone().prop_map(|a| format!("[{a}]")),
            ]
        })
    }

    fn body() -> impl Strategy<Value = String> {
        (expr(), expr(), expr(), expr(), 0u8..4).prop_map(|(a, b, c, d, shape)| match shape {
            0 => format!("return {a}"),
            1 => format!("x = {a}\nif {b}:\n    return {c}\nreturn {d}"),
            2 => format!("if {a}:\n    ak_message({b})\n    return {c}\nelif {d}:\n    return True\nelse:\n    x = 1\n    return x"),
            _ => format!("x = {a}\nif {b}:\n    x = {c}\nreturn x and {d}"),
        })
    }

    fn fill() -> impl Strategy<Value = Fill> {
        prop_oneof![
            Just(Fill::Raise),
            Just(Fill::Value(C::None)),
            any::<bool>().prop_map(|b| Fill::Value(C::Bool(b))),
            (0i64..3).prop_map(|i| Fill::Value(C::Int(i))),
            prop_oneof![Just(""), Just("eng")].prop_map(|s| Fill::Value(C::Str(s.into()))),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        /// Where bindlog answers pass, fail or raise, the concrete evaluation agrees for every
        /// completion of what bindlog left unknown.
        #[test]
        fn abstract_never_contradicts_a_completion(
            src in body(),
            who_name in prop_oneof![Just("ada"), Just("svc"), Just("anon")],
            sit_name in prop_oneof![Just("flow"), Just("flow_sso"), Just("app"), Just("run_id"), Just("run")],
            fills in proptest::collection::vec(fill(), 8),
        ) {
            let parsed = parse_body(&src).expect("the generator writes valid Python");
            let all = users();
            let names = eval::read_fields(&parsed);
            let fields = field_classes(&names, &all).0;
            let sit = situation(sit_name);
            let cases = eval::evaluate(&parsed, sit, &World::default(), &fields);
            let w = who(who_name);
            let abstract_result = result_for(&cases, &w, &fields);
            let attrs = w.user.as_ref().and_then(|u| u.extra.as_ref()).map(|x| x.attributes.clone()).unwrap_or(serde_json::Value::Null);
            let world = concrete::World {
                sit,
                known: w.user.is_some(),
                username: w.user.as_ref().map_or("", |u| &u.username),
                groups: w.groups,
                attrs: &attrs,
                fills: &fills,
            };
            let concrete_result = concrete::run(&parsed.stmts, &world);
            if abstract_result != Outcome::Unknown {
                prop_assert_eq!(abstract_result, concrete_result, "body:\n{}", src);
            }
        }
    }
}

/// Writes `text` as a blueprint in a fresh directory and returns both.
/// Groups admins and platform (a child of admins), ada.nguyen in platform and bob in none: the
/// start of the blueprints whose expressions test group membership.
const ADA_IN_ADMINS_THROUGH_PLATFORM: &str = "  - model: authentik_core.group
    id: admins
    identifiers: {name: admins}
  - model: authentik_core.group
    id: platform
    identifiers: {name: platform}
    attrs: {parent: !KeyOf admins}
  - model: authentik_core.user
    identifiers: {username: ada.nguyen}
    attrs: {name: Ada, groups: [!KeyOf platform]}
  - model: authentik_core.user
    identifiers: {username: bob}
    attrs: {name: Bob}
";

fn blueprint(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bp.yaml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn out(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const FIND_ANY_SUBTYPE: &str = r#"version: 1
entries:
  - model: authentik_core.group
    identifiers: {name: staff}
  - model: authentik_policies_expression.expressionpolicy
    identifiers: {name: only-staff}
    attrs: {expression: "return ak_is_group_member(request.user, name='staff')"}
  - model: authentik_core.application
    identifiers: {slug: wiki}
    attrs: {name: Wiki}
  - model: authentik_policies.policybinding
    identifiers:
      target: !Find [authentik_core.Application, [slug, wiki]]
      policy: !Find [authentik_policies.policy, [name, only-staff]]
      order: 0
  - model: authentik_policies.policybinding
    identifiers:
      target: !Find [authentik_core.application, [slug, wiki]]
      group: !Find [authentik_core.Group, [name, staff]]
      order: 1
"#;

/// Issue 17: `!Find` on the base policy model finds any subtype, and model names are read
/// case-insensitively as Django's `apps.get_model` does.
#[test]
fn regression_17_find_on_base_model_and_any_case() {
    let (_d, path) = blueprint(FIND_ANY_SUBTYPE);
    let o = crate::bindlog(&["check", path.to_str().unwrap()]);
    let text = out(&o);
    assert!(o.status.success(), "{text}");
    assert!(!text.contains("found no"), "{text}");
}

/// Issue 17: an identification stage's inline password and captcha stages are used.
#[test]
fn regression_17_inline_stages_are_no_orphans() {
    let (_d, path) = blueprint(
        r#"version: 1
entries:
  - model: authentik_stages_password.passwordstage
    id: pw
    identifiers: {name: pw}
    attrs: {backends: [authentik.core.auth.InbuiltBackend]}
  - model: authentik_stages_captcha.captchastage
    id: cap
    identifiers: {name: cap}
    attrs: {public_key: x, private_key: y}
  - model: authentik_stages_identification.identificationstage
    id: ident
    identifiers: {name: ident}
    attrs: {user_fields: [username], password_stage: !KeyOf pw, captcha_stage: !KeyOf cap}
  - model: authentik_flows.flow
    id: login
    identifiers: {slug: login}
    attrs: {name: Login, title: Login, designation: authentication}
  - model: authentik_flows.flowstagebinding
    identifiers: {target: !KeyOf login, stage: !KeyOf ident, order: 0}
"#,
    );
    let o = crate::bindlog(&["check", path.to_str().unwrap()]);
    let text = out(&o);
    assert!(o.status.success(), "{text}");
    assert!(!text.contains("orphan stage"), "{text}");
}

/// Issue 17: a dummy policy whose wait range holds negative and positive waits errors only when
/// it draws a negative one: unknown, not fail; one with only negative waits always errors.
#[test]
fn regression_17_dummy_negative_wait_min() {
    let app = |min: i64, max: i64| {
        format!(
            r#"version: 1
entries:
  - model: authentik_policies_dummy.dummypolicy
    id: d
    identifiers: {{name: d}}
    attrs: {{result: true, wait_min: {min}, wait_max: {max}}}
  - model: authentik_core.application
    id: app
    identifiers: {{slug: wiki}}
    attrs: {{name: Wiki}}
  - model: authentik_policies.policybinding
    identifiers: {{target: !KeyOf app, policy: !KeyOf d, order: 0}}
  - model: authentik_core.user
    identifiers: {{username: ada}}
    attrs: {{name: Ada}}
"#
        )
    };
    let access = |min: i64, max: i64| {
        let (_d, path) = blueprint(&app(min, max));
        let o = crate::bindlog(&[
            "access",
            path.to_str().unwrap(),
            "--app",
            "wiki",
            "--user",
            "ada",
            "--format",
            "json",
        ]);
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(&o)));
        v["access"].as_str().unwrap().to_string()
    };
    assert_eq!(access(-2, 3), "unknown");
    assert_eq!(access(-5, 0), "no");
    assert_eq!(access(1, 3), "yes");
}

/// Issue 17: a syntax error is certain: `check` names the line in the body.
#[test]
fn regression_17_check_reports_syntax_error_line() {
    let (_d, path) = blueprint(
        r#"version: 1
entries:
  - model: authentik_policies_expression.expressionpolicy
    identifiers: {name: broken}
    attrs: {expression: "x = 1\nif x\n    return True"}
"#,
    );
    let o = crate::bindlog(&["check", path.to_str().unwrap()]);
    let text = out(&o);
    assert!(
        text.contains("syntax error on line 2 of the expression"),
        "{text}"
    );
}

/// Issue 17: in application access, `ak_is_group_member` decides per user through the rules, and
/// the ak_message/False and missing ak_call_policy bodies have their fixed answers.
#[test]
fn regression_17_application_access_decided() {
    let (_d, path) = blueprint(&format!(
        "version: 1\nentries:\n{ADA_IN_ADMINS_THROUGH_PLATFORM}{}",
        r#"  - model: authentik_policies_expression.expressionpolicy
    id: p
    identifiers: {name: admins-only}
    attrs: {expression: "return ak_is_group_member(request.user, name=\"admins\")"}
  - model: authentik_core.application
    id: app
    identifiers: {slug: wiki}
    attrs: {name: Wiki}
  - model: authentik_policies.policybinding
    identifiers: {target: !KeyOf app, policy: !KeyOf p, order: 0}
"#
    ));
    let access = |user: &str| {
        let o = crate::bindlog(&[
            "access",
            path.to_str().unwrap(),
            "--app",
            "wiki",
            "--user",
            user,
            "--format",
            "json",
        ]);
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(&o)));
        v["access"].as_str().unwrap().to_string()
    };
    // ada is in admins through platform (a member of a child group).
    assert_eq!(access("ada.nguyen"), "yes");
    assert_eq!(access("bob"), "no");
}

/// Issue 17: authentik's stock blueprints audit with no finding that tells the administrator to
/// change a stock object (the source-flow guards and the passwordless-MFA check).
#[test]
#[cfg_attr(
    not(corpus),
    ignore = "needs authentik's blueprints (the blueprints/ directory of authentik's repository); run: BINDLOG_CORPUS=DIR cargo test --release"
)]
fn regression_17_stock_blueprints_get_no_advice_to_change_them() {
    let dir = crate::snapshot::corpus().join("default");
    let o = crate::bindlog(&["audit", dir.to_str().unwrap(), "--format", "json"]);
    let v: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let bad: Vec<&serde_json::Value> = v
        .iter()
        .filter(|f| f["rule"] == "AK-B07" || f["rule"] == "AK-P04")
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
}

/// A bundle's user attributes are kept as text while loading and only the keys bodies read are
/// parsed: the answer still follows each user's own `dept` (nested values beside it are
/// skipped) and email.
#[test]
fn bundle_attributes_are_read_where_bodies_read_them() {
    let dir = tempfile::tempdir().unwrap();
    let users = r#"[
 {"pk": 1, "username": "ada", "email": "ada@corp.example", "attributes": {"x": {"y": [1, "}"]}, "dept": "eng"}},
 {"pk": 2, "username": "bob", "email": "bob@else.example", "attributes": {"dept": "eng"}},
 {"pk": 3, "username": "cy", "email": "cy@corp.example", "attributes": {"dept": "sales"}},
 {"pk": 4, "username": "dee", "email": "dee@corp.example", "attributes": null}]"#;
    let rest = [
        ("meta", r#"{"version": "2026.2.1"}"#),
        ("core/groups", "[]"),
        ("flows/instances", "[]"),
        ("flows/bindings", "[]"),
        ("stages/all", "[]"),
        (
            "policies/all",
            r#"[{"pk": "p1", "name": "eng", "meta_model_name": "authentik_policies_expression.expressionpolicy",
  "expression": "return request.user.attributes.get('dept') == 'eng' and request.user.email.endswith('@corp.example')"}]"#,
        ),
        (
            "core/applications",
            r#"[{"pk": "a1", "slug": "wiki", "name": "Wiki"}]"#,
        ),
        (
            "policies/bindings",
            r#"[{"pk": "b1", "target": "a1", "policy": "p1", "order": 0}]"#,
        ),
    ];
    // Loading skips these fields and reads the file again only because a body reads them: the
    // same answers must come from a bundle, from a directory of endpoint files, and through an
    // overlay that changes users (which converts them to JSON and back).
    let bundle = dir.path().join("bundle.json");
    let mut text = format!("{{\"core/users\": {users}");
    for (k, v) in rest {
        text.push_str(&format!(",\n\"{k}\": {v}"));
    }
    std::fs::write(&bundle, text + "}").unwrap();
    let dump = dir.path().join("dump");
    std::fs::create_dir_all(dump.join("core")).unwrap();
    std::fs::write(dump.join("core/users.json"), users).unwrap();
    for (k, v) in rest {
        let file = dump.join(format!("{k}.json"));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, v).unwrap();
    }
    let overlay = dir.path().join("overlay.yaml");
    std::fs::write(
        &overlay,
        "version: 1\nentries:\n  - model: authentik_core.user\n    identifiers: {username: cy}\n    attrs: {attributes: {dept: eng}}\n",
    )
    .unwrap();
    let base = [("ada", "yes"), ("bob", "no"), ("cy", "no"), ("dee", "no")];
    let overlaid = [("ada", "yes"), ("bob", "no"), ("cy", "yes"), ("dee", "no")];
    for (path, extra, wants) in [
        (&bundle, None, base),
        (&dump, None, base),
        (&bundle, Some(&overlay), overlaid),
    ] {
        for (user, want) in wants {
            let mut args = vec![
                "access",
                path.to_str().unwrap(),
                "--app",
                "wiki",
                "--user",
                user,
                "--format",
                "json",
            ];
            if let Some(o) = extra {
                args.extend(["--overlay", o.to_str().unwrap()]);
            }
            let o = crate::bindlog(&args);
            let v: serde_json::Value =
                serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(&o)));
            assert_eq!(v["access"], want, "{user} in {}", path.display());
        }
    }
}

/// A flow entered from a source login: `ak_is_sso_flow` is true there, so the stock "skip this
/// stage on SSO" guard skips the stage for `--entry source`; without it the flow is entered both
/// directly (shown) and through the source that names it (skipped), so the stage is unknown.
#[test]
fn plan_entered_from_a_source_reads_ak_is_sso_flow_as_true() {
    let (_d, path) = blueprint(
        r#"version: 1
entries:
  - model: authentik_core.user
    identifiers: {username: ada}
    attrs: {name: Ada}
  - model: authentik_flows.flow
    id: f
    identifiers: {slug: login}
    attrs: {name: Login, title: Login, designation: authentication}
  - model: authentik_stages_identification.identificationstage
    id: ident
    identifiers: {name: ident}
  - model: authentik_stages_user_login.userloginstage
    id: login
    identifiers: {name: login}
  - model: authentik_flows.flowstagebinding
    id: b1
    identifiers: {target: !KeyOf f, stage: !KeyOf ident, order: 10}
    attrs: {evaluate_on_plan: true, re_evaluate_policies: false}
  - model: authentik_flows.flowstagebinding
    id: b2
    identifiers: {target: !KeyOf f, stage: !KeyOf login, order: 20}
  - model: authentik_policies_expression.expressionpolicy
    id: notsso
    identifiers: {name: skip-ident-on-sso}
    attrs: {expression: "return not ak_is_sso_flow"}
  - model: authentik_policies.policybinding
    identifiers: {target: !KeyOf b1, policy: !KeyOf notsso, order: 0}
  - model: authentik_sources_oauth.oauthsource
    identifiers: {slug: github}
    attrs: {name: GitHub, authentication_flow: !KeyOf f}
"#,
    );
    let plan = |entry: &[&str]| {
        let mut args = vec![
            "plan",
            path.to_str().unwrap(),
            "--flow",
            "login",
            "--user",
            "ada",
            "--format",
            "json",
        ];
        args.extend_from_slice(entry);
        let o = crate::bindlog(&args);
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(&o)));
        let ident = v["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == "ident")
            .unwrap()["visibility"]
            .clone();
        (v["entry"].as_str().unwrap().to_string(), ident)
    };
    assert_eq!(plan(&[]), ("anonymous".into(), "unknown".into()));
    assert_eq!(
        plan(&["--entry", "source"]),
        ("source".into(), "skipped".into())
    );
    let o = crate::bindlog(&[
        "explain",
        path.to_str().unwrap(),
        "--flow",
        "login",
        "--stage",
        "ident",
        "--user",
        "ada",
        "--entry",
        "source",
    ]);
    // Words only: the summary is wrapped to the terminal width.
    let text = out(&o).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains("expression line 1: `return not ak_is_sso_flow` returns a false value")
            && text.contains("entered from a source login"),
        "{text}"
    );
}

/// Issue 17: `--entry source` on a flow no source starts a login in is refused (exit 2), naming
/// the flow and the flows sources do use; a flow a source names is planned that way.
#[test]
fn entry_source_needs_a_source_that_starts_its_login_in_the_flow() {
    let flows = r#"version: 1
entries:
  - model: authentik_core.user
    identifiers: {username: ada}
    attrs: {name: Ada}
  - model: authentik_flows.flow
    id: f
    identifiers: {slug: login}
    attrs: {name: Login, title: Login, designation: authentication}
  - model: authentik_flows.flow
    id: e
    identifiers: {slug: enroll}
    attrs: {name: Enroll, title: Enroll, designation: enrollment}
  - model: authentik_flows.flow
    id: o
    identifiers: {slug: other}
    attrs: {name: Other, title: Other, designation: authentication}
  - model: authentik_stages_user_login.userloginstage
    id: login
    identifiers: {name: login}
  - model: authentik_flows.flowstagebinding
    identifiers: {target: !KeyOf f, stage: !KeyOf login, order: 10}
  - model: authentik_flows.flowstagebinding
    identifiers: {target: !KeyOf o, stage: !KeyOf login, order: 10}
"#;
    let source = "  - model: authentik_sources_oauth.oauthsource
    identifiers: {slug: github}
    attrs: {name: GitHub, authentication_flow: !KeyOf f, enrollment_flow: !KeyOf e}
";
    let (_d, with_source) = blueprint(&format!("{flows}{source}"));
    let (_d2, without) = blueprint(flows);
    let run = |path: &std::path::Path, args: &[&str]| {
        let mut all = vec![args[0], path.to_str().unwrap()];
        all.extend_from_slice(&args[1..]);
        all.extend_from_slice(&["--user", "ada", "--entry", "source"]);
        crate::bindlog(&all)
    };
    let plan_other = run(&with_source, &["plan", "--flow", "other"]);
    let text = out(&plan_other);
    assert_eq!(plan_other.status.code(), Some(2), "{text}");
    assert!(
        text.contains("no source starts a login in flow `other`")
            && text.contains("`enroll` (enrollment flow of source `github`)")
            && text.contains("`login` (authentication flow of source `github`)")
            && !text.contains("panicked"),
        "{text}"
    );
    let explain_other = run(
        &with_source,
        &["explain", "--flow", "other", "--stage", "login"],
    );
    assert_eq!(
        explain_other.status.code(),
        Some(2),
        "{}",
        out(&explain_other)
    );
    assert!(out(&explain_other).contains("no source starts a login in flow `other`"));
    for flow in ["login", "enroll"] {
        let ok = run(&with_source, &["plan", "--flow", flow]);
        assert_eq!(ok.status.code(), Some(0), "{flow}: {}", out(&ok));
    }
    let none = run(&without, &["plan", "--flow", "login"]);
    assert_eq!(none.status.code(), Some(2), "{}", out(&none));
    assert!(
        out(&none).contains("the snapshot has no source that names a flow"),
        "{}",
        out(&none)
    );
    // Without `--entry source` the flow is planned as before.
    let plain = crate::bindlog(&["plan", without.to_str().unwrap(), "--flow", "login"]);
    assert_eq!(plain.status.code(), Some(0), "{}", out(&plain));
}

/// Issue 17: the folded proof tells an expression's steps once. A passing binding's reading
/// (`val`) already tells them, so the expression below it is not drawn again; of the two
/// negations under a failing target (no binding gives pass, nor unknown), the second refers to
/// the first instead of repeating every binding and its steps.
#[test]
fn folded_explain_tells_the_expression_step_once() {
    let (_d, path) = blueprint(&format!(
        "version: 1\nentries:\n{ADA_IN_ADMINS_THROUGH_PLATFORM}{}",
        r#"  - model: authentik_flows.flow
    id: f
    identifiers: {slug: login}
    attrs: {name: Login, title: Login, designation: authentication}
  - model: authentik_stages_identification.identificationstage
    id: ident
    identifiers: {name: ident}
  - model: authentik_stages_user_login.userloginstage
    id: login
    identifiers: {name: login}
  - model: authentik_flows.flowstagebinding
    identifiers: {target: !KeyOf f, stage: !KeyOf ident, order: 10}
  - model: authentik_flows.flowstagebinding
    id: b2
    identifiers: {target: !KeyOf f, stage: !KeyOf login, order: 20}
    attrs: {evaluate_on_plan: false, re_evaluate_policies: true}
  - model: authentik_policies_expression.expressionpolicy
    id: p
    identifiers: {name: admins-only}
    attrs: {expression: "return ak_is_group_member(request.user, name=\"admins\")"}
  - model: authentik_policies.policybinding
    identifiers: {target: !KeyOf b2, policy: !KeyOf p, order: 0}
  - model: authentik_policies_expression.expressionpolicy
    id: sso
    identifiers: {name: sso-only}
    attrs: {expression: "return ak_is_sso_flow"}
  - model: authentik_core.application
    id: app
    identifiers: {slug: ssoapp}
    attrs: {name: SSO}
  - model: authentik_policies.policybinding
    identifiers: {target: !KeyOf app, policy: !KeyOf sso, order: 0}
"#
    ));
    // The proof below the summary, its words only (it is wrapped to a width).
    let tree = |args: &[&str]| {
        let mut all = vec!["explain", path.to_str().unwrap(), "--width", "100"];
        all.extend_from_slice(args);
        let o = crate::bindlog(&all);
        assert_eq!(o.status.code(), Some(0), "{}", out(&o));
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        let (summary, proof) = text.split_once("why (").unwrap_or_else(|| panic!("{text}"));
        let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        (words(summary), words(proof))
    };
    let group_step = "`ak_is_group_member(request.user, name=\"admins\")` is true for ada.nguyen";
    let (summary, proof) = tree(&[
        "--flow",
        "login",
        "--stage",
        "login",
        "--user",
        "ada.nguyen",
    ]);
    assert!(
        summary.starts_with("shown: ") && summary.contains(group_step),
        "{summary}"
    );
    assert_eq!(proof.matches(group_step).count(), 1, "{proof}");
    let sso_step = "`return ak_is_sso_flow` returns a false value";
    let (summary, proof) = tree(&["--app", "ssoapp", "--user", "bob"]);
    assert!(
        summary.starts_with("no: ") && summary.contains(sso_step),
        "{summary}"
    );
    assert_eq!(proof.matches(sso_step).count(), 1, "{proof}");
    assert!(
        proof.contains("gives unknown for bob (each binding as above)"),
        "{proof}"
    );
}

/// explain names the expression step that decided a policy: the construct, its line, and for a
/// group test the group the user is in and through which group.
#[test]
fn explain_shows_the_expression_step_that_decided() {
    let (_d, path) = blueprint(&format!(
        "version: 1\nentries:\n{ADA_IN_ADMINS_THROUGH_PLATFORM}{}",
        r#"  - model: authentik_policies_expression.expressionpolicy
    id: p
    identifiers: {name: admins-only}
    attrs: {expression: "ak_logger.info('x')\nreturn ak_is_group_member(request.user, name=\"admins\")"}
  - model: authentik_policies_expression.expressionpolicy
    id: sso
    identifiers: {name: sso-only}
    attrs: {expression: "return ak_is_sso_flow"}
  - model: authentik_core.application
    id: app
    identifiers: {slug: wiki}
    attrs: {name: Wiki}
  - model: authentik_core.application
    id: app2
    identifiers: {slug: ssoapp}
    attrs: {name: SSO}
  - model: authentik_policies.policybinding
    identifiers: {target: !KeyOf app, policy: !KeyOf p, order: 0}
  - model: authentik_policies.policybinding
    identifiers: {target: !KeyOf app2, policy: !KeyOf sso, order: 0}
"#
    ));
    let explain = |app: &str, user: &str| {
        let o = crate::bindlog(&[
            "explain",
            path.to_str().unwrap(),
            "--app",
            app,
            "--user",
            user,
        ]);
        // Words only: the summary is wrapped to the terminal width.
        out(&o).split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let ada = explain("wiki", "ada.nguyen");
    assert!(
        ada.starts_with("yes: ")
            && ada.contains("expression line 2: `ak_is_group_member(request.user, name=\"admins\")` is true for ada.nguyen: member of admins through platform"),
        "{ada}"
    );
    let bob = explain("wiki", "bob");
    assert!(
        bob.starts_with("no: ") && bob.contains("is false for bob: not a member of admins"),
        "{bob}"
    );
    // The same answer for everyone: the deciding case, no identity in it.
    let sso = explain("ssoapp", "bob");
    assert!(
        sso.starts_with("no: ")
            && sso.contains("expression line 1: `return ak_is_sso_flow` returns a false value"),
        "{sso}"
    );
}
