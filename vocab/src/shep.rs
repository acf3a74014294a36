//! Fixed names of the SHEP sync channel (SOAP 1.1 `SendMessage`) that both sides use.

/// The SOAP 1.1 envelope namespace.
pub const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// Namespace of `SendMessage` and `SendMessageResponse`.
pub const TYPES_NS: &str = "http://bip.bee.kz/SyncChannel/v10/Types";
/// Request path of the sync channel on a mock registry.
pub const PATH: &str = "/shep";
/// `requestInfo/properties` key announcing how many milliseconds the callers still wait.
pub const TIMEOUT_PROPERTY: &str = "timeoutMs";

/// `responseInfo/status/code` values as the demo bus uses them (the real tables are not
/// public: the gateway reads its meanings from configuration, with these as defaults).
pub mod status {
    /// The request was processed.
    pub const SUCCESS: &str = "SCSS001";
    /// The registry has no record for the request.
    pub const NOT_FOUND: &str = "NOTFOUND";
    /// The registry cannot answer now; the same request may succeed later.
    pub const TEMPORARILY_UNAVAILABLE: &str = "TEMP_UNAVAILABLE";
    /// GBD FL refuses the consent token (`kdpToken`): unknown, another person's, or expired.
    pub const CONSENT_REFUSED: &str = "KDP_REFUSED";
    /// The request payload was not understood.
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
}
