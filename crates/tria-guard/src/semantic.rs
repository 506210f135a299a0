//! The learned half of the input screen: k-nearest-neighbour voting over labelled attack and
//! benign messages in embedding space. The lexical rules catch the phrasings and disguises they
//! know; this catches paraphrases of the same intent. Takes vectors: embedding is the caller's job
//! (the agent embeds each message once for intent and retrieval already).

use crate::{Refusal, ThreatCategory};

/// How many neighbours vote on each side.
const K: usize = 3;

/// Labelled exemplars and the margin by which attacks must out-score benign messages.
#[derive(Clone, Debug)]
pub struct SemanticScreen {
    attacks: Vec<(Vec<f32>, ThreatCategory)>,
    benign: Vec<Vec<f32>>,
    margin: f32,
}

/// Mean similarity of the `K` nearest attacks and benign messages.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SemanticScore {
    pub attack: f32,
    pub benign: f32,
    /// Category of the single nearest attack.
    pub nearest: ThreatCategory,
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn top_k_mean(mut sims: Vec<f32>) -> f32 {
    sims.sort_by(|a, b| b.total_cmp(a));
    let n = sims.len().min(K);
    if n == 0 { 0.0 } else { sims[..n].iter().sum::<f32>() / n as f32 }
}

impl SemanticScreen {
    /// Unit-length vectors of labelled attacks and benign look-alikes.
    pub fn new(attacks: Vec<(Vec<f32>, ThreatCategory)>, benign: Vec<Vec<f32>>, margin: f32) -> Self {
        Self { attacks, benign, margin }
    }

    pub fn score(&self, embedding: &[f32]) -> SemanticScore {
        self.score_excluding(embedding, None)
    }

    /// Scores without the exemplar at `skip` (attacks first, then benign), for leave-one-out
    /// calibration on the exemplars themselves.
    pub fn score_excluding(&self, embedding: &[f32], skip: Option<usize>) -> SemanticScore {
        let mut nearest = (f32::MIN, ThreatCategory::RoleOverride);
        let mut attack_sims = Vec::with_capacity(self.attacks.len());
        for (i, (vector, category)) in self.attacks.iter().enumerate() {
            if skip == Some(i) {
                continue;
            }
            let sim = dot(embedding, vector);
            if sim > nearest.0 {
                nearest = (sim, *category);
            }
            attack_sims.push(sim);
        }
        let benign_sims =
            self.benign.iter().enumerate().filter(|(i, _)| skip != Some(self.attacks.len() + i)).map(|(_, v)| dot(embedding, v)).collect();
        SemanticScore { attack: top_k_mean(attack_sims), benign: top_k_mean(benign_sims), nearest: nearest.1 }
    }

    /// A refusal when attacks out-score benign messages by the margin.
    pub fn screen(&self, embedding: &[f32]) -> Option<Refusal> {
        let score = self.score(embedding);
        (score.attack - score.benign > self.margin).then(|| Refusal { category: score.nearest, rule: "semantic:knn".to_owned() })
    }

    pub fn margin(&self) -> f32 {
        self.margin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn nearer_attacks_refuse_and_nearer_benign_pass() {
        let screen = SemanticScreen::new(
            vec![(unit(&[1.0, 0.0, 0.0]), ThreatCategory::PromptExtraction), (unit(&[0.9, 0.1, 0.0]), ThreatCategory::RoleOverride)],
            vec![unit(&[0.0, 1.0, 0.0]), unit(&[0.0, 0.9, 0.1])],
            0.05,
        );
        let refusal = screen.screen(&unit(&[1.0, 0.05, 0.0])).expect("near the attacks");
        assert_eq!(refusal.category, ThreatCategory::PromptExtraction);
        assert_eq!(screen.screen(&unit(&[0.05, 1.0, 0.0])), None);
        // exactly between: the margin decides
        assert_eq!(screen.screen(&unit(&[1.0, 1.0, 0.0])), None);
    }
}
