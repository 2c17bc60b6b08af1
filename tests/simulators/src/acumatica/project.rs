//! Projects (screen PM301000) and their tasks (PM302000), the two levels
//! of a Concur project → task list.
//!
//! Seeded by tests and read through the API like the purchasing entities
//! ([`super::purchasing`]): `$select $filter $top $skip`, strict fields,
//! `LastModifiedDateTime` moving with every change, any write 501. The
//! `Default` endpoint shows tasks as their own entity (`ProjectTask`,
//! keyed by project and task), which is how the connector reads them.

use time::OffsetDateTime;

use super::purchasing::find;
use super::schema::Kind;
use super::state::Val;
use super::{AcumaticaSim, entity};

/// Project statuses as the contract shows them (`PMProject.Status`).
pub const PROJECT_STATUSES: [&str; 7] =
    ["In Planning", "Active", "Completed", "Suspended", "On Hold", "Canceled", "Pending Approval"];
/// Project task statuses (`PMTask.Status`).
pub const PROJECT_TASK_STATUSES: [&str; 4] = ["In Planning", "Active", "Completed", "Canceled"];

impl AcumaticaSim {
    /// Seeds a project (panics on an unknown status or an id seeded twice:
    /// a test setup error).
    pub fn add_project(&self, tenant: &str, id: &str, description: &str, status: &str) {
        assert!(PROJECT_STATUSES.contains(&status), "unknown project status {status}");
        self.seed(tenant, Kind::Project, |t, rec| {
            assert!(find(t, Kind::Project, [("ProjectID", id)]).is_none(), "project {id} seeded twice");
            rec.set_str("ProjectID", id);
            rec.set_str("Description", description);
            rec.set_str("Status", status);
            rec.set("Hold", Val::Bool(status == "On Hold"));
            rec.set("CreatedDateTime", Val::Date(OffsetDateTime::now_utc()));
        });
    }

    /// Seeds a task of seeded project `project` (panics when the project is
    /// not seeded, on an unknown status, or a task seeded twice).
    pub fn add_project_task(&self, tenant: &str, project: &str, id: &str, description: &str, status: &str) {
        assert!(PROJECT_TASK_STATUSES.contains(&status), "unknown project task status {status}");
        self.seed(tenant, Kind::ProjectTask, |t, rec| {
            assert!(find(t, Kind::Project, [("ProjectID", project)]).is_some(), "project {project} is not seeded");
            let key = [("ProjectID", project), ("ProjectTaskID", id)];
            assert!(find(t, Kind::ProjectTask, key).is_none(), "task {id} of project {project} seeded twice");
            let first = !t.records(Kind::ProjectTask).iter().any(|r| r.str("ProjectID") == Some(project));
            rec.set_str("ProjectID", project);
            rec.set_str("ProjectTaskID", id);
            rec.set_str("Description", description);
            rec.set_str("Status", status);
            rec.set_str("Type", "Cost and Revenue Task");
            rec.set("Default", Val::Bool(first));
            rec.set("CreatedDateTime", Val::Date(OffsetDateTime::now_utc()));
        });
    }

    /// Moves a project to `status` as the screen's actions do (its
    /// `LastModifiedDateTime` moves; its tasks keep theirs, as in
    /// Acumatica); `false` when there is no such project.
    pub fn set_project_status(&self, tenant: &str, id: &str, status: &str) -> bool {
        assert!(PROJECT_STATUSES.contains(&status), "unknown project status {status}");
        self.change(tenant, Kind::Project, [("ProjectID", id)], |rec| {
            rec.set_str("Status", status);
            rec.set("Hold", Val::Bool(status == "On Hold"));
        })
    }

    /// Moves a project task to `status`; `false` when there is no such task.
    pub fn set_project_task_status(&self, tenant: &str, project: &str, id: &str, status: &str) -> bool {
        assert!(PROJECT_TASK_STATUSES.contains(&status), "unknown project task status {status}");
        let key = [("ProjectID", project), ("ProjectTaskID", id)];
        self.change(tenant, Kind::ProjectTask, key, |rec| rec.set_str("Status", status))
    }

    /// The tenant's projects as the API returns them.
    pub fn projects(&self, tenant: &str) -> Vec<serde_json::Value> {
        entity::read_back(&self.lock(), tenant, Kind::Project)
    }

    /// The tenant's project tasks as the API returns them.
    pub fn project_tasks(&self, tenant: &str) -> Vec<serde_json::Value> {
        entity::read_back(&self.lock(), tenant, Kind::ProjectTask)
    }
}
