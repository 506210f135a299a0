//! Who is on the other end of a chat request, as far as the server can tell: for the public
//! widget, the network address it connects from. The server sets it around the pipeline's
//! future ([`with_chat_client`]); the agent reads it where a limit per client applies (failed
//! customer verifications). A task-local, like the LLM call context, so the chat API keeps its
//! signature and callers that know no client (a tenant's own server, tests) pass nothing.

use std::future::Future;
use std::net::IpAddr;

/// The client a chat request came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatClient(String);

impl ChatClient {
    /// A client by its address. IPv6 clients are counted by their /64: one subscriber gets a
    /// whole /64, so counting single addresses would give a guesser billions of fresh budgets.
    pub fn from_ip(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self(v4.to_string()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(v4.to_string()),
                None => {
                    let s = v6.segments();
                    Self(format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]))
                }
            },
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

tokio::task_local! {
    static CLIENT: ChatClient;
}

/// Runs `fut` (a chat call) as coming from `client`; `None` runs it as is.
pub async fn with_chat_client<F: Future>(client: Option<ChatClient>, fut: F) -> F::Output {
    match client {
        Some(client) => CLIENT.scope(client, fut).await,
        None => fut.await,
    }
}

/// The client of the chat call being run, if the caller named one.
pub(crate) fn current_client() -> Option<ChatClient> {
    CLIENT.try_with(Clone::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::ChatClient;

    #[test]
    fn ipv6_clients_are_counted_by_their_slash_64() {
        let a = ChatClient::from_ip("2001:db8:1:2:aaaa::1".parse().expect("ip"));
        let b = ChatClient::from_ip("2001:db8:1:2:bbbb::9".parse().expect("ip"));
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "2001:db8:1:2::/64");
        assert_eq!(ChatClient::from_ip("::ffff:192.0.2.7".parse().expect("ip")).as_str(), "192.0.2.7");
        assert_eq!(ChatClient::from_ip("192.0.2.7".parse().expect("ip")).as_str(), "192.0.2.7");
    }
}
