//! The offline grounded responder's replies, pinned as snapshots on both demo tenants: a
//! wording change shows up here as a diff to review (`UPDATE_EXPECT=1 cargo test -p tria-agent`
//! rewrites the snapshots). Each question opens a conversation of its own, as a first message.

use expect_test::{Expect, expect};
use tria_agent::Agent;
use tria_core::TenantContext;

use crate::transcript::{Transcript, seeded_tenant};

/// Each message as the first of a new conversation, the turns one after another.
async fn first_messages(agent: &Agent, tenant: &TenantContext, messages: &[&str]) -> String {
    let mut text = String::new();
    for message in messages {
        let mut chat = Transcript::new(agent, tenant);
        chat.say(message).await;
        text.push_str(chat.text());
    }
    text
}

async fn check_first_messages(slug: &str, messages: &[&str], expected: Expect) {
    let (db, tenant) = seeded_tenant(slug).await;
    let agent = Agent::builder(db.store.clone()).build();
    expected.assert_eq(&first_messages(&agent, &tenant, messages).await);
    db.cleanup().await;
}

#[tokio::test]
async fn northwind_questions_are_answered_from_its_policies_and_catalogue() {
    check_first_messages(
        "northwind",
        &[
            "What is the restocking fee on returns?",
            "How long does standard shipping take?",
            "Do you have the sugar-free vanilla syrup?",
            "Is there a late fee on overdue invoices?",
            "Why was I charged twice?",
        ],
        expect![[r#"
            > What is the restocking fee on returns?
            < From our Returns and Refunds (Returns and Refunds › Restocking fee and return shipping costs): A change-of-mind return (for example, you ordered too many cases or chose the wrong product) carries a restocking fee of 10% of the invoiced value of the returned items, deducted from your refund or credit note. There is no restocking fee, and Northwind pays for return shipping, when: - we shipped the wrong product or the wrong quantity; - the product is defective; - the product was damaged in transit. Size swaps of cups and lids are a special case: the restocking fee is waived, but you still pay return shipping (see "Exchanges and size swaps"). Thanks for choosing Northwind, and have a great day!
              [policy_question]
              source: Returns and Refunds › Returns and Refunds › Restocking fee and return shipping costs
              source: Returns and Refunds › Returns and Refunds › Wrong items and order errors
              source: Returns and Refunds › Returns and Refunds › Exchanges and size swaps

            > How long does standard shipping take?
            < From our Shipping and Delivery (Shipping and Delivery › Shipping rates and the free shipping threshold): Standard ground shipping is free on every order with a merchandise subtotal of $250.00 or more, measured after volume discounts and before sales tax. Orders below $250.00 pay a flat standard ground charge of $18.50, whatever the weight or destination. Faster services are available for parcel shipments up to 150 lb in total: | Service | Transit time after dispatch | Charge | |---|---|---| | Standard ground | 1–5 business days | Free at $250.00 or more; otherwise $18.50 | | Expedited | 2 business days | $35.00 flat per order | | Next business day | 1 business day | $65.00 flat per order | The free shipping threshold applies to standard ground only; expedited and next-business-day charges apply to every order that chooses them, including orders above $250.00. Thanks for choosing Northwind, and have a great day!
              [policy_question]
              source: Shipping and Delivery › Shipping and Delivery
              source: Shipping and Delivery › Shipping and Delivery › Shipping rates and the free shipping threshold
              source: Shipping and Delivery › Shipping and Delivery › Delivery times by region

            > Do you have the sugar-free vanilla syrup?
            < From our catalogue:
              - Sugar-Free Vanilla Syrup 750 ml (SKU NW-SYR-VAN-SF): $52.00 per case of 6, 40 in stock. - Vanilla Syrup 750 ml (SKU NW-SYR-VAN): $49.50 per case of 6, 110 in stock. - Caramel Syrup 750 ml (SKU NW-SYR-CAR): $49.50 per case of 6, 96 in stock. Thanks for choosing Northwind, and have a great day!
              [product_inquiry]
              source: Sugar-Free Vanilla Syrup 750 ml › Catalogue
              source: Vanilla Syrup 750 ml › Catalogue
              source: Caramel Syrup 750 ml › Catalogue

            > Is there a late fee on overdue invoices?
            < From our Payment Terms (Payment Terms › Late payments, late fees and credit holds): Overdue balances are charged a late fee of 1.5% per month (18% per year), added on the first business day of each month to every invoice that was overdue during the previous month, with a minimum of $15 per overdue invoice. The hold is lifted within 1 business day after all overdue invoices are paid. Invoices more than 90 days overdue are referred to a collections agency, and collection costs are added to the balance. Thanks for choosing Northwind, and have a great day!
              [policy_question]
              source: Payment Terms › Payment Terms › Late payments, late fees and credit holds
              source: Payment Terms › Payment Terms
              source: Privacy Policy › Privacy Policy › Who we share information with

            > Why was I charged twice?
            < From our Bulk and Wholesale Pricing (Bulk and Wholesale Pricing › Price changes and notice): We review list prices twice a year, in January and July, and may also change them when supplier or commodity costs move significantly, most often for coffee, paper and milk alternatives. Orders confirmed before the effective date are charged the old price, even if they ship later. Thanks for choosing Northwind, and have a great day!
              [billing]
              source: Bulk and Wholesale Pricing › Bulk and Wholesale Pricing › Price changes and notice
              source: Order Changes and Cancellation › Order Changes and Cancellation › Duplicate orders
              source: Order Changes and Cancellation › Order Changes and Cancellation › Orders that need approval from our team

        "#]],
    )
    .await;
}

#[tokio::test]
async fn northwind_greeting_out_of_scope_and_complaint() {
    check_first_messages(
        "northwind",
        &["Hello!", "Can you write me a poem about the sea?", "My order arrived damaged and the cups are crushed, this is awful"],
        expect![[r#"
            > Hello!
            < Hi there, I'm Nora from Northwind Café Supply! I can help with products, prices, orders, deliveries and account questions.
              [greeting]

            > Can you write me a poem about the sea?
            < I'm sorry, I can only help with questions about Northwind Café Supply: our products, orders and policies. Thanks for choosing Northwind, and have a great day!
              [out_of_scope]

            > My order arrived damaged and the cups are crushed, this is awful
            < I'm sorry about this experience. Here is what our Shipping and Delivery policy says: Please inspect every delivery when it arrives. If a parcel arrives damaged, photograph the outer carton, the shipping label and the damaged products, and report the damage within 48 hours of delivery. Thanks for choosing Northwind, and have a great day.
              [complaint]
              source: Shipping and Delivery › Shipping and Delivery › Damaged, missing or short shipments › Parcel deliveries
              source: Shipping and Delivery › Shipping and Delivery
              source: Shipping and Delivery › Shipping and Delivery › Damaged, missing or short shipments › Freight deliveries

        "#]],
    )
    .await;
}

#[tokio::test]
async fn velo_questions_are_answered_from_its_policies_and_catalogue() {
    check_first_messages(
        "velo",
        &[
            "How many days do I have to return parts?",
            "What is the dispatch cut-off time?",
            "Do you stock 11-speed chains?",
            "How much is the 11-Speed Chain, 116 Links?",
            "What are your payment terms?",
            "Can you resend my last invoice?",
        ],
        expect![[r#"
            > How many days do I have to return parts?
            < From our Returns and Credit Notes (Returns and Credit Notes › Incorrect and incomplete deliveries): Deliveries that contain incorrect items or quantities must be reported to the trade desk within 3 business days of delivery. Velo Parts will dispatch the correct goods at no charge, normally on the next business day, and arrange the collection of any incorrect items by DPD. Discrepancies reported after 3 business days are treated as ordinary returns, subject to the 14-day return period and the 15% restocking fee. Kind regards, the Velo Parts trade desk.
              [policy_question]
              source: Returns and Credit Notes › Returns and Credit Notes › Incorrect and incomplete deliveries
              source: Returns and Credit Notes › Returns and Credit Notes › Credit notes and refunds
              source: Returns and Credit Notes › Returns and Credit Notes › Return authorisation procedure

            > What is the dispatch cut-off time?
            < From our Shipping and Delivery (Shipping and Delivery › Dispatch times and cut-off): Orders confirmed by 12:00 CET (CEST during summer time) on a business day are dispatched the same day. Orders confirmed after 12:00, or on a weekend or Dutch public holiday, are dispatched on the next business day. Orders awaiting approval by the trade desk (orders above €3,000.00 excluding VAT) or awaiting prepayment are dispatched once approved or paid, subject to the same cut-off. Kind regards, the Velo Parts trade desk.
              [policy_question]
              source: Shipping and Delivery › Shipping and Delivery › Dispatch times and cut-off
              source: Shipping and Delivery › Shipping and Delivery › Transit times
              source: Payment Terms › Payment Terms › Payment term and invoicing

            > Do you stock 11-speed chains?
            < From our Warranty (Warranty › Exclusions): The warranty does not cover: - normal wear and tear; - damage caused by incorrect installation, such as a bottom bracket fitted to an unprepared shell or tightened to the wrong torque; - the use of incompatible components, for example an 11-speed chain on a 12-speed drivetrain; - damage resulting from crashes, impacts, overloading or competitive use beyond the product's intended purpose; - punctures and cuts to tyres and inner tubes; - goods that have been modified, or goods from which the batch number or label has been removed. Kind regards, the Velo Parts trade desk.
              [policy_question]
              source: Warranty › Warranty › Exclusions
              source: Warranty › Warranty › Warranty periods
              source: Returns and Credit Notes › Returns and Credit Notes › Goods excluded from return

            > How much is the 11-Speed Chain, 116 Links?
            < From our catalogue:
              - 11-Speed Chain, 116 Links (SKU VP-CHN-11S): €219.00 per box of 10, 48 in stock. - 8-Speed Chain, 116 Links (SKU VP-CHN-8S): €89.00 per box of 10, 64 in stock. - 12-Speed Chain, 126 Links (SKU VP-CHN-12S): €329.00 per box of 10, 30 in stock. Kind regards, the Velo Parts trade desk.
              [product_inquiry]
              source: 11-Speed Chain, 116 Links › Catalogue
              source: 8-Speed Chain, 116 Links › Catalogue
              source: 12-Speed Chain, 126 Links › Catalogue

            > What are your payment terms?
            < From our Payment Terms (Payment Terms › Payment term and invoicing): Approved trade accounts are invoiced on net 14 terms: payment is due within 14 calendar days of the invoice date. No discount is offered for early payment. Kind regards, the Velo Parts trade desk.
              [policy_question]
              source: Payment Terms › Payment Terms
              source: Payment Terms › Payment Terms › Payment term and invoicing
              source: Payment Terms › Payment Terms › New accounts, prepayment and credit limits

            > Can you resend my last invoice?
            < From our Payment Terms (Payment Terms › Payment term and invoicing): Approved trade accounts are invoiced on net 14 terms: payment is due within 14 calendar days of the invoice date. Each invoice states the order number, the invoice number, the due date and our bank details. An invoice dated 3 March, for example, is due on 17 March. Kind regards, the Velo Parts trade desk.
              [billing]
              source: Payment Terms › Payment Terms › Payment term and invoicing
              source: Payment Terms › Payment Terms › Late payment
              source: Payment Terms › Payment Terms › Accepted payment methods

        "#]],
    )
    .await;
}

#[tokio::test]
async fn velo_greeting_out_of_scope_and_complaint() {
    check_first_messages(
        "velo",
        &[
            "Good morning",
            "What's the weather like in Utrecht today?",
            "The brake pads you sent are the wrong type, this is really annoying",
            "My delivery arrived damaged and two tyres are missing, this is unacceptable",
        ],
        expect![[r#"
            > Good morning
            < Good day, and welcome to the Velo Parts trade desk. How may we assist you with your trade account today?
              [greeting]

            > What's the weather like in Utrecht today?
            < I am sorry, I can only help with questions about Velo Parts Wholesale: our products, orders and policies. Kind regards, the Velo Parts trade desk.
              [out_of_scope]

            > The brake pads you sent are the wrong type, this is really annoying
            < I am sorry, I can only help with questions about Velo Parts Wholesale: our products, orders and policies. Kind regards, the Velo Parts trade desk.
              [out_of_scope]

            > My delivery arrived damaged and two tyres are missing, this is unacceptable
            < I am sorry about this experience. Here is what our Shipping and Delivery policy says: Please examine every delivery on receipt. Visible damage to packaging should be noted on the carrier's proof of delivery before signing. Transport damage and missing parcels must be reported to the trade desk within 72 hours of delivery, with photographs of the packaging, the shipping label and the damaged goods. Kind regards, the Velo Parts trade desk.
              [complaint]
              source: Shipping and Delivery › Shipping and Delivery › Transport damage and shortages
              source: Warranty › Warranty › Warranty periods
              source: Payment Terms › Payment Terms › New accounts, prepayment and credit limits

        "#]],
    )
    .await;
}

#[tokio::test]
async fn asking_for_a_person_hands_off_and_later_messages_are_passed_on() {
    for (slug, expected) in [
        (
            "northwind",
            expect![[r#"
        > What is your returns policy?
        < From our Warranty (Warranty): Unwanted items in new condition are covered by our Returns and Refunds policy instead. Thanks for choosing Northwind, and have a great day!
          [policy_question]
          source: Returns and Refunds › Returns and Refunds
          source: Warranty › Warranty
          source: Returns and Refunds › Returns and Refunds › Return window and eligibility

        > I want to talk to a real person please
        < I've passed this conversation to a member of our team, and a person will answer you here. Our team answers Monday to Friday, 8:00–18:00 Eastern Time.
          [human_handoff; handed off]

        > Hello? Is anyone there?
        < A member of our team has this conversation and will reply here; your message has been passed on. Our team answers Monday to Friday, 8:00–18:00 Eastern Time.
          [human_handoff; handed off]

    "#]],
        ),
        (
            "velo",
            expect![[r#"
        > What is your returns policy?
        < From our Returns and Credit Notes (Returns and Credit Notes): accepts the return of goods supplied to trade account holders, and how credit is issued. Kind regards, the Velo Parts trade desk.
          [policy_question]
          source: Returns and Credit Notes › Returns and Credit Notes
          source: Returns and Credit Notes › Returns and Credit Notes › Restocking fee and return transport
          source: Returns and Credit Notes › Returns and Credit Notes › Incorrect and incomplete deliveries

        > I want to talk to a real person please
        < I've passed this conversation to a member of our team, and a person will answer you here. Our team answers Monday to Friday, 9:00–17:00 CET.
          [human_handoff; handed off]

        > Hello? Is anyone there?
        < A member of our team has this conversation and will reply here; your message has been passed on. Our team answers Monday to Friday, 9:00–17:00 CET.
          [human_handoff; handed off]

    "#]],
        ),
    ] {
        let (db, tenant) = seeded_tenant(slug).await;
        let agent = Agent::builder(db.store.clone()).build();
        let mut chat = Transcript::new(&agent, &tenant);
        chat.say("What is your returns policy?").await;
        chat.say("I want to talk to a real person please").await;
        chat.say("Hello? Is anyone there?").await;
        expected.assert_eq(chat.text());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn messages_the_assistant_cannot_place_are_handed_off_on_the_third() {
    let (db, tenant) = seeded_tenant("northwind").await;
    let agent = Agent::builder(db.store.clone()).build();
    let mut chat = Transcript::new(&agent, &tenant);
    for message in ["blorp fizzle", "wug snorf glim", "zibber zabber"] {
        let reply = chat.say(message).await;
        assert!(reply.intent.confidence < tria_agent::handoff::LOW_CONFIDENCE, "{message}: {reply:?}");
    }
    expect![[r#"
        > blorp fizzle
        < I'm sorry, I can only help with questions about Northwind Café Supply: our products, orders and policies. Thanks for choosing Northwind, and have a great day!
          [out_of_scope]

        > wug snorf glim
        < I'm sorry, I can only help with questions about Northwind Café Supply: our products, orders and policies. Thanks for choosing Northwind, and have a great day!
          [out_of_scope]

        > zibber zabber
        < I'm sorry I couldn't help with that. I've passed this conversation to a member of our team, and a person will answer you here. Our team answers Monday to Friday, 8:00–18:00 Eastern Time.
          [out_of_scope; handed off]

    "#]].assert_eq(chat.text());
    db.cleanup().await;
}
