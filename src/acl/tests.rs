#![allow(clippy::unwrap_used)]
use super::*;

fn privs(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// The PVE 9 built-in roles the tests use (privileges from FACTS.md).
fn roles() -> HashMap<String, BTreeSet<String>> {
    let vm_user = [
        "VM.Audit",
        "VM.Backup",
        "VM.Config.CDROM",
        "VM.Config.Cloudinit",
        "VM.Console",
        "VM.PowerMgmt",
    ];
    let mut vm_admin: Vec<&str> = vm_user.to_vec();
    vm_admin.extend([
        "VM.Allocate",
        "VM.Clone",
        "VM.Config.CPU",
        "VM.Config.Disk",
        "VM.Config.HWType",
        "VM.Config.Memory",
        "VM.Config.Network",
        "VM.Config.Options",
        "VM.Migrate",
        "VM.Snapshot",
        "VM.Snapshot.Rollback",
    ]);
    let mut admin = vm_admin.clone();
    admin.extend([
        "Pool.Allocate",
        "Pool.Audit",
        "Sys.Audit",
        "Sys.Modify",
        "Datastore.Allocate",
    ]);
    HashMap::from([
        ("PVEVMUser".to_owned(), privs(&vm_user)),
        ("PVEVMAdmin".to_owned(), privs(&vm_admin)),
        ("PVEAdmin".to_owned(), privs(&admin)),
        ("Administrator".to_owned(), privs(&admin)),
        ("PVEPoolUser".to_owned(), privs(&["Pool.Audit"])),
        (
            "PVEPoolAdmin".to_owned(),
            privs(&["Pool.Allocate", "Pool.Audit"]),
        ),
        (
            "PVEAuditor".to_owned(),
            privs(&["VM.Audit", "Pool.Audit", "Sys.Audit"]),
        ),
        ("NoAccess".to_owned(), BTreeSet::new()),
    ])
}

fn acl(path: &str, kind: UgidKind, ugid: &str, role: &str, propagate: bool) -> AclEntry {
    AclEntry {
        path: path.into(),
        kind,
        ugid: ugid.into(),
        roleid: role.into(),
        propagate,
    }
}

fn user(name: &str, groups: &[&str]) -> Principal {
    Principal {
        username: name.into(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        is_admin: false,
    }
}

fn engine(entries: Vec<AclEntry>) -> Engine {
    let guest_pools = HashMap::from([
        (100, "DEV_alice_1".to_owned()),
        (110, "DEV_team_1".to_owned()),
        (111, "DEV_team_1".to_owned()),
        (120, "DEV_devs_1".to_owned()),
        (130, "DEV_devs-SDC_1".to_owned()),
    ]);
    Engine::new(
        Snapshot {
            acl: entries,
            roles: roles(),
            guest_pools,
            users: Vec::new(),
            pool_comments: HashMap::new(),
        },
        Naming {
            realm: Some("SDC".into()),
        },
    )
}

#[test]
fn admins_may_do_everything() {
    let e = engine(vec![]);
    let admin = Principal {
        is_admin: true,
        ..user("root-ish", &[])
    };
    assert!(e.guest_allows(&admin, 999, GuestAction::Allocate));
    assert_eq!(
        e.pool_access(&admin, "ANY"),
        PoolAccess {
            see: true,
            manage: true
        }
    );
    assert!(e.effective_admin(&admin));
}

#[test]
fn owners_by_name_including_groups_and_realm_suffix() {
    let e = engine(vec![]);
    let alice = user("alice", &["CN=devs,OU=Groups,DC=corp"]);
    assert_eq!(
        e.pool_access(&alice, "DEV_alice_1"),
        PoolAccess {
            see: true,
            manage: true
        }
    );
    assert!(e.guest_allows(&alice, 100, GuestAction::Allocate));
    assert!(
        !e.owns_pool(&alice, "DEV_alicex_1"),
        "prefix must end at the underscore"
    );
    assert!(
        !e.owns_pool(&alice, "DEV_alice_"),
        "a bare prefix is no pool"
    );
    assert!(e.owns_pool(&alice, "DEV_devs_1"), "group-owned pools count");
    assert!(
        e.owns_pool(&alice, "DEV_devs-SDC_1"),
        "realm-suffixed group names count"
    );
    assert!(e.guest_allows(&alice, 130, GuestAction::Power));
    assert!(!e.guest_allows(&alice, 110, GuestAction::View));
    // A name that needs sanitizing owns a pool only where Uma recorded it as the owner:
    // "a.b" and "a_b" would both claim DEV_a_b_1 by name.
    assert!(!e.owns_pool(&user("a.b", &[]), "DEV_a_b_1"));
    assert!(e.owns_pool(&user("a_b", &[]), "DEV_a_b_1"));
    // Prefixes own nothing: "alice" is not "alice_smith", "devs" not "devs_admin".
    assert!(!e.owns_pool(&alice, "DEV_alice_smith_1"));
    assert!(!e.owns_pool(&alice, "DEV_devs_admin_1"));
    assert!(!e.owns_pool(&alice, "DEV_alice_x"));
}

#[test]
fn recorded_owners_decide() {
    let mut e = engine(vec![]);
    for (pool, comment) in [
        ("DEV_a_b_1", "lab [Owner: user:a.b@SDC]"),
        ("DEV_alice_2", "[Owner: user:alice@SDC]"),
        (
            "DEV_alice_3",
            "fake [Owner: user:alice@SDC] [Owner: user:mallory@SDC]",
        ),
        ("DEV_devs_2", "[Owner: group:devs-SDC]"),
        ("DEV_mallory_1", "[Owner: user:alice@SDC]"),
    ] {
        e.snapshot
            .pool_comments
            .insert(pool.to_owned(), comment.to_owned());
    }
    assert!(e.owns_pool(&user("a.b", &[]), "DEV_a_b_1"));
    assert!(
        !e.owns_pool(&user("a_b", &[]), "DEV_a_b_1"),
        "the record names a.b"
    );
    assert!(e.owns_pool(&user("alice", &[]), "DEV_alice_2"));
    assert!(
        !e.owns_pool(&user("alice", &[]), "DEV_alice_3"),
        "the last record counts"
    );
    assert!(
        !e.owns_pool(&user("alice", &[]), "DEV_mallory_1"),
        "the name and the record must agree"
    );
    assert!(e.owns_pool(&user("ivy", &["cn=devs,ou=g"]), "DEV_devs_2"));
    assert!(!e.owns_pool(&user("ivy", &["ops"]), "DEV_devs_2"));
    let alice = OwnerTag::User("alice@SDC".into());
    assert_eq!(e.pools_named_for(&alice), vec!["DEV_alice_2".to_owned()]);
    assert_eq!(pool_owner_part("DEV_john_doe_12"), Some("john_doe"));
    assert_eq!(pool_owner_part("DEV_john_"), None);
    assert_eq!(pool_owner_part("OPS_x_1"), None);
}

#[test]
fn pool_acls_grant_by_privilege() {
    let e = engine(vec![
        acl(
            "/pool/DEV_team_1",
            UgidKind::User,
            "bob@SDC",
            "PVEVMUser",
            false,
        ),
        acl(
            "/pool/DEV_team_1",
            UgidKind::User,
            "carol@SDC",
            "PVEPoolAdmin",
            false,
        ),
    ]);
    let bob = user("bob", &[]);
    assert_eq!(
        e.pool_access(&bob, "DEV_team_1"),
        PoolAccess {
            see: true,
            manage: false
        }
    );
    assert!(e.guest_allows(&bob, 110, GuestAction::Power));
    assert!(e.guest_allows(&bob, 111, GuestAction::Console));
    assert!(!e.guest_allows(&bob, 110, GuestAction::Config(ConfigPriv::Options)));
    assert!(
        !e.guest_allows(&bob, 100, GuestAction::View),
        "other pools stay hidden"
    );
    // PVEPoolAdmin is access and management (the original granted nothing for it).
    assert_eq!(
        e.pool_access(&user("carol", &[]), "DEV_team_1"),
        PoolAccess {
            see: true,
            manage: true
        }
    );
}

#[test]
fn no_access_never_grants_and_always_wins() {
    let e = engine(vec![
        acl("/vms/110", UgidKind::User, "dave@SDC", "NoAccess", false),
        acl(
            "/pool/DEV_team_1",
            UgidKind::Group,
            "ops",
            "PVEVMAdmin",
            false,
        ),
        acl(
            "/pool/DEV_team_1",
            UgidKind::User,
            "erin@SDC",
            "NoAccess",
            false,
        ),
    ]);
    let dave = user("dave", &[]);
    assert!(
        !e.guest_allows(&dave, 110, GuestAction::View),
        "NoAccess is not a read grant"
    );
    let dave_ops = user("dave", &["ops"]);
    assert!(
        !e.guest_allows(&dave_ops, 110, GuestAction::View),
        "a direct NoAccess beats the pool's role"
    );
    assert!(e.guest_allows(&dave_ops, 111, GuestAction::Configure));
    let erin_ops = user("erin", &["ops"]);
    assert!(
        !e.pool_access(&erin_ops, "DEV_team_1").see,
        "the user's NoAccess beats the group's role"
    );
    assert!(!e.guest_allows(&erin_ops, 111, GuestAction::View));
}

#[test]
fn deepest_path_and_propagation() {
    let e = engine(vec![
        acl("/", UgidKind::User, "frank@SDC", "PVEVMAdmin", true),
        acl("/vms/110", UgidKind::User, "frank@SDC", "PVEVMUser", false),
        acl("/vms", UgidKind::User, "gina@SDC", "PVEVMUser", false),
    ]);
    let frank = user("frank", &[]);
    assert!(
        e.guest_allows(&frank, 999, GuestAction::Configure),
        "propagated from /"
    );
    assert!(e.guest_allows(&frank, 110, GuestAction::Power));
    assert!(
        !e.guest_allows(&frank, 110, GuestAction::Config(ConfigPriv::Cpu)),
        "the deeper entry wins"
    );
    let gina = user("gina", &[]);
    assert!(
        !e.guest_allows(&gina, 999, GuestAction::View),
        "propagate=0 stops at /vms"
    );
}

#[test]
fn a_users_entry_beats_their_groups_at_the_same_level() {
    let e = engine(vec![
        acl("/vms/999", UgidKind::Group, "devs-SDC", "PVEVMAdmin", false),
        acl("/vms/999", UgidKind::User, "hank@SDC", "PVEVMUser", false),
    ]);
    let hank = user("hank", &["devs"]);
    assert!(e.guest_allows(&hank, 999, GuestAction::Power));
    assert!(!e.guest_allows(&hank, 999, GuestAction::Config(ConfigPriv::Options)));
    let ivy = user("ivy", &["devs"]);
    assert!(
        e.guest_allows(&ivy, 999, GuestAction::Configure),
        "group id with the realm suffix matches"
    );
}

#[test]
fn tokens_are_not_people() {
    let e = engine(vec![acl(
        "/",
        UgidKind::Token,
        "bob@pve!uma",
        "Administrator",
        true,
    )]);
    let bob = user("bob", &[]);
    assert!(!e.effective_admin(&bob));
    assert!(!e.guest_allows(&bob, 110, GuestAction::View));
}

#[test]
fn users_match_in_their_realm_only() {
    let mut e = engine(vec![
        acl("/vms/999", UgidKind::User, "Bob@SDC", "PVEVMUser", false),
        acl("/vms/998", UgidKind::User, "bob@ad", "PVEVMAdmin", false),
    ]);
    assert!(e.guest_allows(&user("CORP\\bob", &[]), 999, GuestAction::Console));
    assert!(e.guest_allows(&user("bob@corp.example", &[]), 999, GuestAction::Console));
    assert!(
        !e.guest_allows(&user("bob", &[]), 998, GuestAction::View),
        "bob@ad is another person than the realm's bob"
    );
    assert!(
        !e.guest_allows(&user("bobby", &[]), 999, GuestAction::Console),
        "no prefix matches"
    );
    // Without a configured realm: only the one Proxmox user of that name.
    e.naming.realm = None;
    e.snapshot.users = vec!["Bob@SDC".into(), "carl@ad".into()];
    assert!(e.guest_allows(&user("bob", &[]), 999, GuestAction::Console));
    assert!(!e.guest_allows(&user("bob", &[]), 998, GuestAction::View));
    e.snapshot.users.push("bob@ad".into());
    assert!(
        !e.guest_allows(&user("bob", &[]), 999, GuestAction::Console),
        "two Proxmox users named bob: neither is Uma's bob"
    );
    assert_eq!(local_name("CORP\\Bob@corp"), "Bob");
}

#[test]
fn effective_admin_needs_admin_level_roles_on_root() {
    let e = engine(vec![
        acl("/", UgidKind::User, "jan@SDC", "PVEAdmin", true),
        acl("/", UgidKind::User, "kim@SDC", "PVEVMAdmin", true),
        acl("/", UgidKind::Group, "admins", "Administrator", true),
    ]);
    assert!(e.effective_admin(&user("jan", &[])));
    assert!(!e.effective_admin(&user("kim", &[])));
    assert!(e.effective_admin(&user("lee", &["admins"])));
}

#[test]
fn deny_like_roles() {
    for r in ["NoAccess", "no_access", "No-Access", "DenyAll", ""] {
        assert!(is_no_access(r), "{r}");
    }
    assert!(!is_no_access("PVEVMUser"));
    assert_eq!(sanitize("a.b c/d"), "a_b_c_d");
}
