//! tria-llm's integration tests: the HTTP clients against the mock LLM on a loopback port,
//! speaking each provider's protocol (OpenAI-compatible, Anthropic Messages, Azure OpenAI).

mod anthropic;
mod azure;
mod client;
