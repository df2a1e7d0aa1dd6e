//! [`Caller`]: who is behind a request or socket event, for permission decisions and the audit
//! row.

use crate::acl::Principal;
use crate::audit::Actor;
use crate::auth::client::ClientInfo;
use crate::auth::session::CurrentSession;

/// The person behind an operation, with what the audit log records about them.
#[derive(Debug, Clone)]
pub struct Caller {
    /// For permission decisions.
    pub principal: Principal,
    /// For the audit row.
    pub actor: Actor,
}

impl Caller {
    /// The caller of an HTTP request or socket event.
    pub fn new(session: &CurrentSession, ip: Option<String>, user_agent: Option<String>) -> Self {
        Self {
            principal: Principal {
                username: session.record.username.clone(),
                groups: session.groups.clone(),
                is_admin: session.record.is_admin,
            },
            actor: Actor {
                username: session.record.username.clone(),
                ip,
                // Requests made with an API token name it where the client is recorded.
                user_agent: match &session.token {
                    Some(t) => Some(format!(
                        "API token \"{}\" ({}){}",
                        t.name,
                        t.id,
                        user_agent.map(|ua| format!(" · {ua}")).unwrap_or_default()
                    )),
                    None => user_agent,
                },
            },
        }
    }

    /// The Uma username.
    pub fn username(&self) -> &str {
        &self.principal.username
    }

    /// Whether the caller is a Uma administrator.
    pub fn is_admin(&self) -> bool {
        self.principal.is_admin
    }

    /// A reader who is not signed in (public docs): audited as `anonymous`; their principal's
    /// name is `@anonymous:<ip>` (an IPv6 address's /64), which no account has (it keys their
    /// rate budgets by address) and which no permission names.
    pub fn anonymous(client: &ClientInfo) -> Self {
        // One IPv6 network (a /64) is one reader: a host has the whole /64 to rotate through.
        let key = match client.ip.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
            _ => client.ip.clone(),
        };
        Self {
            principal: Principal {
                username: format!("{ANONYMOUS_PREFIX}{key}"),
                groups: Vec::new(),
                is_admin: false,
            },
            actor: Actor {
                username: "anonymous".to_owned(),
                ip: Some(client.ip.clone()),
                user_agent: client.user_agent.clone(),
            },
        }
    }

    /// Whether someone signed in is behind the call.
    pub fn is_signed_in(&self) -> bool {
        !self.principal.username.starts_with(ANONYMOUS_PREFIX)
    }
}

const ANONYMOUS_PREFIX: &str = "@anonymous:";

/// The audit actor of a request: its session's user, address and user agent.
pub fn actor(session: &CurrentSession, client: &ClientInfo) -> Actor {
    Actor {
        username: session.record.username.clone(),
        ip: Some(client.ip.clone()),
        user_agent: client.user_agent.clone(),
    }
}
