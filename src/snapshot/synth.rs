//! Synthetic snapshots, deterministic from a seed: a parametric organisation for tests and
//! benchmarks at any size ([`write_bundle`]), and the hand-shaped example organisation
//! `examples/acme` ([`acme`]).

use serde_json::{Value, json};
use std::io::{self, Write};

/// A small, fast, seedable generator (SplitMix64); the same seed always gives the same snapshot.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5eed_b1d1_0600_0001)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A random UUID (version 4 layout).
    pub fn uuid(&mut self) -> String {
        let (a, b) = (self.next_u64(), self.next_u64());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }
}

/// The shape of a generated organisation.
#[derive(Clone, Debug)]
pub struct Params {
    /// Seed: the same parameters and seed give byte-identical output.
    pub seed: u64,
    /// Number of users.
    pub users: usize,
    /// Number of groups, in a forest where a group may have several parents.
    pub groups: usize,
    /// Most parents a group has (0 gives flat groups).
    pub max_parents: usize,
    /// Most direct groups a user has; memberships are skewed towards a few large groups.
    pub max_groups_per_user: usize,
    /// Number of applications, each with a few group, user or policy bindings.
    pub apps: usize,
    /// Number of extra flows beyond the default authentication, enrollment and recovery flows.
    pub extra_flows: usize,
    /// The authentik version written in `meta`.
    pub version: String,
    /// Stage bindings per flow: `None` gives 2 to 5.
    pub stages_per_flow: Option<usize>,
    /// Policy bindings in all, spread over applications, flows and stage bindings: `None` gives
    /// 1 to 3 on each application and on every third stage binding.
    pub bindings: Option<usize>,
    /// Group bindings name only the first this many groups (the upper, larger groups of the
    /// forest, as access is granted in practice); 0: any group.
    pub access_groups: usize,
    /// Percent of policy bindings that name a user (`None`: one in five).
    pub user_binding_percent: Option<u32>,
    /// Users carry the other fields the API returns (uuid, avatar, attributes, dates).
    pub full_users: bool,
    /// Groups form departments with teams below them (depth logarithmic in the number of
    /// groups); each user is in one team and sometimes in a role group or two.
    pub forest: bool,
    /// The other binding targets too: a provider per application, notification rules with
    /// destination groups, RAC endpoints, devices in access groups, sources and brands, bound to
    /// groups, users and policies (see [`write_targets`]).
    pub targets: bool,
    /// Bind as a real deployment does instead of at random: everyone can log in, the login
    /// flow's MFA stage is bound to the groups that need MFA (the superusers' among them),
    /// applications open to a few groups each, and a handful of planted misconfigurations
    /// (an open application, a disabled, a negated and a fail-open binding, an identity check
    /// at plan time, an MFA stage that lets users without a device through, a superuser
    /// service account). The sizes are those of the random layout.
    pub believable: bool,
}

impl Params {
    /// Proportions that look like a real organisation of `users` people.
    pub fn scaled(users: usize, seed: u64) -> Params {
        Params {
            seed,
            users,
            groups: (users / 250).clamp(10, 5000),
            max_parents: 3,
            max_groups_per_user: 6,
            apps: (users / 2000).clamp(8, 500),
            extra_flows: (users / 20000).clamp(3, 100),
            version: "2026.2.1".into(),
            stages_per_flow: None,
            bindings: None,
            access_groups: 0,
            user_binding_percent: None,
            full_users: false,
            forest: false,
            targets: false,
            believable: false,
        }
    }

    /// The sizes of the bulk-analysis targets: `1k`, `10k` (400 groups, 20 flows), `100k` (2,000
    /// groups, 50 flows) and `1m`
    /// (10,000 groups, 200 flows, 2,000 stage bindings, 20,000 policy bindings).
    pub fn preset(name: &str, seed: u64) -> Option<Params> {
        let (users, groups, flows, apps, bindings, access) = match name {
            "1k" => (1_000, 40, 10, 10, 100, 10),
            "10k" => (10_000, 400, 20, 40, 1_000, 20),
            "100k" => (100_000, 2_000, 50, 100, 4_000, 40),
            "1m" => (1_000_000, 10_000, 200, 500, 20_000, 80),
            _ => return None,
        };
        Some(Params {
            seed,
            users,
            groups,
            max_parents: 3,
            max_groups_per_user: 4,
            apps,
            extra_flows: flows - 3,
            version: "2026.2.1".into(),
            stages_per_flow: Some(10),
            bindings: Some(bindings),
            access_groups: access,
            user_binding_percent: Some(1),
            full_users: true,
            forest: true,
            targets: false,
            believable: true,
        })
    }
}

fn put<W: Write>(w: &mut W, v: &Value) -> io::Result<()> {
    serde_json::to_writer(&mut *w, v).map_err(io::Error::other)
}

fn endpoint<W: Write>(w: &mut W, name: &str, items: &[Value], first: bool) -> io::Result<()> {
    if !first {
        w.write_all(b",\n")?;
    }
    write!(w, "\"{name}\": [")?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            w.write_all(b",\n")?;
        }
        put(w, item)?;
    }
    w.write_all(b"]")
}

/// Writes a bundle (docs/input.md, form 1) for `p` to `w`, streaming the users.
pub fn write_bundle<W: Write>(p: &Params, mut w: W) -> io::Result<()> {
    let mut rng = Rng::new(p.seed);
    let group_ids: Vec<String> = (0..p.groups).map(|_| rng.uuid()).collect();
    let mut groups = Vec::with_capacity(p.groups);
    // The believable layout's admin team: the last group, when there is a team besides it.
    let admins = (p.believable && p.forest && p.groups - p.groups / 2 > 1).then(|| p.groups - 1);
    // Its members: the first few users, active, one of them a service account (planted).
    let admin_users = (p.users / 2000).clamp(2, 25);
    for (i, gid) in group_ids.iter().enumerate() {
        let mut parents = Vec::new();
        if p.forest {
            // Departments are the first hundredth; every other group hangs below an earlier,
            // larger one (a tree of logarithmic depth), and one in six has a second parent.
            if i >= (p.groups / 100).max(1) {
                parents.push(group_ids[rng.below(i / 3 + 1)].clone());
                if p.max_parents > 1 && rng.chance(0.15) {
                    let extra = &group_ids[rng.below(i / 3 + 1)];
                    if !parents.contains(extra) {
                        parents.push(extra.clone());
                    }
                }
            }
        } else if i > 0 && !rng.chance(0.15) {
            let n = 1 + rng.below(p.max_parents.max(1));
            for _ in 0..n.min(p.max_parents) {
                let parent = &group_ids[rng.below(i)];
                if !parents.contains(parent) {
                    parents.push(parent.clone());
                }
            }
        }
        // The believable layout's superusers are a small team of their own (the last group,
        // below which no group hangs), not a department's thousands.
        let (name, superuser) = match admins {
            Some(a) if i == a => ("authentik Admins".to_string(), true),
            Some(_) => (format!("group-{i:05}"), false),
            None => (format!("group-{i:05}"), i == 0),
        };
        groups.push(json!({
            "pk": gid, "num_pk": 1000 + i, "name": name,
            "is_superuser": superuser, "parents": parents, "attributes": {},
        }));
    }
    w.write_all(b"{\n")?;
    write!(
        w,
        "\"meta\": {{\"version\": \"{}\"}},\n\"core/users\": [",
        p.version
    )?;
    let mut line = String::new();
    for u in 0..p.users {
        let k = rng.below(p.max_groups_per_user + 1);
        line.clear();
        if u > 0 {
            line.push_str(",\n");
        }
        let pk = u + 1;
        let admin = admins.is_some() && pk <= admin_users;
        let active = !rng.chance(0.03) || admin;
        line.push_str(&format!(
            "{{\"pk\": {pk}, \"username\": \"user{pk:07}\", \"name\": \"User {pk}\", \"is_active\": {}, \"last_login\": {}, \"is_superuser\": false, \"groups\": [",
            active,
            if rng.chance(0.2) { "null".to_string() } else { format!("\"2026-0{}-1{}T08:00:00Z\"", 1 + rng.below(9), rng.below(10)) },
        ));
        let mut chosen: Vec<usize> = Vec::with_capacity(k);
        if p.forest {
            // One team among the lower half of the forest, and now and then a role group among
            // the groups access is granted to (skewed towards the first, largest ones).
            // (The admin team is not drawn: its members are named below.)
            let teams = p.groups - p.groups / 2 - usize::from(admins.is_some());
            chosen.push(p.groups / 2 + rng.below(teams.max(1)));
            let roles = [0, 0, 0, 0, 0, 0, 1, 1, 1, 2][rng.below(10)].min(k);
            let pool = if p.access_groups == 0 {
                p.groups
            } else {
                (p.access_groups / 2).clamp(1, p.groups)
            };
            for _ in 0..roles {
                let g = (rng.unit().powi(3) * pool as f64) as usize;
                if !chosen.contains(&g) {
                    chosen.push(g);
                }
            }
        }
        for _ in 0..if p.forest { 0 } else { k } {
            // Cubing a uniform number skews membership towards the first (large) groups.
            let g = ((rng.unit().powi(3)) * p.groups as f64) as usize;
            if !chosen.contains(&g) {
                chosen.push(g);
            }
        }
        if let (true, Some(a)) = (admin, admins) {
            chosen.push(a);
        }
        for (j, g) in chosen.iter().enumerate() {
            if j > 0 {
                line.push_str(", ");
            }
            line.push('"');
            line.push_str(&group_ids[*g]);
            line.push('"');
        }
        let service = rng.chance(0.01);
        let kind = if (service && !admin) || (admin && pk == admin_users) {
            "service_account"
        } else {
            "internal"
        };
        if p.full_users {
            let uuid = rng.uuid();
            line.push_str(&format!(
                "], \"email\": \"user{pk:07}@example.org\", \"type\": \"{kind}\", \"path\": \"users\", \"uid\": \"{:016x}{:016x}\", \"uuid\": \"{uuid}\", \"date_joined\": \"2024-0{}-1{}T09:30:00.000000Z\", \"password_change_date\": \"2025-0{}-2{}T10:00:00.000000Z\", \"avatar\": \"https://secure.gravatar.com/avatar/{:016x}{:016x}?size=158&rating=g&default=404\", \"attributes\": {{\"department\": \"dept-{}\", \"employee_id\": \"E{pk:08}\", \"settings\": {{\"locale\": \"en\", \"theme\": {{\"base\": \"automatic\"}}}}, \"goauthentik.io/user/sources\": [\"ldap\"]}}, \"groups_obj\": null}}",
                rng.next_u64(),
                rng.next_u64(),
                1 + rng.below(9),
                rng.below(10),
                1 + rng.below(9),
                rng.below(10),
                rng.next_u64(),
                rng.next_u64(),
                rng.below(50),
            ));
        } else {
            line.push_str(&format!(
                "], \"email\": \"user{pk:07}@example.org\", \"type\": \"{kind}\", \"path\": \"users\", \"uid\": \"{:016x}\", \"attributes\": {{}}}}",
                rng.next_u64()
            ));
        }
        w.write_all(line.as_bytes())?;
    }
    w.write_all(b"]")?;
    endpoint(&mut w, "core/groups", &groups, false)?;

    let mut o = if p.believable {
        believable(p, &mut rng, &group_ids, admins)
    } else {
        random(p, &mut rng, &group_ids)
    };
    let (flows, apps) = (&o.flows, &o.apps);
    let extra = if p.targets {
        let mut rng = Rng::new(p.seed ^ 0x07a7_6e75);
        let t = Targets {
            p,
            group_ids: &group_ids,
            flows,
            apps,
        };
        t.write(&mut rng, &mut o.policies, &mut o.bindings)
    } else {
        Vec::new()
    };
    endpoint(&mut w, "flows/instances", &o.flows, false)?;
    endpoint(&mut w, "flows/bindings", &o.fsbs, false)?;
    endpoint(&mut w, "stages/all", &o.stages, false)?;
    endpoint(&mut w, "policies/all", &o.policies, false)?;
    endpoint(&mut w, "policies/bindings", &o.bindings, false)?;
    endpoint(&mut w, "core/applications", &o.apps, false)?;
    for (name, items) in &extra {
        endpoint(&mut w, name, items, false)?;
    }
    w.write_all(b",\n\"admin/settings\": {\"flags\": {\"core_default_app_access\": true}}\n}\n")?;
    w.flush()
}

/// The `i`th flow beyond the defaults: its slug and designation, in turn.
fn extra_flow(i: usize) -> (String, &'static str) {
    let d = [
        "stage_configuration",
        "authorization",
        "authentication",
        "invalidation",
    ][i % 4];
    (format!("flow-{i:03}"), d)
}

/// The flows, stages, bindings, policies and applications of an organisation.
struct Objects {
    flows: Vec<Value>,
    stages: Vec<Value>,
    fsbs: Vec<Value>,
    policies: Vec<Value>,
    bindings: Vec<Value>,
    apps: Vec<Value>,
}

/// The random layout: stages of any kind in any flow, bindings of every kind on every target.
fn random(p: &Params, rng: &mut Rng, group_ids: &[String]) -> Objects {
    let mut flows = Vec::new();
    let mut stages = Vec::new();
    let mut fsbs = Vec::new();
    let mut policies = Vec::new();
    let mut bindings = Vec::new();
    let mut order_rng = Rng::new(p.seed ^ 0xf10);
    let mut flow = |rng: &mut Rng, slug: &str, designation: &str, authentication: &str| {
        let pk = rng.uuid();
        flows.push(json!({
            "pk": pk, "policybindingmodel_ptr_id": rng.uuid(), "slug": slug, "name": slug,
            "title": slug, "designation": designation, "authentication": authentication,
            "policy_engine_mode": if rng.chance(0.2) { "all" } else { "any" }, "denied_action": "message_continue",
        }));
        pk
    };
    let mut stage = |rng: &mut Rng, name: &str, model: &str| {
        let pk = rng.uuid();
        let mut s = json!({"pk": pk, "name": name, "meta_model_name": model, "component": format!("ak-stage-{}-form", model.split('.').next().unwrap_or("").trim_start_matches("authentik_stages_").replace('_', "-"))});
        if model.ends_with("authenticatorvalidatestage") {
            s["not_configured_action"] = json!(if rng.chance(0.5) { "skip" } else { "deny" });
            s["last_auth_threshold"] = json!("seconds=0");
        }
        stages.push(s);
        pk
    };
    let stage_models = [
        "authentik_stages_identification.identificationstage",
        "authentik_stages_password.passwordstage",
        "authentik_stages_authenticator_validate.authenticatorvalidatestage",
        "authentik_stages_prompt.promptstage",
        "authentik_stages_user_write.userwritestage",
        "authentik_stages_user_login.userloginstage",
    ];
    let mut flow_specs = vec![
        (
            "default-authentication-flow".to_string(),
            "authentication",
            "none",
        ),
        (
            "default-enrollment-flow".to_string(),
            "enrollment",
            "require_unauthenticated",
        ),
        (
            "default-recovery-flow".to_string(),
            "recovery",
            "require_unauthenticated",
        ),
    ];
    for i in 0..p.extra_flows {
        let (slug, d) = extra_flow(i);
        flow_specs.push((slug, d, "none"));
    }
    let mut fsb_pks = Vec::new();
    for (slug, designation, auth) in &flow_specs {
        let f = flow(rng, slug, designation, auth);
        let n = match p.stages_per_flow {
            Some(k) => (k / 2).max(1) + rng.below(k.max(1)),
            None => 2 + rng.below(4),
        };
        for j in 0..n {
            let model = stage_models[if j == 0 {
                0
            } else {
                rng.below(stage_models.len())
            }];
            let s = stage(rng, &format!("{slug}-stage-{j}"), model);
            let pk = rng.uuid();
            let (eop, rep) = match order_rng.below(10) {
                0 => (true, false),
                1 => (true, true),
                2 => (false, false),
                _ => (false, true),
            };
            fsbs.push(json!({
                "pk": pk, "policybindingmodel_ptr_id": rng.uuid(), "target": f, "stage": s,
                "order": 10 * (j as i32 + 1), "evaluate_on_plan": eop, "re_evaluate_policies": rep,
                "policy_engine_mode": "any", "invalid_response_action": "retry",
            }));
            fsb_pks.push(pk);
        }
    }
    let mut apps = Vec::new();
    for i in 0..p.apps {
        let pk = rng.uuid();
        apps.push(json!({"pk": pk, "slug": format!("app-{i:03}"), "name": format!("App {i}"), "provider": i + 1, "policy_engine_mode": if rng.chance(0.3) { "all" } else { "any" }}));
    }
    let policy_types = [
        (
            "authentik_policies_expression.expressionpolicy",
            json!({"expression": "return True"}),
        ),
        (
            "authentik_policies_dummy.dummypolicy",
            json!({"result": true, "wait_min": 0, "wait_max": 1}),
        ),
        (
            "authentik_policies_reputation.reputationpolicy",
            json!({"threshold": -5, "check_ip": true}),
        ),
        (
            "authentik_policies_geoip.geoippolicy",
            json!({"asns": [], "countries": []}),
        ),
    ];
    let npol = (p.apps / 2).max(4);
    let mut policy_pks = Vec::new();
    for i in 0..npol {
        let (model, fields) = &policy_types[i % policy_types.len()];
        let pk = rng.uuid();
        let mut v = json!({"pk": pk, "name": format!("policy-{i:03}"), "meta_model_name": model});
        for (k, f) in fields.as_object().into_iter().flatten() {
            v[k] = f.clone();
        }
        policies.push(v);
        policy_pks.push(pk);
    }
    let app_pks = apps
        .iter()
        .map(|a| a["pk"].as_str().unwrap_or_default().to_string());
    let targets: Vec<String> = match p.bindings {
        None => app_pks.chain(fsb_pks.iter().step_by(3).cloned()).collect(),
        Some(_) => app_pks
            .chain(fsb_pks.iter().cloned())
            .chain(
                flows
                    .iter()
                    .step_by(4)
                    .map(|f| f["pk"].as_str().unwrap_or_default().to_string()),
            )
            .collect(),
    };
    let access_groups = if p.access_groups == 0 {
        p.groups
    } else {
        p.access_groups.min(p.groups)
    };
    for (t_index, target) in targets.iter().enumerate() {
        let n = match p.bindings {
            // About `total / targets` each: one to twice the mean.
            Some(total) => {
                let mean = (total / targets.len().max(1)).max(1);
                mean / 2 + 1 + rng.below(mean)
            }
            None => 1 + rng.below(3),
        };
        for j in 0..n {
            let mut b = json!({
                "pk": rng.uuid(), "target": target, "policy": null, "group": null, "user": null,
                "negate": rng.chance(0.1), "enabled": !rng.chance(0.05), "order": j as i32, "timeout": 30,
                "failure_result": rng.chance(0.1),
            });
            let kind = match p.user_binding_percent {
                None => (t_index + j) % 5,
                Some(pct) if rng.below(100) < pct as usize => 4,
                Some(_) => [0, 1, 2, 3][rng.below(4)],
            };
            match kind {
                0..=2 => b["group"] = json!(group_ids[rng.below(access_groups)]),
                3 => b["policy"] = json!(policy_pks[rng.below(policy_pks.len())]),
                _ => b["user"] = json!(1 + rng.below(p.users.max(1))),
            }
            bindings.push(b);
        }
    }
    Objects {
        flows,
        stages,
        fsbs,
        policies,
        bindings,
        apps,
    }
}

/// What the other binding targets are made from: the organisation written so far.
struct Targets<'a> {
    p: &'a Params,
    group_ids: &'a [String],
    flows: &'a [Value],
    apps: &'a [Value],
}

/// Event actions the generated notification rules watch, the security-relevant ones first.
const WATCHED: [&str; 10] = [
    "login_failed",
    "suspicious_request",
    "configuration_error",
    "policy_exception",
    "impersonation_started",
    "model_updated",
    "password_set",
    "user_write",
    "system_exception",
    "login",
];

impl Targets<'_> {
    /// The pks of the flows of `designation`, in order.
    fn flows_of(&self, designation: &str) -> Vec<String> {
        self.flows
            .iter()
            .filter(|f| f["designation"] == designation)
            .map(|f| f["pk"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// A group binding, a user binding or (with `policy`) a policy binding on `target`.
    fn binding(&self, rng: &mut Rng, target: &str, order: usize, policy: Option<&str>) -> Value {
        let mut b = json!({
            "pk": rng.uuid(), "target": target, "policy": null, "group": null, "user": null,
            "negate": rng.chance(0.05), "enabled": !rng.chance(0.03), "order": order, "timeout": 30,
            "failure_result": false,
        });
        match policy {
            Some(pk) => b["policy"] = json!(pk),
            None if rng.chance(0.1) => b["user"] = json!(1 + rng.below(self.p.users.max(1))),
            None => b["group"] = json!(self.group(rng)),
        }
        b
    }

    /// A group access is granted to: the upper, larger groups, as in the other bindings.
    fn group(&self, rng: &mut Rng) -> &str {
        let n = match self.p.access_groups {
            0 => self.group_ids.len(),
            k => k.min(self.group_ids.len()),
        };
        &self.group_ids[rng.below(n.max(1))]
    }

    /// A group with direct members (a team in the forest's lower half), as destination groups are.
    fn team(&self, rng: &mut Rng) -> &str {
        let n = self.group_ids.len();
        if self.p.forest {
            &self.group_ids[n / 2 + rng.below((n - n / 2).max(1))]
        } else {
            &self.group_ids[rng.below(n.max(1))]
        }
    }

    /// The bundle endpoints of the targets; their policies and bindings go to the lists given.
    /// Sizes follow the organisation: a provider per application, a notification rule per 200
    /// groups, a RAC endpoint per 10,000 users, a device per 200 users in an access group per
    /// 100 groups, three sources and two brands.
    fn write(
        &self,
        rng: &mut Rng,
        policies: &mut Vec<Value>,
        bindings: &mut Vec<Value>,
    ) -> Vec<(&'static str, Vec<Value>)> {
        let users = self.p.users;
        let groups = self.group_ids.len();
        let authentication = self.flows_of("authentication");
        let authorization = self.flows_of("authorization");
        let invalidation = self.flows_of("invalidation");
        let pick = |rng: &mut Rng, list: &[String]| -> Value {
            if list.is_empty() {
                Value::Null
            } else {
                json!(list[rng.below(list.len())])
            }
        };
        let default_login = authentication
            .first()
            .cloned()
            .map_or(Value::Null, Value::from);
        let mut out = Vec::new();

        let mut providers = Vec::new();
        let mut rac = None;
        for (i, app) in self.apps.iter().enumerate() {
            let pk = app["provider"].clone();
            let model = match i % 20 {
                0 => "authentik_providers_rac.racprovider",
                1 | 11 => "authentik_providers_ldap.ldapprovider",
                5 => "authentik_providers_radius.radiusprovider",
                2 | 7 | 12 | 17 => "authentik_providers_proxy.proxyprovider",
                3 | 13 => "authentik_providers_saml.samlprovider",
                _ => "authentik_providers_oauth2.oauth2provider",
            };
            if i == 0 {
                rac = Some(pk.clone());
            }
            let bind = model.contains("ldap") || model.contains("radius");
            let mut v = json!({
                "pk": pk, "name": format!("provider-{i:03}"), "meta_model_name": model,
                "authentication_flow": if !bind && rng.chance(0.25) { pick(rng, &authentication) } else { Value::Null },
                "authorization_flow": if bind { pick(rng, &authentication) } else { pick(rng, &authorization) },
                "invalidation_flow": pick(rng, &invalidation),
            });
            if v["authorization_flow"].is_null() {
                v["authorization_flow"] = default_login.clone();
            }
            if bind {
                v["mfa_support"] = json!(rng.chance(0.5));
                if model.contains("ldap") {
                    v["bind_mode"] = json!("cached");
                }
            }
            providers.push(v);
        }
        out.push(("providers/all", providers));

        let mut endpoints = Vec::new();
        if let Some(provider) = rac {
            for i in 0..(users / 10_000).clamp(2, 50) {
                let pk = rng.uuid();
                for j in 0..1 + rng.below(2) {
                    bindings.push(self.binding(rng, &pk, j, None));
                }
                endpoints.push(json!({"pk": pk, "name": format!("endpoint-{i:03}"), "provider": provider,
                    "protocol": (["rdp", "ssh", "vnc"][i % 3]), "host": format!("host-{i:03}.internal"),
                    "maximum_connections": 1}));
            }
        }
        out.push(("rac/endpoints", endpoints));

        // Access groups bound to a group or two; devices mostly in one, half bound to their owner.
        let mut access_groups = Vec::new();
        for i in 0..(groups / 100).clamp(1, 100) {
            let pk = rng.uuid();
            for j in 0..1 + rng.below(2) {
                bindings.push(self.binding(rng, &pk, j, None));
            }
            access_groups.push(json!({"pbm_uuid": pk, "name": format!("access-group-{i:03}")}));
        }
        let mut devices = Vec::new();
        for i in 0..(users / 200).clamp(2, 10_000) {
            let pk = rng.uuid();
            let group = if rng.chance(0.8) {
                json!(access_groups[rng.below(access_groups.len())]["pbm_uuid"])
            } else {
                Value::Null
            };
            if rng.chance(0.5) {
                let mut b = self.binding(rng, &pk, 0, None);
                b["group"] = Value::Null;
                b["user"] = json!(1 + rng.below(users.max(1)));
                bindings.push(b);
            }
            devices.push(json!({"device_uuid": pk, "pbm_uuid": pk, "name": format!("device-{i:05}"), "access_group": group}));
        }
        out.push(("endpoints/device_access_groups", access_groups));
        out.push(("endpoints/devices", devices));

        let sources = [
            ("corporate-sso", "authentik_sources_oauth.oauthsource", 2),
            ("partner-saml", "authentik_sources_saml.samlsource", 1),
            ("directory", "authentik_sources_ldap.ldapsource", 0),
        ];
        let mut list = Vec::new();
        for (slug, model, n) in sources {
            let pk = rng.uuid();
            for j in 0..n {
                bindings.push(self.binding(rng, &pk, j, None));
            }
            list.push(json!({"pk": pk, "slug": slug, "name": slug, "policy_engine_mode": "any",
                "authentication_flow": default_login, "enrollment_flow": null, "meta_model_name": model}));
        }
        out.push(("sources/all", list));

        let mut brands = vec![
            json!({"brand_uuid": rng.uuid(), "domain": "auth.example.org", "default": true,
            "flow_authentication": default_login, "flow_invalidation": pick(rng, &invalidation)}),
        ];
        if authentication.len() > 1 {
            brands.push(
                json!({"brand_uuid": rng.uuid(), "domain": "partners.example.org", "default": false,
                "flow_authentication": authentication[1], "flow_invalidation": null}),
            );
        }
        out.push(("core/brands", brands));

        // Notification rules: an event matcher each, sometimes narrowed to a group of event
        // users; one in ten sends nowhere (no transport).
        let transports: Vec<Value> = ["email", "webhook", "local"]
            .iter()
            .map(|mode| json!({"pk": rng.uuid(), "name": format!("transport-{mode}"), "mode": mode, "send_once": false}))
            .collect();
        let mut rules = Vec::new();
        for i in 0..(groups / 200).clamp(2, 40) {
            let pk = rng.uuid();
            let action = WATCHED[i % WATCHED.len()];
            let matcher = rng.uuid();
            policies.push(json!({"pk": matcher, "name": format!("match-{action}-{i:02}"),
                "meta_model_name": "authentik_policies_event_matcher.eventmatcherpolicy",
                "action": action, "app": if rng.chance(0.2) { json!("authentik.core") } else { Value::Null },
                "model": null, "client_ip": null}));
            bindings.push(self.binding(rng, &pk, 0, Some(&matcher)));
            if rng.chance(0.25) {
                bindings.push(self.binding(rng, &pk, 1, None));
            }
            let sends: Vec<Value> = if rng.chance(0.1) {
                Vec::new()
            } else {
                vec![transports[rng.below(transports.len())]["pk"].clone()]
            };
            rules.push(
                json!({"pk": pk, "name": format!("notify-{action}-{i:02}"), "transports": sends,
                "severity": "alert", "destination_group": self.team(rng),
                "destination_event_user": rng.chance(0.3)}),
            );
        }
        out.push(("events/transports", transports));
        out.push(("events/rules", rules));
        out
    }
}

/// The example organisation of `examples/acme` (see its README for the planted misconfigurations).
pub fn acme() -> Value {
    super::synth_acme::build()
}

/// Stage kinds the believable layout uses.
const IDENTIFICATION: &str = "authentik_stages_identification.identificationstage";
const PASSWORD: &str = "authentik_stages_password.passwordstage";
const VALIDATE: &str = "authentik_stages_authenticator_validate.authenticatorvalidatestage";
const PROMPT: &str = "authentik_stages_prompt.promptstage";
const WRITE: &str = "authentik_stages_user_write.userwritestage";
const LOGIN: &str = "authentik_stages_user_login.userloginstage";

/// The believable layout (see [`Params::believable`]): each flow's stages follow its
/// designation, bindings sit where a deployment puts them, and a few are planted wrong.
fn believable(p: &Params, rng: &mut Rng, group_ids: &[String], admins: Option<usize>) -> Objects {
    let mut o = Objects {
        flows: Vec::new(),
        stages: Vec::new(),
        fsbs: Vec::new(),
        policies: Vec::new(),
        bindings: Vec::new(),
        apps: Vec::new(),
    };
    let access = match p.access_groups {
        0 => p.groups,
        k => k.min(p.groups),
    }
    .max(1);
    let group_name = |g: usize| {
        if Some(g) == admins {
            "authentik Admins".to_string()
        } else {
            format!("group-{g:05}")
        }
    };
    let mut specs = vec![
        ("default-authentication-flow".to_string(), "authentication"),
        ("default-enrollment-flow".to_string(), "enrollment"),
        ("default-recovery-flow".to_string(), "recovery"),
    ];
    for i in 0..p.extra_flows {
        specs.push(extra_flow(i));
    }
    // Binding targets: (target pk, kind) where kind says what may be bound there.
    #[derive(Clone, Copy, PartialEq)]
    enum Kind {
        /// An application: groups, users and policies.
        App,
        /// An MFA stage in a flow entered anonymously: the groups that need MFA, checked when
        /// the stage is reached (the admins' first).
        Mfa,
        /// A stage or a flow the user enters logged in: groups, users and policies.
        Logged,
        /// Planted: a group checked at plan time in a flow entered anonymously (AK-P02).
        AtPlan,
    }
    let mut targets: Vec<(String, Kind)> = Vec::new();
    let mut authentication_flows = 0;
    for (slug, designation) in &specs {
        let f = rng.uuid();
        let anonymous_entry = matches!(*designation, "authentication" | "enrollment" | "recovery");
        let gate = match *designation {
            "enrollment" | "recovery" => "require_unauthenticated",
            _ => "none",
        };
        o.flows.push(json!({
            "pk": f, "policybindingmodel_ptr_id": rng.uuid(), "slug": slug, "name": slug,
            "title": slug, "designation": designation, "authentication": gate,
            "policy_engine_mode": "any", "denied_action": "message_continue",
        }));
        if *designation == "authorization" {
            targets.push((f.clone(), Kind::Logged));
        }
        // The second authentication flow is where two misconfigurations are planted.
        let planted = *designation == "authentication" && authentication_flows == 1;
        if *designation == "authentication" {
            authentication_flows += 1;
        }
        let n = match p.stages_per_flow {
            Some(k) => (k / 2).max(1) + rng.below(k.max(1)),
            None => 2 + rng.below(4),
        };
        for j in 0..n {
            let last = j + 1 == n;
            let (model, short) = match *designation {
                "authentication" => match j {
                    0 => (IDENTIFICATION, "identification"),
                    1 => (PASSWORD, "password"),
                    2 => (VALIDATE, "mfa"),
                    _ if last => (LOGIN, "login"),
                    _ => (PROMPT, "prompt"),
                },
                "recovery" if j == 0 => (IDENTIFICATION, "identification"),
                "enrollment" | "recovery" if last && j > 0 => (LOGIN, "login"),
                "enrollment" | "recovery" if j + 2 == n && j > 0 => (WRITE, "write"),
                _ if last && j > 0 => (WRITE, "write"),
                _ => (PROMPT, "prompt"),
            };
            let name = if short == "prompt" {
                format!("{slug}-{short}-{j}")
            } else {
                format!("{slug}-{short}")
            };
            let s = rng.uuid();
            let component = model
                .split('.')
                .next()
                .unwrap_or("")
                .trim_start_matches("authentik_stages_")
                .replace('_', "-");
            let mut stage = json!({"pk": s, "name": name, "meta_model_name": model, "component": format!("ak-stage-{component}-form")});
            if model == VALIDATE {
                // Planted: users without a device pass this one (AK-M03).
                stage["not_configured_action"] = json!(if planted { "skip" } else { "deny" });
                stage["last_auth_threshold"] = json!("seconds=0");
            }
            o.stages.push(stage);
            let pk = rng.uuid();
            let at_plan = planted && j == 3 && !last;
            o.fsbs.push(json!({
                "pk": pk, "policybindingmodel_ptr_id": rng.uuid(), "target": f, "stage": s,
                "order": 10 * (j as i32 + 1), "evaluate_on_plan": at_plan, "re_evaluate_policies": !at_plan,
                "policy_engine_mode": "any", "invalid_response_action": "retry",
            }));
            if model == VALIDATE && anonymous_entry {
                targets.push((pk, Kind::Mfa));
            } else if at_plan {
                targets.push((pk, Kind::AtPlan));
            } else if !anonymous_entry && j > 0 && rng.chance(0.5) {
                targets.push((pk, Kind::Logged));
            }
        }
    }
    for i in 0..p.apps {
        let pk = rng.uuid();
        o.apps.push(json!({"pk": pk, "slug": format!("app-{i:03}"), "name": format!("App {i}"), "provider": i + 1, "policy_engine_mode": "any"}));
        // Planted: every fiftieth application, the second first, has no binding: open to everyone.
        if i % 50 != 1 {
            targets.push((pk, Kind::App));
        }
    }
    let departments = (p.groups / 100).max(1);
    // Policies: two "the admins pass" expressions and every tenth a reputation check (which only
    // the request decides), bound below; the rest password policies that the sign-up and
    // recovery forms validate with. (Every expression is evaluated in every flow and
    // application, so a deployment's few are kept few here.)
    let npol = (p.apps / 2).max(4);
    let mut policy_pks = Vec::new();
    let mut bindable = Vec::new();
    let mut validating = Vec::new();
    for i in 0..npol {
        let pk = rng.uuid();
        let v = if i < 2 {
            let g = group_name(admins.unwrap_or(0));
            bindable.insert(i, policy_pks.len());
            json!({"pk": pk, "name": format!("policy-{i:03}-admins"), "meta_model_name": "authentik_policies_expression.expressionpolicy",
                "expression": format!("return ak_is_group_member(request.user, name=\"{g}\")")})
        } else if i % 10 == 9 {
            bindable.push(policy_pks.len());
            json!({"pk": pk, "name": format!("policy-{i:03}-reputation"), "meta_model_name": "authentik_policies_reputation.reputationpolicy", "threshold": -5, "check_ip": true})
        } else {
            validating.push(pk.clone());
            json!({"pk": pk, "name": format!("policy-{i:03}-password"), "meta_model_name": "authentik_policies_password.passwordpolicy",
                "password_field": "password", "length_min": 12, "amount_digits": 1, "amount_uppercase": 1, "amount_lowercase": 1, "amount_symbols": 0,
                "error_message": "Use at least 12 characters, a digit and both cases."})
        };
        o.policies.push(v);
        policy_pks.push(pk);
    }
    // The password policies, in turn, on the prompt stages of the sign-up and recovery flows.
    let forms: Vec<usize> = o
        .stages
        .iter()
        .enumerate()
        .filter(|(_, st)| {
            st["meta_model_name"] == PROMPT
                && st["name"].as_str().is_some_and(|n| {
                    n.starts_with("default-enrollment-flow")
                        || n.starts_with("default-recovery-flow")
                })
        })
        .map(|(i, _)| i)
        .collect();
    for (i, pk) in validating.into_iter().enumerate() {
        if let Some(&st) = forms.get(i % forms.len().max(1)) {
            let list = o.stages[st]
                .as_object_mut()
                .map(|m| m.entry("validation_policies").or_insert_with(|| json!([])));
            if let Some(Value::Array(list)) = list {
                list.push(json!(pk));
            }
        }
    }
    // Half the bindings go to the applications, half to the stages and flows.
    let apps = targets.iter().filter(|t| t.1 == Kind::App).count().max(1);
    let others = (targets.len() - apps.min(targets.len())).max(1);
    let (app_mean, other_mean) = match p.bindings {
        Some(total) => ((total / 2 / apps).max(1), (total / 2 / others).max(1)),
        None => (2, 2),
    };
    // Applications and stages are opened to teams below the departments (the first hundredth
    // of the forest), so that each reaches some of the organisation, not a quarter of it.
    let team = |rng: &mut Rng| {
        if access > departments {
            departments + rng.below(access - departments)
        } else {
            rng.below(access)
        }
    };
    let mut next_policy = 0;
    let mut app_index = 0;
    for (target, kind) in &targets {
        let mean = if *kind == Kind::App {
            app_mean
        } else {
            other_mean
        };
        let n = match kind {
            Kind::AtPlan => 1,
            _ => mean / 2 + 1 + rng.below(mean),
        };
        for j in 0..n {
            let mut b = json!({
                "pk": rng.uuid(), "target": target, "policy": null, "group": null, "user": null,
                "negate": false, "enabled": true, "order": j as i32, "timeout": 30,
                "failure_result": false,
            });
            let roll = rng.below(100);
            let users = match p.user_binding_percent {
                Some(pct) => pct as usize,
                None => 5,
            };
            match kind {
                Kind::Mfa if j == 0 && admins.is_some() => {
                    b["group"] = json!(group_ids[admins.unwrap_or(0)]);
                }
                Kind::Mfa | Kind::AtPlan => b["group"] = json!(group_ids[rng.below(access)]),
                // Planted below: a negated group binding.
                Kind::App if app_index == 3 && j == 0 => b["group"] = json!(group_ids[team(rng)]),
                _ if (*kind == Kind::App && app_index == 4 && j == 0)
                    || (users..users + 3).contains(&roll) =>
                {
                    // Each bindable policy in turn, then only the admins' (a reputation check
                    // once: each of its targets is then decided at run time).
                    let pick = match bindable.get(next_policy) {
                        Some(&i) => i,
                        None => bindable[next_policy % 2.min(bindable.len())],
                    };
                    b["policy"] = json!(policy_pks[pick]);
                    next_policy += 1;
                }
                _ if roll < users => b["user"] = json!(1 + rng.below(p.users.max(1))),
                _ => b["group"] = json!(group_ids[team(rng)]),
            }
            if *kind == Kind::App {
                // Planted on the applications after the first open one: a disabled binding
                // (AK-B02), a negated group binding (AK-B04), a policy binding that grants
                // when the policy fails (AK-B05).
                match (app_index, j) {
                    (2, 0) => b["enabled"] = json!(false),
                    (3, 0) => b["negate"] = json!(true),
                    (4, 0) => b["failure_result"] = json!(true),
                    _ => {}
                }
            }
            o.bindings.push(b);
        }
        if *kind == Kind::App {
            app_index += 1;
        }
    }
    o
}
