//! Phrase rules: each names an attack's verb *and* its object ("ignore … instructions"), with
//! exceptions for the customer's own things ("ignore my previous delivery instructions").

use std::sync::LazyLock;

use regex::Regex;

use super::ThreatCategory;

pub(super) struct Rule {
    pub(super) category: ThreatCategory,
    pub(super) name: &'static str,
    pattern: Regex,
    /// The match does not count if the text right after it matches this (anchored with `^`).
    unless_after: Option<Regex>,
    /// The match does not count if the text right before it matches this (anchored with `$`).
    unless_before: Option<Regex>,
    /// The match does not count inside a question about policy ("do you waive …?").
    unless_policy_question: bool,
}

fn rule(category: ThreatCategory, name: &'static str, pattern: &str) -> Rule {
    Rule {
        category,
        name,
        // The patterns are constants covered by the tests: a typo fails every test at once.
        pattern: Regex::new(pattern).unwrap_or_else(|e| panic!("rule {name}: {e}")),
        unless_after: None,
        unless_before: None,
        unless_policy_question: false,
    }
}

impl Rule {
    fn unless_after(mut self, pattern: &str) -> Self {
        self.unless_after = Some(Regex::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}")));
        self
    }
    fn unless_before(mut self, pattern: &str) -> Self {
        self.unless_before = Some(Regex::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}")));
        self
    }
    fn unless_policy_question(mut self) -> Self {
        self.unless_policy_question = true;
        self
    }

    pub(super) fn matches(&self, text: &str) -> bool {
        self.pattern.find_iter(text).any(|m| {
            let after = &text[m.end()..];
            let before = &text[..m.start()];
            !(self.unless_after.as_ref().is_some_and(|r| r.is_match(after))
                || self.unless_before.as_ref().is_some_and(|r| r.is_match(before))
                || (self.unless_policy_question && in_policy_question(before)))
        })
    }
}

static POLICY_QUESTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(do|does|is|are|was|were|what|how|when|which|where|why|who)\b").unwrap_or_else(|e| panic!("{e}")));

/// Whether the sentence the match is in opens as a question about how things are.
fn in_policy_question(before: &str) -> bool {
    let sentence = before.rsplit(['.', '?', '!', '\n']).next().unwrap_or(before).trim_start();
    let sentence = sentence.strip_prefix("please ").unwrap_or(sentence);
    POLICY_QUESTION.is_match(sentence)
}

const OBJECT_GAP: &str = r"(?:\s+\S+){0,6}?\s+";
const NOT_ABOUT_A_TOPIC: &str = r"^\s+(for|on|about|regarding|to|when|if|of|in case)\b";

pub(super) static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    use ThreatCategory::*;
    vec![
        // --- role override
        rule(RoleOverride, "ignore_instructions", &format!(
            r"\b(ignore|disregard|forget|override|bypass|skip|abandon|discard|neglect)\b{OBJECT_GAP}(instructions?|prompts?|rules|guidelines|directives|directions|programming|constraints|guardrails|restrictions|system settings|training|conditioning)\b"
        ))
        .unless_after(r"^\s+(i|we)\s+(gave|sent|left|wrote|provided|mentioned|added)\b")
        .unless_before(r"\b(my|our)\s+(\S+\s+){0,2}$"),
        rule(RoleOverride, "forget_what_you_were_told", r"\b(forget|ignore|disregard)\s+(everything|all|whatever)\s+(you('ve| have)? (were |been )?(told|taught|instructed)|above|before)"),
        rule(RoleOverride, "you_are_now", r"\byou('re| are) now (a|an|dan|in|free|unrestricted|jailbroken|evil|called|named|going to)\b|\byou('re| are) no longer\b"),
        rule(RoleOverride, "general_chatbot", r"\byou('re| are) (a|an|just a) (general|normal|regular|unrestricted|different|new|free) (chatbot|ai|assistant|bot|model)\b"),
        rule(RoleOverride, "from_now_on", r"\bfrom now on,? (you|act|behave|respond|answer|reply|pretend|ignore|forget|only|always|never|speak|talk)\b"),
        rule(RoleOverride, "persona_switch", r"\b(pretend|imagine|roleplay|role-play|act|behave|respond|answer|reply|speak|talk)\b(?:\s+\S+){0,3}?\s+(you are|you're|to be|you were|as if you|like you are|as (a|an) (ai|bot|chatbot|assistant|model|evil|unrestricted|unfiltered|pirate|hacker|different|general|uncensored))\b"),
        rule(RoleOverride, "stop_being", r"\b(stop|quit) (being|acting as|pretending to be) (a |an |the )?(customer service|support|assistant|helpful|bot|chatbot)\b"),
        rule(RoleOverride, "no_restrictions", r"\b(you|ai|bot|assistant|model|chatbot|dan|mode|answer|respond|reply|act)\b(?:\s+\S+){0,8}?\s+(no|without( any)?|free of|unbound by|not bound by)\s+(rules|restrictions|limits|limitations|filters|guidelines|censorship|guardrails|content polic(y|ies))\b"),
        rule(RoleOverride, "mode_switch", r"\b(developer|dev|debug|god|admin|sudo|jailbreak|unrestricted|unfiltered|dan) mode\b|\bjailbr(oken|eak)\b|\bdo anything now\b|\bsudo\b"),
        rule(RoleOverride, "new_role", r"\b(new|updated|real|actual|true) (instructions|rules|role|persona|system prompt|directive|task)\s*(:|is\b|are\b)|\byour new (role|task|job|purpose|persona|instructions) (is|are)\b"),
        rule(RoleOverride, "developer_claim", r"\bi('m| am) (your|the) (developer|creator|programmer|admin|administrator|operator|engineer)\b|\bi('m| am) the (developer|programmer|admin|administrator|operator) of (this|the) (bot|assistant|system|chat|ai|model)\b"),
        rule(RoleOverride, "game_rules", r"\blet'?s play a game\b.{0,60}\b(rules|restrictions|pretend|you are)\b"),
        rule(RoleOverride, "pwned", r"\b(pwned|pwnd)\b"),
        rule(RoleOverride, "will_now_respond", r"\byou(('ll)| will| shall| must| are going to) now (respond|act|answer|reply|behave|speak|talk|operate|pretend)\b|\bnow you (respond|act|answer|reply|behave|speak|talk|operate|are)\b|\byou now (respond|act|answer|reply|behave|speak|talk|operate|work)\b"),
        rule(RoleOverride, "never_refuses", r"\b(assistant|ai|bot|you|model|chatbot)\b.{0,30}\b(never|doesn't|does not|won't|will not) (refuses?|says? no|declines?)\b"),
        rule(RoleOverride, "drop_the_act", r"\b(forget|stop|quit|drop)\b.{0,15}\b(you('re| are)|being)\b.{0,20}\b(bot|assistant|ai|chatbot|support|customer service|agent)\b|\b(drop|cut|stop|quit) (the|this|your)\b.{0,25}\b(act|persona|role|character|script)\b"),
        rule(RoleOverride, "system_override", r"\b(system|admin|root|security|safety) (override|bypass|unlock)\b|\boverride (engaged|enabled|activated|accepted|mode)\b|\baccess granted\b"),
        rule(RoleOverride, "your_job_now", r"\byour (only |new |real |true )?(job|purpose|task|role|mission) (now )?is (now )?\b|\b(switch|change|swap) (your )?(personalit(y|ies)|persona|character|roles?)\b"),
        rule(RoleOverride, "reset_yourself", r"\breset (yourself|your (memory|settings|instructions|rules|context|persona))\b|\bfactory settings\b.{0,40}\b(you|yourself|forget)\b|\b(you|yourself)\b.{0,40}\bfactory settings\b"),
        rule(PromptExtraction, "first_n_words", r"\b(first|last|opening) \d+ (words|lines|characters|sentences|tokens)\b.{0,40}\b(you|your|given|prompt|session|input)\b"),
        rule(PromptExtraction, "came_before", r"\b(print|repeat|show|output|tell me|give me|copy|paste)\b.{0,30}\b(everything|all|whatever|the text)\b.{0,20}\b(came|comes|appears|appeared|is|was) (before|above)\b"),
        rule(RoleOverride, "no_rules_command", r",\s*no (rules|restrictions|limits|filters)\s*[.!]*$"),
        // --- prompt extraction
        rule(PromptExtraction, "prompt_noun", r"\b(system|initial|original|hidden|secret|internal|developer|full|starting|pre)[ -]?prompt\b|\byour prompt\b")
            .unless_after(r"^\s+(reply|replies|response|delivery|service|answer|attention|action|help|shipping|payment|dispatch|support|handling|refund)\b"),
        rule(PromptExtraction, "reveal_instructions", r"\b(reveal|print|repeat|recite|dump|leak|output|spell out|write out|copy|paste|expose|disclose|show|display|share|tell me|give me|send me|summari[sz]e|list|describe|paraphrase|translate|explain)\b(?:\s+\S+){0,4}?\s+(your|the (system|hidden|secret|internal|original|initial|exact|full|complete|above|previous|preceding|confidential)|all (your|of your)|these|those)\s+((own|exact|full|complete|original|initial|hidden|secret|internal|system|current|operating|core|confidential|first)\s+){0,3}(instructions|prompt|programming|directives|configuration|config|guidelines|rules|setup)\b")
            .unless_after(NOT_ABOUT_A_TOPIC),
        rule(PromptExtraction, "what_are_your_instructions", r"\bwhat (are|were|is) (your|the) ((exact|original|initial|hidden|secret|internal|system|full|complete|current|real)\s+)*(instructions|prompt|programming|directives|configuration)\b")
            .unless_after(NOT_ABOUT_A_TOPIC),
        rule(PromptExtraction, "what_were_you_told", r"\b(what|how) (were|have|are|did) you (been )?(told|instructed|programmed|configured|prompted|set up|trained)\b"),
        rule(PromptExtraction, "text_above", r"\b(repeat|print|output|recite|show|type|write|copy|tell me|give me)\b(?:\s+\S+){0,4}?\s+(everything|all|the text|the words|what was written|what is written|the message|the content|whatever)\b(?:\s+\S+){0,4}?\s+(above|before (this|my|that)|prior to|so far|preceding|at the (start|beginning|top))\b"),
        rule(PromptExtraction, "verbatim", r"\b(instructions|prompt|rules|above|configuration|told|guidelines)\b.{0,60}\b(verbatim|word for word|word-for-word)\b|\b(verbatim|word for word|word-for-word)\b.{0,60}\b(instructions|prompt|rules|above|configuration|guidelines)\b"),
        rule(PromptExtraction, "starts_with_you_are", r"\b(start|begin)\b.{0,30}\bwith ['\x22]?you are\b"),
        rule(PromptExtraction, "what_text_given", r"\bwhat (text|words|messages?|content|information|instructions|rules)\b.{0,15}\b(were|was|have|has|did)\s+you\b.{0,20}\b(given|told|sent|provided|shown|fed)\b"),
        rule(PromptExtraction, "grounding_block", r"\bgrounding (block|text|section|data)\b"),
        // --- policy override
        rule(PolicyOverride, "percent_off", r"\b(give|grant|apply|add|make|set|put|honou?r|take|knock)\b(?:\s+\S+){0,5}?\s+(\d{1,3})\s?(%|percent|per cent)\s*(off|discount|reduction|rebate)").unless_policy_question(),
        rule(PolicyOverride, "free_demand", r"\b(make|mark|give|let me have|comp)\b(?:\s+\S+){0,5}?\s+(free|for free|for nothing|at no (cost|charge)|\$0(\.00)?|zero dollars)\b").unless_policy_question(),
        rule(PolicyOverride, "set_price", r"\b(set|change|update|lower|reduce|drop|adjust|override|edit|make)\b(?:\s+\S+){0,2}?\s+(price|prices|cost|total|amount)\b(?:\s+\S+){0,5}?\s+to\s+(\$|€|£)?\s?\d").unless_policy_question(),
        rule(PolicyOverride, "mark_as_paid", r"\bmark\b(?:\s+\S+){0,4}?\s+as\s+(paid|free|refunded|settled|approved)\b").unless_policy_question(),
        rule(PolicyOverride, "waive", r"\b(waive|remove|drop|skip|ignore|bypass|override|forget)\b(?:\s+\S+){0,4}?\s+(fees?|charges?|minimum( order)?( quantity)?|restocking|shipping cost|late fee|return window|deadline|return policy|policy|limit|credit limit)\b")
            .unless_policy_question()
            // "can you waive the fee if I order 20 cases?" asks about a volume rule
            .unless_after(r"^.{0,40}\bif (i|we) (order|buy|purchase|take|spend|pay)\b"),
        rule(PolicyOverride, "authorize_you", r"\b(i|we) (hereby )?(authori[sz]e|approve|permit|allow|order|instruct) you\b|\byou (are|have been|were) (now )?(authori[sz]ed|allowed|permitted|cleared|approved) to\b|\b(you have|with|i give you|i grant you) (my )?permission\b"),
        rule(PolicyOverride, "authority_claim", r"\b(i'm|i am|this is)\s+(the|your)\s+(ceo|owner|founder|boss|director|president|admin|administrator|store manager|general manager|head of sales)\b.{0,80}?\b(authori[sz]|approve|override|permission|free|discount|waive|price|refund|%)"),
        rule(PolicyOverride, "special_discount", r"\b(apply|give|use|add)\b(?:\s+\S+){0,3}?\s+(employee|staff|internal|admin|vip|partner|insider|friends and family|secret)\s+(discount|pricing|price|rate|code)\b"),
        rule(PolicyOverride, "full_refund_no_return", r"\brefund me\b.{0,30}\b(100\s?%|in full|everything).{0,40}\b(without|no)\b"),
        rule(PolicyOverride, "sell_for_nothing", r"\bsell\b(?:\s+\S+){0,5}?\s+for\s+(\$|€|£)\s?[01](\.\d\d)?\b"),
        rule(PolicyOverride, "store_credit", r"\b(give|grant|issue|add)\b(?:\s+\S+){0,4}?\s+(\$|€|£)\s?\d[\d,]*\s+(store )?(credit|voucher|gift card)\b").unless_policy_question(),
        // --- cross-tenant and other customers
        rule(CrossTenant, "tenant_word", r"\b(other|another|all|different|switch to|every)\s+(the\s+)?tenants?\b|\btenant[_ -]?(id|slug|key|data|list)\b|\btenants'"),
        rule(CrossTenant, "others_data", r"\b(show|list|give|send|tell|get|pull|fetch|dump|export|reveal|look up|lookup|access|read|see|display|find|print|share|summari[sz]e)\b(?:\s+\S+){0,5}?\s+(other|another|all|every|someone else's|somebody else's|different)\s+(the\s+)?(customers?'?|users?'?|people'?s?|accounts?|clients?'?|buyers?|person'?s?|companies'?|company's|businesses'?|tenants?'?|stores?'?)(\s|$|[.,?!])"),
        rule(CrossTenant, "customer_by_id", r"\b(customer|user|client|account|member)\s*(#|id|number|no\.?|num)?\s*:?\s*#?\d{3,}\b")
            .unless_before(r"\b(my|our|i'm|i am)\s+(\S+\s+){0,1}$"),
        rule(CrossTenant, "impersonate", r"\b(log ?in as|login as|sign in as|impersonate|switch (to|into)|act as|acting as|pretend to be|answer as|speak as)\b(?:\s+\S+){0,2}?\s+(another|other|a different|the|some)?\s*(user|customer|tenant|account|company|admin|administrator|client)\b"),
        rule(CrossTenant, "pii_of_others", r"\b(email|e-mail|phone( number)?|address|addresses|credit card|card number|password|contact details)\b(?:\s+\S+){0,6}?\s+(of|for|from)\s+(the|a|another|other|that|some|every|all)?\s*(customer|user|client|person|people|buyer|someone|everyone|customers|users|owner|manager)\b"),
        rule(CrossTenant, "account_of_someone", r"\b(accounts?|orders?|invoices?)\b.{0,20}\b(registered|belonging|linked) to\b.{0,40}(@|\b(his|her|their|someone|another)\b)"),
        rule(CrossTenant, "sql", r"\bselect\s+(\*|[\w,\s]+)\s+from\s+\w+|\bdrop\s+table\b|\bunion\s+select\b|\binsert\s+into\b|\bdelete\s+from\b"),
        rule(CrossTenant, "database_export", r"\b(export|dump|download|extract|scrape)\b(?:\s+\S+){0,4}?\s+(the\s+)?(database|db|customer list|customer data|all (orders|invoices|customers|data))\b"),
    ]
});
