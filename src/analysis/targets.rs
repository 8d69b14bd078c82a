//! Answers about the binding targets beyond flows and applications: RAC endpoints, devices,
//! sources' connect list, LDAP and RADIUS binds, an application's login path, notification rules,
//! and the brand of a host. The rules (`rules/authentik/{notifications,rac,devices,sources,
//! providers,journeys}.dl`) decide; this module reads their rows for one question and names the
//! objects, in the JSON forms documented in `docs/binding-targets.md`.

use super::Model;
use super::views::{
    ANONYMOUS_ENTRY, AppInvalidationFlow, AppLoginFlow, BindPart, EndpointForeignApplication, Fsb,
    HostFlow, NotificationRule, NotificationTransport, OpenBinding, OutpostProvider, Provider,
    ProviderMfaSupport, RequestBrand, RuleRecipient, RuleTellsEventUser, TransportSendOnce,
    UnsolvableStage, Visible,
};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;

/// Two names of an object: (pk or slug, domain or how it was chosen).
pub type Named = (String, String);

/// `pass`/`fail`/`unknown` (or `yes`/`no`/`unknown`) as `yes`/`no`/`unknown`.
fn tri(v: &str) -> &'static str {
    match v {
        "pass" | "yes" => "yes",
        "fail" | "no" => "no",
        _ => "unknown",
    }
}

impl Model {
    /// Column `col` of the first row of `rel` whose columns named in `key` hold the values
    /// given (columns as the `.decl` names them), or `None`.
    fn last_of(&self, rel: &str, key: &[(&str, &str)], col: &str) -> Option<String> {
        let col = self.column(rel, col).ok()?;
        self.rows_where(rel, key)
            .ok()?
            .into_iter()
            .next()
            .map(|mut r| std::mem::take(&mut r[col]))
    }

    /// The object of relation `rel` (pk in its first column, name in the column the `.decl`
    /// names `col`) named `name` or with that pk; the error lists the names known.
    pub fn object(&self, rel: &str, col: &str, name: &str, what: &str) -> Result<String, String> {
        let col = self.column(rel, col)?;
        let rows = self.rows(rel);
        if let Some(r) = rows.iter().find(|r| r[col] == name || r[0] == name) {
            return Ok(r[0].clone());
        }
        let known: Vec<&str> = rows.iter().map(|r| r[col].as_str()).collect();
        Err(if known.is_empty() {
            format!("no {what} `{name}`: the snapshot has none (is its endpoint missing?)")
        } else {
            format!("no {what} `{name}`; the snapshot has: {}", known.join(", "))
        })
    }

    fn flow_slug(&self, pk: &str) -> String {
        self.names("flow", "slug")
            .get(pk)
            .cloned()
            .unwrap_or_else(|| pk.to_string())
    }

    /// May user pk `user` open RAC endpoint `endpoint` (name or pk)?
    pub fn endpoint_answer(
        &self,
        endpoint: &str,
        user: &str,
        username: &str,
    ) -> Result<Json, String> {
        let e = self.object("rac_endpoint", "name", endpoint, "RAC endpoint")?;
        let name = self
            .names("rac_endpoint", "name")
            .get(&e)
            .cloned()
            .unwrap_or_default();
        let apps = self.names("application", "slug");
        let app = self.last_of("endpoint_application", &[("e", &e)], "a");
        let part = |p: &str| {
            self.last_of("endpoint_part", &[("e", &e), ("u", user), ("part", p)], "v")
                .map(|v| tri(&v))
        };
        let flow = self
            .last_of("endpoint_flow", &[("e", &e)], "f")
            .map(|f| json!({"slug": self.flow_slug(&f), "applicable": part("authorization_flow")}));
        let through: Vec<&String> = self
            .view::<EndpointForeignApplication>()
            .into_iter()
            .filter(|r| r.endpoint == e)
            .filter_map(|r| apps.get(&r.app))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        Ok(json!({
            "endpoint": name,
            "pk": e,
            "user": username,
            "application": app.as_ref().and_then(|a| apps.get(a)),
            "app_access": app.as_ref().and(part("application")),
            "authorization_flow": flow,
            "endpoint_access": part("endpoint"),
            "access": self.last_of("endpoint_access", &[("e", &e), ("u", user)], "v").map_or("unknown", |v| tri(&v)),
            "also_launchable_through": through,
        }))
    }

    /// May user pk `user` log in on device `device` (name or pk) through the agent?
    pub fn device_answer(&self, device: &str, user: &str, username: &str) -> Result<Json, String> {
        let d = self.object("device", "name", device, "device")?;
        let name = self
            .names("device", "name")
            .get(&d)
            .cloned()
            .unwrap_or_default();
        let group = self.last_of("device_in_group", &[("d", &d)], "g");
        let groups = self.names("device_access_group", "name");
        let side = |s: &str| {
            self.last_of("device_side", &[("d", &d), ("u", user), ("side", s)], "v")
                .map(|v| tri(&v))
        };
        Ok(json!({
            "device": name,
            "pk": d,
            "user": username,
            "group": group.as_ref().and_then(|g| groups.get(g)),
            "group_result": group.as_ref().and(side("group")),
            "device_result": side("device"),
            "access": self.last_of("device_access", &[("d", &d), ("u", user)], "v").map_or("unknown", |v| tri(&v)),
        }))
    }

    /// Is user pk `user` offered source `source` (slug or pk) in the connect list?
    pub fn source_answer(&self, source: &str, user: &str, username: &str) -> Result<Json, String> {
        let s = self.object("source", "slug", source, "source")?;
        let slug = self
            .names("source", "slug")
            .get(&s)
            .cloned()
            .unwrap_or_default();
        Ok(json!({
            "source": slug,
            "user": username,
            "offered": self.last_of("source_offered", &[("s", &s), ("u", user)], "v").map_or("unknown", |v| tri(&v)),
            "enforced": false,
        }))
    }

    /// Can user pk `user` bind to LDAP or RADIUS provider `provider` (name or pk)?
    pub fn provider_answer(
        &self,
        provider: &str,
        user: &str,
        username: &str,
    ) -> Result<Json, String> {
        let p = self.object("provider", "name", provider, "provider")?;
        let row = self
            .view::<Provider>()
            .into_iter()
            .find(|r| r.provider == p)
            .unwrap_or_default();
        if !self
            .view::<OutpostProvider>()
            .iter()
            .any(|r| r.provider == p)
        {
            return Err(format!(
                "provider `{}` is a {}: only LDAP and RADIUS providers bind through an outpost (ask `access --app SLUG --flows` for the others)",
                row.name, row.kind
            ));
        }
        let stages = self.names("stage", "name");
        let visible: BTreeMap<String, String> = self
            .view::<Visible>()
            .into_iter()
            .filter(|r| r.entry == ANONYMOUS_ENTRY && r.subject == user)
            .map(|r| (r.binding, r.value))
            .collect();
        let fsb: BTreeMap<String, String> = self
            .view::<Fsb>()
            .into_iter()
            .map(|r| (r.binding, r.stage))
            .collect();
        let mut unsupported: Vec<Json> = self
            .view::<UnsolvableStage>()
            .into_iter()
            .filter(|r| r.provider == p)
            .filter_map(|r| {
                let v = visible.get(&r.binding)?;
                (v != "skipped").then(|| {
                    json!({"stage": fsb.get(&r.binding).and_then(|s| stages.get(s)), "visibility": v})
                })
            })
            .collect();
        unsupported.sort_by_key(|v| v.to_string());
        let part = |x: &str| -> &'static str {
            let vs: Vec<String> = self
                .view::<BindPart>()
                .into_iter()
                .filter(|r| r.provider == p && r.user == user && (x.is_empty() || r.part == x))
                .map(|r| r.value)
                .collect();
            if vs.iter().any(|v| v == "fail") {
                "no"
            } else if vs.iter().any(|v| v == "unknown") {
                "unknown"
            } else {
                "yes"
            }
        };
        let flow_parts = ["gate", "flow", "stage"].map(part);
        let flow = if flow_parts.contains(&"no") {
            "no"
        } else if flow_parts.contains(&"unknown") {
            "unknown"
        } else {
            "yes"
        };
        let apps = self.names("application", "slug");
        let app = self.last_of("bind_application", &[("p", &p)], "a");
        Ok(json!({
            "provider": row.name,
            "type": row.kind,
            "user": username,
            "bind_flow": self.last_of("bind_flow", &[("p", &p)], "f").map(|f| self.flow_slug(&f)),
            "flow": flow,
            "unsupported_stages": unsupported,
            "mfa": self.last_of("bind_mfa", &[("p", &p), ("u", user)], "v"),
            "mfa_support": self.view::<ProviderMfaSupport>().iter().any(|r| r.provider == p),
            "application": app.as_ref().and_then(|a| apps.get(a)),
            "app_access": part("application"),
            "access": self.last_of("bind_access", &[("p", &p), ("u", user)], "v").map_or("unknown", |v| tri(&v)),
        }))
    }

    /// Application `slug` for user pk `user`: access, and the flows on the way (login path
    /// with its MFA, authorization, invalidation).
    pub fn app_flows_answer(&self, slug: &str, user: &str, username: &str) -> Result<Json, String> {
        let a = self
            .application(slug)
            .ok_or_else(|| format!("no application with the slug `{slug}`"))?;
        let access = self.access(slug, user)?;
        let login = self
            .view::<AppLoginFlow>()
            .into_iter()
            .find(|r| r.app == a)
            .map(|r| {
                json!({
                    "slug": self.flow_slug(&r.flow),
                    "via": r.via,
                    "mfa": self.last_of("login_mfa", &[("a", &a), ("u", user)], "v"),
                })
            });
        let authz = self.last_of("app_authorization_flow", &[("a", &a)], "f").map(|f| {
            json!({
                "slug": self.flow_slug(&f),
                "applicable": self.last_of("applicable", &[("f", &f), ("e", "authenticated"), ("s", user)], "v").map(|v| tri(&v)),
            })
        });
        let inval = self
            .view::<AppInvalidationFlow>()
            .into_iter()
            .find(|r| r.app == a)
            .map(|r| json!({"slug": self.flow_slug(&r.flow), "via": r.via}));
        Ok(json!({
            "app": slug,
            "user": username,
            "access": access,
            "authentication_flow": login,
            "authorization_flow": authz,
            "invalidation_flow": inval,
        }))
    }

    /// Per notification rule: whether it fires for an event of `action` whose user is pk
    /// `event_user` ("anonymous" for none), and who is notified.
    pub fn notified_answer(
        &self,
        action: &str,
        event_user: &str,
        event_username: Option<&str>,
    ) -> Vec<Json> {
        let users = self.names("user", "username");
        let transports = self.names("transport", "name");
        let ctx = format!("event:{action}");
        let open = self.view::<OpenBinding>();
        let labels = self.binding_names();
        let mut out = Vec::new();
        for r in self.view::<NotificationRule>() {
            let fires = self
                .last_of(
                    "rule_fires",
                    &[("r", &r.rule), ("a", action), ("u", event_user)],
                    "v",
                )
                .map_or("unknown", |v| tri(&v));
            let ts: Vec<String> = self
                .view::<NotificationTransport>()
                .into_iter()
                .filter(|t| t.rule == r.rule)
                .map(|t| t.transport)
                .collect();
            let send_once = ts.iter().any(|t| {
                self.view::<TransportSendOnce>()
                    .iter()
                    .any(|s| s.transport == *t)
            });
            let mut members: Vec<String> = self
                .view::<RuleRecipient>()
                .into_iter()
                .filter(|x| x.rule == r.rule)
                .filter_map(|x| users.get(&x.user).cloned())
                .collect();
            members.sort();
            let tells_user = self
                .view::<RuleTellsEventUser>()
                .iter()
                .any(|x| x.rule == r.rule);
            let mut notified = Vec::new();
            if fires != "no" {
                if tells_user {
                    notified.push(event_username.unwrap_or("anonymous").to_string());
                }
                notified.extend(members.iter().cloned());
            }
            // With `send_once`, only the first recipient gets that transport's message: the
            // event's user if there is one, else a group member in database order.
            let pick: Vec<String> = if send_once && fires != "no" {
                if tells_user {
                    vec![event_username.unwrap_or("anonymous").to_string()]
                } else {
                    members.clone()
                }
            } else {
                Vec::new()
            };
            let mut deferred: Vec<Json> = open
                .iter()
                .filter(|o| {
                    o.target == r.rule
                        && o.context == ctx
                        && (o.identity == event_user || event_user == "anonymous")
                })
                .map(|o| json!({"binding": o.binding, "checks": labels.get(&o.binding), "reason": o.why}))
                .collect();
            deferred.sort_by_key(|v| v.to_string());
            deferred.dedup();
            out.push(json!({
                "rule": r.name,
                "pk": r.rule,
                "fires": fires,
                "notified": notified,
                "send_once_pick": pick,
                "transports": ts.iter().map(|t| transports.get(t).cloned().unwrap_or_else(|| t.clone())).collect::<Vec<_>>(),
                "deferred": deferred,
            }));
        }
        out.sort_by(|a, b| a["rule"].as_str().cmp(&b["rule"].as_str()));
        out
    }

    /// The brand serving the asked host (`host_asked`) and the flow it starts for designation
    /// `designation`: (brand pk and domain or None, flow slug and how it was chosen or None).
    pub fn host_answer(&self, designation: &str) -> (Option<Named>, Option<Named>) {
        let brands = self.names("brand", "domain");
        let brand = self.view::<RequestBrand>().into_iter().next().map(|r| {
            let domain = brands.get(&r.brand).cloned().unwrap_or_default();
            (r.brand, domain)
        });
        let flow = self
            .view::<HostFlow>()
            .into_iter()
            .find(|r| r.designation == designation)
            .map(|r| (self.flow_slug(&r.flow), r.via));
        (brand, flow)
    }
}
