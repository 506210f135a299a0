//! tria-llm's integration tests: the HTTP client against the mock LLM on a loopback port.

mod client;
