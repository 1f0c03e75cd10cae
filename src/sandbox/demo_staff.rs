//! The sandbox's demo staff: `demo-admin`, `demo-operator` and `demo-viewer`, added when no staff exists, sharing one
//! password made on first start and kept in `data_dir/sandbox/demo_staff_password`, so that the console at `/staff/`
//! can be tried at once.

use crate::db::audit::AuditEntry;
use crate::db::staff;
use crate::domain::staff::Role;
use crate::sessions::staff_accounts::add_staff;
use crate::state::AppState;

pub const DEMO_STAFF: [(&str, Role); 3] =
    [("demo-admin", Role::Admin), ("demo-operator", Role::Operator), ("demo-viewer", Role::Viewer)];

/// Adds the demo staff when there is no staff at all, and says in the log how to log in.
pub async fn seed_if_none(state: &AppState) -> Result<(), String> {
    let password = super::keys::demo_staff_password(&state.settings.data_dir)?;
    let password = String::from_utf8(password.expose().to_vec()).map_err(|e| e.to_string())?;
    if staff::list(state.db.pool()).await.map_err(|e| e.to_string())?.is_empty() {
        for (name, role) in DEMO_STAFF {
            let audit = AuditEntry::command_line("sandbox", "add_staff", "staff", name)
                .detail(serde_json::json!({ "role": role.as_str(), "demo": true }));
            add_staff(&state.db, state.now_ms(), name, role, Some(&password), &audit)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    tracing::info!(
        "sandbox: staff console at {}/staff/ — log in as demo-admin, demo-operator or demo-viewer with the password \
         in {}",
        state.settings.public_base_url(),
        state.settings.data_dir.join("sandbox").join("demo_staff_password").display()
    );
    Ok(())
}
