//! The Intercom API route table: (method, path) → endpoint template (for stats) and handler.

use axum::http::Method;

use crate::api::{ApiResult, Ctx};
use crate::input::percent_decode;
use crate::{admins, companies, contacts, conversations, data_attributes, events, tags};

/// A resolved API route with its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /me`.
    Me,
    /// `GET /admins`.
    AdminList,
    /// `GET /admins/{id}`.
    AdminGet(String),
    /// `POST /contacts`.
    ContactCreate,
    /// `GET /contacts`.
    ContactList,
    /// `POST /contacts/search`.
    ContactSearch,
    /// `POST /contacts/merge`.
    ContactMerge,
    /// `GET /contacts/find_by_external_id/{external_id}`.
    ContactByExternalId(String),
    /// `GET /contacts/{id}`.
    ContactGet(String),
    /// `PUT /contacts/{id}`.
    ContactUpdate(String),
    /// `DELETE /contacts/{id}`.
    ContactDelete(String),
    /// `POST /contacts/{id}/archive`.
    ContactArchive(String),
    /// `POST /contacts/{id}/unarchive`.
    ContactUnarchive(String),
    /// `GET /contacts/{id}/tags`.
    ContactTags(String),
    /// `POST /contacts/{id}/tags`.
    ContactTagAttach(String),
    /// `DELETE /contacts/{id}/tags/{tag_id}`.
    ContactTagDetach(String, String),
    /// `GET /contacts/{id}/companies`.
    ContactCompanies(String),
    /// `POST /contacts/{id}/companies`.
    ContactCompanyAttach(String),
    /// `DELETE /contacts/{id}/companies/{company_id}`.
    ContactCompanyDetach(String, String),
    /// `POST /companies`.
    CompanyUpsert,
    /// `GET /companies`.
    CompanyRetrieve,
    /// `POST /companies/list`.
    CompanyList,
    /// `GET /companies/scroll`.
    CompanyScroll,
    /// `GET /companies/{id}`.
    CompanyGet(String),
    /// `PUT /companies/{id}`.
    CompanyUpdate(String),
    /// `DELETE /companies/{id}`.
    CompanyDelete(String),
    /// `GET /companies/{id}/contacts`.
    CompanyContacts(String),
    /// `GET /data_attributes`.
    DataAttributeList,
    /// `POST /data_attributes`.
    DataAttributeCreate,
    /// `PUT /data_attributes/{id}`.
    DataAttributeUpdate(String),
    /// `GET /tags`.
    TagList,
    /// `POST /tags`.
    TagCreate,
    /// `GET /tags/{id}`.
    TagGet(String),
    /// `DELETE /tags/{id}`.
    TagDelete(String),
    /// `POST /events`.
    EventCreate,
    /// `GET /conversations`.
    ConversationList,
    /// `POST /conversations`.
    ConversationCreate,
    /// `POST /conversations/search`.
    ConversationSearch,
    /// `GET /conversations/{id}`.
    ConversationGet(String),
    /// `POST /conversations/{id}/reply`.
    ConversationReply(String),
    /// `POST /conversations/{id}/parts`.
    ConversationManage(String),
}

/// Resolves a request to its endpoint template and route; `None` for unknown paths and methods.
pub fn resolve(method: &Method, path: &str) -> Option<(&'static str, Route)> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let p = |s: &str| percent_decode(s);
    use Route::*;
    let m = method.as_str();
    let found = match (m, segs.as_slice()) {
        ("GET", ["me"]) => ("GET /me", Me),
        ("GET", ["admins"]) => ("GET /admins", AdminList),
        ("GET", ["admins", id]) => ("GET /admins/{id}", AdminGet(p(id))),
        ("POST", ["contacts"]) => ("POST /contacts", ContactCreate),
        ("GET", ["contacts"]) => ("GET /contacts", ContactList),
        ("POST", ["contacts", "search"]) => ("POST /contacts/search", ContactSearch),
        ("POST", ["contacts", "merge"]) => ("POST /contacts/merge", ContactMerge),
        ("GET", ["contacts", "find_by_external_id", ext]) => {
            ("GET /contacts/find_by_external_id/{external_id}", ContactByExternalId(p(ext)))
        }
        ("GET", ["contacts", id]) => ("GET /contacts/{id}", ContactGet(p(id))),
        ("PUT", ["contacts", id]) => ("PUT /contacts/{id}", ContactUpdate(p(id))),
        ("DELETE", ["contacts", id]) => ("DELETE /contacts/{id}", ContactDelete(p(id))),
        ("POST", ["contacts", id, "archive"]) => ("POST /contacts/{id}/archive", ContactArchive(p(id))),
        ("POST", ["contacts", id, "unarchive"]) => ("POST /contacts/{id}/unarchive", ContactUnarchive(p(id))),
        ("GET", ["contacts", id, "tags"]) => ("GET /contacts/{id}/tags", ContactTags(p(id))),
        ("POST", ["contacts", id, "tags"]) => ("POST /contacts/{id}/tags", ContactTagAttach(p(id))),
        ("DELETE", ["contacts", id, "tags", tag]) => {
            ("DELETE /contacts/{id}/tags/{tag_id}", ContactTagDetach(p(id), p(tag)))
        }
        ("GET", ["contacts", id, "companies"]) => ("GET /contacts/{id}/companies", ContactCompanies(p(id))),
        ("POST", ["contacts", id, "companies"]) => {
            ("POST /contacts/{id}/companies", ContactCompanyAttach(p(id)))
        }
        ("DELETE", ["contacts", id, "companies", c]) => {
            ("DELETE /contacts/{id}/companies/{company_id}", ContactCompanyDetach(p(id), p(c)))
        }
        ("POST", ["companies"]) => ("POST /companies", CompanyUpsert),
        ("GET", ["companies"]) => ("GET /companies", CompanyRetrieve),
        ("POST", ["companies", "list"]) => ("POST /companies/list", CompanyList),
        ("GET", ["companies", "scroll"]) => ("GET /companies/scroll", CompanyScroll),
        ("GET", ["companies", id]) => ("GET /companies/{id}", CompanyGet(p(id))),
        ("PUT", ["companies", id]) => ("PUT /companies/{id}", CompanyUpdate(p(id))),
        ("DELETE", ["companies", id]) => ("DELETE /companies/{id}", CompanyDelete(p(id))),
        ("GET", ["companies", id, "contacts"]) => ("GET /companies/{id}/contacts", CompanyContacts(p(id))),
        ("GET", ["data_attributes"]) => ("GET /data_attributes", DataAttributeList),
        ("POST", ["data_attributes"]) => ("POST /data_attributes", DataAttributeCreate),
        ("PUT", ["data_attributes", id]) => ("PUT /data_attributes/{id}", DataAttributeUpdate(p(id))),
        ("GET", ["tags"]) => ("GET /tags", TagList),
        ("POST", ["tags"]) => ("POST /tags", TagCreate),
        ("GET", ["tags", id]) => ("GET /tags/{id}", TagGet(p(id))),
        ("DELETE", ["tags", id]) => ("DELETE /tags/{id}", TagDelete(p(id))),
        ("POST", ["events"]) => ("POST /events", EventCreate),
        ("GET", ["conversations"]) => ("GET /conversations", ConversationList),
        ("POST", ["conversations"]) => ("POST /conversations", ConversationCreate),
        ("POST", ["conversations", "search"]) => ("POST /conversations/search", ConversationSearch),
        ("GET", ["conversations", id]) => ("GET /conversations/{id}", ConversationGet(p(id))),
        ("POST", ["conversations", id, "reply"]) => {
            ("POST /conversations/{id}/reply", ConversationReply(p(id)))
        }
        ("POST", ["conversations", id, "parts"]) => {
            ("POST /conversations/{id}/parts", ConversationManage(p(id)))
        }
        _ => return None,
    };
    Some(found)
}

/// Whether the route exists in API 1.x (only admins and tags survived unchanged from 1.x).
pub fn available_in_v1(route: &Route) -> bool {
    matches!(route, Route::Me | Route::AdminList | Route::AdminGet(_) | Route::TagList | Route::TagCreate)
}

/// Runs the handler of a route.
pub fn call(route: &Route, ctx: &mut Ctx<'_>) -> ApiResult {
    use Route::*;
    match route {
        Me => admins::me(ctx),
        AdminList => admins::list(ctx),
        AdminGet(id) => admins::get(ctx, id),
        ContactCreate => contacts::create(ctx),
        ContactList => contacts::list(ctx),
        ContactSearch => contacts::search(ctx),
        ContactMerge => contacts::merge(ctx),
        ContactByExternalId(ext) => contacts::find_by_external_id(ctx, ext),
        ContactGet(id) => contacts::get(ctx, id),
        ContactUpdate(id) => contacts::update(ctx, id),
        ContactDelete(id) => contacts::delete(ctx, id),
        ContactArchive(id) => contacts::archive(ctx, id),
        ContactUnarchive(id) => contacts::unarchive(ctx, id),
        ContactTags(id) => contacts::list_tags(ctx, id),
        ContactTagAttach(id) => contacts::attach_tag(ctx, id),
        ContactTagDetach(id, tag) => contacts::detach_tag(ctx, id, tag),
        ContactCompanies(id) => companies::list_for_contact(ctx, id),
        ContactCompanyAttach(id) => companies::attach_to_contact(ctx, id),
        ContactCompanyDetach(id, c) => companies::detach_from_contact(ctx, id, c),
        CompanyUpsert => companies::upsert(ctx),
        CompanyRetrieve => companies::retrieve(ctx),
        CompanyList => companies::list(ctx),
        CompanyScroll => companies::scroll(ctx),
        CompanyGet(id) => companies::get(ctx, id),
        CompanyUpdate(id) => companies::update(ctx, id),
        CompanyDelete(id) => companies::delete(ctx, id),
        CompanyContacts(id) => companies::list_contacts(ctx, id),
        DataAttributeList => data_attributes::list(ctx),
        DataAttributeCreate => data_attributes::create(ctx),
        DataAttributeUpdate(id) => data_attributes::update(ctx, id),
        TagList => tags::list(ctx),
        TagCreate => tags::create(ctx),
        TagGet(id) => tags::get(ctx, id),
        TagDelete(id) => tags::delete(ctx, id),
        EventCreate => events::create(ctx),
        ConversationList => conversations::list(ctx),
        ConversationCreate => conversations::create(ctx),
        ConversationSearch => conversations::search(ctx),
        ConversationGet(id) => conversations::get(ctx, id),
        ConversationReply(id) => conversations::reply(ctx, id),
        ConversationManage(id) => conversations::manage(ctx, id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_templates_and_params() {
        let (t, r) = resolve(&Method::GET, "/contacts/abc").expect("known route");
        assert_eq!(t, "GET /contacts/{id}");
        assert_eq!(r, Route::ContactGet("abc".into()));
        let (_, r) = resolve(&Method::GET, "/contacts/find_by_external_id/a%2Fb").expect("known");
        assert_eq!(r, Route::ContactByExternalId("a/b".into()));
        assert!(resolve(&Method::PATCH, "/contacts/abc").is_none());
        assert!(resolve(&Method::GET, "/nope").is_none());
        assert_eq!(resolve(&Method::POST, "/contacts/search").map(|x| x.1), Some(Route::ContactSearch));
    }
}
