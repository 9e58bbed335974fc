//! Bounded cursor pagination. Cursors are the last item's prefixed id; ids are UUIDv7, so
//! "after this id" is a stable, index-friendly position even while rows are being added.

use crate::error::ApiError;
use serde::Serialize;
use std::str::FromStr;

pub const LIMIT_DEFAULT: u32 = 20;
pub const LIMIT_MAX: u32 = 100;

/// The page size asked for, checked against the bounds.
pub fn limit(requested: Option<u32>) -> Result<u32, ApiError> {
    match requested.unwrap_or(LIMIT_DEFAULT) {
        n @ 1..=LIMIT_MAX => Ok(n),
        n => Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be between 1 and {LIMIT_MAX}, got {n}"),
        )),
    }
}

pub fn cursor<T: FromStr>(raw: Option<&str>) -> Result<Option<T>, ApiError> {
    raw.map(|c| {
        T::from_str(c).map_err(|_| ApiError::bad_request("invalid_cursor", "the cursor is not one this API returned"))
    })
    .transpose()
}

/// The query of every plain list endpoint: `?limit=&cursor=`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The checked page size and the position after which to continue.
    pub fn parse<T: FromStr>(&self) -> Result<(u32, Option<T>), ApiError> {
        Ok((limit(self.limit)?, cursor(self.cursor.as_deref())?))
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub has_more: bool,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows (the extra row only says there is more).
    pub fn from_rows<R>(mut rows: Vec<R>, limit: u32, cursor_of: impl Fn(&R) -> String, map: impl Fn(R) -> T) -> Self {
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if has_more { rows.last().map(&cursor_of) } else { None };
        Page {
            data: rows.into_iter().map(map).collect(),
            has_more,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_bounded() {
        assert_eq!(limit(None).unwrap(), LIMIT_DEFAULT);
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(LIMIT_MAX + 1)).is_err());
    }

    #[test]
    fn a_page_knows_whether_more_follow() {
        let page = Page::from_rows(vec![1, 2, 3], 2, |r| r.to_string(), |r| r);
        assert_eq!(
            (page.data, page.has_more, page.next_cursor.as_deref()),
            (vec![1, 2], true, Some("2"))
        );
        let last = Page::from_rows(vec![1], 2, |r| r.to_string(), |r| r);
        assert!(!last.has_more && last.next_cursor.is_none());
    }
}
