//! Schema violations found in the simulator's responses that are not documented real Intercom
//! behaviour, so they are the simulator's to fix, not exceptions. The default conformance tests
//! tolerate exactly these (and report them), so that main stays green while they are open; the
//! ignored `strict_conformance` test tolerates nothing and fails until every entry is fixed
//! (`cargo test -p intercom-sim --test conformance -- --ignored`). Remove an entry once the
//! simulator no longer produces it: the default tests print the entries they did not meet.

use super::SchemaError;

/// One open violation.
#[derive(Debug)]
pub struct KnownViolation {
    /// `operationId`s it is seen on.
    pub operations: &'static [&'static str],
    /// JSON pointers into the body where it is seen; `*` matches any one segment.
    pub pointers: &'static [&'static str],
    /// A fragment of the validator's message.
    pub message: &'static str,
    /// What is wrong and what would fix it.
    pub what: &'static str,
}

impl KnownViolation {
    /// Whether `error`, found on `operation`, is this violation.
    pub fn covers(&self, operation: &str, error: &SchemaError) -> bool {
        self.operations.contains(&operation)
            && error.message.contains(self.message)
            && self.pointers.iter().any(|pattern| pointer_matches(pattern, &error.at))
    }
}

/// Whether a concrete JSON pointer matches a pattern whose `*` segments match any one segment.
pub fn pointer_matches(pattern: &str, pointer: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let pointer: Vec<&str> = pointer.split('/').collect();
    pattern.len() == pointer.len() && pattern.iter().zip(&pointer).all(|(p, s)| *p == "*" || p == s)
}

/// Operations whose body is a company or has companies under `/data`.
const COMPANY_OPS: &[&str] = &[
    "createOrUpdateCompany",
    "RetrieveACompanyById",
    "retrieveCompany",
    "UpdateCompany",
    "attachContactToACompany",
    "detachContactFromACompany",
    "listAllCompanies",
    "scrollOverAllCompanies",
    "listCompaniesForAContact",
];

/// Operations whose body is a contact or has contacts under `/data`.
const CONTACT_OPS: &[&str] = &[
    "CreateContact",
    "ShowContact",
    "UpdateContact",
    "ShowContactByExternalId",
    "MergeContact",
    "ListContacts",
    "SearchContacts",
    "ListAttachedContacts",
];

/// The open violations.
pub static KNOWN_VIOLATIONS: &[KnownViolation] = &[
    KnownViolation {
        operations: &["listAdmins", "retrieveAdmin"],
        pointers: &["/admins/*/job_title", "/job_title"],
        message: "null is not of type \"string\"",
        what: "admin.job_title is `null`; the admin schema types it as a non-nullable string. Leave it out \
               (or send \"\") when the admin has no job title.",
    },
    KnownViolation {
        operations: COMPANY_OPS,
        pointers: &["/remote_created_at", "/data/*/remote_created_at"],
        message: "null is not of type \"integer\"",
        what: "company.remote_created_at is `null` for companies created without it; the company schema \
               types it as a non-nullable integer. Leave it out when unknown.",
    },
    KnownViolation {
        operations: CONTACT_OPS,
        pointers: &["/email", "/email_domain", "/data/*/email", "/data/*/email_domain"],
        message: "null is not of type \"string\"",
        what: "contact.email and contact.email_domain are `null` for contacts without an email; the contact \
               schema types both as non-nullable strings (the facts sheet documents null only for \
               external_id, avatar and owner_id). Send \"\" or leave them out.",
    },
];
