//! Lists: each Concur list the connection feeds, from its ERP source, as
//! List Item v4 items (level 1 = one code).
//!
//! Concur keys items by its own uuid, so the sync keeps each item's id
//! beside its hash. An item with no id yet is created; a create Concur
//! refuses (the code is already there: a create repeated after a timeout,
//! or an item an admin added) is looked up by code and taken over, so a
//! code is one item whatever happened before. Items are removed from the
//! fed list only (an item can be shared with lists we do not feed).

use std::collections::{BTreeSet, HashMap};

use concur::lists::{ConcurList, ConcurListItem};
use concur::{AccessToken, ConcurClient, ConcurError};
use domain::Failure;
use domain::reference::{
    KnownRecord, ListFeed, ListItemRecord, ReferenceKind, Refusal, SyncRecord, list_item_key, split_list_item_key,
};
use erp::ListItemsRead;
use time::OffsetDateTime;

use super::{SourceRead, SyncTarget, WriteStop, Written};

pub(super) struct ListTarget<'a> {
    concur: &'a ConcurClient,
    token: AccessToken,
    feeds: Vec<ListFeed>,
    /// The lists whose source was read this run.
    read_lists: BTreeSet<String>,
    /// Concur's list per name, or why there is none.
    lists: HashMap<String, FedList>,
    /// Concur's item id per key: stored ones, and what this run found.
    ids: HashMap<String, String>,
    /// Whether `ids` holds the stored ones yet.
    seeded: bool,
}

impl<'a> ListTarget<'a> {
    pub(super) fn new(concur: &'a ConcurClient, token: AccessToken, feeds: Vec<ListFeed>) -> Self {
        let (read_lists, lists, ids) = (BTreeSet::new(), HashMap::new(), HashMap::new());
        Self { concur, token, feeds, read_lists, lists, ids, seeded: false }
    }

    /// The Concur list named `name`, found once per run.
    async fn list(&mut self, name: &str) -> Result<FedList, WriteStop> {
        if let Some(found) = self.lists.get(name) {
            return Ok(found.clone());
        }
        let found = match self.concur.find_list(&self.token, name).await {
            Ok(Some(list)) => FedList::Found(list),
            Ok(None) => FedList::Missing(format!(
                "Concur has no list named `{name}`: create it in Concur (Configuration → Lists) and tie it to its \
                 form field, or correct the name with `connector sync lists`"
            )),
            Err(ConcurError::Rejected { status: 404, message }) => {
                return Err(WriteStop::NotOffered(format!(
                    "Concur does not offer the List v4 API to this company (HTTP 404: {message}). Lists are not synced."
                )));
            }
            Err(e) => return Err(WriteStop::Failed(e.to_failure("finding a list in Concur"))),
        };
        self.lists.insert(name.to_owned(), found.clone());
        Ok(found)
    }

    /// Concur's id of the item at `path` in the list: stored, found this
    /// run, or looked up level by level. `None`: Concur does not hold it.
    async fn item_id(&mut self, list: &ConcurList, path: &[String]) -> Result<Option<String>, ConcurError> {
        let mut parent: Option<String> = None;
        for depth in 1..=path.len() {
            let key = list_item_key(&list.name, &path[..depth]);
            if let Some(id) = self.ids.get(&key) {
                parent = Some(id.clone());
                continue;
            }
            let code = &path[depth - 1];
            match self.concur.find_list_item(&self.token, &list.id, parent.as_deref(), code).await? {
                Some(item) => {
                    self.ids.insert(key, item.id.clone());
                    parent = Some(item.id);
                }
                None => return Ok(None),
            }
        }
        Ok(parent)
    }

    /// Writes one item: an update of the item we know, else a create, else
    /// (Concur refused the create) the item Concur holds under the code.
    async fn write_item(&mut self, record: &ListItemRecord, known: Option<&KnownRecord>) -> Result<Written, WriteStop> {
        let key = record.key();
        let refused =
            |reason: String| Written { key: key.clone(), refused: Some(reason), target_id: None, unchanged: false };
        let list = match self.list(&record.list).await? {
            FedList::Found(list) => list,
            FedList::Missing(reason) => return Ok(refused(reason)),
        };
        let failed = |e: ConcurError| WriteStop::Failed(e.to_failure("writing a list item to Concur"));
        let code = record.path.last().map(String::as_str).unwrap_or_default();
        if let Some(id) = known.filter(|k| k.active).and_then(|k| k.target_id.clone()) {
            match self.concur.update_list_item(&self.token, &id, code, &record.value).await {
                Ok(item) => return Ok(self.taken(key, item)),
                // Deleted in Concur meanwhile: create it again below.
                Err(ConcurError::Rejected { status: 404, .. }) => drop(self.ids.remove(&key)),
                Err(e) => return rejected(e, &key).map_err(failed),
            }
        }
        let parent = match record.path.len() {
            1 => None,
            n => match self.item_id(&list, &record.path[..n - 1]).await.map_err(failed)? {
                Some(id) => Some(id),
                None => {
                    return Ok(refused(format!("its parent `{}` is not in Concur", record.path[..n - 1].join("-"))));
                }
            },
        };
        let create = self.concur.create_list_item(&self.token, &list.id, parent.as_deref(), code, &record.value).await;
        let refusal = match create {
            Ok(item) => return Ok(self.taken(key, item)),
            Err(e) => match rejected(e, &key) {
                Ok(written) => written.refused.unwrap_or_default(),
                Err(e) => return Err(failed(e)),
            },
        };
        // Refused: the code may already be there (ours from a cut-off run, or an admin's).
        match self.concur.find_list_item(&self.token, &list.id, parent.as_deref(), code).await.map_err(failed)? {
            Some(item) if item.value == record.value => Ok(self.taken(key, item)),
            Some(item) => match self.concur.update_list_item(&self.token, &item.id, code, &record.value).await {
                Ok(item) => Ok(self.taken(key, item)),
                Err(e) => rejected(e, &key).map_err(failed),
            },
            None => Ok(refused(refusal)),
        }
    }

    fn taken(&mut self, key: String, item: ConcurListItem) -> Written {
        self.ids.insert(key.clone(), item.id.clone());
        Written { key, refused: None, target_id: Some(item.id), unchanged: false }
    }
}

/// A fed list as Concur has it.
#[derive(Debug, Clone)]
enum FedList {
    Found(ConcurList),
    /// Concur has no list by that name: why, and the fix.
    Missing(String),
}

/// A refusal of this one record (a 4xx about the data) as its outcome;
/// anything else (401, 403, transport) stops the run.
fn rejected(e: ConcurError, key: &str) -> Result<Written, ConcurError> {
    match e {
        ConcurError::Rejected { status: 400 | 404 | 409 | 422, message } => Ok(Written {
            key: key.to_owned(),
            refused: Some(format!("Concur refused it: {message}")),
            target_id: None,
            unchanged: false,
        }),
        other => Err(other),
    }
}

impl SyncTarget for ListTarget<'_> {
    type Record = ListItemRecord;
    const KIND: ReferenceKind = ReferenceKind::Lists;

    /// Every item of every fed list; a source this ERP does not have is
    /// refused (under the list's name) and its list left alone.
    async fn read(
        &mut self,
        erp: &dyn erp::ErpAdapter,
        _changed_after: Option<OffsetDateTime>,
    ) -> Result<SourceRead<ListItemRecord>, Failure> {
        let mut records = Vec::new();
        let mut refused = Vec::new();
        for feed in &self.feeds {
            match erp.read_list_items(&feed.source, &feed.list).await? {
                ListItemsRead::Items(items) => {
                    self.read_lists.insert(feed.list.clone());
                    records.extend(items);
                }
                ListItemsRead::NotOffered(reason) => refused.push(Refusal { key: feed.list.clone(), reason }),
            }
        }
        Ok(SourceRead::Records { records, refused })
    }

    fn reads_everything(&self) -> bool {
        true
    }

    fn covers(&self, key: &str) -> bool {
        self.read_lists.contains(split_list_item_key(key).0)
    }

    async fn write(
        &mut self,
        _erp: &dyn erp::ErpAdapter,
        records: &[ListItemRecord],
        known: &HashMap<String, KnownRecord>,
    ) -> Result<Vec<Written>, WriteStop> {
        if !self.seeded {
            // The stored ids, once per run (the run hands every chunk the same `known`).
            self.seeded = true;
            for (key, k) in known {
                if let (true, Some(id)) = (k.active, &k.target_id) {
                    self.ids.entry(key.clone()).or_insert_with(|| id.clone());
                }
            }
        }
        let mut outcomes = Vec::with_capacity(records.len());
        for record in records {
            outcomes.push(self.write_item(record, known.get(&record.key())).await?);
        }
        Ok(outcomes)
    }

    /// Removes the item from its list; an item Concur no longer holds
    /// there is already what we want.
    async fn deactivate(&mut self, key: &str, known: Option<&KnownRecord>) -> Result<Option<String>, Failure> {
        let (name, path) = split_list_item_key(key);
        let failed = |e: ConcurError| e.to_failure("removing a list item in Concur");
        let list = match self.list(name).await {
            Ok(FedList::Found(list)) => list,
            // No list (or no List API): nothing of it is offered in Concur.
            Ok(FedList::Missing(_)) | Err(WriteStop::NotOffered(_)) => return Ok(None),
            Err(WriteStop::Failed(failure)) => return Err(failure),
        };
        let stored = known.and_then(|k| k.target_id.clone());
        let id = match stored {
            Some(id) => id,
            None => match self.item_id(&list, &path).await.map_err(failed)? {
                Some(id) => id,
                None => return Ok(None),
            },
        };
        match self.concur.remove_list_item(&self.token, &list.id, &id).await {
            Ok(()) => Ok(None),
            Err(ConcurError::Rejected { status: 400 | 404, message }) => {
                // Refused: gone already, or still there for a reason Concur gives.
                self.ids.remove(key);
                let held = self.item_id(&list, &path).await.map_err(failed)?;
                Ok(held.map(|_| format!("Concur refused to remove it: {message}")))
            }
            Err(e) => Err(failed(e)),
        }
    }
}
