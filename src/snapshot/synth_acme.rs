//! The example organisation "Acme" (examples/acme): ~300 people, ~40 groups, authentik's
//! default flows and a dozen applications, with deliberate misconfigurations (its README).

use super::synth::Rng;
use serde_json::{Value, json};

struct Acme {
    rng: Rng,
    groups: Vec<Value>,
    flows: Vec<Value>,
    stages: Vec<Value>,
    fsbs: Vec<Value>,
    policies: Vec<Value>,
    bindings: Vec<Value>,
    apps: Vec<Value>,
}

impl Acme {
    fn group(&mut self, name: &str, parents: &[&str], superuser: bool) -> String {
        let pk = self.rng.uuid();
        let parents: Vec<String> = parents.iter().map(|p| self.group_pk(p)).collect();
        self.groups.push(json!({"pk": pk, "name": name, "is_superuser": superuser, "parents": parents, "attributes": {}}));
        pk
    }

    fn group_pk(&self, name: &str) -> String {
        self.groups
            .iter()
            .find(|g| g["name"] == name)
            .and_then(|g| g["pk"].as_str())
            .unwrap_or_else(|| panic!("acme: group `{name}` is defined later"))
            .to_string()
    }

    fn flow(&mut self, slug: &str, name: &str, designation: &str, authentication: &str) -> String {
        let pk = self.rng.uuid();
        let pbm = self.rng.uuid();
        self.flows.push(json!({
            "pk": pk, "policybindingmodel_ptr_id": pbm, "slug": slug, "name": name, "title": name,
            "designation": designation, "authentication": authentication,
            "policy_engine_mode": "any", "denied_action": "message_continue",
        }));
        pk
    }

    fn stage(&mut self, name: &str, model: &str, component: &str, extra: Value) -> String {
        let pk = self.rng.uuid();
        let mut s =
            json!({"pk": pk, "name": name, "meta_model_name": model, "component": component});
        for (k, v) in extra.as_object().into_iter().flatten() {
            s[k] = v.clone();
        }
        self.stages.push(s);
        pk
    }

    fn fsb(&mut self, flow: &str, stage: &str, order: i32, eop: bool, rep: bool) -> String {
        let pk = self.rng.uuid();
        let pbm = self.rng.uuid();
        self.fsbs.push(json!({
            "pk": pk, "policybindingmodel_ptr_id": pbm, "target": flow, "stage": stage, "order": order,
            "evaluate_on_plan": eop, "re_evaluate_policies": rep, "policy_engine_mode": "any",
            "invalid_response_action": "retry",
        }));
        pk
    }

    fn policy(&mut self, name: &str, model: &str, extra: Value) -> String {
        let pk = self.rng.uuid();
        let mut p = json!({"pk": pk, "name": name, "meta_model_name": model});
        for (k, v) in extra.as_object().into_iter().flatten() {
            p[k] = v.clone();
        }
        self.policies.push(p);
        pk
    }

    fn bind(
        &mut self,
        target: &str,
        subject: (&str, Value),
        order: i32,
        negate: bool,
        enabled: bool,
        failure_result: bool,
    ) {
        let mut b = json!({
            "pk": self.rng.uuid(), "target": target, "policy": null, "group": null, "user": null,
            "negate": negate, "enabled": enabled, "order": order, "timeout": 30, "failure_result": failure_result,
        });
        b[subject.0] = subject.1;
        self.bindings.push(b);
    }

    fn app(&mut self, slug: &str, name: &str, provider: i64, mode: &str) -> String {
        let pk = self.rng.uuid();
        self.apps.push(json!({"pk": pk, "slug": slug, "name": name, "provider": provider, "policy_engine_mode": mode, "meta_launch_url": format!("https://{slug}.acme.example")}));
        pk
    }
}

const FIRST: [&str; 30] = [
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi",
    "Liam", "Maya", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera",
    "Wen", "Xavi", "Yara", "Zoe", "Anton", "Bea", "Carl", "Dana",
];
const LAST: [&str; 10] = [
    "Nguyen", "Schmidt", "Okafor", "Rossi", "Tanaka", "Silva", "Kowalski", "Haddad", "Larsen",
    "Moreau",
];

/// Builds the Acme bundle.
pub fn build() -> Value {
    let mut a = Acme {
        rng: Rng::new(2026),
        groups: Vec::new(),
        flows: Vec::new(),
        stages: Vec::new(),
        fsbs: Vec::new(),
        policies: Vec::new(),
        bindings: Vec::new(),
        apps: Vec::new(),
    };
    // Groups: a hierarchy where several groups have two parents.
    a.group("All Staff", &[], false);
    a.group("Engineering", &["All Staff"], false);
    a.group("IT", &["All Staff"], false);
    a.group("authentik Admins", &["IT"], true);
    a.group("Helpdesk", &["IT"], false);
    a.group("Security", &["Engineering", "IT"], false);
    a.group("Platform", &["Engineering"], false);
    let sre = a.group("SRE", &["Platform"], false);
    // Deliberate: Platform <-> SRE is a cycle.
    a.groups[6]["parents"]
        .as_array_mut()
        .expect("parents")
        .push(json!(sre));
    for team in ["Backend", "Frontend", "Mobile", "Data", "QA"] {
        a.group(team, &["Engineering"], false);
    }
    a.group("Product", &["All Staff"], false);
    a.group("Design", &["Product"], false);
    a.group("Finance", &["All Staff"], false);
    a.group("HR", &["All Staff"], false);
    a.group("Recruiting", &["HR"], false);
    a.group("Payroll Team", &["Finance", "HR"], false);
    a.group("Sales", &["All Staff"], false);
    a.group("Sales EMEA", &["Sales"], false);
    a.group("Sales US", &["Sales"], false);
    a.group("Marketing", &["All Staff"], false);
    let marketing_sales = a.group("Marketing", &["Sales"], false);
    a.group("Legal", &["All Staff"], false);
    a.group("Support", &["All Staff"], false);
    a.group("Support Tier 2", &["Support", "Engineering"], false);
    a.group("Managers", &["All Staff"], false);
    a.group("Executives", &["Managers"], false);
    a.group("Contractors", &[], false);
    a.group("Interns", &["Engineering"], false);
    a.group("Grafana Viewers", &["Engineering", "Support"], false);
    a.group("Grafana Editors", &["Grafana Viewers"], false);
    a.group("GitLab Users", &[], false);
    a.group("Jira Users", &[], false);
    a.group("Wiki Users", &[], false);
    a.group("VPN Users", &[], false);
    a.group("Vault Users", &["Security"], false);
    a.group("ArgoCD Admins", &["Platform"], false);
    let legacy_vpn = a.group("Legacy VPN", &[], false);

    // Users: each in a department team, some in application groups.
    let departments = [
        "Backend",
        "Backend",
        "Frontend",
        "Mobile",
        "Data",
        "QA",
        "Platform",
        "SRE",
        "Security",
        "Helpdesk",
        "Design",
        "Product",
        "Finance",
        "Payroll Team",
        "HR",
        "Recruiting",
        "Sales EMEA",
        "Sales US",
        "Marketing",
        "Legal",
        "Support",
        "Support Tier 2",
        "Interns",
        "Contractors",
    ];
    let extras = [
        "GitLab Users",
        "Jira Users",
        "Wiki Users",
        "VPN Users",
        "Grafana Viewers",
        "Grafana Editors",
        "Vault Users",
        "ArgoCD Admins",
        "Managers",
        "Executives",
    ];
    let mut users = Vec::new();
    let mut group_members: Vec<(usize, i64)> = Vec::new();
    for i in 0..300usize {
        let pk = 10 + i as i64;
        let (first, last) = (FIRST[i % FIRST.len()], LAST[(i / FIRST.len()) % LAST.len()]);
        let username = format!("{}.{}", first.to_lowercase(), last.to_lowercase());
        let mut groups = vec![if i % 47 == 46 {
            a.group_pk("Marketing")
        } else {
            a.group_pk(departments[i % departments.len()])
        }];
        if i % 3 == 0 {
            let extra = extras[a.rng.below(extras.len())];
            groups.push(a.group_pk(extra));
        }
        if i < 4 {
            groups.push(a.group_pk("authentik Admins"));
        }
        if i % 50 == 7 {
            // Membership given on the group side only (`users`), as the API also allows.
            let idx = a
                .groups
                .iter()
                .position(|g| g["pk"] == marketing_sales)
                .expect("marketing");
            group_members.push((idx, pk));
        }
        let kind = if i == 299 {
            "service_account"
        } else {
            "internal"
        };
        let active = i % 41 != 40;
        let last_login = if i % 13 == 0 {
            Value::Null
        } else {
            json!(format!(
                "2026-0{}-{:02}T09:{:02}:00Z",
                1 + i % 9,
                1 + i % 28,
                i % 60
            ))
        };
        users.push(json!({
            "pk": pk, "username": if kind == "service_account" { "svc-backup".to_string() } else { username },
            "name": format!("{first} {last}"), "email": format!("{}.{}@acme.example", first.to_lowercase(), last.to_lowercase()),
            "is_active": active, "is_superuser": i < 4, "groups": groups, "type": kind, "last_login": last_login,
            "path": "users", "attributes": {},
        }));
    }
    for (idx, pk) in group_members {
        let g = &mut a.groups[idx];
        let list = g
            .as_object_mut()
            .expect("group")
            .entry("users")
            .or_insert(json!([]));
        list.as_array_mut().expect("users").push(json!(pk));
    }
    let admins = a.group_pk("authentik Admins");

    // authentik's default authentication flow, with MFA re-evaluated for admins.
    let auth = a.flow(
        "default-authentication-flow",
        "Welcome to Acme!",
        "authentication",
        "none",
    );
    let ident = a.stage(
        "default-authentication-identification",
        "authentik_stages_identification.identificationstage",
        "ak-stage-identification-form",
        json!({"user_fields": ["email", "username"], "pretend_user_exists": true}),
    );
    let password = a.stage(
        "default-authentication-password",
        "authentik_stages_password.passwordstage",
        "ak-stage-password-form",
        json!({"backends": ["authentik.core.auth.InbuiltBackend"]}),
    );
    let mfa = a.stage("default-authentication-mfa-validation", "authentik_stages_authenticator_validate.authenticatorvalidatestage", "ak-stage-authenticator-validate-form", json!({"not_configured_action": "skip", "last_auth_threshold": "seconds=0", "device_classes": ["totp", "webauthn", "static"]}));
    let login = a.stage(
        "default-authentication-login",
        "authentik_stages_user_login.userloginstage",
        "ak-stage-user-login-form",
        json!({}),
    );
    a.fsb(&auth, &ident, 10, false, true);
    let pw_fsb = a.fsb(&auth, &password, 20, false, true);
    let mfa_fsb = a.fsb(&auth, &mfa, 30, false, true);
    a.fsb(&auth, &login, 100, false, true);
    let pw_optional = a.policy("default-authentication-flow-password-stage", "authentik_policies_expression.expressionpolicy", json!({"expression": "flow_plan = request.context.get(\"flow_plan\")\nif not flow_plan:\n    return True\nreturn not hasattr(flow_plan.context.get(\"pending_user\"), \"backend\")\n"}));
    a.bind(
        &pw_fsb,
        ("policy", json!(pw_optional)),
        10,
        false,
        true,
        true,
    );
    a.bind(&mfa_fsb, ("group", json!(admins)), 0, false, true, false);

    // Enrollment.
    let enroll = a.flow(
        "default-enrollment-flow",
        "Join Acme",
        "enrollment",
        "require_unauthenticated",
    );
    let prompt = a.stage(
        "default-enrollment-prompt",
        "authentik_stages_prompt.promptstage",
        "ak-stage-prompt-form",
        json!({}),
    );
    let captcha = a.stage(
        "default-enrollment-captcha",
        "authentik_stages_captcha.captchastage",
        "ak-stage-captcha-form",
        json!({}),
    );
    let write = a.stage(
        "default-enrollment-user-write",
        "authentik_stages_user_write.userwritestage",
        "ak-stage-user-write-form",
        json!({"create_users_group": a.group_pk("Contractors")}),
    );
    let enroll_login = a.stage(
        "default-enrollment-user-login",
        "authentik_stages_user_login.userloginstage",
        "ak-stage-user-login-form",
        json!({}),
    );
    a.fsb(&enroll, &prompt, 10, false, true);
    // Deliberate: both evaluation flags false, so the captcha's policy is never evaluated.
    let captcha_fsb = a.fsb(&enroll, &captcha, 15, false, false);
    a.fsb(&enroll, &write, 20, false, true);
    a.fsb(&enroll, &enroll_login, 100, false, true);
    let suspicious = a.policy(
        "enrollment-suspicious-ip",
        "authentik_policies_reputation.reputationpolicy",
        json!({"check_ip": true, "check_username": false, "threshold": -5}),
    );
    a.bind(
        &captcha_fsb,
        ("policy", json!(suspicious)),
        0,
        true,
        true,
        false,
    );

    // Recovery.
    let recovery = a.flow(
        "default-recovery-flow",
        "Reset your password",
        "recovery",
        "require_unauthenticated",
    );
    let r_ident = a.stage(
        "default-recovery-identification",
        "authentik_stages_identification.identificationstage",
        "ak-stage-identification-form",
        json!({"user_fields": ["email", "username"]}),
    );
    let r_email = a.stage(
        "default-recovery-email",
        "authentik_stages_email.emailstage",
        "ak-stage-email-form",
        json!({}),
    );
    let r_prompt = a.stage(
        "default-recovery-password-prompt",
        "authentik_stages_prompt.promptstage",
        "ak-stage-prompt-form",
        json!({}),
    );
    let r_write = a.stage(
        "default-recovery-user-write",
        "authentik_stages_user_write.userwritestage",
        "ak-stage-user-write-form",
        json!({}),
    );
    for (order, s) in [
        (10, &r_ident),
        (20, &r_email),
        (30, &r_prompt),
        (40, &r_write),
        (100, &enroll_login),
    ] {
        let s = s.clone();
        a.fsb(&recovery, &s, order, false, true);
    }
    let restored = a.policy(
        "default-recovery-skip-if-restored",
        "authentik_policies_expression.expressionpolicy",
        json!({"expression": "return bool(request.context.get('is_restored', True))"}),
    );
    let r_fsb = a
        .fsbs
        .iter()
        .find(|x| x["stage"] == json!(r_ident) && x["target"] == json!(recovery))
        .and_then(|x| x["pk"].as_str())
        .expect("fsb")
        .to_string();
    a.bind(&r_fsb, ("policy", json!(restored)), 0, false, true, false);

    // Stage configuration flows.
    for (slug, name, model, component) in [
        (
            "default-authenticator-totp-setup",
            "default-authenticator-totp-setup",
            "authentik_stages_authenticator_totp.authenticatortotpstage",
            "ak-stage-authenticator-totp-form",
        ),
        (
            "default-authenticator-webauthn-setup",
            "default-authenticator-webauthn-setup",
            "authentik_stages_authenticator_webauthn.authenticatorwebauthnstage",
            "ak-stage-authenticator-webauthn-form",
        ),
        (
            "default-authenticator-static-setup",
            "default-authenticator-static-setup",
            "authentik_stages_authenticator_static.authenticatorstaticstage",
            "ak-stage-authenticator-static-form",
        ),
    ] {
        let f = a.flow(slug, name, "stage_configuration", "require_authenticated");
        let s = a.stage(name, model, component, json!({}));
        a.fsb(&f, &s, 0, false, true);
    }
    let invalidation = a.flow(
        "default-invalidation-flow",
        "Logout",
        "invalidation",
        "none",
    );
    let logout = a.stage(
        "default-invalidation-logout",
        "authentik_stages_user_logout.userlogoutstage",
        "ak-stage-user-logout-form",
        json!({}),
    );
    a.fsb(&invalidation, &logout, 0, false, true);
    let implicit = a.flow(
        "default-provider-authorization-implicit-consent",
        "Redirecting to %(app)s",
        "authorization",
        "require_authenticated",
    );

    // Deliberate: a second login flow whose MFA stage checks the admins group at plan time,
    // when the visitor is still anonymous, so MFA is dropped for everyone.
    let legacy = a.flow(
        "acme-legacy-login",
        "Acme legacy login",
        "authentication",
        "none",
    );
    a.fsb(&legacy, &ident, 10, false, true);
    a.fsb(&legacy, &password, 20, false, true);
    let legacy_mfa = a.fsb(&legacy, &mfa, 30, true, true);
    a.fsb(&legacy, &login, 100, false, true);
    a.bind(&legacy_mfa, ("group", json!(admins)), 0, false, true, false);

    // Source login (no MFA stage in its flow).
    let source_flow = a.flow(
        "default-source-authentication",
        "Welcome to Acme!",
        "authentication",
        "require_unauthenticated",
    );
    a.fsb(&source_flow, &login, 0, false, true);
    let source_enroll = a.flow(
        "default-source-enrollment",
        "Welcome to Acme!",
        "enrollment",
        "require_unauthenticated",
    );
    a.fsb(&source_enroll, &prompt, 0, false, true);
    a.fsb(&source_enroll, &write, 1, false, true);
    a.fsb(&source_enroll, &enroll_login, 2, false, true);

    // Applications.
    let g = |a: &Acme, name: &str| json!(a.group_pk(name));
    let grafana = a.app("grafana", "Grafana", 1, "any");
    let viewers = g(&a, "Grafana Viewers");
    a.bind(&grafana, ("group", viewers), 0, false, true, false);
    let hours = a.policy("grafana-office-hours", "authentik_policies_expression.expressionpolicy", json!({"expression": "from datetime import datetime\nreturn 8 <= datetime.now().hour < 20\n"}));
    // Deliberate: failure_result true on an access policy: an error grants access.
    a.bind(&grafana, ("policy", json!(hours)), 1, false, true, true);
    let gitlab = a.app("gitlab", "GitLab", 2, "any");
    for (i, name) in ["GitLab Users", "Engineering"].iter().enumerate() {
        let v = g(&a, name);
        a.bind(&gitlab, ("group", v), i as i32, false, true, false);
    }
    let jira = a.app("jira", "Jira", 3, "any");
    for (i, name) in ["Jira Users", "Engineering", "Product"].iter().enumerate() {
        let v = g(&a, name);
        a.bind(&jira, ("group", v), i as i32, false, true, false);
    }
    let wiki = a.app("wiki", "Acme Wiki", 4, "any");
    let v = g(&a, "Wiki Users");
    // Deliberate: a disabled binding, the same as no binding.
    a.bind(&wiki, ("group", v), 0, false, false, false);
    let v = g(&a, "Engineering");
    a.bind(&wiki, ("group", v), 1, false, true, false);
    let payroll = a.app("payroll", "Payroll", 5, "any");
    let v = g(&a, "Payroll Team");
    a.bind(&payroll, ("group", v), 0, false, true, false);
    let v = g(&a, "Contractors");
    // Deliberate: negated group binding under `any`: every non-contractor gets in.
    a.bind(&payroll, ("group", v), 1, true, true, false);
    let hr = a.app("hr-portal", "HR Portal", 6, "any");
    let v = g(&a, "HR");
    a.bind(&hr, ("group", v), 0, false, true, false);
    let geo = a.policy("hr-portal-geoip", "authentik_policies_geoip.geoippolicy", json!({"asns": [], "countries": [], "check_history_distance": false, "check_impossible_travel": false}));
    a.bind(&hr, ("policy", json!(geo)), 1, false, true, false);
    let vpn = a.app("vpn", "Acme VPN", 7, "any");
    // Deliberate: a binding to a group nobody is in.
    a.bind(&vpn, ("group", json!(legacy_vpn)), 0, false, true, false);
    let v = g(&a, "VPN Users");
    a.bind(&vpn, ("group", v), 1, false, true, false);
    // Deliberate: no binding at all, so open to every logged-in user.
    a.app("status-page", "Status Page", 8, "any");
    let argocd = a.app("argocd", "Argo CD", 9, "all");
    let v = g(&a, "ArgoCD Admins");
    a.bind(&argocd, ("group", v), 0, false, true, false);
    a.bind(&argocd, ("user", json!(10)), 1, true, true, false);
    let vault = a.app("vault", "Vault", 10, "all");
    for (i, name) in ["Vault Users", "Security"].iter().enumerate() {
        let v = g(&a, name);
        a.bind(&vault, ("group", v), i as i32, false, true, false);
    }
    let sentry = a.app("sentry", "Sentry", 11, "any");
    for (i, name) in ["Engineering", "Support Tier 2"].iter().enumerate() {
        let v = g(&a, name);
        a.bind(&sentry, ("group", v), i as i32, false, true, false);
    }
    let nextcloud = a.app("nextcloud", "Nextcloud", 12, "any");
    let v = g(&a, "All Staff");
    a.bind(&nextcloud, ("group", v), 0, false, true, false);
    let always = a.policy(
        "debug-always-pass",
        "authentik_policies_dummy.dummypolicy",
        json!({"result": true, "wait_min": 1, "wait_max": 2}),
    );
    a.bind(&nextcloud, ("policy", json!(always)), 1, false, true, false);
    // An unused policy (nothing binds it).
    a.policy(
        "old-password-rules",
        "authentik_policies_password.passwordpolicy",
        json!({"length_min": 8}),
    );

    let source = a.rng.uuid();
    let brand = a.rng.uuid();

    // Binding targets beyond flows and applications (made last, so the objects above keep
    // their ids). Providers: OAuth2 for the applications above, authorizing implicitly.
    let mut providers: Vec<Value> = (1..=12)
        .map(|pk| json!({"pk": pk, "name": format!("provider-{pk}"), "meta_model_name": "authentik_providers_oauth2.oauth2provider",
            "authentication_flow": null, "authorization_flow": implicit, "invalidation_flow": invalidation}))
        .collect();
    // Deliberate: Grafana's provider logs in through a flow without MFA.
    let quick = a.flow(
        "grafana-quick-login",
        "Grafana login",
        "authentication",
        "none",
    );
    a.fsb(&quick, &ident, 10, false, true);
    a.fsb(&quick, &password, 20, false, true);
    a.fsb(&quick, &login, 100, false, true);
    providers[0]["authentication_flow"] = json!(quick);
    // A RAC provider with two endpoints; its application is for Engineering.
    let desktops = a.app("desktops", "Remote Desktops", 13, "any");
    let v = g(&a, "Engineering");
    a.bind(&desktops, ("group", v), 0, false, true, false);
    providers.push(json!({"pk": 13, "name": "rac-desktops", "meta_model_name": "authentik_providers_rac.racprovider",
        "authentication_flow": null, "authorization_flow": implicit, "invalidation_flow": invalidation}));
    let build_server = a.rng.uuid();
    let jump_host = a.rng.uuid();
    let v = json!(sre);
    a.bind(&build_server, ("group", v), 0, false, true, false);
    // An LDAP provider whose bind flow the outpost can answer, for everyone on staff.
    let bind = a.flow("ldap-bind", "LDAP bind", "authentication", "none");
    a.fsb(&bind, &ident, 10, false, true);
    a.fsb(&bind, &password, 20, false, true);
    a.fsb(&bind, &login, 100, false, true);
    let directory = a.app("directory", "Acme Directory", 14, "any");
    let v = g(&a, "All Staff");
    a.bind(&directory, ("group", v), 0, false, true, false);
    providers.push(json!({"pk": 14, "name": "directory", "meta_model_name": "authentik_providers_ldap.ldapprovider",
        "authentication_flow": null, "authorization_flow": bind, "invalidation_flow": invalidation,
        "bind_mode": "cached", "search_mode": "cached", "mfa_support": true}));
    // Devices: a laptop in Engineering's access group, and a kiosk nobody is bound to (deliberate).
    let laptops = a.rng.uuid();
    let v = g(&a, "Engineering");
    a.bind(&laptops, ("group", v), 0, false, true, false);
    let ada_laptop = a.rng.uuid();
    let kiosk = a.rng.uuid();
    // Notifications: failed logins go to Security by e-mail; nothing else is watched (deliberate).
    let matcher = a.policy(
        "match-login-failed",
        "authentik_policies_event_matcher.eventmatcherpolicy",
        json!({"action": "login_failed", "app": null, "model": null, "client_ip": null}),
    );
    let rule = a.rng.uuid();
    a.bind(&rule, ("policy", json!(matcher)), 0, false, true, false);
    let transport = a.rng.uuid();
    json!({
        "meta": {"version": "2026.2.1"},
        "core/users": users,
        "core/groups": a.groups,
        "flows/instances": a.flows,
        "flows/bindings": a.fsbs,
        "stages/all": a.stages,
        "policies/all": a.policies,
        "policies/bindings": a.bindings,
        "core/applications": a.apps,
        "sources/all": [{"pk": source, "slug": "google", "name": "Google Workspace", "policy_engine_mode": "any",
            "authentication_flow": source_flow, "enrollment_flow": source_enroll,
            "meta_model_name": "authentik_sources_oauth.oauthsource"}],
        "core/brands": [{"brand_uuid": brand, "domain": "auth.acme.example", "default": true,
            "flow_authentication": auth, "flow_invalidation": invalidation, "flow_recovery": recovery,
            "flow_unenrollment": null, "flow_user_settings": null, "flow_device_code": null}],
        "admin/settings": {"flags": {"core_default_app_access": true}},
        "providers/all": providers,
        "rac/endpoints": [
            {"pk": build_server, "name": "build-server", "provider": 13, "protocol": "ssh", "host": "build.acme.internal", "maximum_connections": 2},
            {"pk": jump_host, "name": "jump-host", "provider": 13, "protocol": "ssh", "host": "jump.acme.internal", "maximum_connections": -1},
        ],
        "endpoints/device_access_groups": [{"pbm_uuid": laptops, "name": "engineering-laptops"}],
        "endpoints/devices": [
            {"device_uuid": ada_laptop, "pbm_uuid": ada_laptop, "name": "ada-laptop", "access_group": laptops},
            {"device_uuid": kiosk, "pbm_uuid": kiosk, "name": "lobby-kiosk", "access_group": null},
        ],
        "events/transports": [{"pk": transport, "name": "security-mail", "mode": "email", "send_once": false}],
        "events/rules": [{"pk": rule, "name": "notify-failed-logins", "transports": [transport], "severity": "alert",
            "destination_group": a.group_pk("Security"), "destination_event_user": true}],
    })
}
