//! A throwaway OpenLDAP `slapd` for tests: its own config and data in a temp folder, a loopback
//! port, the memberOf overlay, and an AD-like `sAMAccountName` attribute so the original's default
//! filter works. Missing `slapd` fails the test with instructions; it is never skipped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ldap3::LdapConnAsync;

pub const BASE: &str = "dc=example,dc=com";
pub const ROOT_DN: &str = "cn=admin,dc=example,dc=com";
pub const ROOT_PW: &str = "root-secret";
pub const SERVICE_DN: &str = "cn=uma-svc,ou=people,dc=example,dc=com";
pub const SERVICE_PW: &str = "svc-secret";

/// A directory entry to add: its DN and its attributes with their values.
pub type Entry = (String, Vec<(&'static str, Vec<String>)>);

pub struct Slapd {
    pub url: String,
    /// `ldaps://` URL of the same server (self-signed certificate).
    pub ldaps_url: String,
    dir: PathBuf,
    child: Option<Child>,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn slapd_binary() -> PathBuf {
    for p in [
        "/usr/sbin/slapd",
        "/usr/local/sbin/slapd",
        "/usr/local/libexec/slapd",
    ] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    panic!(
        "OpenLDAP slapd is needed for the LDAP tests and was not found.\n\
         Install it with `apt-get install slapd ldap-utils` (`make test` does this when run as root)."
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Slapd {
    /// Starts slapd and loads the test directory.
    pub async fn start() -> Slapd {
        let bin = slapd_binary();
        let dir = super::temp_dir("slapd");
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let module_path = [
            "/usr/lib/ldap",
            "/usr/lib/x86_64-linux-gnu/ldap",
            "/usr/lib/openldap",
        ]
        .into_iter()
        .find(|p| std::path::Path::new(&format!("{p}/memberof.so")).exists())
        .unwrap_or("/usr/lib/ldap");
        let conf = format!(
            r#"include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
attributetype ( 1.3.6.1.4.1.55555.1.1 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.55555.2.1 NAME 'adLikeUser' SUP top AUXILIARY MAY sAMAccountName )
modulepath {module_path}
moduleload back_mdb
moduleload memberof
pidfile {dir}/slapd.pid
database mdb
maxsize 10485760
suffix "{BASE}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PW}
directory {dir}/data
overlay memberof
"#,
            dir = dir.display()
        );
        // A self-signed certificate for ldaps:// and StartTLS.
        let cert = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .unwrap();
        std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), cert.key_pair.serialize_pem()).unwrap();
        let conf = format!(
            "TLSCertificateFile {d}/cert.pem\nTLSCertificateKeyFile {d}/key.pem\n{conf}",
            d = dir.display()
        );
        std::fs::write(dir.join("slapd.conf"), conf).unwrap();
        let port = free_port();
        let tls_port = free_port();
        let url = format!("ldap://127.0.0.1:{port}");
        let ldaps_url = format!("ldaps://127.0.0.1:{tls_port}");
        let log = std::fs::File::create(dir.join("slapd.log")).unwrap();
        let child = Command::new(bin)
            .args([
                "-f",
                dir.join("slapd.conf").to_str().unwrap(),
                "-h",
                &format!("{url}/ {ldaps_url}/"),
                "-d",
                "0",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start slapd");
        let mut s = Slapd {
            url,
            ldaps_url,
            dir,
            child: Some(child),
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Some(Some(status)) = s.child.as_mut().map(|c| c.try_wait().unwrap()) {
                let log = std::fs::read_to_string(s.dir.join("slapd.log")).unwrap_or_default();
                panic!("slapd exited ({status}):\n{log}");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "slapd did not open its port"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        s.load().await;
        s
    }

    /// Stops the server (the LDAP-down tests).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Adds entries (`dn`, attributes) as the directory's administrator.
    pub async fn add(&self, entries: Vec<Entry>) {
        let (conn, mut ldap) = LdapConnAsync::new(&self.url).await.unwrap();
        ldap3::drive!(conn);
        ldap.simple_bind(ROOT_DN, ROOT_PW)
            .await
            .unwrap()
            .success()
            .unwrap();
        for (dn, attrs) in entries {
            let attrs: Vec<(String, std::collections::HashSet<String>)> = attrs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.into_iter().collect()))
                .collect();
            ldap.add(&dn, attrs)
                .await
                .unwrap()
                .success()
                .unwrap_or_else(|e| panic!("add {dn}: {e}"));
        }
        ldap.unbind().await.unwrap();
    }

    /// A person entry under `ou=people` (uid and sAMAccountName `uid`).
    pub fn person(uid: &str, cn: &str, pw: &str) -> Entry {
        let set = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        (
            format!("uid={uid},ou=people,{BASE}"),
            vec![
                ("objectClass", set(&["inetOrgPerson", "adLikeUser"])),
                ("uid", set(&[uid])),
                ("sAMAccountName", set(&[uid])),
                ("cn", set(&[cn])),
                ("sn", set(&[cn])),
                ("userPassword", set(&[pw])),
            ],
        )
    }

    async fn load(&self) {
        let (conn, mut ldap) = LdapConnAsync::new(&self.url).await.unwrap();
        ldap3::drive!(conn);
        ldap.simple_bind(ROOT_DN, ROOT_PW)
            .await
            .unwrap()
            .success()
            .unwrap();
        let add = |dn: String, attrs: Vec<(&'static str, Vec<String>)>| (dn, attrs);
        let set = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let person = |uid: &str, cn: &str, display: Option<&str>, pw: &str| {
            let mut attrs = vec![
                ("objectClass", set(&["inetOrgPerson", "adLikeUser"])),
                ("uid", set(&[uid])),
                ("sAMAccountName", set(&[uid])),
                ("cn", set(&[cn])),
                ("sn", set(&[cn.split(' ').next_back().unwrap_or(cn)])),
                ("mail", set(&[&format!("{uid}@example.com")])),
                ("userPassword", set(&[pw])),
            ];
            if let Some(d) = display {
                attrs.push(("displayName", set(&[d])));
            }
            add(format!("uid={uid},ou=people,{BASE}"), attrs)
        };
        let entries = vec![
            add(
                BASE.to_owned(),
                vec![
                    ("objectClass", set(&["dcObject", "organization"])),
                    ("dc", set(&["example"])),
                    ("o", set(&["Example"])),
                ],
            ),
            add(
                format!("ou=people,{BASE}"),
                vec![
                    ("objectClass", set(&["organizationalUnit"])),
                    ("ou", set(&["people"])),
                ],
            ),
            add(
                format!("ou=groups,{BASE}"),
                vec![
                    ("objectClass", set(&["organizationalUnit"])),
                    ("ou", set(&["groups"])),
                ],
            ),
            add(
                SERVICE_DN.to_owned(),
                vec![
                    ("objectClass", set(&["person", "simpleSecurityObject"])),
                    ("cn", set(&["uma-svc"])),
                    ("sn", set(&["svc"])),
                    ("userPassword", set(&[SERVICE_PW])),
                ],
            ),
            person("alice", "Alice Liddell", Some("Alice L."), "alice-ldap-pw"),
            person("bob", "Bob Builder", None, "bob-ldap-pw"),
            person("carol", "Carol Danvers", None, "carol-ldap-pw"),
            add(
                format!("cn=devs,ou=groups,{BASE}"),
                vec![
                    ("objectClass", set(&["groupOfNames"])),
                    ("cn", set(&["devs"])),
                    ("member", vec![format!("uid=alice,ou=people,{BASE}")]),
                ],
            ),
            add(
                format!("cn=Uma-Admins,ou=groups,{BASE}"),
                vec![
                    ("objectClass", set(&["groupOfNames"])),
                    ("cn", set(&["Uma-Admins"])),
                    ("member", vec![format!("uid=bob,ou=people,{BASE}")]),
                ],
            ),
            // groupOfUniqueNames is not tracked by memberOf: carol's groups come from the
            // fallback search by member DN.
            add(
                format!("cn=ops,ou=groups,{BASE}"),
                vec![
                    ("objectClass", set(&["groupOfUniqueNames"])),
                    ("cn", set(&["ops"])),
                    ("uniqueMember", vec![format!("uid=carol,ou=people,{BASE}")]),
                ],
            ),
        ];
        for (dn, attrs) in entries {
            let attrs: Vec<(String, std::collections::HashSet<String>)> = attrs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.into_iter().collect()))
                .collect();
            ldap.add(&dn, attrs)
                .await
                .unwrap()
                .success()
                .unwrap_or_else(|e| panic!("add {dn}: {e}"));
        }
        ldap.unbind().await.unwrap();
    }
}
