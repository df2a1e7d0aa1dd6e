//! Users, groups, roles, tokens, ACLs, `/access/permissions`, and pools (`/pools` with
//! `?poolid=` and the older `/pools/{poolid}`).

use serde_json::{json, Map, Value};

use super::{null, split_list, Ctx, Reply};
use crate::error::ApiError;
use crate::model::{now_secs, AclEntry, AclKind, Group, Pool, Role, Token, User};
use crate::params::Params;

fn can_admin_users(ctx: &Ctx<'_>) -> bool {
    ctx.allowed("/access/groups", &["User.Modify", "Sys.Audit"])
}

fn opt(m: &mut Map<String, Value>, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        m.insert(key.into(), json!(v));
    }
}

fn token_info(t: &Token) -> Value {
    let mut v = json!({ "tokenid": t.name, "privsep": u8::from(t.privsep), "expire": t.expire });
    if let Some(c) = &t.comment {
        v["comment"] = json!(c);
    }
    v
}

fn user_json(ctx: &Ctx<'_>, id: &str, u: &User, full: bool) -> Value {
    let mut m = Map::new();
    m.insert("userid".into(), json!(id));
    m.insert("enable".into(), json!(u8::from(u.enable)));
    m.insert("expire".into(), json!(u.expire));
    opt(&mut m, "comment", &u.comment);
    opt(&mut m, "email", &u.email);
    opt(&mut m, "firstname", &u.firstname);
    opt(&mut m, "lastname", &u.lastname);
    m.insert("groups".into(), json!(ctx.c.groups_of(id).join(",")));
    m.insert(
        "realm-type".into(),
        json!(if id.ends_with("@pam") { "pam" } else { "pve" }),
    );
    if full {
        let tokens: Vec<Value> = ctx
            .c
            .tokens
            .values()
            .filter(|t| t.userid == id)
            .map(token_info)
            .collect();
        m.insert("tokens".into(), Value::Array(tokens));
    }
    Value::Object(m)
}

pub(super) fn users(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let all = can_admin_users(ctx);
    let full = p.flag("full").unwrap_or(false);
    let out: Vec<Value> = ctx
        .c
        .users
        .iter()
        .filter(|(id, _)| all || **id == ctx.auth.userid)
        .filter(|(_, u)| p.flag("enabled").is_none_or(|e| u.enable == e))
        .map(|(id, u)| user_json(ctx, id, u, full))
        .collect();
    Ok(Value::Array(out).into())
}

fn user_exists<'a>(ctx: &'a Ctx<'_>, id: &str) -> Result<&'a User, ApiError> {
    ctx.c
        .users
        .get(id)
        .ok_or_else(|| ApiError::die(format!("user '{id}' does not exist")))
}

pub(super) fn user_get(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let id = p.req("userid");
    if id != ctx.auth.userid {
        ctx.check("/access/groups", &["User.Modify", "Sys.Audit"], true)?;
    }
    let u = user_exists(ctx, id)?;
    let mut v = user_json(ctx, id, u, false);
    v["groups"] = json!(ctx.c.groups_of(id));
    let tokens: Map<String, Value> = ctx
        .c
        .tokens
        .values()
        .filter(|t| t.userid == id)
        .map(|t| (t.name.clone(), token_info(t)))
        .collect();
    v["tokens"] = Value::Object(tokens);
    if let Some(m) = v.as_object_mut() {
        m.remove("userid");
        m.remove("realm-type");
    }
    Ok(v.into())
}

fn apply_user(u: &mut User, p: &Params) {
    let set = |f: &mut Option<String>, k: &str| {
        if let Some(v) = p.str(k) {
            *f = Some(v.to_owned());
        }
    };
    set(&mut u.comment, "comment");
    set(&mut u.email, "email");
    set(&mut u.firstname, "firstname");
    set(&mut u.lastname, "lastname");
    if let Some(e) = p.flag("enable") {
        u.enable = e;
    }
    if let Some(e) = p.int("expire") {
        u.expire = e;
    }
}

fn set_groups(ctx: &mut Ctx<'_>, id: &str, groups: &str, append: bool) -> Result<(), ApiError> {
    let wanted = split_list(groups);
    for g in &wanted {
        if !ctx.c.groups.contains_key(g) {
            return Err(ApiError::die(format!("no such group '{g}'")));
        }
    }
    for (name, g) in ctx.c.groups.iter_mut() {
        if wanted.contains(name) {
            g.members.insert(id.to_owned());
        } else if !append {
            g.members.remove(id);
        }
    }
    Ok(())
}

pub(super) fn user_create(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check("/access/groups", &["User.Modify"], false)?;
    let id = p.req("userid").to_owned();
    let Some((name, realm)) = id.split_once('@') else {
        return Err(ApiError::param(
            "userid",
            "invalid format - value does not look like a valid user name",
        ));
    };
    if name.is_empty() || !["pve", "pam"].contains(&realm) {
        return Err(ApiError::die(format!("domain '{realm}' does not exist")));
    }
    if ctx.c.users.contains_key(&id) {
        return Err(ApiError::die(format!("user '{id}' already exists")));
    }
    let mut u = User {
        enable: true,
        ..User::default()
    };
    apply_user(&mut u, p);
    ctx.c.users.insert(id.clone(), u);
    if let Some(groups) = p.str("groups") {
        set_groups(ctx, &id, groups, true)?;
    }
    null()
}

pub(super) fn user_update(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check("/access/groups", &["User.Modify"], false)?;
    let id = p.req("userid").to_owned();
    let u = ctx
        .c
        .users
        .get_mut(&id)
        .ok_or_else(|| ApiError::die(format!("user '{id}' does not exist")))?;
    apply_user(u, p);
    if let Some(groups) = p.str("groups") {
        set_groups(ctx, &id, groups, p.flag("append").unwrap_or(false))?;
    }
    null()
}

pub(super) fn user_delete(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check("/access/groups", &["User.Modify"], false)?;
    let id = p.req("userid").to_owned();
    if id == "root@pam" {
        return Err(ApiError::die("can't remove root@pam"));
    }
    ctx.c
        .users
        .remove(&id)
        .ok_or_else(|| ApiError::die(format!("user '{id}' does not exist")))?;
    for g in ctx.c.groups.values_mut() {
        g.members.remove(&id);
    }
    ctx.c.tokens.retain(|_, t| t.userid != id);
    let prefix = format!("{id}!");
    ctx.c
        .acl
        .retain(|a| !(a.ugid == id || (a.kind == AclKind::Token && a.ugid.starts_with(&prefix))));
    null()
}

fn token_perm(ctx: &Ctx<'_>, userid: &str) -> Result<(), ApiError> {
    if userid == ctx.auth.userid {
        return Ok(());
    }
    ctx.check("/access/groups", &["User.Modify"], false)
}

pub(super) fn tokens(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let id = p.req("userid");
    token_perm(ctx, id)?;
    user_exists(ctx, id)?;
    let out: Vec<Value> = ctx
        .c
        .tokens
        .values()
        .filter(|t| t.userid == id)
        .map(token_info)
        .collect();
    Ok(Value::Array(out).into())
}

fn token_key(p: &Params) -> String {
    format!("{}!{}", p.req("userid"), p.req("tokenid"))
}

pub(super) fn token_get(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    token_perm(ctx, p.req("userid"))?;
    let key = token_key(p);
    let t = ctx.c.tokens.get(&key).ok_or_else(|| {
        ApiError::die(format!(
            "no such token '{}' for user '{}'",
            p.req("tokenid"),
            p.req("userid")
        ))
    })?;
    let mut v = token_info(t);
    if let Some(m) = v.as_object_mut() {
        m.remove("tokenid");
    }
    Ok(v.into())
}

pub(super) fn token_create(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let userid = p.req("userid").to_owned();
    token_perm(ctx, &userid)?;
    user_exists(ctx, &userid)?;
    let key = token_key(p);
    if ctx.c.tokens.contains_key(&key) {
        return Err(ApiError::die("Token already exists."));
    }
    let t = Token {
        userid,
        name: p.req("tokenid").to_owned(),
        secret: crate::random_uuid(),
        privsep: p.flag("privsep").unwrap_or(true),
        comment: p.str("comment").map(str::to_owned),
        expire: p.int("expire").unwrap_or(0),
    };
    let mut info = token_info(&t);
    if let Some(m) = info.as_object_mut() {
        m.remove("tokenid");
    }
    let out = json!({ "full-tokenid": key, "info": info, "value": t.secret });
    ctx.c.tokens.insert(key, t);
    Ok(out.into())
}

pub(super) fn token_update(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    token_perm(ctx, p.req("userid"))?;
    let key = token_key(p);
    let t = ctx.c.tokens.get_mut(&key).ok_or_else(|| {
        ApiError::die(format!(
            "no such token '{}' for user '{}'",
            p.req("tokenid"),
            p.req("userid")
        ))
    })?;
    if let Some(c) = p.str("comment") {
        t.comment = Some(c.to_owned());
    }
    if let Some(e) = p.int("expire") {
        t.expire = e;
    }
    if let Some(ps) = p.flag("privsep") {
        t.privsep = ps;
    }
    let mut v = token_info(t);
    if let Some(m) = v.as_object_mut() {
        m.remove("tokenid");
    }
    Ok(v.into())
}

pub(super) fn token_delete(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    token_perm(ctx, p.req("userid"))?;
    let key = token_key(p);
    ctx.c.tokens.remove(&key).ok_or_else(|| {
        ApiError::die(format!(
            "no such token '{}' for user '{}'",
            p.req("tokenid"),
            p.req("userid")
        ))
    })?;
    ctx.c
        .acl
        .retain(|a| !(a.kind == AclKind::Token && a.ugid == key));
    null()
}

pub(super) fn groups(ctx: &mut Ctx<'_>, _: &Params) -> Result<Reply, ApiError> {
    let all = ctx.allowed("/access/groups", &["Sys.Audit", "Group.Allocate"]);
    let me = ctx.auth.userid.clone();
    let out: Vec<Value> = ctx
        .c
        .groups
        .iter()
        .filter(|(_, g)| all || g.members.contains(&me))
        .map(|(id, g)| {
            let mut v = json!({
                "groupid": id,
                "users": g.members.iter().cloned().collect::<Vec<_>>().join(","),
            });
            if let Some(c) = &g.comment {
                v["comment"] = json!(c);
            }
            v
        })
        .collect();
    Ok(Value::Array(out).into())
}

pub(super) fn group_create(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check("/access/groups", &["Group.Allocate"], false)?;
    let id = p.req("groupid");
    if ctx.c.groups.contains_key(id) {
        return Err(ApiError::die(format!("group '{id}' already exists")));
    }
    ctx.c.groups.insert(
        id.to_owned(),
        Group {
            comment: p.str("comment").map(str::to_owned),
            ..Group::default()
        },
    );
    null()
}

pub(super) fn group_get(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check("/access/groups", &["Sys.Audit", "Group.Allocate"], true)?;
    let id = p.req("groupid");
    let g = ctx
        .c
        .groups
        .get(id)
        .ok_or_else(|| ApiError::die(format!("group '{id}' does not exist")))?;
    let mut v = json!({ "members": g.members.iter().collect::<Vec<_>>() });
    if let Some(c) = &g.comment {
        v["comment"] = json!(c);
    }
    Ok(v.into())
}

pub(super) fn group_update(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check("/access/groups", &["Group.Allocate"], false)?;
    let id = p.req("groupid");
    let g = ctx
        .c
        .groups
        .get_mut(id)
        .ok_or_else(|| ApiError::die(format!("group '{id}' does not exist")))?;
    if let Some(c) = p.str("comment") {
        g.comment = Some(c.to_owned());
    }
    null()
}

pub(super) fn group_delete(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check("/access/groups", &["Group.Allocate"], false)?;
    let id = p.req("groupid").to_owned();
    ctx.c
        .groups
        .remove(&id)
        .ok_or_else(|| ApiError::die(format!("group '{id}' does not exist")))?;
    ctx.c
        .acl
        .retain(|a| !(a.kind == AclKind::Group && a.ugid == id));
    null()
}

pub(super) fn roles(ctx: &mut Ctx<'_>, _: &Params) -> Result<Reply, ApiError> {
    let out: Vec<Value> = ctx
        .c
        .roles
        .iter()
        .map(|(id, r)| {
            json!({
                "roleid": id,
                "privs": r.privs.iter().cloned().collect::<Vec<_>>().join(","),
                "special": u8::from(r.special),
            })
        })
        .collect();
    Ok(Value::Array(out).into())
}

pub(super) fn role_get(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let id = p.req("roleid");
    let r = ctx
        .c
        .roles
        .get(id)
        .ok_or_else(|| ApiError::die(format!("role '{id}' does not exist")))?;
    let m: Map<String, Value> = r.privs.iter().map(|p| (p.clone(), json!(1))).collect();
    Ok(Value::Object(m).into())
}

fn parse_privs(s: Option<&str>) -> Result<Vec<String>, ApiError> {
    let privs = split_list(s.unwrap_or_default());
    for p in &privs {
        if !crate::acl::ALL_PRIVS.contains(&p.as_str()) {
            return Err(ApiError::die(format!("invalid privilege '{p}'")));
        }
    }
    Ok(privs)
}

pub(super) fn role_create(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check("/access", &["Sys.Modify"], false)?;
    let id = p.req("roleid");
    if ctx.c.roles.contains_key(id) {
        return Err(ApiError::die(format!("role '{id}' already exists")));
    }
    let privs = parse_privs(p.str("privs"))?;
    ctx.c.roles.insert(
        id.to_owned(),
        Role {
            privs: privs.into_iter().collect(),
            special: false,
        },
    );
    null()
}

pub(super) fn role_update(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check("/access", &["Sys.Modify"], false)?;
    let id = p.req("roleid");
    let privs = parse_privs(p.str("privs"))?;
    let r = ctx
        .c
        .roles
        .get_mut(id)
        .ok_or_else(|| ApiError::die(format!("role '{id}' does not exist")))?;
    if r.special {
        return Err(ApiError::die(format!("cannot modify built-in role '{id}'")));
    }
    if !p.flag("append").unwrap_or(false) {
        r.privs.clear();
    }
    r.privs.extend(privs);
    null()
}

pub(super) fn role_delete(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check("/access", &["Sys.Modify"], false)?;
    let id = p.req("roleid").to_owned();
    let r = ctx
        .c
        .roles
        .get(&id)
        .ok_or_else(|| ApiError::die(format!("role '{id}' does not exist")))?;
    if r.special {
        return Err(ApiError::die(format!("cannot delete built-in role '{id}'")));
    }
    ctx.c.roles.remove(&id);
    ctx.c.acl.retain(|a| a.role != id);
    null()
}

pub(super) fn acl_list(ctx: &mut Ctx<'_>, _: &Params) -> Result<Reply, ApiError> {
    let out: Vec<Value> = ctx
        .c
        .acl
        .iter()
        .filter(|a| {
            ctx.auth.is_root() || ctx.allowed(&a.path, &["Permissions.Modify", "Sys.Audit"])
        })
        .map(|a| {
            json!({
                "path": a.path, "type": a.kind.as_str(), "ugid": a.ugid, "roleid": a.role,
                "propagate": u8::from(a.propagate),
            })
        })
        .collect();
    Ok(Value::Array(out).into())
}

fn valid_acl_path(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').skip(1).collect();
    if path == "/" {
        return true;
    }
    if !path.starts_with('/') || parts.iter().any(|p| p.is_empty()) {
        return false;
    }
    matches!(
        parts.first(),
        Some(&("access" | "vms" | "storage" | "nodes" | "pool" | "sdn" | "mapping"))
    )
}

pub(super) fn acl_update(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let path = p.req("path").to_owned();
    ctx.check(&path, &["Permissions.Modify"], false)?;
    if !valid_acl_path(&path) {
        return Err(ApiError::die(format!("invalid ACL path '{path}'")));
    }
    let delete = p.flag("delete").unwrap_or(false);
    let propagate = p.flag("propagate").unwrap_or(true);
    let roles = split_list(p.req("roles"));
    for r in &roles {
        if !ctx.c.roles.contains_key(r) {
            return Err(ApiError::die(format!("role '{r}' does not exist")));
        }
    }
    let mut targets: Vec<(AclKind, String)> = Vec::new();
    for u in split_list(p.str("users").unwrap_or_default()) {
        if !delete && !ctx.c.users.contains_key(&u) {
            return Err(ApiError::die(format!("user '{u}' does not exist")));
        }
        targets.push((AclKind::User, u));
    }
    for g in split_list(p.str("groups").unwrap_or_default()) {
        if !delete && !ctx.c.groups.contains_key(&g) {
            return Err(ApiError::die(format!("group '{g}' does not exist")));
        }
        targets.push((AclKind::Group, g));
    }
    for t in split_list(p.str("tokens").unwrap_or_default()) {
        if !delete && !ctx.c.tokens.contains_key(&t) {
            return Err(ApiError::die(format!("no such token '{t}'")));
        }
        targets.push((AclKind::Token, t));
    }
    if targets.is_empty() {
        return Err(ApiError::die(
            "either 'users', 'groups' or 'tokens' is required",
        ));
    }
    for (kind, ugid) in targets {
        for role in &roles {
            ctx.c.acl.retain(|a| {
                !(a.path == path && a.kind == kind && a.ugid == ugid && a.role == *role)
            });
            if !delete {
                ctx.c.acl.push(AclEntry {
                    path: path.clone(),
                    kind,
                    ugid: ugid.clone(),
                    role: role.clone(),
                    propagate,
                });
            }
        }
    }
    null()
}

pub(super) fn permissions(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let auth = match p.str("userid") {
        Some(uid) if uid != ctx.auth.userid && Some(uid) != ctx.auth.tokenid.as_deref() => {
            ctx.check("/access", &["Sys.Audit"], false)?;
            let (user, token) = match uid.split_once('!') {
                Some((u, _)) => (u.to_owned(), Some(uid.to_owned())),
                None => (uid.to_owned(), None),
            };
            let privsep = token
                .as_ref()
                .and_then(|t| ctx.c.tokens.get(t))
                .is_some_and(|t| t.privsep);
            crate::acl::Auth {
                userid: user,
                tokenid: token,
                privsep,
            }
        }
        _ => ctx.auth.clone(),
    };
    let paths: Vec<String> = match p.str("path") {
        Some(path) => vec![path.to_owned()],
        None => {
            let mut v: Vec<String> = ctx.c.acl.iter().map(|a| a.path.clone()).collect();
            v.extend([
                "/".to_owned(),
                "/access".into(),
                "/nodes".into(),
                "/storage".into(),
                "/vms".into(),
                "/sdn".into(),
            ]);
            v.extend(ctx.c.pools.iter().flat_map(|(n, pl)| {
                std::iter::once(format!("/pool/{n}"))
                    .chain(pl.vms.iter().map(|id| format!("/vms/{id}")))
            }));
            v.sort();
            v.dedup();
            v
        }
    };
    let mut out = Map::new();
    for path in paths {
        let privs = crate::acl::privileges(ctx.c, &auth, &path);
        if privs.is_empty() && p.str("path").is_none() {
            continue;
        }
        let m: Map<String, Value> = privs.into_iter().map(|p| (p, json!(1))).collect();
        out.insert(path, Value::Object(m));
    }
    Ok(Value::Object(out).into())
}

// ---------------------------------------------------------------- pools

fn members(ctx: &Ctx<'_>, pool: &Pool, ty: Option<&str>) -> Vec<Value> {
    let now = now_secs();
    let mut out: Vec<Value> = pool
        .vms
        .iter()
        .filter_map(|id| ctx.c.guests.get(id))
        .filter(|g| ty.is_none_or(|t| t == g.kind.as_str()))
        .map(|g| ctx.c.guest_resource(g, now))
        .collect();
    if ty.is_none_or(|t| t == "storage") {
        for st in &pool.storage {
            if let Some(s) = ctx.c.storages.get(st) {
                for n in ctx.c.nodes.values() {
                    out.push(json!({
                        "id": format!("storage/{}/{st}", n.name), "type": "storage", "storage": st,
                        "node": n.name, "plugintype": s.ty, "content": s.content,
                        "shared": u8::from(s.shared), "status": "available",
                        "disk": ctx.c.storage_used(s, &n.name), "maxdisk": s.total,
                    }));
                }
            }
        }
    }
    out
}

fn pool_exists<'a>(ctx: &'a Ctx<'_>, id: &str) -> Result<&'a Pool, ApiError> {
    ctx.c
        .pools
        .get(id)
        .ok_or_else(|| ApiError::die(format!("pool '{id}' does not exist")))
}

pub(super) fn pools(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    if let Some(id) = p.str("poolid") {
        ctx.check(&format!("/pool/{id}"), &["Pool.Audit"], false)?;
        let pool = pool_exists(ctx, id)?;
        let mut v = json!({ "poolid": id, "members": members(ctx, pool, p.str("type")) });
        if let Some(c) = &pool.comment {
            v["comment"] = json!(c);
        }
        return Ok(json!([v]).into());
    }
    let out: Vec<Value> = ctx
        .c
        .pools
        .iter()
        .filter(|(id, _)| ctx.allowed(&format!("/pool/{id}"), &["Pool.Audit"]))
        .map(|(id, pool)| {
            let mut v = json!({ "poolid": id });
            if let Some(c) = &pool.comment {
                v["comment"] = json!(c);
            }
            v
        })
        .collect();
    Ok(Value::Array(out).into())
}

pub(super) fn pool_get(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let id = p.req("poolid");
    ctx.check(&format!("/pool/{id}"), &["Pool.Audit"], false)?;
    let pool = pool_exists(ctx, id)?;
    let mut v = json!({ "members": members(ctx, pool, p.str("type")) });
    if let Some(c) = &pool.comment {
        v["comment"] = json!(c);
    }
    Ok(v.into())
}

pub(super) fn pool_create(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let id = p.req("poolid");
    ctx.check(&format!("/pool/{id}"), &["Pool.Allocate"], false)?;
    let valid = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if !valid {
        return Err(ApiError::param(
            "poolid",
            format!("invalid format - invalid pool ID '{id}'"),
        ));
    }
    if ctx.c.pools.contains_key(id) {
        return Err(ApiError::die(format!("pool '{id}' already exists")));
    }
    ctx.c.pools.insert(
        id.to_owned(),
        Pool {
            comment: p.str("comment").map(str::to_owned),
            ..Pool::default()
        },
    );
    null()
}

pub(super) fn pool_update(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let id = p.req("poolid").to_owned();
    ctx.check(&format!("/pool/{id}"), &["Pool.Allocate"], false)?;
    pool_exists(ctx, &id)?;
    let delete = p.flag("delete").unwrap_or(false);
    let allow_move = p.flag("allow-move").unwrap_or(false);
    let vms: Vec<u32> = split_list(p.str("vms").unwrap_or_default())
        .iter()
        .map(|s| {
            s.parse::<u32>().map_err(|_| {
                ApiError::param(
                    "vms",
                    format!("value '{s}' does not look like a valid VM ID"),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let storages = split_list(p.str("storage").unwrap_or_default());
    for vmid in &vms {
        ctx.check(&format!("/vms/{vmid}"), &["VM.Allocate"], false)?;
        if !ctx.c.guests.contains_key(vmid) {
            return Err(ApiError::die(format!("VM {vmid} does not exist")));
        }
        let current = ctx.c.pool_of(*vmid).map(str::to_owned);
        if delete {
            if current.as_deref() != Some(id.as_str()) {
                return Err(ApiError::die(format!("VM {vmid} is not a pool member")));
            }
        } else if let Some(cur) = current {
            if cur == id {
                return Err(ApiError::die(format!("VM {vmid} is already a pool member")));
            }
            if !allow_move {
                return Err(ApiError::die(format!(
                    "VM {vmid} belongs already to pool '{cur}' and 'allow-move' is not set"
                )));
            }
            ctx.check(&format!("/pool/{cur}"), &["Pool.Allocate"], false)?;
        }
    }
    for st in &storages {
        ctx.check(&format!("/storage/{st}"), &["Datastore.Allocate"], false)?;
        if !ctx.c.storages.contains_key(st) {
            return Err(ApiError::die(format!("storage '{st}' does not exist")));
        }
    }
    for vmid in vms {
        for pool in ctx.c.pools.values_mut() {
            pool.vms.remove(&vmid);
        }
        if !delete {
            if let Some(pool) = ctx.c.pools.get_mut(&id) {
                pool.vms.insert(vmid);
            }
        }
    }
    if let Some(pool) = ctx.c.pools.get_mut(&id) {
        for st in storages {
            if delete {
                pool.storage.remove(&st);
            } else {
                pool.storage.insert(st);
            }
        }
        if let Some(c) = p.str("comment") {
            pool.comment = Some(c.to_owned());
        }
    }
    null()
}

pub(super) fn pool_delete(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let id = p.req("poolid").to_owned();
    ctx.check(&format!("/pool/{id}"), &["Pool.Allocate"], false)?;
    let pool = pool_exists(ctx, &id)?;
    if let Some(vmid) = pool.vms.iter().next() {
        return Err(ApiError::die(format!(
            "pool '{id}' is not empty (contains VM {vmid})"
        )));
    }
    if let Some(st) = pool.storage.iter().next() {
        return Err(ApiError::die(format!(
            "pool '{id}' is not empty (contains storage '{st}')"
        )));
    }
    ctx.c.pools.remove(&id);
    let path = format!("/pool/{id}");
    ctx.c.acl.retain(|a| a.path != path);
    null()
}
