//! List v4 and List Item v4 (reference-data.md §2–§3): the cost-object
//! codes of a Concur list, hierarchical, each item known by Concur's uuid.
//!
//! Concur has no upsert and no write keyed by code, but it refuses a second
//! live item with the same short code under the same parent. So the sync
//! creates an item it has no id for, and when Concur refuses the create
//! (a create repeated after a timeout, or an item someone added by hand) it
//! looks the code up and takes that item: one item per code either way.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::{ConcurClient, ConcurError};
use crate::tokens::AccessToken;

const LISTS_PATH: &str = "/list/v4/lists";
const ITEMS_PATH: &str = "/list/v4/items";
/// Pages read at most when looking for a list or a code: 100 per page
/// (fixed by Concur), so 100,000 lists or same-prefix codes.
const MAX_PAGES: u32 = 1_000;

/// A Concur list (List v4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConcurList {
    pub id: String,
    pub name: String,
    pub level_count: u32,
}

/// A list item as Concur holds it (List Item v4).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConcurListItem {
    pub id: String,
    pub short_code: String,
    pub value: String,
    #[serde(default)]
    pub level: u32,
    #[serde(default)]
    pub is_deleted: bool,
}

/// One page of a v4 collection.
#[derive(Debug, Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    content: Vec<T>,
    #[serde(default)]
    page: Option<PageInfo>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    #[serde(default)]
    total_pages: u32,
}

impl<T> Page<T> {
    fn is_last(&self, number: u32) -> bool {
        self.content.is_empty() || self.page.as_ref().is_none_or(|p| number >= p.total_pages)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListJson {
    id: String,
    value: String,
    #[serde(default)]
    level_count: u32,
    #[serde(default)]
    is_deleted: bool,
}

impl ConcurClient {
    /// The live list named `name` (names are unique among live lists).
    pub async fn find_list(&self, token: &AccessToken, name: &str) -> Result<Option<ConcurList>, ConcurError> {
        let found: Option<ListJson> = self
            .first_in_pages(token, &format!("{LISTS_PATH}?"), |l: &ListJson| l.value == name && !l.is_deleted)
            .await?;
        Ok(found.map(|l| ConcurList { id: l.id, name: l.value, level_count: l.level_count }))
    }

    /// The live item with `short_code` under `parent_id` (level 1 when
    /// `None`) in the list.
    pub async fn find_list_item(
        &self,
        token: &AccessToken,
        list_id: &str,
        parent_id: Option<&str>,
        short_code: &str,
    ) -> Result<Option<ConcurListItem>, ConcurError> {
        let base = match parent_id {
            Some(parent) => format!("{LISTS_PATH}/{}/items/{}/children", segment(list_id), segment(parent)),
            None => format!("{LISTS_PATH}/{}/children", segment(list_id)),
        };
        let filter = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("shortCode", &format!("eq:{short_code}"))
            .finish();
        let wanted = |i: &ConcurListItem| i.short_code == short_code && !i.is_deleted;
        self.first_in_pages(token, &format!("{base}?{filter}&"), wanted).await
    }

    /// The first entry of a paged v4 collection that `wanted` accepts,
    /// reading `{query}page=1`, `page=2`… until the last page.
    async fn first_in_pages<T: serde::de::DeserializeOwned>(
        &self,
        token: &AccessToken,
        query: &str,
        wanted: impl Fn(&T) -> bool,
    ) -> Result<Option<T>, ConcurError> {
        for number in 1..=MAX_PAGES {
            let page: Page<T> = self.get_json(token, &format!("{query}page={number}")).await?;
            let last = page.is_last(number);
            if let Some(found) = page.content.into_iter().find(|entry| wanted(entry)) {
                return Ok(Some(found));
            }
            if last {
                break;
            }
        }
        Ok(None)
    }

    /// Creates an item under `parent_id` (level 1 when `None`).
    pub async fn create_list_item(
        &self,
        token: &AccessToken,
        list_id: &str,
        parent_id: Option<&str>,
        short_code: &str,
        value: &str,
    ) -> Result<ConcurListItem, ConcurError> {
        let mut body = json!({"listId": list_id, "shortCode": short_code, "value": value});
        if let Some(parent) = parent_id {
            body["parentId"] = Value::String(parent.to_owned());
        }
        self.write_json(reqwest::Method::POST, token, ITEMS_PATH, Some(&body)).await
    }

    /// Sets an item's short code and text (both required by Concur).
    pub async fn update_list_item(
        &self,
        token: &AccessToken,
        item_id: &str,
        short_code: &str,
        value: &str,
    ) -> Result<ConcurListItem, ConcurError> {
        let body = json!({"shortCode": short_code, "value": value});
        let path = format!("{ITEMS_PATH}/{}", segment(item_id));
        self.write_json(reqwest::Method::PUT, token, &path, Some(&body)).await
    }

    /// Removes an item (and its children) from one list only: an item can
    /// be shared with lists the connector does not feed.
    pub async fn remove_list_item(&self, token: &AccessToken, list_id: &str, item_id: &str) -> Result<(), ConcurError> {
        let path = format!("{LISTS_PATH}/{}/items/{}", segment(list_id), segment(item_id));
        self.write_no_content(reqwest::Method::DELETE, token, &path, None::<&Value>).await
    }
}

/// An id as one path segment (ids come from Concur's answers or our state:
/// never let one add a segment).
fn segment(id: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_');
    percent_encoding::utf8_percent_encode(id, KEEP).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_stays_one_path_segment() {
        assert_eq!(segment("7c6d0435-c4d1"), "7c6d0435-c4d1");
        assert_eq!(segment("../x"), "%2E%2E%2Fx");
    }

    #[test]
    fn a_page_is_the_last_when_empty_or_at_its_total() {
        let page: Page<ConcurListItem> =
            serde_json::from_value(json!({"content": [], "page": {"totalPages": 3}})).unwrap();
        assert!(page.is_last(1));
        let page: Page<ListJson> = serde_json::from_value(json!({
            "content": [{"id": "a", "value": "Cost Centers", "levelCount": 2}],
            "page": {"size": 100, "totalElements": 150, "totalPages": 2, "number": 1}
        }))
        .unwrap();
        assert!(!page.is_last(1));
        assert!(page.is_last(2));
    }
}
