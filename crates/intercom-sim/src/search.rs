//! Intercom's search query language (`POST /contacts/search`, `POST /conversations/search`).
