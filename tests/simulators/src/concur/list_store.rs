//! List v4 and List Item v4 (reference-data.md §2–§3): a company's lists and
//! their hierarchical items, without HTTP.
//!
//! An item belongs to one or more lists (shared items). Deleting it from one
//! list marks that membership deleted; `isDeleted` is true only once every
//! membership is. Deleted items stay readable and do not block their short
//! code: a new item may take it. Deleting an item deletes its descendants
//! with it **[docs silent: simulator choice]**. Codes and names compare
//! case-sensitively **[docs silent]**.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;

/// Items and lists per page (documented, fixed).
pub const LIST_PAGE_SIZE: usize = 100;
/// Deepest level a list can have: List Item v3 had `Level1Code`…`Level10Code`.
pub const MAX_LIST_LEVELS: u32 = 10;
/// Longest `shortCode` accepted **[docs silent for v4]**: List Item v3 level codes are ≤32.
pub const MAX_SHORT_CODE_CHARS: usize = 32;
/// Longest item `value` accepted **[docs silent for v4]**: List Item v3 `Name` is ≤64.
pub const MAX_ITEM_VALUE_CHARS: usize = 64;

/// The list categories every simulated company has (`category.id`, `category.type`).
pub const LIST_CATEGORIES: &[(&str, &str)] = &[
    ("a2dfc451-8f3c-410e-a5f2-20d79c8fc3dc", "Vendor"),
    ("5e4d1f93-0c8e-4a57-9a1b-7d3c2b1e6f40", "Configuration"),
    ("c0a4b7e2-6d1f-4e3a-8b59-2f7e9d0c1a36", "Normal"),
];
const DEFAULT_CATEGORY: usize = 2;

/// A refusal in the List v4 error body's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListError {
    pub status: StatusCode,
    /// `error.id` **[docs silent: the simulator's own identifiers]**.
    pub id: &'static str,
    pub message: String,
    /// `validationErrors[]`: (message, source).
    pub validation: Vec<(String, String)>,
}

pub(crate) fn list_error(status: StatusCode, id: &'static str, message: impl Into<String>) -> ListError {
    ListError { status, id, message: message.into(), validation: Vec::new() }
}

/// A 400 naming the invalid request field.
pub(crate) fn invalid_field(field: &str, message: impl Into<String>) -> ListError {
    let message = message.into();
    ListError {
        status: StatusCode::BAD_REQUEST,
        id: "VALIDATION_FAILED",
        message: message.clone(),
        validation: vec![(message, field.to_owned())],
    }
}

fn item_not_found(id: &str) -> ListError {
    list_error(StatusCode::NOT_FOUND, "LIST_ITEM_NOT_FOUND", format!("List item {id} was not found"))
}

fn list_not_found(id: &str) -> ListError {
    list_error(StatusCode::NOT_FOUND, "LIST_NOT_FOUND", format!("List {id} was not found"))
}

/// A list as the simulated Concur holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRecord {
    /// List id (uuid).
    pub id: String,
    /// List name (`value`).
    pub name: String,
    /// Levels the list allows (`levelCount`).
    pub level_count: u32,
    /// `TEXT` or `CODE`.
    pub search_criteria: String,
    /// `(CODE) TEXT` or `TEXT (CODE)`.
    pub display_format: String,
    /// `category.id`.
    pub category_id: String,
    /// `category.type`.
    pub category_type: String,
    /// `isReadOnly`.
    pub is_read_only: bool,
    /// `isDeleted`.
    pub is_deleted: bool,
}

impl ListRecord {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "value": self.name,
            "levelCount": self.level_count,
            "searchCriteria": self.search_criteria,
            "displayFormat": self.display_format,
            "category": {"id": self.category_id, "type": self.category_type},
            "isReadOnly": self.is_read_only,
            "isDeleted": self.is_deleted,
        })
    }
}

/// A list item as tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListItemRecord {
    /// Item id (uuid).
    pub id: String,
    /// The list it was created in (`listId`).
    pub list_id: String,
    /// Long code: short codes from level 1 joined by `-`.
    pub code: String,
    /// This level's code.
    pub short_code: String,
    /// Display text.
    pub value: String,
    /// Parent item id; `None` at level 1.
    pub parent_id: Option<String>,
    /// 1-based level.
    pub level: u32,
    /// Lists the item is live in.
    pub lists: Vec<String>,
    /// Deleted from every list.
    pub is_deleted: bool,
    /// When the item was created, updated or deleted (not exposed by List Item v4).
    pub modified_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
struct Membership {
    list_id: String,
    deleted: bool,
}

#[derive(Debug, Clone)]
struct Item {
    id: String,
    list_id: String,
    short_code: String,
    value: String,
    parent_id: Option<String>,
    level: u32,
    memberships: Vec<Membership>,
    modified_at: OffsetDateTime,
    /// Bumped on every change; the `ETag`.
    revision: u64,
}

impl Item {
    fn live_in(&self, list_id: &str) -> bool {
        self.memberships.iter().any(|m| m.list_id == list_id && !m.deleted)
    }

    fn member_of(&self, list_id: &str) -> bool {
        self.memberships.iter().any(|m| m.list_id == list_id)
    }

    fn is_deleted(&self) -> bool {
        self.memberships.iter().all(|m| m.deleted)
    }

    fn live_lists(&self) -> Vec<String> {
        self.memberships.iter().filter(|m| !m.deleted).map(|m| m.list_id.clone()).collect()
    }
}

/// What `POST /list/v4/items` asks for, after field validation.
#[derive(Debug, Clone)]
pub(crate) struct NewItem {
    pub list_id: String,
    pub short_code: String,
    pub value: String,
    pub parent_id: Option<String>,
    pub parent_code: Option<String>,
}

/// Which children a children call lists.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ChildrenOf<'a> {
    /// `/lists/{listId}/children`: level-1 items of a list.
    List(&'a str),
    /// `/lists/{listId}/items/{itemId}/children`.
    ItemInList(&'a str, &'a str),
    /// `/items/{itemId}/children`, in any list.
    Item(&'a str),
}

/// One company's lists and items.
#[derive(Debug, Default)]
pub(crate) struct ListBook {
    lists: Vec<ListRecord>,
    items: BTreeMap<String, Item>,
    revision: u64,
}

impl ListBook {
    pub fn lists(&self) -> &[ListRecord] {
        &self.lists
    }

    pub fn list(&self, id: &str) -> Option<&ListRecord> {
        self.lists.iter().find(|l| l.id == id)
    }

    fn next_revision(&mut self) -> u64 {
        self.revision += 1;
        self.revision
    }

    /// Adds a list; names are unique among live lists.
    pub fn create_list(
        &mut self,
        name: &str,
        level_count: u32,
        category_id: Option<&str>,
        search_criteria: &str,
        display_format: &str,
    ) -> Result<&ListRecord, ListError> {
        if self.lists.iter().any(|l| l.name == name && !l.is_deleted) {
            return Err(list_error(
                StatusCode::BAD_REQUEST,
                "LIST_DUPLICATE_NAME",
                format!("A list named {name} already exists"),
            ));
        }
        let (category_id, category_type) = match category_id {
            None => LIST_CATEGORIES[DEFAULT_CATEGORY],
            Some(id) => *LIST_CATEGORIES
                .iter()
                .find(|(c, _)| *c == id)
                .ok_or_else(|| invalid_field("categoryId", format!("Category {id} does not exist")))?,
        };
        let list = ListRecord {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            level_count: level_count.clamp(1, MAX_LIST_LEVELS),
            search_criteria: search_criteria.to_owned(),
            display_format: display_format.to_owned(),
            category_id: category_id.to_owned(),
            category_type: category_type.to_owned(),
            is_read_only: false,
            is_deleted: false,
        };
        self.lists.push(list);
        Ok(&self.lists[self.lists.len() - 1])
    }

    /// The item's long code: short codes from level 1 joined by `-`.
    fn code_of(&self, item: &Item) -> String {
        let mut codes = vec![item.short_code.as_str()];
        let mut parent = item.parent_id.as_deref();
        // Levels are bounded; the bound also guards against a corrupted chain.
        for _ in 0..MAX_LIST_LEVELS {
            let Some(p) = parent.and_then(|id| self.items.get(id)) else { break };
            codes.push(&p.short_code);
            parent = p.parent_id.as_deref();
        }
        codes.reverse();
        codes.join("-")
    }

    fn has_live_children(&self, item_id: &str, list_id: &str) -> bool {
        self.items.values().any(|i| i.parent_id.as_deref() == Some(item_id) && i.live_in(list_id))
    }

    /// A live sibling (same parent, same list) already using `short_code`, other than `except`.
    fn sibling_with_code(&self, list_id: &str, parent_id: Option<&str>, short_code: &str, except: &str) -> bool {
        self.items.values().any(|i| {
            i.id != except && i.parent_id.as_deref() == parent_id && i.short_code == short_code && i.live_in(list_id)
        })
    }

    /// The parent named by `parentId` and/or `parentCode` (both must agree), live in the list.
    fn resolve_parent(&self, new: &NewItem) -> Result<Option<&Item>, ListError> {
        let by_id = match &new.parent_id {
            None => None,
            Some(id) => Some(self.items.get(id).filter(|p| p.live_in(&new.list_id)).ok_or_else(|| {
                list_error(
                    StatusCode::NOT_FOUND,
                    "PARENT_NOT_FOUND",
                    format!("Parent item {id} is not in list {}", new.list_id),
                )
            })?),
        };
        let by_code = match &new.parent_code {
            None => None,
            Some(code) => Some(self.parent_by_code(&new.list_id, code)?),
        };
        match (by_id, by_code) {
            (Some(a), Some(b)) if a.id != b.id => Err(invalid_field(
                "parentCode",
                format!("parentCode {} does not name parentId {}", new.parent_code.as_deref().unwrap_or(""), a.id),
            )),
            (a, b) => Ok(a.or(b)),
        }
    }

    fn parent_by_code(&self, list_id: &str, code: &str) -> Result<&Item, ListError> {
        let found: Vec<&Item> = self.items.values().filter(|i| i.live_in(list_id) && self.code_of(i) == code).collect();
        match found.as_slice() {
            [one] => Ok(one),
            [] => Err(list_error(
                StatusCode::NOT_FOUND,
                "PARENT_NOT_FOUND",
                format!("No item with code {code} in list {list_id}"),
            )),
            _ => Err(invalid_field(
                "parentCode",
                format!("parentCode {code} names more than one item (short codes contain '-')"),
            )),
        }
    }

    pub fn create_item(&mut self, new: NewItem) -> Result<Value, ListError> {
        let list = self.list(&new.list_id).filter(|l| !l.is_deleted).ok_or_else(|| list_not_found(&new.list_id))?;
        let level_count = list.level_count;
        let parent = self.resolve_parent(&new)?;
        let (parent_id, level) = match parent {
            Some(p) => (Some(p.id.clone()), p.level + 1),
            None => (None, 1),
        };
        if level > level_count {
            return Err(list_error(
                StatusCode::BAD_REQUEST,
                "LEVEL_EXCEEDS_LIST",
                format!("Level {level} is deeper than the {level_count} level(s) of list {}", new.list_id),
            ));
        }
        if self.sibling_with_code(&new.list_id, parent_id.as_deref(), &new.short_code, "") {
            return Err(duplicate_short_code(&new.short_code));
        }
        let item = Item {
            id: uuid::Uuid::new_v4().to_string(),
            list_id: new.list_id.clone(),
            short_code: new.short_code,
            value: new.value,
            parent_id,
            level,
            memberships: vec![Membership { list_id: new.list_id, deleted: false }],
            modified_at: OffsetDateTime::now_utc(),
            revision: self.next_revision(),
        };
        let id = item.id.clone();
        self.items.insert(id.clone(), item);
        self.item_json(&id).ok_or_else(|| item_not_found(&id))
    }

    /// `PUT`: new short code and value. A deleted item cannot be updated (404).
    pub fn update_item(&mut self, id: &str, short_code: &str, value: &str) -> Result<Value, ListError> {
        let item = self.items.get(id).filter(|i| !i.is_deleted()).ok_or_else(|| item_not_found(id))?;
        let clash = item
            .live_lists()
            .iter()
            .any(|list| self.sibling_with_code(list, item.parent_id.as_deref(), short_code, id));
        if clash {
            return Err(duplicate_short_code(short_code));
        }
        let revision = self.next_revision();
        if let Some(item) = self.items.get_mut(id) {
            item.short_code = short_code.to_owned();
            item.value = value.to_owned();
            item.modified_at = OffsetDateTime::now_utc();
            item.revision = revision;
        }
        self.item_json(id).ok_or_else(|| item_not_found(id))
    }

    /// Deletes the item and its descendants from `list_id`, or from every list when `None`.
    /// An unknown item (or one not in the list) is a 400: the documented DELETE errors have no 404.
    pub fn delete_item(&mut self, id: &str, list_id: Option<&str>) -> Result<(), ListError> {
        let known = self.items.get(id).is_some_and(|i| list_id.is_none_or(|l| i.member_of(l)));
        if !known {
            let place = list_id.map(|l| format!(" in list {l}")).unwrap_or_default();
            return Err(list_error(
                StatusCode::BAD_REQUEST,
                "LIST_ITEM_NOT_FOUND",
                format!("List item {id} was not found{place}"),
            ));
        }
        let revision = self.next_revision();
        let now = OffsetDateTime::now_utc();
        for target in self.subtree(id) {
            let Some(item) = self.items.get_mut(&target) else { continue };
            for m in item.memberships.iter_mut().filter(|m| list_id.is_none_or(|l| m.list_id == l)) {
                m.deleted = true;
            }
            item.modified_at = now;
            item.revision = revision;
        }
        Ok(())
    }

    /// The item and every descendant, parents first.
    fn subtree(&self, id: &str) -> Vec<String> {
        let mut found = vec![id.to_owned()];
        let mut next = 0;
        while next < found.len() {
            let parent = found[next].clone();
            found.extend(self.items.values().filter(|i| i.parent_id.as_deref() == Some(&parent)).map(|i| i.id.clone()));
            next += 1;
        }
        found
    }

    /// Adds an item and its descendants to another list (its parent must be live there).
    pub fn share_item(&mut self, id: &str, list_id: &str) -> bool {
        let Some(item) = self.items.get(id) else { return false };
        let parent_ok = item.parent_id.as_deref().is_none_or(|p| self.items.get(p).is_some_and(|p| p.live_in(list_id)));
        if self.list(list_id).is_none() || !parent_ok {
            return false;
        }
        for target in self.subtree(id) {
            let Some(item) = self.items.get_mut(&target) else { continue };
            match item.memberships.iter_mut().find(|m| m.list_id == list_id) {
                Some(m) => m.deleted = false,
                None => item.memberships.push(Membership { list_id: list_id.to_owned(), deleted: false }),
            }
        }
        true
    }

    /// Direct children for a children call (live ones, or all when `include_deleted`).
    pub fn children(&self, of: ChildrenOf<'_>, include_deleted: bool) -> Result<Vec<Value>, ListError> {
        let (parent, list): (Option<&str>, Option<&str>) = match of {
            ChildrenOf::List(list) => {
                self.list(list).ok_or_else(|| list_not_found(list))?;
                (None, Some(list))
            }
            ChildrenOf::ItemInList(list, item) => {
                self.list(list).ok_or_else(|| list_not_found(list))?;
                self.items.get(item).filter(|i| i.live_in(list)).ok_or_else(|| item_not_found(item))?;
                (Some(item), Some(list))
            }
            ChildrenOf::Item(item) => {
                self.items.get(item).ok_or_else(|| item_not_found(item))?;
                (Some(item), None)
            }
        };
        let visible = |i: &Item| match list {
            Some(list) => i.live_in(list) || (include_deleted && i.member_of(list)),
            None => !i.is_deleted() || include_deleted,
        };
        Ok(self
            .items
            .values()
            .filter(|i| i.parent_id.as_deref() == parent && visible(i))
            .filter_map(|i| self.item_json(&i.id))
            .collect())
    }

    /// The documented ListItem response shape.
    pub fn item_json(&self, id: &str) -> Option<Value> {
        let item = self.items.get(id)?;
        let shown = if item.is_deleted() {
            item.memberships.iter().collect::<Vec<_>>()
        } else {
            item.memberships.iter().filter(|m| !m.deleted).collect()
        };
        let lists: Vec<Value> = shown
            .iter()
            .map(|m| json!({"id": m.list_id, "hasChildren": self.has_live_children(&item.id, &m.list_id)}))
            .collect();
        Some(json!({
            "id": item.id,
            "code": self.code_of(item),
            "shortCode": item.short_code,
            "value": item.value,
            "parentId": item.parent_id,
            "listId": item.list_id,
            "level": item.level,
            "lists": lists,
            "isDeleted": item.is_deleted(),
        }))
    }

    /// `ETag` of an item (its revision).
    pub fn item_etag(&self, id: &str) -> Option<String> {
        self.items.get(id).map(|i| format!("\"{}\"", i.revision))
    }

    pub fn item_record(&self, id: &str) -> Option<ListItemRecord> {
        let item = self.items.get(id)?;
        Some(ListItemRecord {
            id: item.id.clone(),
            list_id: item.list_id.clone(),
            code: self.code_of(item),
            short_code: item.short_code.clone(),
            value: item.value.clone(),
            parent_id: item.parent_id.clone(),
            level: item.level,
            lists: item.live_lists(),
            is_deleted: item.is_deleted(),
            modified_at: item.modified_at,
        })
    }

    /// Every item ever created, as records (deleted ones included).
    pub fn item_records(&self) -> Vec<ListItemRecord> {
        self.items.keys().filter_map(|id| self.item_record(id)).collect()
    }

    pub fn set_item_modified_at(&mut self, id: &str, at: OffsetDateTime) -> bool {
        self.items.get_mut(id).map(|i| i.modified_at = at).is_some()
    }
}

fn duplicate_short_code(short_code: &str) -> ListError {
    ListError {
        status: StatusCode::BAD_REQUEST,
        id: "LIST_ITEM_DUPLICATE_SHORT_CODE",
        message: format!("An item with shortCode {short_code} already exists at this level of the list"),
        validation: vec![(format!("shortCode {short_code} is not unique among its siblings"), "shortCode".into())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_item(list: &str, code: &str, parent_id: Option<&str>, parent_code: Option<&str>) -> NewItem {
        NewItem {
            list_id: list.to_owned(),
            short_code: code.to_owned(),
            value: format!("{code} text"),
            parent_id: parent_id.map(str::to_owned),
            parent_code: parent_code.map(str::to_owned),
        }
    }

    fn book_with_list(levels: u32) -> (ListBook, String) {
        let mut book = ListBook::default();
        let id = book.create_list("Cost centres", levels, None, "TEXT", "(CODE) TEXT").expect("list").id.clone();
        (book, id)
    }

    #[test]
    fn long_codes_levels_and_duplicates() {
        let (mut book, list) = book_with_list(2);
        let top = book.create_item(new_item(&list, "0100", None, None)).expect("level 1");
        let top_id = top["id"].as_str().expect("id").to_owned();
        let child = book.create_item(new_item(&list, "SALES", None, Some("0100"))).expect("level 2");
        assert_eq!((child["code"].as_str(), child["level"].as_u64()), (Some("0100-SALES"), Some(2)));
        let too_deep = book.create_item(new_item(&list, "X", child["id"].as_str(), None)).unwrap_err();
        assert_eq!(too_deep.id, "LEVEL_EXCEEDS_LIST");
        let duplicate = book.create_item(new_item(&list, "SALES", Some(&top_id), None)).unwrap_err();
        assert_eq!(duplicate.id, "LIST_ITEM_DUPLICATE_SHORT_CODE");
        // The same short code under another parent is fine.
        book.create_item(new_item(&list, "0200", None, None)).expect("level 1");
        book.create_item(new_item(&list, "SALES", None, Some("0200"))).expect("same code, other parent");
        let missing = book.create_item(new_item(&list, "Y", Some("no-such-id"), None)).unwrap_err();
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn deleting_from_one_list_keeps_the_item_live_in_the_other() {
        let (mut book, first) = book_with_list(2);
        let second = book.create_list("Other", 2, None, "TEXT", "(CODE) TEXT").expect("list").id.clone();
        let top = book.create_item(new_item(&first, "A", None, None)).expect("item");
        let id = top["id"].as_str().expect("id").to_owned();
        book.create_item(new_item(&first, "B", Some(&id), None)).expect("child");
        assert!(book.share_item(&id, &second));
        book.delete_item(&id, Some(&first)).expect("deleted from first");
        let record = book.item_record(&id).expect("record");
        assert_eq!((record.lists.clone(), record.is_deleted), (vec![second.clone()], false));
        assert_eq!(book.children(ChildrenOf::List(&first), false).expect("children").len(), 0);
        assert_eq!(book.children(ChildrenOf::List(&first), true).expect("children").len(), 1);
        book.delete_item(&id, None).expect("deleted everywhere");
        assert!(book.item_records().iter().all(|r| r.is_deleted));
        // A deleted item no longer blocks its short code.
        book.create_item(new_item(&first, "A", None, None)).expect("code reusable");
    }
}
