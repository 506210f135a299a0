//! Catalogue answers: product questions are answered from the tenant's product rows (name, SKU,
//! price, unit, stock), never from memory, so a quoted price is always the stored one.

use tria_core::SourceRef;
use tria_orders::money;
use tria_rag::ProductHit;
use tria_rag::bm25::analyze;

/// Products quoted in one reply at most.
const MAX_PRODUCTS: usize = 3;

/// The hits that are really about what was asked: an exact SKU, or a product whose name shares a
/// content word with the question (ranking alone would always return *something*).
pub(crate) fn relevant<'a>(question: &str, hits: &'a [ProductHit]) -> Vec<&'a ProductHit> {
    let terms = analyze(question);
    hits.iter().filter(|h| h.score.is_infinite() || analyze(&h.product.name).iter().any(|t| terms.contains(t))).take(MAX_PRODUCTS).collect()
}

fn line(hit: &ProductHit) -> String {
    let p = &hit.product;
    let availability = match (p.active, p.stock) {
        (false, _) => "no longer available".to_owned(),
        (true, s) if s <= 0 => "currently out of stock".to_owned(),
        (true, s) => format!("{s} in stock"),
    };
    let unit = if p.unit.is_empty() { String::new() } else { format!(" per {}", p.unit) };
    format!("{} (SKU {}): {}{unit}, {availability}.", p.name, p.sku, money(p.unit_price_minor, &p.currency))
}

/// The reply for product hits already filtered by [`relevant`].
pub(crate) fn compose(hits: &[&ProductHit]) -> String {
    match hits {
        [one] => format!("From our catalogue: {}", line(one)),
        many => {
            let lines: Vec<String> = many.iter().map(|h| format!("- {}", line(h))).collect();
            format!("From our catalogue:\n{}", lines.join("\n"))
        }
    }
}

pub(crate) fn source(hit: &ProductHit) -> SourceRef {
    SourceRef {
        id: format!("product:{}", hit.product.sku),
        title: hit.product.name.clone(),
        heading: "Catalogue".into(),
        score: if hit.score.is_finite() { hit.score } else { 1.0 },
    }
}

#[cfg(test)]
mod tests {
    use tria_rag::ProductDoc;

    use super::*;

    fn hit(name: &str, sku: &str, price: i64, stock: i64, score: f32) -> ProductHit {
        ProductHit {
            product: ProductDoc {
                id: uuid::Uuid::new_v4(),
                sku: sku.into(),
                name: name.into(),
                description: String::new(),
                unit: "case".into(),
                unit_price_minor: price,
                currency: "USD".into(),
                stock,
                active: true,
            },
            score,
        }
    }

    #[test]
    fn only_products_the_question_names_are_quoted() {
        let hits = vec![hit("Oat Milk Barista", "NW-OAT", 320, 12, 0.5), hit("Paper Cups 12oz", "NW-CUP12", 4500, 0, 0.4)];
        let picked = relevant("how much is the oat milk?", &hits);
        assert_eq!(picked.len(), 1);
        let reply = compose(&picked);
        assert!(reply.contains("$3.20 per case") && reply.contains("12 in stock") && reply.contains("NW-OAT"), "{reply}");
        assert!(relevant("do you sell tractors?", &hits).is_empty());
        let by_sku = vec![hit("Paper Cups 12oz", "NW-CUP12", 4500, 0, f32::INFINITY)];
        let reply = compose(&relevant("is NW-CUP12 available", &by_sku));
        assert!(reply.contains("out of stock"), "{reply}");
    }
}
