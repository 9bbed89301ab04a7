// Package console is zonegate's local web console: HTTPS pages, rendered
// on the server with html/template, that show the gateway (overview, the
// live zone and conduit drawing, conduits with their policy in words,
// data-plane events, the audit log, the model history with the diff
// between two versions, the accounts) and let the roles the management
// API allows confirm a pending change, roll back, switch island mode and
// administer accounts, each after a confirmation step that names what
// will happen.
//
// It is the third front end on the change transactions, beside the API
// and SIGHUP, and depends only on small interfaces: Changes
// (*changes.Transactions), Accounts (*auth.Manager), the status the API
// shows, the event pipeline's reading side, an AuditLog reader and a
// Recorder for what it refuses. Its handler runs in tests without root,
// without a kernel and without TLS.
//
// Security, in short: HTTPS only (a certificate from files, or a
// self-signed one made at first start, see LoadOrCreateCertificate);
// every asset embedded, a Content-Security-Policy that allows scripts,
// styles and images from the console itself only (no inline script or
// style), no framing, no referrer to other sites; the read-only pages work with
// JavaScript off, a small script only refreshes them. Logins use the
// accounts of the API (argon2id, lockout, roles, the same audit records,
// with the client's address); the session cookie is __Host-, Secure,
// HttpOnly, SameSite=Strict, bound to the address it logged in from,
// ends after the idle timeout (clicks count, the pages' own refreshes do
// not), at the session lifetime and at logout. Every form carries a CSRF
// token derived from the session; a POST without the right one is
// refused and recorded, as is a POST for want of a role and a cookie used
// from another address (which also ends its session).
package console
