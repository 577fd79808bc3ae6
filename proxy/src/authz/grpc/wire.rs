//! The part of Envoy's `CheckRequest` a check reads, decoded on the same field numbers as the
//! full message (envoy-types' `envoy.service.auth.v3.CheckRequest`).
//!
//! Decoding the full message allocates a string for every field Envoy fills (request id,
//! protocol, time, peer principals, ...) and copies every header value; a check reads the
//! method, path, host, scheme, the two addresses and the header lines. Fields left out here
//! are skipped on the wire. Header values stay slices of the received buffer
//! (`bytes::Bytes`), which the header map then holds without a copy.

use std::collections::HashMap;

use bytes::Bytes;

/// `envoy.service.auth.v3.CheckRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CheckMessage {
    #[prost(message, optional, tag = "1")]
    pub attributes: Option<Attributes>,
}

/// `envoy.service.auth.v3.AttributeContext`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Attributes {
    #[prost(message, optional, tag = "1")]
    pub source: Option<Peer>,
    #[prost(message, optional, tag = "2")]
    pub destination: Option<Peer>,
    #[prost(message, optional, tag = "4")]
    pub request: Option<Request>,
}

/// `AttributeContext.Peer`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Peer {
    #[prost(message, optional, tag = "1")]
    pub address: Option<Address>,
}

/// `envoy.config.core.v3.Address`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Address {
    #[prost(oneof = "AddressKind", tags = "1, 2, 3")]
    pub address: Option<AddressKind>,
}

/// `Address.address`: only a socket address is read; the others are kept as received so that,
/// as in the full message, the last member sent is the one that counts.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum AddressKind {
    #[prost(message, tag = "1")]
    SocketAddress(SocketAddress),
    #[prost(bytes = "bytes", tag = "2")]
    Pipe(Bytes),
    #[prost(bytes = "bytes", tag = "3")]
    EnvoyInternalAddress(Bytes),
}

/// `envoy.config.core.v3.SocketAddress`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SocketAddress {
    #[prost(string, tag = "2")]
    pub address: String,
    #[prost(oneof = "PortSpecifier", tags = "3, 4")]
    pub port_specifier: Option<PortSpecifier>,
}

/// `SocketAddress.port_specifier`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum PortSpecifier {
    #[prost(uint32, tag = "3")]
    PortValue(u32),
    #[prost(bytes = "bytes", tag = "4")]
    NamedPort(Bytes),
}

/// `AttributeContext.Request`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Request {
    #[prost(message, optional, tag = "2")]
    pub http: Option<HttpRequest>,
}

/// `AttributeContext.HttpRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HttpRequest {
    #[prost(string, tag = "2")]
    pub method: String,
    /// Without `encode_raw_headers`: repeated names merged with `,`.
    #[prost(map = "string, string", tag = "3")]
    pub headers: HashMap<String, String>,
    #[prost(string, tag = "4")]
    pub path: String,
    #[prost(string, tag = "5")]
    pub host: String,
    #[prost(string, tag = "6")]
    pub scheme: String,
    /// With `encode_raw_headers`: each line as sent.
    #[prost(message, optional, tag = "13")]
    pub header_map: Option<HeaderList>,
}

/// `envoy.config.core.v3.HeaderMap`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HeaderList {
    #[prost(message, repeated, tag = "1")]
    pub headers: Vec<HeaderLine>,
}

/// `envoy.config.core.v3.HeaderValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HeaderLine {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
    #[prost(bytes = "bytes", tag = "3")]
    pub raw_value: Bytes,
}
