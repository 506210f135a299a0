//! The order flow as a customer reads it, pinned as snapshots: placing an order from the first
//! message to the confirmation, cancelling (and keeping), the approval threshold, products the
//! catalogue lacks, and a verification that fails until it locks. `orders.rs` and
//! `verification.rs` check what happens behind the words; these check the words.
//! `UPDATE_EXPECT=1 cargo test -p tria-agent` rewrites the snapshots after a deliberate change.

use expect_test::expect;
use tria_agent::Agent;
use tria_core::OrderStatus;

use crate::transcript::{Transcript, seeded_tenant};

#[tokio::test]
async fn an_order_from_an_anonymous_visitor_to_its_confirmation() {
    let (db, tenant) = seeded_tenant("northwind").await;
    let agent = Agent::builder(db.store.clone()).build();
    let mut chat = Transcript::new(&agent, &tenant);
    chat.say("I'd like to order 12 cases of 16oz cups and 3 bags of espresso roast").await;
    chat.say("CUST-1001").await;
    chat.say("maya@bluekettlecafe.example").await;
    chat.say("the hot ones").await;
    chat.say("change the espresso roast to 4 bags").await;
    let placed = chat.say("Confirm").await;
    assert_eq!(placed.order.as_ref().map(|o| o.status), Some(OrderStatus::Confirmed), "{}", placed.reply);
    chat.say("Confirm").await;
    expect![[r#"
        > I'd like to order 12 cases of 16oz cups and 3 bags of espresso roast
        < To help with orders I need your customer number (it is on your invoices) and the email address on your account. What are they?
          [order_placement]

        > CUST-1001
        < Thank you. To make sure it is you, what is the email address on that account? I need it before I can show or change any orders.
          [order_status]

        > maya@bluekettlecafe.example
        < Thank you, that's you.
          Which product do you mean by "16 oz cups"?
          1. Clear PET Cold Cup 16 oz [NW-CCUP-16OZ], $92.00 per case of 1000
          2. Hot Cup 16 oz, White, Single Wall [NW-CUP-16OZ], $84.00 per case of 1000
          Reply with the number or the SKU.
          [order_placement]

        > the hot ones
        < Here is your order:
          - 3 × Northwind Espresso Roast, Whole Bean [NW-COF-ESP-1KG] (bag (1 kg)) at $24.00 = $72.00
          - 12 × Hot Cup 16 oz, White, Single Wall [NW-CUP-16OZ] (case of 1000) at $84.00 = $1008.00
          Total: $1080.00 (before tax).
          Delivery: standard delivery is free on orders of $250.00 or more, so this order qualifies; see our shipping policy for dispatch times.
          Reply "Confirm" to place the order, or tell me what to change.
          [order_placement; order without a number: draft, awaiting confirmation, 2 lines, total 108000 USD]

        > change the espresso roast to 4 bags
        < Here is your order:
          - 12 × Hot Cup 16 oz, White, Single Wall [NW-CUP-16OZ] (case of 1000) at $84.00 = $1008.00
          - 4 × Northwind Espresso Roast, Whole Bean [NW-COF-ESP-1KG] (bag (1 kg)) at $24.00 = $96.00
          Total: $1104.00 (before tax).
          Delivery: standard delivery is free on orders of $250.00 or more, so this order qualifies; see our shipping policy for dispatch times.
          Reply "Confirm" to place the order, or tell me what to change.
          [order_placement; order without a number: draft, awaiting confirmation, 2 lines, total 110400 USD]

        > Confirm
        < Thank you! Order ORD-<new> is confirmed:
          - 12 × Hot Cup 16 oz, White, Single Wall [NW-CUP-16OZ] (case of 1000) at $84.00 = $1008.00
          - 4 × Northwind Espresso Roast, Whole Bean [NW-COF-ESP-1KG] (bag (1 kg)) at $24.00 = $96.00
          Total: $1104.00. Your invoice will follow by email.
          [order_placement; order ORD-<new>: confirmed, 2 lines, total 110400 USD]

        > Confirm
        < There is no order waiting for your confirmation in this conversation: an order I confirmed is already placed (its number is above). Tell me what you would like to order, or ask about an order by its number.
          [order_status]

    "#]].assert_eq(chat.text());
    db.cleanup().await;
}

/// Velo's settings do not have Xero email its invoices (Northwind's do: `invoicing.email_invoices`),
/// so its confirmation promises no email.
#[tokio::test]
async fn an_order_on_the_velo_trade_desk_in_euros() {
    let (db, tenant) = seeded_tenant("velo").await;
    let agent = Agent::builder(db.store.clone()).build();
    let mut chat = Transcript::as_customer(&agent, &tenant, "CUST-2001");
    chat.say("I'd like to order 3 boxes of VP-CHN-11S and 10 VP-TYR-700-28").await;
    chat.say("Confirm").await;
    chat.say("I'd like to order 5 boxes of VP-BB-BB86-24 and 2 carbon frames").await;
    expect![[r#"
        > I'd like to order 3 boxes of VP-CHN-11S and 10 VP-TYR-700-28
        < Here is your order:
          - 3 × 11-Speed Chain, 116 Links [VP-CHN-11S] (box of 10) at €219.00 = €657.00
          - 10 × Road Tyre 700x28C, Folding [VP-TYR-700-28] (each) at €19.90 = €199.00
          Total: €856.00 (before tax).
          Delivery: standard delivery is free on orders of €400.00 or more, so this order qualifies; see our shipping policy for dispatch times.
          Reply "Confirm" to place the order, or tell me what to change.
          [order_placement; order without a number: draft, awaiting confirmation, 2 lines, total 85600 EUR]

        > Confirm
        < Thank you! Order ORD-<new> is confirmed:
          - 3 × 11-Speed Chain, 116 Links [VP-CHN-11S] (box of 10) at €219.00 = €657.00
          - 10 × Road Tyre 700x28C, Folding [VP-TYR-700-28] (each) at €19.90 = €199.00
          Total: €856.00. An invoice will be issued for it; ask me about the order to see its invoice number.
          [order_placement; order ORD-<new>: confirmed, 2 lines, total 85600 EUR]

        > I'd like to order 5 boxes of VP-BB-BB86-24 and 2 carbon frames
        < Press-Fit Bottom Bracket BB86, 24 mm Spindle (discontinued) [VP-BB-BB86-24] is no longer sold, so it cannot be ordered.
          I couldn't find "carbon frames" in our catalogue. Could you check the name or give me the SKU?
          What would you like to order? For example: "12 cases of 16 oz hot cups and 3 bags of house blend".
          [order_placement]

    "#]].assert_eq(chat.text());
    db.cleanup().await;
}

#[tokio::test]
async fn cancelling_asks_first_and_keeping_the_order_cancels_nothing() {
    let (db, tenant) = seeded_tenant("northwind").await;
    let agent = Agent::builder(db.store.clone()).build();
    let mut placing = Transcript::as_customer(&agent, &tenant, "CUST-1003");
    placing.say("I'd like to order 2 cases of NW-CUP-12OZ").await;
    let number = placing.say("Confirm").await.order.and_then(|o| o.order_number).expect("placed");

    let mut chat = Transcript::as_customer(&agent, &tenant, "CUST-1003");
    chat.say(&format!("Cancel order {number}")).await;
    chat.say("no, keep it").await;
    chat.say(&format!("Please do NOT cancel {number}, I still need it")).await;
    chat.say(&format!("Cancel order {number}")).await;
    let cancelled = chat.say("Confirm").await;
    assert_eq!(cancelled.order.map(|o| o.status), Some(OrderStatus::Cancelled), "{}", cancelled.reply);
    chat.say(&format!("What is the status of {number}?")).await;
    expect![[r#"
        > Cancel order ORD-<new>
        < Order ORD-<new> (placed <date>, total $144.00) is confirmed. Its invoice is being prepared.
          - 2 × Hot Cup 12 oz, White, Single Wall [NW-CUP-12OZ] (case of 1000) at $72.00 = $144.00
          Do you want me to cancel order ORD-<new>? Reply "Confirm" to cancel it, or "No" to keep it.
          [order_change; order ORD-<new>: confirmed, 1 line, total 14400 USD]

        > no, keep it
        < All right, order ORD-<new> stays as it is; nothing was cancelled.
          [order_change]

        > Please do NOT cancel ORD-<new>, I still need it
        < Order ORD-<new> (placed <date>, total $144.00) is confirmed. Its invoice is being prepared.
          - 2 × Hot Cup 12 oz, White, Single Wall [NW-CUP-12OZ] (case of 1000) at $72.00 = $144.00
          [order_change; order ORD-<new>: confirmed, 1 line, total 14400 USD]

        > Cancel order ORD-<new>
        < Order ORD-<new> (placed <date>, total $144.00) is confirmed. Its invoice is being prepared.
          - 2 × Hot Cup 12 oz, White, Single Wall [NW-CUP-12OZ] (case of 1000) at $72.00 = $144.00
          Do you want me to cancel order ORD-<new>? Reply "Confirm" to cancel it, or "No" to keep it.
          [order_change; order ORD-<new>: confirmed, 1 line, total 14400 USD]

        > Confirm
        < Order ORD-<new> is cancelled. Nothing will be charged.
          [order_change; order ORD-<new>: cancelled, 1 line, total 14400 USD]

        > What is the status of ORD-<new>?
        < Order ORD-<new> (placed <date>, total $144.00) is cancelled.
          - 2 × Hot Cup 12 oz, White, Single Wall [NW-CUP-12OZ] (case of 1000) at $72.00 = $144.00
          [order_status; order ORD-<new>: cancelled, 1 line, total 14400 USD]

    "#]]
    .assert_eq(chat.text());
    db.cleanup().await;
}

#[tokio::test]
async fn an_order_above_the_approval_threshold_goes_to_a_person() {
    let (db, tenant) = seeded_tenant("northwind").await;
    let agent = Agent::builder(db.store.clone()).build();
    let mut chat = Transcript::as_customer(&agent, &tenant, "CUST-1001");
    chat.say("I'd like to order 100 cases of NW-CUP-16OZ").await;
    let reply = chat.say("Confirm").await;
    assert!(reply.handoff, "{}", reply.reply);
    chat.say("Any news on my order?").await;
    expect![[r#"
        > I'd like to order 100 cases of NW-CUP-16OZ
        < Here is your order:
          - 100 × Hot Cup 16 oz, White, Single Wall [NW-CUP-16OZ] (case of 1000) at $84.00 = $8400.00
          Total: $8400.00 (before tax).
          Delivery: standard delivery is free on orders of $250.00 or more, so this order qualifies; see our shipping policy for dispatch times.
          Orders above $5000.00 need approval from our team: once you confirm, a person reviews it before it is processed.
          Reply "Confirm" to place the order, or tell me what to change.
          [order_placement; order without a number: draft, awaiting confirmation, 1 line, total 840000 USD]

        > Confirm
        < Thank you. Order ORD-<new> totals $8400.00, which is above $5000.00, so a member of our team needs to approve it before it is processed. It stays a draft until then, and nothing is charged; a person will get back to you during our support hours (Monday to Friday, 8:00–18:00 Eastern Time).
          [order_placement; handed off; order ORD-<new>: draft, 1 line, total 840000 USD]

        > Any news on my order?
        < A member of our team has this conversation and will reply here; your message has been passed on. Our team answers Monday to Friday, 8:00–18:00 Eastern Time.
          [human_handoff; handed off]

    "#]].assert_eq(chat.text());
    db.cleanup().await;
}

#[tokio::test]
async fn products_the_catalogue_lacks_or_cannot_supply_are_said_plainly() {
    let (db, tenant) = seeded_tenant("northwind").await;
    let agent = Agent::builder(db.store.clone()).build();
    let mut text = String::new();
    for message in [
        "I want to order 4 tractor tyres",
        "I'd like to order 2 cases of NW-CUP-10OZ",
        "please order 501 cases of NW-STIR-WOOD and 0 bags of NW-COF-ESP-1KG",
        "I'd like to order 40 cases of NW-CLN-SAN",
        "Please order 2 cases of Hot Cup 12 oz",
    ] {
        let mut chat = Transcript::as_customer(&agent, &tenant, "CUST-1001");
        chat.say(message).await;
        text.push_str(chat.text());
    }
    expect![[r#"
        > I want to order 4 tractor tyres
        < I couldn't find "tractor tyres" in our catalogue. Could you check the name or give me the SKU?
          What would you like to order? For example: "12 cases of 16 oz hot cups and 3 bags of house blend".
          [order_placement]

        > I'd like to order 2 cases of NW-CUP-10OZ
        < Hot Cup 10 oz, White, Single Wall (discontinued) [NW-CUP-10OZ] is no longer sold, so it cannot be ordered.
          What would you like to order? For example: "12 cases of 16 oz hot cups and 3 bags of house blend".
          [order_placement]

        > please order 501 cases of NW-STIR-WOOD and 0 bags of NW-COF-ESP-1KG
        < The quantity for Northwind Espresso Roast, Whole Bean must be at least 1.
          One order line can have at most 500 units of Birch Wood Stirrers 7 in; for more, our team can prepare a quote.
          What would you like to order?
          [order_placement]

        > I'd like to order 40 cases of NW-CLN-SAN
        < We only have 33 of Food-Contact Surface Sanitizer Concentrate [NW-CLN-SAN] in stock.
          What would you like to order?
          [order_placement]

        > Please order 2 cases of Hot Cup 12 oz
        < Which product do you mean by "hot cup 12 oz"?
          1. Compostable Hot Cup 12 oz, PLA-Lined [NW-CUP-12OZ-CMP], $96.00 per case of 1000
          2. Double-Wall Hot Cup 12 oz, Kraft [NW-CUP-12OZ-DW], $79.00 per case of 500
          3. Hot Cup 12 oz, White, Single Wall [NW-CUP-12OZ], $72.00 per case of 1000
          Reply with the number or the SKU.
          [order_placement]

    "#]]
    .assert_eq(&text);
    db.cleanup().await;
}

#[tokio::test]
async fn a_status_question_is_answered_once_the_customer_is_verified() {
    let (db, tenant) = seeded_tenant("northwind").await;
    let agent = Agent::builder(db.store.clone()).build();
    let mut chat = Transcript::new(&agent, &tenant);
    chat.say("Where is my order ORD-10001?").await;
    chat.say("CUST-1001").await;
    chat.say("it's maya@bluekettlecafe.example").await;
    chat.say("Show me my orders").await;
    expect![[r#"
        > Where is my order ORD-10001?
        < To help with orders I need your customer number (it is on your invoices) and the email address on your account. What are they?
          [order_status]

        > CUST-1001
        < Thank you. To make sure it is you, what is the email address on that account? I need it before I can show or change any orders.
          [order_status]

        > it's maya@bluekettlecafe.example
        < Thank you, that's you. Order ORD-10001 (placed <date>, total $644.00) is invoiced.
          - 2 × Hot Cup 12 oz, White, Single Wall [NW-CUP-12OZ] (case of 1000) at $72.00 = $144.00
          - 2 × Sip Lid for 12–20 oz Hot Cups, Black [NW-LID-1220] (case of 1000) at $46.00 = $92.00
          - 10 × Northwind Espresso Roast, Whole Bean [NW-COF-ESP-1KG] (bag (1 kg)) at $24.00 = $240.00
          - 8 × Barista Oat Milk 1 L [NW-MLK-OAT] (case of 6) at $21.00 = $168.00
          [order_status; order ORD-10001: invoiced, 4 lines, total 64400 USD]

        > Show me my orders
        < From our Account Setup and Ordering (Account Setup and Ordering › Placing an order with Nora): Nora can build an order from a simple message, such as "10 bags of Espresso Roast and 2 cases of 16 oz cups with lids". Before anything is ordered, Nora shows a summary with every SKU, quantity, unit price, discount, the shipping charge, the delivery address and the total. The order is created only after you explicitly confirm this summary. Thanks for choosing Northwind, and have a great day!
          [policy_question]
          source: Account Setup and Ordering › Account Setup and Ordering › Placing an order with Nora
          source: Bulk and Wholesale Pricing › Bulk and Wholesale Pricing › How list prices work
          source: Account Setup and Ordering › Account Setup and Ordering › Users, roles and multiple locations

    "#]].assert_eq(chat.text());
    db.cleanup().await;
}

#[tokio::test]
async fn failed_verifications_lock_the_conversation_with_the_support_contacts() {
    for (slug, number, email, expected) in [
        (
            "northwind",
            "CUST-1001",
            "maya@bluekettlecafe.example",
            expect![[r#"
            > Where is my order?
            < To help with orders I need your customer number (it is on your invoices) and the email address on your account. What are they?
              [order_status]

            > CUST-1001 guess1@example.com
            < I couldn't verify that customer number and email address together, so I can't open the account. Please check both (your customer number is on your invoices) and send them again, or ask for a person.
              [order_status]

            > CUST-1001
            < Thank you. To make sure it is you, what is the email address on that account? I need it before I can show or change any orders.
              [order_status]

            > guess2@example.com
            < I couldn't verify that customer number and email address together, so I can't open the account. Please check both (your customer number is on your invoices) and send them again, or ask for a person.
              [order_status]

            > CUST-1001 guess3@example.com
            < For your account's safety I can't check any more customer numbers and email addresses here for now. Our team can help you with your orders: email care@northwind-cafe.example or call +1 555 0100, or ask here for a person. Our team answers Monday to Friday, 8:00–18:00 Eastern Time.
              [order_status]

            > CUST-1001 maya@bluekettlecafe.example
            < For your account's safety I can't check any more customer numbers and email addresses here for now. Our team can help you with your orders: email care@northwind-cafe.example or call +1 555 0100, or ask here for a person. Our team answers Monday to Friday, 8:00–18:00 Eastern Time.
              [order_status]

        "#]],
        ),
        (
            "velo",
            "CUST-2001",
            "jeroen@fietsenmakerdevries.example",
            expect![[r#"
            > Where is my order?
            < To help with orders I need your customer number (it is on your invoices) and the email address on your account. What are they?
              [order_status]

            > CUST-2001 guess1@example.com
            < I couldn't verify that customer number and email address together, so I can't open the account. Please check both (your customer number is on your invoices) and send them again, or ask for a person.
              [order_status]

            > CUST-2001
            < Thank you. To make sure it is you, what is the email address on that account? I need it before I can show or change any orders.
              [order_status]

            > guess2@example.com
            < I couldn't verify that customer number and email address together, so I can't open the account. Please check both (your customer number is on your invoices) and send them again, or ask for a person.
              [order_status]

            > CUST-2001 guess3@example.com
            < For your account's safety I can't check any more customer numbers and email addresses here for now. Our team can help you with your orders: email trade@veloparts.example or call +31 30 555 0142, or ask here for a person. Our team answers Monday to Friday, 9:00–17:00 CET.
              [order_status]

            > CUST-2001 jeroen@fietsenmakerdevries.example
            < For your account's safety I can't check any more customer numbers and email addresses here for now. Our team can help you with your orders: email trade@veloparts.example or call +31 30 555 0142, or ask here for a person. Our team answers Monday to Friday, 9:00–17:00 CET.
              [order_status]

        "#]],
        ),
    ] {
        let (db, tenant) = seeded_tenant(slug).await;
        let agent = Agent::builder(db.store.clone()).build();
        let mut chat = Transcript::new(&agent, &tenant);
        chat.say("Where is my order?").await;
        chat.say(&format!("{number} guess1@example.com")).await;
        chat.say(number).await;
        chat.say("guess2@example.com").await;
        chat.say(&format!("{number} guess3@example.com")).await;
        let refused = chat.say(&format!("{number} {email}")).await;
        assert!(refused.order.is_none(), "{}", refused.reply);
        expected.assert_eq(chat.text());
        db.cleanup().await;
    }
}
