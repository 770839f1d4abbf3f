//! Deterministic seed data: teammates, custom attributes and tags always; with `--seed-contacts N`,
//! N contacts with realistic names, e-mails, locations and custom attributes, plus companies and
//! conversations. The same seed gives the same data, independent of the clock.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, json};

use crate::admins::Admin;
use crate::companies::Company;
use crate::contacts::{Contact, Location, Role};
use crate::conversations::Author;
use crate::data_attributes::{DataType, Model};
use crate::state::WorkspaceData;

/// Seeded data is dated before this instant (2024-12-18), so it never depends on the clock.
const BASE_TIME: i64 = 1_734_537_000;

const FIRST: &[&str] = &[
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Oliver", "Sophia", "Elijah", "Isabella", "Lucas", "Mia",
    "Mateo", "Amelia", "Levi", "Harper", "Ethan", "Aoife", "Ciaran", "Saoirse", "Oisin", "Priya", "Arjun",
    "Yuki", "Hiro", "Chloe", "Leon", "Lena", "Jonas", "Camille", "Hugo", "Sofia", "Diego", "Fatima", "Omar",
    "Zara", "Kwame", "Ingrid", "Lars", "Ana", "Joao",
];
const LAST: &[&str] = &[
    "Murphy", "Kelly", "Walsh", "Smith", "Johnson", "Brown", "Garcia", "Martinez", "Lee", "Nguyen", "Patel",
    "Kim", "Müller", "Schmidt", "Dubois", "Moreau", "Rossi", "Bianchi", "Silva", "Santos", "Tanaka", "Sato",
    "Okafor", "Mensah", "Andersen", "Nilsen", "Kowalski", "Novak", "Byrne", "Ryan", "O'Brien", "Cohen",
];
const DOMAINS: &[&str] =
    &["example.com", "example.org", "mail.example.net", "acme.example", "globex.example", "initech.example"];
const LOCATIONS: &[(&str, &str, &str, &str, &str)] = &[
    ("Ireland", "Leinster", "Dublin", "IE", "EU"),
    ("United States", "California", "San Francisco", "US", "NA"),
    ("United States", "New York", "New York", "US", "NA"),
    ("United Kingdom", "England", "London", "GB", "EU"),
    ("Germany", "Berlin", "Berlin", "DE", "EU"),
    ("France", "Île-de-France", "Paris", "FR", "EU"),
    ("Brazil", "São Paulo", "São Paulo", "BR", "SA"),
    ("Japan", "Tokyo", "Tokyo", "JP", "AS"),
    ("India", "Karnataka", "Bengaluru", "IN", "AS"),
    ("Australia", "New South Wales", "Sydney", "AU", "OC"),
    ("Nigeria", "Lagos", "Lagos", "NG", "AF"),
];
const BROWSERS: &[&str] = &["chrome", "firefox", "safari", "edge"];
const OSES: &[&str] = &["Mac OS X", "Windows 11", "Linux", "iOS", "Android"];
const PLANS: &[&str] = &["free", "starter", "pro", "enterprise"];
const COMPANY_WORDS: &[&str] = &[
    "Blue", "Sun", "North", "Iron", "Bright", "Quantum", "Harbor", "Summit", "Cedar", "Atlas", "Nimbus",
    "Pixel", "Orbit", "Maple", "Vertex", "Lumen",
];
const COMPANY_KINDS: &[&str] =
    &["Labs", "Systems", "Logistics", "Health", "Foods", "Software", "Energy", "Media"];
const INDUSTRIES: &[&str] = &["Software", "Retail", "Healthcare", "Finance", "Education", "Manufacturing"];
const TAGS: &[&str] = &["VIP", "Churn risk", "Beta", "Newsletter"];
const MESSAGES: &[&str] = &[
    "I need help with my invoice",
    "How do I reset my password?",
    "The export button does nothing",
    "Can I upgrade to the pro plan?",
    "Thanks for the quick fix!",
];

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

/// Fills a workspace with its fixed data and `contacts` generated contacts.
pub fn seed_workspace(data: &mut WorkspaceData, seed: u64, contacts: usize) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_da7a);
    data.admins = vec![
        Admin::new("991267459".into(), "Ciaran Lee".into(), "ciaran.lee@example.com".into()),
        Admin::new("991267460".into(), "Maya Okafor".into(), "maya.okafor@example.com".into()),
        Admin::new("991267461".into(), "Sam Walsh".into(), "sam.walsh@example.com".into()),
    ];
    let admin_id = data.admins[0].id.clone();
    for (name, ty) in [
        ("plan", DataType::String),
        ("seats", DataType::Integer),
        ("mrr", DataType::Float),
        ("beta_tester", DataType::Boolean),
        ("trial_ends_at", DataType::Date),
    ] {
        data.attributes.insert(Model::Contact, name, ty, &admin_id, BASE_TIME);
    }
    for (name, ty) in [("tier", DataType::String), ("employees", DataType::Integer)] {
        data.attributes.insert(Model::Company, name, ty, &admin_id, BASE_TIME);
    }
    let tag_ids: Vec<String> = TAGS.iter().map(|t| data.tags.get_or_create(t).id).collect();
    if contacts == 0 {
        return;
    }

    let company_count = (contacts / 25).clamp(1, 5_000);
    let mut company_ids = Vec::with_capacity(company_count);
    for i in 0..company_count {
        let created = BASE_TIME - rng.random_range(0..3 * 365 * 86_400);
        let id = data.object_id(created);
        let name = format!(
            "{} {} {}",
            pick(&mut rng, COMPANY_WORDS),
            pick(&mut rng, COMPANY_WORDS),
            pick(&mut rng, COMPANY_KINDS)
        );
        let mut custom = Map::new();
        custom.insert("tier".into(), json!(pick(&mut rng, &["gold", "silver", "bronze"])));
        custom.insert("employees".into(), json!(rng.random_range(2..5_000)));
        company_ids.push(id.clone());
        data.companies.insert(Company {
            id,
            company_id: format!("cmp_{:05}", i + 1),
            name: Some(name),
            remote_created_at: Some(created - 86_400),
            created_at: created,
            updated_at: created,
            last_request_at: Some(BASE_TIME - rng.random_range(0..30 * 86_400)),
            monthly_spend: f64::from(rng.random_range(0..50_000u32)),
            session_count: rng.random_range(0..10_000),
            user_count: 0,
            size: Some(rng.random_range(2..5_000)),
            website: Some(format!("https://www.company{}.example", i + 1)),
            industry: Some(pick(&mut rng, INDUSTRIES).to_string()),
            plan: Some(pick(&mut rng, PLANS).to_string()),
            custom_attributes: custom,
            tags: Vec::new(),
        });
    }

    let mut contact_ids = Vec::with_capacity(contacts);
    for i in 0..contacts {
        let created = BASE_TIME - rng.random_range(0..2 * 365 * 86_400);
        let role = if rng.random_bool(0.8) { Role::User } else { Role::Lead };
        let id = data.object_id(created);
        let mut c = Contact::new(id, role, created);
        let (first, last) = (pick(&mut rng, FIRST), pick(&mut rng, LAST));
        let local: String = format!("{first}.{last}")
            .to_lowercase()
            .chars()
            .filter(|ch| ch.is_ascii_alphanumeric() || *ch == '.')
            .collect();
        c.name = Some(format!("{first} {last}"));
        c.email = Some(format!("{local}{}@{}", i + 1, pick(&mut rng, DOMAINS)));
        if role == Role::User {
            c.external_id = Some(format!("user_{:06}", i + 1));
            c.signed_up_at = Some(created);
        }
        if rng.random_bool(0.3) {
            c.phone =
                Some(format!("+353 1 {:03} {:04}", rng.random_range(100..1000), rng.random_range(0..10_000)));
        }
        c.last_seen_at = Some(created + rng.random_range(0..30 * 86_400));
        c.updated_at = c.last_seen_at.unwrap_or(created);
        let loc = LOCATIONS[rng.random_range(0..LOCATIONS.len())];
        c.location = Location {
            country: Some(loc.0.into()),
            region: Some(loc.1.into()),
            city: Some(loc.2.into()),
            country_code: Some(loc.3.into()),
            continent_code: Some(loc.4.into()),
        };
        c.browser = Some(pick(&mut rng, BROWSERS).into());
        c.os = Some(pick(&mut rng, OSES).into());
        c.unsubscribed_from_emails = rng.random_bool(0.1);
        c.custom_attributes.insert("plan".into(), json!(pick(&mut rng, PLANS)));
        c.custom_attributes.insert("seats".into(), json!(rng.random_range(1..500)));
        c.custom_attributes.insert("mrr".into(), json!(f64::from(rng.random_range(0..100_000u32)) / 100.0));
        c.custom_attributes.insert("beta_tester".into(), json!(rng.random_bool(0.2)));
        if rng.random_bool(0.25) {
            c.custom_attributes.insert("trial_ends_at".into(), json!(created + 14 * 86_400));
        }
        if rng.random_bool(0.15) {
            c.tags.push((tag_ids[rng.random_range(0..tag_ids.len())].clone(), created));
        }
        if role == Role::User && rng.random_bool(0.6) {
            let company = company_ids[rng.random_range(0..company_ids.len())].clone();
            data.companies.adjust_user_count(&company, 1);
            c.companies.push(company);
        }
        contact_ids.push(c.id.clone());
        data.contacts.insert(c);
    }

    let conversations = (contacts / 50).clamp(1, 500);
    for _ in 0..conversations {
        let cid = &contact_ids[rng.random_range(0..contact_ids.len())];
        let Some(contact) = data.contacts.get(cid) else {
            continue;
        };
        let author = Author::contact(contact);
        let external = contact.external_id.clone();
        let created = contact.created_at + rng.random_range(0..86_400);
        let body = pick(&mut rng, MESSAGES);
        data.conversations.start(author, external, body, created);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint(seed: u64) -> Vec<String> {
        let mut data = WorkspaceData::new(seed);
        seed_workspace(&mut data, seed, 200);
        data.contacts
            .iter_live()
            .map(|(_, c)| format!("{}|{:?}|{:?}|{:?}", c.id, c.email, c.name, c.custom_attributes))
            .collect()
    }

    #[test]
    fn same_seed_same_data() {
        assert_eq!(fingerprint(7), fingerprint(7));
        assert_ne!(fingerprint(7), fingerprint(8));
    }

    #[test]
    fn seeds_realistic_contacts() {
        let mut data = WorkspaceData::new(1);
        seed_workspace(&mut data, 1, 100);
        assert_eq!(data.contacts.len(), 100);
        assert!(!data.companies.is_empty());
        assert!(!data.conversations.is_empty());
        let (_, c) = data.contacts.iter_live().next().expect("a contact");
        assert!(c.email.as_deref().is_some_and(|e| e.contains('@')));
        assert!(data.attributes.validate(Model::Contact, &c.custom_attributes).is_ok());
    }
}
