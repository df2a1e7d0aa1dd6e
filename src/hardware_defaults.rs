//! The prebuilt hardware templates (the original's `scripts/init-templates.ts`): five shared
//! templates owned by `system`, installed by `uma init-templates` and, in demo mode, at start.

use serde_json::{json, Value};

use crate::store::hardware::HardwareTemplate;
use crate::store::{now_ms, Store, StoreError, StoreResult};

/// Owner of the templates that come with Uma; only admins change them.
pub const SYSTEM_OWNER: &str = "system";

/// Category of the templates that come with Uma.
pub const PREBUILT_CATEGORY: &str = "prebuilt";

/// One prebuilt template: id, name, description, configuration.
struct Prebuilt {
    id: &'static str,
    name: &'static str,
    description: &'static str,
    config: fn() -> Value,
}

const PREBUILT: &[Prebuilt] = &[
    Prebuilt {
        id: "template-webserver-default",
        name: "Web Server",
        description: "Balanced configuration for web servers",
        config: || {
            json!({ "cores": 2, "sockets": 1, "memory": 4096, "cpu": "host",
                    "net0": "virtio,bridge=vmbr0", "bios": "seabios" })
        },
    },
    Prebuilt {
        id: "template-database-default",
        name: "Database Server",
        description: "High memory configuration for database servers",
        config: || {
            json!({ "cores": 4, "sockets": 1, "memory": 16384,
                    "cpu": "host,flags=+pcid;+spec-ctrl", "numa": "0",
                    "numa0": "cpus=0-3,memory=16384", "bios": "ovmf" })
        },
    },
    Prebuilt {
        id: "template-development-default",
        name: "Development Workstation",
        description: "Configuration for development work with a graphical console",
        config: || {
            json!({ "cores": 2, "sockets": 1, "memory": 8192, "cpu": "host",
                    "vga": "std", "bios": "ovmf" })
        },
    },
    Prebuilt {
        id: "template-minimal-default",
        name: "Minimal VM",
        description: "Minimal resources for testing or light services",
        config: || json!({ "cores": 1, "sockets": 1, "memory": 512, "cpu": "kvm64", "bios": "seabios" }),
    },
    Prebuilt {
        id: "template-gaming-default",
        name: "Gaming VM",
        description: "High performance configuration for GPU passthrough",
        config: || {
            json!({ "cores": 8, "sockets": 1, "memory": 32768,
                    "cpu": "host,flags=+pcid;+spec-ctrl;+aes", "vga": "none",
                    "bios": "ovmf", "machine": "q35" })
        },
    },
];

/// The prebuilt templates as rows (times set to `now`).
pub fn prebuilt_templates(now: i64) -> Vec<HardwareTemplate> {
    PREBUILT
        .iter()
        .map(|p| HardwareTemplate {
            id: p.id.to_owned(),
            name: p.name.to_owned(),
            description: p.description.to_owned(),
            category: PREBUILT_CATEGORY.to_owned(),
            config: (p.config)().to_string(),
            owner: SYSTEM_OWNER.to_owned(),
            shared: true,
            created_at: now,
            updated_at: now,
        })
        .collect()
}

/// What [`install`] did with one template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It was missing and is now stored.
    Installed,
    /// A template with this id exists; it was left as it is.
    Skipped,
}

/// Stores every prebuilt template that is missing; existing ones (possibly edited by an admin)
/// are left alone. Returns `(id, name, outcome)` per template.
pub async fn install(store: &Store) -> StoreResult<Vec<(String, String, Outcome)>> {
    let mut done = Vec::with_capacity(PREBUILT.len());
    for t in prebuilt_templates(now_ms()) {
        let outcome = if store.hardware_template(&t.id).await?.is_some() {
            Outcome::Skipped
        } else {
            match store.insert_hardware_template(&t).await {
                Ok(()) => Outcome::Installed,
                // Another instance installed it in between.
                Err(StoreError::Conflict(_)) => Outcome::Skipped,
                Err(e) => return Err(e),
            }
        };
        done.push((t.id, t.name, outcome));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prebuilt_templates_are_valid_configs() {
        let all = prebuilt_templates(1);
        assert_eq!(all.len(), 5);
        for t in &all {
            let config: Value = serde_json::from_str(&t.config).unwrap_or_default();
            assert!(
                crate::http::hardware::check_config(&config).is_ok(),
                "{}",
                t.id
            );
            assert!(t.shared && t.owner == SYSTEM_OWNER && t.category == PREBUILT_CATEGORY);
        }
    }
}
