//! The Gorgias client against the loopback Gorgias fake: a ticket with the transcript, cursor
//! pagination, messages, closing, and the failure answers.

use tria_integrations::ticketing::fake::FakeGorgias;
use tria_integrations::ticketing::{GorgiasClient, GorgiasConfig, NewTicket, TicketFilter, Ticketing, TicketingError};

fn client(fake: &FakeGorgias, api_key: &str) -> GorgiasClient {
    GorgiasClient::new(reqwest::Client::new(), GorgiasConfig::new(fake.base_url(), "support@northwind.example", api_key))
}

fn ticket(n: usize) -> NewTicket {
    NewTicket {
        subject: format!("Handoff {n}"),
        customer_email: format!("customer{n}@example.com"),
        customer_name: "Maya".into(),
        transcript: vec![("user".into(), "Where is my order?".into()), ("assistant".into(), "Let me check.".into())],
        tags: vec!["tria".into()],
    }
}

#[tokio::test]
async fn tickets_are_created_listed_by_cursor_answered_and_closed() {
    let fake = FakeGorgias::start("support@northwind.example", "key-1").await.expect("fake");
    let gorgias = client(&fake, "key-1");
    let first = gorgias.create_ticket(&ticket(1)).await.expect("create");
    assert_eq!((first.subject.as_str(), first.status.as_str()), ("Handoff 1", "open"));
    assert_eq!(first.customer_email.as_deref(), Some("customer1@example.com"));
    for n in 2..=3 {
        gorgias.create_ticket(&ticket(n)).await.expect("create");
    }
    // The transcript is the first message, from the customer.
    let with = gorgias.get_ticket_with_comments(&first.id).await.expect("get");
    assert_eq!(with.messages.len(), 1);
    assert_eq!(with.messages[0].body_text, "Customer: Where is my order?\n\nAssistant: Let me check.");
    assert!(!with.messages[0].from_agent);

    let filter = TicketFilter { limit: Some(2), ..TicketFilter::default() };
    let page = gorgias.list_tickets(&filter, None).await.expect("page 1");
    assert_eq!(page.tickets.iter().map(|t| t.subject.as_str()).collect::<Vec<_>>(), ["Handoff 3", "Handoff 2"]);
    let cursor = page.next_cursor.expect("a next page");
    let page = gorgias.list_tickets(&filter, Some(&cursor)).await.expect("page 2");
    assert_eq!(page.tickets.iter().map(|t| t.subject.as_str()).collect::<Vec<_>>(), ["Handoff 1"]);
    assert!(page.next_cursor.is_none());

    let reply = gorgias.add_message(&first.id, "We are on it.", true).await.expect("message");
    assert!(reply.from_agent);
    assert_eq!(gorgias.get_ticket_with_comments(&first.id).await.expect("get").messages.len(), 2);
    gorgias.close_ticket(&first.id).await.expect("close");
    assert_eq!(gorgias.get_ticket_with_comments(&first.id).await.expect("get").ticket.status, "closed");
    assert_eq!(fake.tickets()[0]["status"], "closed");
}

#[tokio::test]
async fn wrong_credentials_unknown_tickets_and_bad_requests_are_typed_errors() {
    let fake = FakeGorgias::start("support@northwind.example", "key-1").await.expect("fake");
    let wrong = client(&fake, "not-the-key");
    assert!(matches!(wrong.create_ticket(&ticket(1)).await, Err(TicketingError::Unauthorized(401))));
    assert!(fake.tickets().is_empty(), "nothing is created without credentials");
    let gorgias = client(&fake, "key-1");
    assert!(matches!(gorgias.get_ticket_with_comments("999").await, Err(TicketingError::NotFound(_))));
    assert!(matches!(gorgias.close_ticket("999").await, Err(TicketingError::NotFound(_))));
    let no_email = NewTicket { customer_email: String::new(), ..ticket(1) };
    match gorgias.create_ticket(&no_email).await {
        Err(TicketingError::Rejected { status: 400, message }) => assert!(message.contains("customer"), "{message}"),
        other => panic!("expected a 400, got {other:?}"),
    }
    let bad_page = TicketFilter { limit: Some(500), ..TicketFilter::default() };
    assert!(matches!(gorgias.list_tickets(&bad_page, None).await, Err(TicketingError::Rejected { status: 400, .. })));
}
